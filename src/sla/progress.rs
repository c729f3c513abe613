//! The "Tiến độ, kết quả giải quyết" group of Decision 766/QĐ-TTg (23/6/2022), the national
//! index that scores provinces in real time: 20 of its 100 points, given linearly as
//! 20 × (dossiers resolved early or on time + open dossiers still within their deadline at the
//! period's end) / (all dossiers handled in the period). The rules follow the public
//! reconstruction of the national portal's scoring (see DOMAIN.md): a dossier asked for a
//! supplement more than once counts as late whatever its dates say, and one without a deadline
//! counts as in time.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Evaluation, Outcome};

/// The group's maximum.
pub const PROGRESS_POINTS: f64 = 20.0;

/// Supplement requests a dossier may have and still count as in time.
pub const SUPPLEMENT_REQUESTS_ALLOWED: usize = 1;

/// The dossiers of a period that the score counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProgressTally {
    /// Resolved in the period, or open at its end.
    pub handled: u64,
    /// Of those, resolved early or on time, or open and within their deadline.
    pub in_time: u64,
}

/// More supplement requests than allowed make a dossier late, whatever its dates say.
pub fn asked_too_often(supplement_requests: usize) -> bool {
    supplement_requests > SUPPLEMENT_REQUESTS_ALLOWED
}

impl ProgressTally {
    fn count(&mut self, in_time: bool, supplement_requests: usize) {
        self.handled += 1;
        if in_time && !asked_too_often(supplement_requests) {
            self.in_time += 1;
        }
    }

    /// A dossier resolved in the period, with the outcome the report gives it.
    pub fn resolved(&mut self, outcome: Outcome, supplement_requests: usize) {
        self.count(outcome.in_time(), supplement_requests);
    }

    /// `count` dossiers resolved in the period with `outcome`, as if none was asked too often;
    /// `overruled` then takes back those that were.
    pub fn resolved_many(&mut self, outcome: Outcome, count: u64) {
        self.handled += count;
        if outcome.in_time() {
            self.in_time += count;
        }
    }

    /// One of the dossiers counted by `resolved_many` was asked for supplements too often: late.
    pub fn overruled(&mut self, outcome: Outcome) {
        if outcome.in_time() {
            self.in_time = self.in_time.saturating_sub(1);
        }
    }

    /// A dossier open at `end`, evaluated at `end`: within its deadline while `end` has not
    /// passed the deadline that counts (a paused dossier too; no deadline is in time).
    pub fn open(
        &mut self,
        evaluation: &Evaluation,
        end: DateTime<Utc>,
        supplement_requests: usize,
    ) {
        let within = evaluation.effective_due.is_none_or(|due| end <= due);
        self.count(within, supplement_requests);
    }

    pub fn add(&mut self, other: &ProgressTally) {
        self.handled += other.handled;
        self.in_time += other.in_time;
    }

    /// The points, 0 to 20; `None` when nothing was handled (no score, rather than 0 or 20).
    pub fn score(&self) -> Option<f64> {
        (self.handled > 0).then(|| PROGRESS_POINTS * self.in_time as f64 / self.handled as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sla::SlaState;

    fn open_due(due: Option<&str>) -> Evaluation {
        Evaluation {
            state: SlaState::OnTrack,
            elapsed_working_secs: 0,
            left_working_secs: None,
            allowed_working_secs: None,
            fraction_used: None,
            has_deadline: due.is_some(),
            effective_due: due.map(|d| d.parse().unwrap()),
        }
    }

    #[test]
    fn a_period_worked_by_hand() {
        let end: DateTime<Utc> = "2026-03-14T16:59:59Z".parse().unwrap();
        let mut t = ProgressTally::default();
        // Resolved: early, on time, late, and early but asked for supplements twice.
        t.resolved(Outcome::Early, 0);
        t.resolved(Outcome::OnTime, 1);
        t.resolved(Outcome::Late, 0);
        t.resolved(Outcome::Early, 2);
        // Open at the end: due after it, due exactly at it, past due, without a deadline, and
        // within its deadline but asked three times.
        t.open(&open_due(Some("2026-03-20T10:00:00Z")), end, 0);
        t.open(&open_due(Some("2026-03-14T16:59:59Z")), end, 1);
        t.open(&open_due(Some("2026-03-14T10:00:00Z")), end, 0);
        t.open(&open_due(None), end, 0);
        t.open(&open_due(Some("2026-03-20T10:00:00Z")), end, 3);
        // In time: early, on time (2 resolved) + due later, due at the end, no deadline (3 open)
        // = 5 of 9 handled: 20 × 5 / 9 = 11.11 points.
        assert_eq!(
            t,
            ProgressTally {
                handled: 9,
                in_time: 5
            }
        );
        assert!((t.score().unwrap() - 100.0 / 9.0).abs() < 1e-9);
    }

    #[test]
    fn counts_in_bulk_overruled_per_dossier_agree_with_counts_one_by_one() {
        // The same period as a_period_worked_by_hand's resolved dossiers, counted in bulk: 2
        // early (one asked twice), 1 on time, 1 late; the twice-asked one overruled.
        let mut bulk = ProgressTally::default();
        bulk.resolved_many(Outcome::Early, 2);
        bulk.resolved_many(Outcome::OnTime, 1);
        bulk.resolved_many(Outcome::Late, 1);
        bulk.overruled(Outcome::Early);
        let mut one_by_one = ProgressTally::default();
        one_by_one.resolved(Outcome::Early, 0);
        one_by_one.resolved(Outcome::Early, 2);
        one_by_one.resolved(Outcome::OnTime, 1);
        one_by_one.resolved(Outcome::Late, 0);
        // 2 of 4 in time: 10 points.
        assert_eq!(bulk, one_by_one);
        assert_eq!(bulk.score(), Some(10.0));
        // A late dossier asked too often was late already.
        bulk.overruled(Outcome::Late);
        assert_eq!(bulk, one_by_one);
    }

    #[test]
    fn no_dossier_means_no_score_and_the_bounds_are_0_and_20() {
        assert_eq!(ProgressTally::default().score(), None);
        let mut all_late = ProgressTally::default();
        all_late.resolved(Outcome::Late, 0);
        assert_eq!(all_late.score(), Some(0.0));
        let mut all_in_time = ProgressTally::default();
        all_in_time.resolved(Outcome::OnTime, 0);
        let mut other = ProgressTally::default();
        other.resolved(Outcome::Early, 1);
        all_in_time.add(&other);
        assert_eq!(all_in_time.score(), Some(20.0));
    }
}
