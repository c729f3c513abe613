//! The precomputed working-time index.
//!
//! Days are numbered from `epoch` (day 0). Working time is measured as `W(t)`: the working
//! seconds between the start of day 0 and instant `t` (negative before it). Every question is a
//! difference of two `W` values or the inverse of `W`, so it costs one day lookup plus a scan of
//! the day's few sessions. Inside `[0, n)` the index stores, per day, the cumulative working time
//! before it and the UTC bounds of its sessions; outside, the weekday rule is counted in closed
//! form by whole weeks, which is also what "past the loaded years" means (weekdays only).

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Weekday,
};
use chrono_tz::Tz;

use super::load::Rules;

const DAY_SECS: i64 = 86_400;

#[derive(Debug)]
pub(super) struct Index {
    tz: Tz,
    epoch: NaiveDate,
    /// Session bounds as seconds after local midnight.
    sessions: Vec<(i64, i64)>,
    /// Working weekdays, indexed by days after day 0's weekday (so `[0]` is day 0's weekday).
    weekdays: [bool; 7],
    day_len: i64,
    /// Working seconds of the first `r` days of a week that starts on day 0's weekday.
    week_prefix: [i64; 8],
    /// `n + 1` entries: UTC second of each day's local midnight.
    starts: Vec<i64>,
    /// `n + 1` entries: working seconds before each day.
    cum: Vec<i64>,
    /// `n * sessions.len()` entries: UTC bounds of each day's sessions, empty on rest days.
    bounds: Vec<(i64, i64)>,
}

impl Index {
    /// Covers `[epoch, last]`: the callers pick a range that holds every listed date plus a margin.
    pub fn build(rules: &Rules, epoch: NaiveDate, last: NaiveDate) -> Index {
        let sessions: Vec<(i64, i64)> = rules
            .sessions
            .iter()
            .map(|&(s, e)| (i64::from(s), i64::from(e)))
            .collect();
        let day_len = sessions.iter().map(|(s, e)| e - s).sum();
        let w0 = epoch.weekday().num_days_from_monday() as usize;
        let weekdays: [bool; 7] = std::array::from_fn(|j| rules.weekdays[(w0 + j) % 7]);
        let mut week_prefix = [0; 8];
        for j in 0..7 {
            week_prefix[j + 1] = week_prefix[j] + if weekdays[j] { day_len } else { 0 };
        }
        let mut index = Index {
            tz: rules.tz,
            epoch,
            sessions,
            weekdays,
            day_len,
            week_prefix,
            starts: Vec::new(),
            cum: vec![0],
            bounds: Vec::new(),
        };
        let n = (last - epoch).num_days() + 1;
        for d in 0..n {
            let date = index.date_of(d);
            index.starts.push(index.local_instant(d, 0));
            let working = rules
                .overrides
                .get(&date)
                .copied()
                .unwrap_or_else(|| index.weekday_works(d));
            let mut total = 0;
            for i in 0..index.sessions.len() {
                let (s, e) = index.sessions[i];
                let start = index.local_instant(d, s);
                let end = if working {
                    index.local_instant(d, e)
                } else {
                    start
                };
                total += end - start;
                index.bounds.push((start, end));
            }
            let before = index.cum[index.cum.len() - 1];
            index.cum.push(before + total);
        }
        index.starts.push(index.local_instant(n, 0));
        index
    }

    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    pub fn day_len(&self) -> i64 {
        self.day_len
    }

    fn n(&self) -> i64 {
        self.starts.len() as i64 - 1
    }

    pub fn day_number(&self, date: NaiveDate) -> i64 {
        (date - self.epoch).num_days()
    }

    /// Saturates at chrono's date range, which only absurd inputs reach.
    pub fn date_of(&self, d: i64) -> NaiveDate {
        let days = Days::new(d.unsigned_abs());
        let date = if d >= 0 {
            self.epoch.checked_add_days(days)
        } else {
            self.epoch.checked_sub_days(days)
        };
        date.unwrap_or(if d >= 0 {
            NaiveDate::MAX
        } else {
            NaiveDate::MIN
        })
    }

    /// UTC second of local `secs` after midnight of day `d`. A local time skipped by a clock
    /// change is read as the same wall time one hour later, where the day actually continues.
    fn local_instant(&self, d: i64, secs: i64) -> i64 {
        let Some(naive) = self
            .date_of(d)
            .and_hms_opt(0, 0, 0)
            .and_then(|m| m.checked_add_signed(TimeDelta::seconds(secs)))
        else {
            return if d >= 0 { i64::MAX / 2 } else { i64::MIN / 2 };
        };
        let resolve = |n: NaiveDateTime| match self.tz.from_local_datetime(&n) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.timestamp()),
            LocalResult::None => None,
        };
        resolve(naive)
            .or_else(|| resolve(naive + TimeDelta::hours(1)))
            .unwrap_or_else(|| naive.and_utc().timestamp())
    }

    fn weekday_works(&self, d: i64) -> bool {
        self.weekdays[d.rem_euclid(7) as usize]
    }

    pub fn is_working(&self, d: i64) -> bool {
        if (0..self.n()).contains(&d) {
            self.cum[d as usize + 1] > self.cum[d as usize]
        } else {
            self.weekday_works(d)
        }
    }

    /// The local day that contains UTC second `t`.
    pub fn day_of(&self, t: i64) -> i64 {
        let n = self.n();
        if t >= self.starts[0] && t < self.starts[n as usize] {
            // Exact unless the zone's offset changed since day 0; then at most a step or two.
            let mut d = ((t - self.starts[0]) / DAY_SECS).min(n - 1) as usize;
            while self.starts[d] > t {
                d -= 1;
            }
            while self.starts[d + 1] <= t {
                d += 1;
            }
            return d as i64;
        }
        let local = DateTime::from_timestamp(t, 0)
            .map(|u| u.with_timezone(&self.tz).date_naive())
            .unwrap_or(if t < 0 {
                NaiveDate::MIN
            } else {
                NaiveDate::MAX
            });
        self.day_number(local)
    }

    /// UTC bounds of session `i` of day `d`; empty (start == end) on a rest day.
    pub fn session(&self, d: i64, i: usize) -> (i64, i64) {
        if (0..self.n()).contains(&d) {
            return self.bounds[d as usize * self.sessions.len() + i];
        }
        let (s, e) = self.sessions[i];
        let start = self.local_instant(d, s);
        // Nominal length, so that the closed-form week count and the day agree.
        let len = if self.weekday_works(d) { e - s } else { 0 };
        (start, start + len)
    }

    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The office sessions as seconds after local midnight.
    pub fn local_sessions(&self) -> &[(i64, i64)] {
        &self.sessions
    }

    /// The weekdays that work by the weekday rule, Monday first.
    pub fn working_weekdays(&self) -> Vec<Weekday> {
        let mut days: Vec<Weekday> = (0..7)
            .filter(|&k| self.weekdays[k])
            .map(|k| self.date_of(k as i64).weekday())
            .collect();
        days.sort_by_key(Weekday::num_days_from_monday);
        days
    }

    /// Working seconds by the weekday rule in days `[0, d)`; negative for `d < 0`.
    fn closed(&self, d: i64) -> i64 {
        d.div_euclid(7) * self.week_prefix[7] + self.week_prefix[d.rem_euclid(7) as usize]
    }

    /// The day `d` with `closed(d) < target <= closed(d + 1)`.
    fn closed_inverse(&self, target: i64) -> i64 {
        let week = self.week_prefix[7];
        let weeks = (target - 1).div_euclid(week);
        let rest = target - weeks * week;
        let j = (1..=7).find(|&j| self.week_prefix[j] >= rest).unwrap_or(7) - 1;
        weeks * 7 + j as i64
    }

    /// `W` at the start of day `d`.
    pub fn before_day(&self, d: i64) -> i64 {
        let n = self.n();
        if d < 0 {
            self.closed(d)
        } else if d <= n {
            self.cum[d as usize]
        } else {
            self.cum[n as usize] + self.closed(d) - self.closed(n)
        }
    }

    /// The day `d` with `W(start of d) < target <= W(start of d + 1)`: the day in which working
    /// second `target` ends.
    pub fn day_reaching(&self, target: i64) -> i64 {
        let n = self.n() as usize;
        if target <= 0 {
            self.closed_inverse(target)
        } else if target <= self.cum[n] {
            self.cum.partition_point(|&c| c < target) as i64 - 1
        } else {
            self.closed_inverse(target - self.cum[n] + self.closed(n as i64))
        }
    }

    /// `W(t)` for UTC second `t` in day `d` (as given by `day_of`).
    pub fn worked(&self, d: i64, t: i64) -> i64 {
        let within: i64 = (0..self.sessions.len())
            .map(|i| {
                let (s, e) = self.session(d, i);
                (t - s).clamp(0, e - s)
            })
            .sum();
        self.before_day(d) + within
    }

    /// The earliest UTC second at which `W` reaches `target`, with its day and session.
    pub fn reach(&self, target: i64) -> (i64, usize, i64) {
        let d = self.day_reaching(target);
        let mut rest = target - self.before_day(d);
        let last = self.sessions.len() - 1;
        for i in 0..last {
            let (s, e) = self.session(d, i);
            if rest <= e - s {
                return (d, i, s + rest);
            }
            rest -= e - s;
        }
        (d, last, self.session(d, last).0 + rest)
    }
}
