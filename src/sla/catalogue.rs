//! Statutory processing times per procedure, and the due instant they give (DESIGN §4).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::calendar::Calendar;

/// A procedure's statutory time, written `"3 working days"`, `"8 working hours"` or
/// `"15 calendar days"` (singular accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub enum StatutoryTime {
    WorkingDays(u32),
    WorkingHours(u32),
    /// Civil Code counting: the first day is not counted; a rest day moves to the next working day.
    CalendarDays(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{value:?} is not a statutory time; expected \"N working days\", \"N working hours\" or \
     \"N calendar days\" with N >= 1"
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

impl TryFrom<String> for StatutoryTime {
    type Error = StatutoryTimeError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        raw.parse()
    }
}

impl fmt::Display for StatutoryTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, words) = match *self {
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
            StatutoryTime::WorkingDays(n) => cal.add_working_days(cal.next_opening(received), n),
            StatutoryTime::WorkingHours(n) => cal.add_working_hours(cal.next_opening(received), n),
            StatutoryTime::CalendarDays(n) => cal.add_calendar_days(received, n),
        }
    }
}

/// Procedure code (mã thủ tục) to statutory time; deserializes from a TOML table
/// `"1.000001" = "3 working days"`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Catalogue {
    times: HashMap<String, StatutoryTime>,
}

impl Catalogue {
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    pub fn get(&self, code: &str) -> Option<StatutoryTime> {
        self.times.get(code).copied()
    }

    /// The due instant of a dossier whose source gives none; `None` for an unknown procedure.
    pub fn due_at(
        &self,
        cal: &Calendar,
        code: &str,
        received: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.get(code).map(|time| time.due_at(cal, received))
    }
}

impl FromIterator<(String, StatutoryTime)> for Catalogue {
    fn from_iter<I: IntoIterator<Item = (String, StatutoryTime)>>(iter: I) -> Self {
        Catalogue {
            times: iter.into_iter().collect(),
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
            "\"10 days\" is not a statutory time; expected \"N working days\", \"N working hours\" \
             or \"N calendar days\" with N >= 1"
        );
    }

    #[test]
    fn a_catalogue_deserializes_from_a_table_and_gives_due_instants() {
        let catalogue: Catalogue = toml::from_str(
            r#"
            "company" = "3 working days"
            "copy" = "4 working hours"
            "land" = "15 calendar days"
            "#,
        )
        .unwrap();
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
        assert!(toml::from_str::<Catalogue>("x = \"3 days\"").is_err());
    }
}
