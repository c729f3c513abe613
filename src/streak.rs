//! Runs of failures of one thing polled on a schedule (a source, a probe), so that its log says
//! when it went down and when it came back, not the same error every few seconds.

use std::sync::atomic::{AtomicU64, Ordering};

/// Consecutive failures so far.
#[derive(Debug, Default)]
pub struct Streak(AtomicU64);

/// What one outcome changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Succeeded, as the previous run did.
    StillUp,
    /// The first failure after a success (or the first run).
    WentDown,
    /// Failed again; this many failures in a row now.
    StillDown(u64),
    /// Succeeded after this many failures in a row.
    Recovered(u64),
}

impl Streak {
    pub fn record(&self, ok: bool) -> Change {
        if ok {
            match self.0.swap(0, Ordering::Relaxed) {
                0 => Change::StillUp,
                n => Change::Recovered(n),
            }
        } else {
            match self.0.fetch_add(1, Ordering::Relaxed) {
                0 => Change::WentDown,
                n => Change::StillDown(n + 1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_streak_goes_down_once_and_recovers_once() {
        let s = Streak::default();
        let seen: Vec<Change> = [true, false, false, false, true, true, false]
            .into_iter()
            .map(|ok| s.record(ok))
            .collect();
        assert_eq!(
            seen,
            [
                Change::StillUp,
                Change::WentDown,
                Change::StillDown(2),
                Change::StillDown(3),
                Change::Recovered(3),
                Change::StillUp,
                Change::WentDown,
            ]
        );
    }
}
