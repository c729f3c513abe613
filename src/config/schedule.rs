//! Cron schedules, parsed when the config loads so that a typo fails `check-config`, not a job at
//! 02:30 on a Sunday.

use std::str::FromStr;

use chrono::{DateTime, TimeZone};

/// A parsed cron expression with its source text.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expr: String,
    schedule: cron::Schedule,
}

impl CronSchedule {
    /// Parses a six-field expression (`sec min hour day-of-month month day-of-week`).
    ///
    /// Numeric weekdays are refused: the cron crate counts 1 = Sunday, so `1-5` would fire
    /// Sunday to Thursday, the opposite of what an operator used to Unix cron means.
    pub fn parse(expr: &str) -> Result<CronSchedule, String> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if fields.len() != 6 && fields.len() != 7 {
            return Err(format!(
                "{expr:?} has {} fields; expected 6: sec min hour day-of-month month \
                 day-of-week, e.g. \"0 */5 * * * *\" or \"0 0 8 * * Mon-Fri\"",
                fields.len()
            ));
        }
        if fields[5].chars().any(|c| c.is_ascii_digit()) {
            return Err(format!(
                "{expr:?}: write weekdays by name (Mon-Fri, Sat, Sun), not by number"
            ));
        }
        let schedule = cron::Schedule::from_str(expr)
            .map_err(|e| format!("{expr:?} is not a valid cron schedule: {e}"))?;
        Ok(CronSchedule {
            expr: expr.to_string(),
            schedule,
        })
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The first firing strictly after `after`, in `after`'s zone.
    pub fn next_after<Z: TimeZone>(&self, after: &DateTime<Z>) -> Option<DateTime<Z>> {
        self.schedule.after(after).next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Timelike};
    use chrono_tz::Asia::Ho_Chi_Minh;

    #[test]
    fn weekday_names_fire_on_weekdays_in_the_centre_zone() {
        let s = CronSchedule::parse("0 30 8 * * Mon-Fri").unwrap();
        // Saturday 2026-11-28 09:00 local → next is Monday 30th 08:30 local.
        let sat = Ho_Chi_Minh.with_ymd_and_hms(2026, 11, 28, 9, 0, 0).unwrap();
        let next = s.next_after(&sat).unwrap();
        assert_eq!((next.day(), next.hour(), next.minute()), (30, 8, 30));
    }

    #[test]
    fn numeric_weekdays_and_five_field_unix_cron_are_refused_with_a_hint() {
        assert!(
            CronSchedule::parse("0 30 8 * * 1-5")
                .unwrap_err()
                .contains("by name")
        );
        assert!(
            CronSchedule::parse("30 8 * * *")
                .unwrap_err()
                .contains("expected 6")
        );
        assert!(CronSchedule::parse("0 99 * * * *").is_err());
    }
}
