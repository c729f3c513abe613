//! The `[calendar]` section of the config, as written by the operator, and the parsing of its
//! small string formats.

use std::path::PathBuf;

use chrono::{NaiveDate, Weekday};
use serde::Deserialize;

/// Defaults match what provincial systems do (DESIGN §4).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarSettings {
    /// IANA name of the centre's zone; local times in sessions and dates are read in it.
    pub time_zone: String,
    /// Office sessions of a working day, `"HH:MM-HH:MM"`, in order and without overlap.
    pub sessions: Vec<String>,
    /// Weekday names (`"Mon"` or `"Monday"`) that are working days unless a holiday.
    pub working_weekdays: Vec<String>,
    /// Extra days off: `"YYYY-MM-DD"` or a range `"YYYY-MM-DD..YYYY-MM-DD"` (inclusive).
    pub holidays: Vec<String>,
    /// Extra working days (làm bù), same formats as `holidays`.
    pub working_days: Vec<String>,
    /// Calendar year files to load; a file for a shipped year replaces the shipped one.
    pub files: Vec<PathBuf>,
    /// Load the year files shipped inside the binary (`calendars/*.toml`).
    pub builtin: bool,
}

impl Default for CalendarSettings {
    fn default() -> Self {
        CalendarSettings {
            time_zone: "Asia/Ho_Chi_Minh".to_owned(),
            sessions: vec!["07:00-11:30".to_owned(), "13:30-17:00".to_owned()],
            working_weekdays: ["Mon", "Tue", "Wed", "Thu", "Fri"]
                .map(str::to_owned)
                .to_vec(),
            holidays: Vec::new(),
            working_days: Vec::new(),
            files: Vec::new(),
            builtin: true,
        }
    }
}

pub(super) const SESSION_FORMAT: &str = "HH:MM-HH:MM with start < end";
pub(super) const DATE_FORMAT: &str = "YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD with start <= end";

/// A session as seconds after local midnight, `start < end`.
pub(super) fn parse_session(raw: &str) -> Result<(u32, u32), &'static str> {
    let (start, end) = raw.split_once('-').ok_or("is not a time range")?;
    let start = parse_clock(start.trim()).ok_or("has an invalid start time")?;
    let end = parse_clock(end.trim()).ok_or("has an invalid end time")?;
    if end <= start {
        return Err("ends before it starts");
    }
    Ok((start, end))
}

/// `HH:MM`, where `24:00` is allowed so that a session may run to midnight.
fn parse_clock(raw: &str) -> Option<u32> {
    let (h, m) = raw.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    let valid = (h < 24 && m < 60) || (h == 24 && m == 0);
    valid.then_some(h * 3600 + m * 60)
}

pub(super) fn parse_weekday(raw: &str) -> Option<Weekday> {
    raw.trim().parse().ok()
}

/// One date or an inclusive range of dates. `/` (ISO 8601 interval) is accepted as well as `..`.
pub(super) fn parse_date_range(raw: &str) -> Result<(NaiveDate, NaiveDate), &'static str> {
    let parse = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
    let (from, to) = match raw.split_once("..").or_else(|| raw.split_once('/')) {
        Some((a, b)) => (parse(a), parse(b)),
        None => (parse(raw), parse(raw)),
    };
    match (from, to) {
        (Some(from), Some(to)) if from <= to => Ok((from, to)),
        (Some(_), Some(_)) => Err("ends before it starts"),
        _ => Err("is not a date"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_parse_and_reject_reversed_or_malformed_ranges() {
        assert_eq!(parse_session("07:00-11:30"), Ok((25_200, 41_400)));
        assert_eq!(parse_session("13:30 - 24:00"), Ok((48_600, 86_400)));
        assert_eq!(parse_session("13:30-12:00"), Err("ends before it starts"));
        assert_eq!(
            parse_session("7:00-11:30"),
            Err("has an invalid start time")
        );
        assert_eq!(parse_session("07:00-11:60"), Err("has an invalid end time"));
        assert_eq!(parse_session("07:00"), Err("is not a time range"));
    }

    #[test]
    fn dates_parse_single_days_and_both_range_spellings() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            parse_date_range("2026-03-02"),
            Ok((d("2026-03-02"), d("2026-03-02")))
        );
        assert_eq!(
            parse_date_range("2026-03-02..2026-03-04"),
            Ok((d("2026-03-02"), d("2026-03-04")))
        );
        assert_eq!(
            parse_date_range("2026-03-02/2026-03-04"),
            Ok((d("2026-03-02"), d("2026-03-04")))
        );
        assert_eq!(
            parse_date_range("2026-03-04..2026-03-02"),
            Err("ends before it starts")
        );
        assert_eq!(parse_date_range("2026-02-30"), Err("is not a date"));
    }

    #[test]
    fn weekday_names_are_accepted_short_or_long_in_any_case() {
        assert_eq!(parse_weekday("Mon"), Some(Weekday::Mon));
        assert_eq!(parse_weekday("saturday"), Some(Weekday::Sat));
        assert_eq!(parse_weekday("Thứ 2"), None);
    }
}
