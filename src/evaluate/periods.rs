//! Report periods (day, week, month, quarter, year) in the centre's time zone, with the
//! reporting regime's cut-off: monthly and longer periods may start on another day than the 1st.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::store::Periods;

/// A report period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

/// The day of the month on which monthly, quarterly and yearly periods start: 1 for calendar
/// periods; 15 for the reporting regime's usual cut-off (Decree 09/2019: the month runs from the
/// 15th of the previous month to the 14th, the year from 15/12 to 14/12). At most 28, so that
/// every month has the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PeriodStartDay(u32);

/// The last day every month has.
const LAST_START_DAY: u32 = 28;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodStartDayError {
    #[error("{0:?} is not a day of the month; expected a number from 1 to {LAST_START_DAY}")]
    NotANumber(String),
    #[error(
        "{0} is out of range; allowed 1 (calendar months) to {LAST_START_DAY} (e.g. 15: from the \
         15th of the previous month to the 14th)"
    )]
    OutOfRange(i64),
}

impl PeriodStartDay {
    /// Calendar periods.
    pub const FIRST: PeriodStartDay = PeriodStartDay(1);

    pub fn new(day: i64) -> Result<PeriodStartDay, PeriodStartDayError> {
        u32::try_from(day)
            .ok()
            .filter(|d| (1..=LAST_START_DAY).contains(d))
            .map(PeriodStartDay)
            .ok_or(PeriodStartDayError::OutOfRange(day))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for PeriodStartDay {
    fn default() -> Self {
        PeriodStartDay::FIRST
    }
}

impl std::str::FromStr for PeriodStartDay {
    type Err = PeriodStartDayError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let day = s
            .trim()
            .parse::<i64>()
            .map_err(|_| PeriodStartDayError::NotANumber(s.to_string()))?;
        PeriodStartDay::new(day)
    }
}

/// A period's instants: `start` inclusive, `end` exclusive (the next period's start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Quarter => "quarter",
            Period::Year => "year",
        }
    }

    /// The period's name in Vietnamese, for reports.
    pub fn label_vi(self) -> &'static str {
        match self {
            Period::Day => "ngày",
            Period::Week => "tuần",
            Period::Month => "tháng",
            Period::Quarter => "quý",
            Period::Year => "năm",
        }
    }

    /// Whether the period is cut off at a `PeriodStartDay` (days and weeks are not).
    pub fn has_start_day(self) -> bool {
        matches!(self, Period::Month | Period::Quarter | Period::Year)
    }

    /// The local first day of the period containing `date` (weeks start on Monday).
    fn first_day(self, date: NaiveDate, start_day: PeriodStartDay) -> NaiveDate {
        let month_of = |d: NaiveDate| d.with_day(1).unwrap_or(d);
        let cut_off = start_day != PeriodStartDay::FIRST;
        // The month a date reports in: with a cut-off on the 15th, 20/12 belongs to January's
        // period (15/12 to 14/01), so the calendar rules below apply to January.
        let reporting_month = if cut_off && date.day() >= start_day.0 {
            month_of(date) + Months::new(1)
        } else {
            month_of(date)
        };
        let first_month = match self {
            Period::Day => return date,
            Period::Week => {
                return date - Duration::days(date.weekday().num_days_from_monday().into());
            }
            Period::Month => reporting_month,
            Period::Quarter => reporting_month - Months::new(reporting_month.month0() % 3),
            Period::Year => reporting_month.with_month(1).unwrap_or(reporting_month),
        };
        if cut_off {
            // The cut-off day of the month before: days up to 28 exist in every month.
            let before = first_month - Months::new(1);
            before.with_day(start_day.0).unwrap_or(before)
        } else {
            first_month
        }
    }

    /// The local first day of the period after the one starting on `first`.
    fn next_first_day(self, first: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => first + Duration::days(1),
            Period::Week => first + Duration::days(7),
            Period::Month => first + Months::new(1),
            Period::Quarter => first + Months::new(3),
            Period::Year => first + Months::new(12),
        }
    }

    /// The period containing `now`, from local midnight of its first day to local midnight of
    /// the next period's first day.
    pub fn bounds(self, now: DateTime<Utc>, tz: Tz, start_day: PeriodStartDay) -> Bounds {
        let first = self.first_day(now.with_timezone(&tz).date_naive(), start_day);
        let midnight = |day: NaiveDate| {
            let local = day.and_hms_opt(0, 0, 0).unwrap_or_default();
            tz.from_local_datetime(&local)
                .earliest()
                .map_or(now, |t| t.with_timezone(&Utc))
        };
        Bounds {
            start: midnight(first),
            end: midnight(self.next_first_day(first)),
        }
    }

    /// The instant the calendar period containing `now` starts.
    pub fn start(self, now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        self.bounds(now, tz, PeriodStartDay::FIRST).start
    }
}

impl std::str::FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "day" => Ok(Period::Day),
            "week" => Ok(Period::Week),
            "month" => Ok(Period::Month),
            "quarter" => Ok(Period::Quarter),
            "year" => Ok(Period::Year),
            other => Err(format!(
                "{other:?}: expected day, week, month, quarter or year"
            )),
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
        assert_eq!(at(Period::Quarter), "2025-12-31T17:00:00+00:00");
        assert_eq!(at(Period::Year), "2025-12-31T17:00:00+00:00");
    }

    /// The period containing a local Hanoi instant, as local "dd/mm/yyyy..dd/mm/yyyy" (the
    /// last day inclusive, as the report header writes it).
    fn local_bounds(period: Period, local: &str, start_day: i64) -> String {
        let naive = chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S").unwrap();
        let now = Ho_Chi_Minh
            .from_local_datetime(&naive)
            .unwrap()
            .with_timezone(&Utc);
        let b = period.bounds(now, Ho_Chi_Minh, PeriodStartDay::new(start_day).unwrap());
        let day = |t: DateTime<Utc>| t.with_timezone(&Ho_Chi_Minh);
        assert_eq!(day(b.start).format("%H:%M:%S").to_string(), "00:00:00");
        assert_eq!(day(b.end).format("%H:%M:%S").to_string(), "00:00:00");
        format!(
            "{}..{}",
            day(b.start).format("%d/%m/%Y"),
            day(b.end - Duration::seconds(1)).format("%d/%m/%Y")
        )
    }

    #[test]
    fn a_cut_off_on_the_15th_puts_the_14th_at_23_59_59_in_the_previous_period() {
        let month = |t| local_bounds(Period::Month, t, 15);
        assert_eq!(month("2026-12-14 23:59:59"), "15/11/2026..14/12/2026");
        assert_eq!(month("2026-12-15 00:00:00"), "15/12/2026..14/01/2027");
        assert_eq!(month("2026-12-20 10:00:00"), "15/12/2026..14/01/2027");
        // Across the year boundary: January's period began in December.
        assert_eq!(month("2027-01-01 00:00:00"), "15/12/2026..14/01/2027");
        assert_eq!(month("2027-01-14 23:59:59"), "15/12/2026..14/01/2027");
        assert_eq!(month("2027-01-15 00:00:00"), "15/01/2027..14/02/2027");
    }

    #[test]
    fn quarters_and_years_shift_with_the_cut_off() {
        let quarter = |t| local_bounds(Period::Quarter, t, 15);
        // The first quarter of 2027: from 15/12/2026 to 14/03/2027.
        assert_eq!(quarter("2026-12-14 23:59:59"), "15/09/2026..14/12/2026");
        assert_eq!(quarter("2026-12-15 00:00:00"), "15/12/2026..14/03/2027");
        assert_eq!(quarter("2027-03-14 23:59:59"), "15/12/2026..14/03/2027");
        assert_eq!(quarter("2027-03-15 00:00:00"), "15/03/2027..14/06/2027");
        let year = |t| local_bounds(Period::Year, t, 15);
        assert_eq!(year("2026-12-14 23:59:59"), "15/12/2025..14/12/2026");
        assert_eq!(year("2026-12-15 00:00:00"), "15/12/2026..14/12/2027");
        assert_eq!(year("2027-12-14 23:59:59"), "15/12/2026..14/12/2027");
        assert_eq!(year("2027-12-15 00:00:00"), "15/12/2027..14/12/2028");
    }

    #[test]
    fn other_cut_offs_and_calendar_periods() {
        for (period, at, start_day, expected) in [
            // Vĩnh Phúc's window: the 21st to the 20th.
            (
                Period::Month,
                "2027-02-20 23:59:59",
                21,
                "21/01/2027..20/02/2027",
            ),
            (
                Period::Month,
                "2027-02-21 00:00:00",
                21,
                "21/02/2027..20/03/2027",
            ),
            // The default: calendar periods, whose boundary is local midnight of the 1st.
            (
                Period::Month,
                "2026-12-31 23:59:59",
                1,
                "01/12/2026..31/12/2026",
            ),
            (
                Period::Quarter,
                "2027-01-01 00:00:00",
                1,
                "01/01/2027..31/03/2027",
            ),
            (
                Period::Year,
                "2026-12-31 23:59:59",
                1,
                "01/01/2026..31/12/2026",
            ),
            // Days and weeks ignore the cut-off.
            (
                Period::Week,
                "2026-12-20 10:00:00",
                15,
                "14/12/2026..20/12/2026",
            ),
            (
                Period::Day,
                "2026-12-14 23:59:59",
                15,
                "14/12/2026..14/12/2026",
            ),
        ] {
            assert_eq!(
                local_bounds(period, at, start_day),
                expected,
                "{period:?} at {at}, starting on {start_day}"
            );
        }
    }

    #[test]
    fn start_days_beyond_28_or_not_numbers_are_refused() {
        assert_eq!("15".parse::<PeriodStartDay>().unwrap().get(), 15);
        assert_eq!(
            "29".parse::<PeriodStartDay>(),
            Err(PeriodStartDayError::OutOfRange(29))
        );
        assert_eq!(
            PeriodStartDay::new(0),
            Err(PeriodStartDayError::OutOfRange(0))
        );
        assert!(matches!(
            "mười lăm".parse::<PeriodStartDay>(),
            Err(PeriodStartDayError::NotANumber(_))
        ));
    }
}
