//! Turns settings and year files into validated rules, collecting every problem on the way.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;

use super::error::{CalendarError, Problem};
use super::settings::{self, CalendarSettings, DATE_FORMAT, SESSION_FORMAT};
use super::year_file::{self, YearFile};

/// Everything the index needs, already checked.
#[derive(Debug)]
pub(super) struct Rules {
    pub tz: Tz,
    /// Seconds after local midnight, in order, not overlapping, each `start < end`.
    pub sessions: Vec<(u32, u32)>,
    /// Indexed by `Weekday::num_days_from_monday`.
    pub weekdays: [bool; 7],
    /// Dates whose status differs from (or restates) the weekday rule: `true` = working.
    pub overrides: BTreeMap<NaiveDate, bool>,
    /// The year files' name of each date they list, with whether they list it as working.
    pub names: BTreeMap<NaiveDate, (bool, String)>,
    /// First and last day of the contiguous run of loaded years starting at the earliest one.
    pub covered: Option<(NaiveDate, NaiveDate)>,
    /// Loaded years marked `provisional`, ascending.
    pub provisional: Vec<i32>,
}

/// `read` is how user files are read, so that tests need no file system.
pub(super) fn rules(
    settings: &CalendarSettings,
    read: impl Fn(&Path) -> io::Result<String>,
) -> Result<Rules, CalendarError> {
    let mut problems = Vec::new();

    let tz = settings.time_zone.parse::<Tz>().map_err(|_| {
        let expected = "an IANA time zone name such as \"Asia/Ho_Chi_Minh\"";
        let p = Problem::new(
            "calendar.time_zone",
            &settings.time_zone,
            "is unknown",
            expected,
        );
        problems.push(p);
    });
    let sessions = sessions(&settings.sessions, &mut problems);
    let weekdays = weekdays(&settings.working_weekdays, &mut problems);
    let years = years(settings, read, &mut problems);

    let mut overrides = BTreeMap::new();
    let mut names = BTreeMap::new();
    for year in years.values() {
        for (date, name) in &year.names {
            names.insert(*date, (year.working_days.contains(date), name.clone()));
        }
        overrides.extend(year.days_off.iter().map(|d| (*d, false)));
        overrides.extend(year.working_days.iter().map(|d| (*d, true)));
    }
    // The operator's own lists come last so that they win over the year files.
    let holidays = dates("calendar.holidays", &settings.holidays, &mut problems);
    let working = dates(
        "calendar.working_days",
        &settings.working_days,
        &mut problems,
    );
    for (key, raw, days) in &working {
        if let Some(day) = days
            .iter()
            .find(|d| holidays.iter().any(|h| h.2.contains(d)))
        {
            let reason = format!("contains {day}, which `calendar.holidays` also lists");
            let expected = "each date either a holiday or a working day";
            problems.push(Problem::new(key, raw, reason, expected));
        }
    }
    for (_, _, days) in &holidays {
        overrides.extend(days.iter().map(|d| (*d, false)));
    }
    for (_, _, days) in &working {
        overrides.extend(days.iter().map(|d| (*d, true)));
    }

    match tz {
        Ok(tz) if problems.is_empty() => Ok(Rules {
            tz,
            sessions,
            weekdays,
            overrides,
            names,
            covered: covered(&years),
            provisional: years
                .values()
                .filter(|y| y.provisional)
                .map(|y| y.year)
                .collect(),
        }),
        _ => Err(CalendarError { problems }),
    }
}

fn sessions(raw: &[String], problems: &mut Vec<Problem>) -> Vec<(u32, u32)> {
    if raw.is_empty() {
        let expected = format!("at least one session {SESSION_FORMAT}");
        problems.push(Problem::new("calendar.sessions", "", "is empty", expected));
    }
    let mut sessions: Vec<(u32, u32)> = Vec::new();
    for (i, text) in raw.iter().enumerate() {
        let key = format!("calendar.sessions[{i}]");
        match settings::parse_session(text) {
            Err(reason) => problems.push(Problem::new(key, text, reason, SESSION_FORMAT)),
            Ok(session) => {
                if sessions.last().is_some_and(|prev| session.0 < prev.1) {
                    let reason = "starts before the previous session ends";
                    let expected = "sessions in order of the day, without overlap";
                    problems.push(Problem::new(key, text, reason, expected));
                }
                sessions.push(session);
            }
        }
    }
    sessions
}

fn weekdays(raw: &[String], problems: &mut Vec<Problem>) -> [bool; 7] {
    if raw.is_empty() {
        let expected = "at least one weekday name such as \"Mon\"";
        problems.push(Problem::new(
            "calendar.working_weekdays",
            "",
            "is empty",
            expected,
        ));
    }
    let mut mask = [false; 7];
    for (i, name) in raw.iter().enumerate() {
        match settings::parse_weekday(name) {
            Some(day) => mask[Weekday::num_days_from_monday(&day) as usize] = true,
            None => {
                let key = format!("calendar.working_weekdays[{i}]");
                let expected = "an English weekday name: Mon..Sun or Monday..Sunday";
                problems.push(Problem::new(key, name, "is not a weekday", expected));
            }
        }
    }
    mask
}

/// Shipped years first, then the operator's files, which replace a shipped year of the same number.
fn years(
    settings: &CalendarSettings,
    read: impl Fn(&Path) -> io::Result<String>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<i32, YearFile> {
    let mut years = BTreeMap::new();
    if settings.builtin {
        for (origin, text) in year_file::BUILTIN {
            match year_file::parse(origin, text) {
                Ok(year) => {
                    years.insert(year.year, year);
                }
                Err(found) => problems.extend(found),
            }
        }
    }
    let mut from_files: BTreeMap<i32, String> = BTreeMap::new();
    for (i, path) in settings.files.iter().enumerate() {
        let key = format!("calendar.files[{i}]");
        let origin = path.display().to_string();
        let text = match read(path) {
            Ok(text) => text,
            Err(e) => {
                let reason = format!("cannot be read ({e})");
                let expected = "a readable calendar year file";
                problems.push(Problem::new(key, origin, reason, expected));
                continue;
            }
        };
        match year_file::parse(&origin, &text) {
            Err(found) => problems.extend(found),
            Ok(year) => {
                if let Some(first) = from_files.insert(year.year, origin.clone()) {
                    let reason = format!("is a second file for {} after {first}", year.year);
                    let expected = "one file per year";
                    problems.push(Problem::new(key, origin, reason, expected));
                }
                years.insert(year.year, year);
            }
        }
    }
    years
}

type DateList = (String, String, Vec<NaiveDate>);

fn dates(key: &str, raw: &[String], problems: &mut Vec<Problem>) -> Vec<DateList> {
    let mut out = Vec::new();
    for (i, text) in raw.iter().enumerate() {
        let key = format!("{key}[{i}]");
        match settings::parse_date_range(text) {
            Ok((from, to)) => {
                let days = from.iter_days().take_while(|d| *d <= to).collect();
                out.push((key, text.clone(), days));
            }
            Err(reason) => problems.push(Problem::new(key, text, reason, DATE_FORMAT)),
        }
    }
    out
}

fn covered(years: &BTreeMap<i32, YearFile>) -> Option<(NaiveDate, NaiveDate)> {
    let first = *years.keys().next()?;
    let last = (first..).take_while(|y| years.contains_key(y)).last()?;
    Some((
        NaiveDate::from_ymd_opt(first, 1, 1)?,
        NaiveDate::from_ymd_opt(last, 12, 31)?,
    ))
}
