//! Statutory processing times per procedure, and the due instant they give (DESIGN §4).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeZone, Timelike, Utc};

use crate::calendar::Calendar;

/// A procedure's statutory time, written `"3 working days"`, `"8 working hours"`,
/// `"15 calendar days"` (singular accepted) or `"same day"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatutoryTime {
    /// Due at the end of the working day on which counting starts (certified copies).
    SameDay,
    WorkingDays(u32),
    WorkingHours(u32),
    /// Civil Code counting: the first day is not counted; a rest day moves to the next working day.
    CalendarDays(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{value:?} is not a statutory time; expected \"N working days\", \"N working hours\", \
     \"N calendar days\" with N >= 1, or \"same day\""
)]
pub struct StatutoryTimeError {
    pub value: String,
}

impl FromStr for StatutoryTime {
    type Err = StatutoryTimeError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let err = || StatutoryTimeError {
            value: raw.to_owned(),
        };
        let lower = raw.to_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        if words == ["same", "day"] || words == ["same", "working", "day"] {
            return Ok(StatutoryTime::SameDay);
        }
        let [n, kind, unit] = words[..] else {
            return Err(err());
        };
        let n: u32 = n.parse().ok().filter(|n| *n > 0).ok_or_else(err)?;
        match (kind, unit) {
            ("working", "day" | "days") => Ok(StatutoryTime::WorkingDays(n)),
            ("working", "hour" | "hours") => Ok(StatutoryTime::WorkingHours(n)),
            ("calendar", "day" | "days") => Ok(StatutoryTime::CalendarDays(n)),
            _ => Err(err()),
        }
    }
}

impl fmt::Display for StatutoryTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, words) = match *self {
            StatutoryTime::SameDay => return f.write_str("same day"),
            StatutoryTime::WorkingDays(n) => (n, "working day"),
            StatutoryTime::WorkingHours(n) => (n, "working hour"),
            StatutoryTime::CalendarDays(n) => (n, "calendar day"),
        };
        let plural = if n == 1 { "" } else { "s" };
        write!(f, "{n} {words}{plural}")
    }
}

impl StatutoryTime {
    /// Working-time modes start at the next opening after `received` (a receipt after hours or
    /// at lunch starts when the office opens) and end at the earliest instant the time has
    /// accrued.
    pub fn due_at(self, cal: &Calendar, received: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            // The opening is inside a working day, so "0 calendar days" from it is that day's end.
            StatutoryTime::SameDay => cal.add_calendar_days(cal.next_opening(received), 0),
            StatutoryTime::WorkingDays(n) => cal.add_working_days(cal.next_opening(received), n),
            StatutoryTime::WorkingHours(n) => cal.add_working_hours(cal.next_opening(received), n),
            StatutoryTime::CalendarDays(n) => cal.add_calendar_days(received, n),
        }
    }
}

/// How one procedure's deadline is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Procedure {
    pub time: StatutoryTime,
    /// The 15:00 rule written per procedure in provincial systems: a dossier received at or after
    /// this local time of day (seconds after midnight) starts counting the next working day.
    pub next_day_after: Option<u32>,
}

impl Procedure {
    pub fn due_at(self, cal: &Calendar, received: DateTime<Utc>) -> DateTime<Utc> {
        let start = match self.next_day_after {
            Some(cutoff) => next_day_start_if_late(cal, received, cutoff),
            None => received,
        };
        self.time.due_at(cal, start)
    }
}

/// Local midnight after `received` when its local time of day is at or after `cutoff`, so that
/// counting begins at the next working day's first opening.
fn next_day_start_if_late(cal: &Calendar, received: DateTime<Utc>, cutoff: u32) -> DateTime<Utc> {
    let local = received.with_timezone(&cal.time_zone());
    if local.num_seconds_from_midnight() < cutoff {
        return received;
    }
    local
        .date_naive()
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|midnight| cal.time_zone().from_local_datetime(&midnight).earliest())
        .map_or(received, |t| t.with_timezone(&Utc))
}

impl From<StatutoryTime> for Procedure {
    fn from(time: StatutoryTime) -> Self {
        Procedure {
            time,
            next_day_after: None,
        }
    }
}

/// Procedure code (mã thủ tục) to how its deadline is counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalogue {
    procedures: HashMap<String, Procedure>,
}

impl Catalogue {
    pub fn is_empty(&self) -> bool {
        self.procedures.is_empty()
    }

    pub fn get(&self, code: &str) -> Option<Procedure> {
        self.procedures.get(code).copied()
    }

    /// The due instant of a dossier whose source gives none; `None` for an unknown procedure.
    pub fn due_at(
        &self,
        cal: &Calendar,
        code: &str,
        received: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.get(code).map(|p| p.due_at(cal, received))
    }
}

impl<P: Into<Procedure>> FromIterator<(String, P)> for Catalogue {
    fn from_iter<I: IntoIterator<Item = (String, P)>>(iter: I) -> Self {
        Catalogue {
            procedures: iter.into_iter().map(|(c, p)| (c, p.into())).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::tests::{cal, vn};

    #[test]
    fn statutory_times_parse_in_singular_or_plural_and_print_back() {
        for (raw, time) in [
            ("3 working days", StatutoryTime::WorkingDays(3)),
            ("1 working day", StatutoryTime::WorkingDays(1)),
            ("8 Working Hours", StatutoryTime::WorkingHours(8)),
            (" 15  calendar days ", StatutoryTime::CalendarDays(15)),
            ("Same day", StatutoryTime::SameDay),
        ] {
            assert_eq!(raw.parse(), Ok(time), "{raw}");
            assert_eq!(time.to_string().parse(), Ok(time));
        }
        for bad in [
            "10 days",
            "0 working days",
            "-1 working days",
            "3 ngày làm việc",
            "",
        ] {
            assert!(bad.parse::<StatutoryTime>().is_err(), "{bad}");
        }
        assert_eq!(
            "10 days".parse::<StatutoryTime>().unwrap_err().to_string(),
            "\"10 days\" is not a statutory time; expected \"N working days\", \"N working hours\", \
             \"N calendar days\" with N >= 1, or \"same day\""
        );
    }

    #[test]
    fn a_catalogue_gives_due_instants() {
        let catalogue: Catalogue = [
            ("company", "3 working days"),
            ("copy", "4 working hours"),
            ("land", "15 calendar days"),
        ]
        .into_iter()
        .map(|(c, t)| (c.to_owned(), t.parse::<StatutoryTime>().unwrap()))
        .collect();
        let cal = cal();
        // Received Fri 13/2/2026 16:55, before Tết: 5 min Fri, then Mon 23/2 07:00 onwards;
        // 24 h - 5 min = Mon, Tue full days and Wed 25/2 7 h 55: 11:30 + 3 h 25 = 16:55.
        let received = vn("2026-02-13 16:55");
        assert_eq!(
            catalogue.due_at(cal, "company", received),
            Some(vn("2026-02-25 16:55"))
        );
        // At lunch: starts 13:30, 3 h 30 to 17:00, 30 min on Tue 6/1.
        assert_eq!(
            catalogue.due_at(cal, "copy", vn("2026-01-05 12:10")),
            Some(vn("2026-01-06 07:30"))
        );
        // 13/2 + 15 = Sat 28/2, a rest day: Mon 2/3 17:00.
        assert_eq!(
            catalogue.due_at(cal, "land", received),
            Some(vn("2026-03-02 17:00"))
        );
        assert_eq!(catalogue.due_at(cal, "unknown", received), None);
    }

    /// The 15:00 rule, worked by hand on Mon 5/1/2026 (a working day) and Fri 9/1/2026, whose
    /// next working day is the make-up Saturday 10/1.
    #[test]
    fn after_the_cutoff_counting_starts_the_next_working_day() {
        let cal = cal();
        let rule = |time: &str| Procedure {
            time: time.parse().unwrap(),
            next_day_after: Some(15 * 3600),
        };
        let copy = rule("same day");
        assert_eq!(
            copy.due_at(cal, vn("2026-01-05 14:59")),
            vn("2026-01-05 17:00")
        );
        assert_eq!(
            copy.due_at(cal, vn("2026-01-05 15:00")),
            vn("2026-01-06 17:00")
        );
        // Lunch and the evening are before or after the cutoff like any other time of day.
        assert_eq!(
            copy.due_at(cal, vn("2026-01-05 12:00")),
            vn("2026-01-05 17:00")
        );
        assert_eq!(
            copy.due_at(cal, vn("2026-01-09 16:30")),
            vn("2026-01-10 17:00")
        );
        // Received on Sunday 11/1 morning: the office first opens Monday, cutoff or not.
        assert_eq!(
            copy.due_at(cal, vn("2026-01-11 09:00")),
            vn("2026-01-12 17:00")
        );
        let one_day = rule("1 working day");
        assert_eq!(
            one_day.due_at(cal, vn("2026-01-05 14:00")),
            vn("2026-01-06 14:00")
        );
        assert_eq!(
            one_day.due_at(cal, vn("2026-01-05 15:10")),
            vn("2026-01-06 17:00")
        );
        // A longer procedure starts the next day as well: Tue 6/1 07:00 + 3 days = Thu 8/1 17:00.
        let three = rule("3 working days");
        assert_eq!(
            three.due_at(cal, vn("2026-01-05 16:00")),
            vn("2026-01-08 17:00")
        );
        // Off by default: 1 working day from 15:10 is 15:10 the next day.
        let plain = Procedure::from("1 working day".parse::<StatutoryTime>().unwrap());
        assert_eq!(
            plain.due_at(cal, vn("2026-01-05 15:10")),
            vn("2026-01-06 15:10")
        );
        // Same day without the rule, received after hours: the next working day's end.
        let same = Procedure::from(StatutoryTime::SameDay);
        assert_eq!(
            same.due_at(cal, vn("2026-01-05 17:30")),
            vn("2026-01-06 17:00")
        );
    }
}
