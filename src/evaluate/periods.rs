//! Calendar periods (day, week, month, year) in the centre's time zone.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::store::Periods;

/// A report period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Week,
    Month,
    Year,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Year => "year",
        }
    }

    /// The period's name in Vietnamese, for reports.
    pub fn label_vi(self) -> &'static str {
        match self {
            Period::Day => "ngày",
            Period::Week => "tuần",
            Period::Month => "tháng",
            Period::Year => "năm",
        }
    }

    /// The local date the period containing `date` starts on (weeks start on Monday).
    fn first_day(self, date: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => date,
            Period::Week => date - Duration::days(date.weekday().num_days_from_monday().into()),
            Period::Month => date.with_day(1).unwrap_or(date),
            Period::Year => date.with_ordinal(1).unwrap_or(date),
        }
    }

    /// The instant the period containing `now` starts: local midnight of its first day.
    pub fn start(self, now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let first = self.first_day(now.with_timezone(&tz).date_naive());
        let midnight = first.and_hms_opt(0, 0, 0).unwrap_or_default();
        tz.from_local_datetime(&midnight)
            .earliest()
            .map_or(now, |t| t.with_timezone(&Utc))
    }
}

impl std::str::FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "day" => Ok(Period::Day),
            "week" => Ok(Period::Week),
            "month" => Ok(Period::Month),
            "year" => Ok(Period::Year),
            other => Err(format!("{other:?}: expected day, week, month or year")),
        }
    }
}

pub fn periods(now: DateTime<Utc>, tz: Tz) -> Periods {
    Periods {
        day_start: Period::Day.start(now, tz),
        month_start: Period::Month.start(now, tz),
        year_start: Period::Year.start(now, tz),
        now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Ho_Chi_Minh;

    #[test]
    fn periods_start_at_local_midnight() {
        // 2026-03-04 (a Wednesday) 01:30 in Hanoi is 2026-03-03 18:30 UTC.
        let now: DateTime<Utc> = "2026-03-03T18:30:00Z".parse().unwrap();
        let at = |p: Period| p.start(now, Ho_Chi_Minh).to_rfc3339();
        assert_eq!(at(Period::Day), "2026-03-03T17:00:00+00:00");
        assert_eq!(at(Period::Week), "2026-03-01T17:00:00+00:00");
        assert_eq!(at(Period::Month), "2026-02-28T17:00:00+00:00");
        assert_eq!(at(Period::Year), "2025-12-31T17:00:00+00:00");
    }
}
