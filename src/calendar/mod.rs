//! The working-time calendar (DESIGN §4): office sessions, working weekdays, the announced days
//! off and make-up working days of each year, and exact answers about working time between
//! instants.
//!
//! All instants are UTC; local dates and times are read in the centre's zone. Working time is
//! counted in whole seconds: sub-second parts of inputs are ignored. Questions are answered from
//! a precomputed index (see `index`), never by walking days. Past the loaded years the calendar
//! counts weekdays only, and says so once in the log.

mod error;
mod export;
mod ical;
mod index;
mod load;
mod settings;
mod year_file;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

pub use error::{CalendarError, Problem};
pub use settings::CalendarSettings;

use index::Index;

/// How far the index reaches past the last listed date, so that deadlines of long procedures
/// received near the end of the loaded years are still answered from the index.
const MARGIN_YEARS: i32 = 5;

#[derive(Debug)]
pub struct Calendar {
    index: Index,
    covered: Option<(NaiveDate, NaiveDate)>,
    /// `covered` as day numbers; an empty range when nothing is loaded.
    covered_days: (i64, i64),
    provisional: Vec<i32>,
    /// Dates the year files or the config list, `true` = working, for the exports.
    listed: BTreeMap<NaiveDate, bool>,
    /// The year files' names of listed dates, with the status the file gives them.
    names: BTreeMap<NaiveDate, (bool, String)>,
    warned_uncovered: AtomicBool,
}

impl Calendar {
    /// Validates the settings and loads the shipped years and the operator's `files` (the only
    /// file reads of this module, done once at start).
    pub fn from_settings(settings: &CalendarSettings) -> Result<Calendar, CalendarError> {
        Self::build(settings, |path| std::fs::read_to_string(path))
    }

    fn build(
        settings: &CalendarSettings,
        read: impl Fn(&std::path::Path) -> std::io::Result<String>,
    ) -> Result<Calendar, CalendarError> {
        let rules = load::rules(settings, read)?;
        let listed = rules.overrides.keys().copied();
        let bounds = rules.covered.into_iter().flat_map(|(a, b)| [a, b]);
        let default_epoch = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");
        let first = listed.clone().chain(bounds.clone()).min();
        let epoch = first.map_or(default_epoch, |f| f.min(default_epoch));
        let last = listed.chain(bounds).max().unwrap_or(epoch);
        let last = NaiveDate::from_ymd_opt(last.year() + MARGIN_YEARS, 12, 31).unwrap_or(last);
        let index = Index::build(&rules, epoch, last);
        let covered_days = rules
            .covered
            .map_or((1, 0), |(a, b)| (index.day_number(a), index.day_number(b)));
        // Once per load rather than per question: the operator needs to know a year's deadlines
        // rest on assumed holidays, not how often they were asked.
        for year in &rules.provisional {
            tracing::warn!(
                year,
                "the calendar year is provisional (built from the Labour Code's fixed holidays, \
                 not the announced schedule): load the official file in `calendar.files` once \
                 it is published"
            );
        }
        Ok(Calendar {
            index,
            covered: rules.covered,
            covered_days,
            provisional: rules.provisional,
            listed: rules.overrides,
            names: rules.names,
            warned_uncovered: AtomicBool::new(false),
        })
    }

    pub fn time_zone(&self) -> Tz {
        self.index.time_zone()
    }

    /// Working seconds in one working day (8 h with the default sessions).
    pub fn day_length_secs(&self) -> i64 {
        self.index.day_len()
    }

    /// The last day of the contiguous run of loaded years; `None` when no year is loaded.
    pub fn covered_until(&self) -> Option<NaiveDate> {
        self.covered.map(|(_, last)| last)
    }

    /// Loaded years built from the law rather than announced, ascending, for the
    /// `hcc_calendar_provisional{year}` gauge and the report footer.
    pub fn provisional_years(&self) -> &[i32] {
        &self.provisional
    }

    /// The instant the loaded calendar ends (local midnight after `covered_until`), for the
    /// `hcc_calendar_coverage_end_timestamp_seconds` gauge; `None` when no year is loaded.
    pub fn coverage_end(&self) -> Option<DateTime<Utc>> {
        let next = self.covered_until()?.succ_opt()?;
        let midnight = next.and_hms_opt(0, 0, 0)?;
        chrono::TimeZone::from_local_datetime(&self.time_zone(), &midnight)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The local date of `t` in the centre's zone.
    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.time_zone()).date_naive()
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        let d = self.index.day_number(date);
        self.note_day(d);
        self.index.is_working(d)
    }

    /// Working time in `[from, to)`; 0 when `to <= from`.
    pub fn working_seconds_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to <= from {
            return 0;
        }
        self.worked(to.timestamp()) - self.worked(from.timestamp())
    }

    /// The earliest instant at which `secs` of working time have accrued since `from`: 8 h from
    /// Wednesday 18:30 is Thursday 17:00, not Friday 07:00. `secs == 0` gives `from` itself;
    /// a negative `secs` counts backwards.
    pub fn add_working_seconds(&self, from: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
        if secs == 0 {
            return from;
        }
        let target = self.worked(from.timestamp()).saturating_add(secs);
        let (d, _, t) = self.index.reach(target);
        self.note_day(d);
        instant(t)
    }

    pub fn add_working_days(&self, from: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        self.add_working_seconds(from, i64::from(n) * self.day_length_secs())
    }

    pub fn add_working_hours(&self, from: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        self.add_working_seconds(from, i64::from(n) * 3600)
    }

    /// Civil Code counting: the day of `from` is not counted, so the deadline is the end of the
    /// last session of the local date `from + n` days, or of the next working day when that date
    /// is a rest day.
    pub fn add_calendar_days(&self, from: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let last = self.index.day_number(self.local_date(from)) + i64::from(n);
        // The first working second after the start of `last` falls on `last` itself when it is a
        // working day, else on the next working day: one inverse lookup instead of a walk.
        let d = self.index.day_reaching(self.index.before_day(last) + 1);
        self.note_day(d);
        instant(self.index.session(d, self.index.session_count() - 1).1)
    }

    /// `t` itself inside a session, else the start of the next session.
    pub fn next_opening(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let secs = t.timestamp();
        let d = self.day_of(secs);
        let inside = (0..self.index.session_count()).any(|i| {
            let (s, e) = self.index.session(d, i);
            (s..e).contains(&secs)
        });
        if inside {
            return t;
        }
        let (d, i, _) = self.index.reach(self.index.worked(d, secs) + 1);
        instant(self.index.session(d, i).0)
    }

    /// Whether `t` falls inside an office session of a working day, and the start of that
    /// session or else of the next one: the `hcc_office_open` and
    /// `hcc_office_next_open_timestamp_seconds` gauges that gate the alert rules.
    pub fn office_status(&self, t: DateTime<Utc>) -> (bool, DateTime<Utc>) {
        let t = instant(t.timestamp());
        let opening = self.next_opening(t);
        if opening == t {
            (true, self.session_start_for(t))
        } else {
            (false, opening)
        }
    }

    /// The start of the session that contains `t`, or that ends at or most recently before `t`:
    /// where OpenCPS's "on time" window for a due instant `t` begins.
    pub fn session_start_for(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let secs = t.timestamp();
        let d = self.day_of(secs);
        for i in 0..self.index.session_count() {
            let (s, e) = self.index.session(d, i);
            if (s..e).contains(&secs) {
                return instant(s);
            }
        }
        let (d, i, _) = self.index.reach(self.index.worked(d, secs));
        instant(self.index.session(d, i).0)
    }

    fn day_of(&self, secs: i64) -> i64 {
        let d = self.index.day_of(secs);
        self.note_day(d);
        d
    }

    fn worked(&self, secs: i64) -> i64 {
        self.index.worked(self.day_of(secs), secs)
    }

    fn note_day(&self, d: i64) {
        let (first, last) = self.covered_days;
        if (d < first || d > last) && !self.warned_uncovered.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                date = %self.index.date_of(d),
                covered_until = ?self.covered_until(),
                "a working-time question reaches past the loaded holiday calendar: counting \
                 weekdays only; add a calendar file for that year"
            );
        }
    }
}

/// Saturates at chrono's range, which only absurd durations reach.
fn instant(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(if secs < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}
