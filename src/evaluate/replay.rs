//! A dossier as it was at an instant: the row as stored now, taken back through the history the
//! store recorded since (status and due changes) and the source's own instants (received,
//! resolved, paused, resumed). Before the monitor first saw a dossier only those instants are
//! known; its status then is taken to be the one it was first seen in.

use crate::dossier::{Clock, Status};
use crate::store::{EvalRow, LaterChanges, PauseChange};

/// `row` at `at`: its status and due then, and the source's instants that had happened by then.
pub fn row_at(mut row: EvalRow, later: &LaterChanges, at: i64) -> EvalRow {
    let key = (row.source.clone(), row.dossier_id.clone());
    let pause_start = row.paused_at.or(row.first_paused_since);
    match later.status_then.get(&key) {
        Some(status) => row.status = status.clone(),
        None => {
            let status = Status::parse(&row.status);
            let pause_not_begun = status.is_some_and(|s| s.clock() == Clock::Paused)
                && pause_start.is_some_and(|p| p > at);
            let resolved_later =
                status.is_some_and(Status::is_resolved) && row.resolved_at.is_some_and(|r| r > at);
            // Seen only after: what the source's own instants say it was doing then.
            if pause_not_begun || resolved_later {
                row.status = Status::InProgress.as_str().to_string();
            }
        }
    }
    if let Some(due) = later.due_then.get(&key) {
        row.due_at = Some(*due);
    }
    if row.resolved_at.is_some_and(|r| r > at) {
        row.resolved_at = None;
        row.outcome = None;
    }
    if row.paused_at.is_some_and(|p| p > at) {
        row.paused_at = None;
        row.resumed_at = None;
    }
    if row.resumed_at.is_some_and(|r| r > at) {
        row.resumed_at = None;
    }
    if row.first_paused_since.is_some_and(|p| p > at) {
        row.first_paused_since = None;
    }
    row
}

/// Whether a row taken back to `at` ([`row_at`]) was open then.
pub fn was_open(row: &EvalRow, at: i64) -> bool {
    row.received_at <= at && Status::parse(&row.status).is_some_and(Status::is_open)
}

/// The pause changes that had happened by `at`.
pub fn changes_by(changes: Option<&Vec<PauseChange>>, at: i64) -> Vec<PauseChange> {
    changes
        .into_iter()
        .flatten()
        .filter(|c| c.changed_at <= at)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: &str) -> EvalRow {
        EvalRow {
            due_at: Some(1000),
            ..EvalRow::sample(status)
        }
    }

    fn key() -> (String, String) {
        ("s".into(), "d".into())
    }

    #[test]
    fn the_status_and_due_are_the_old_values_of_the_first_changes_after_the_instant() {
        let later = LaterChanges {
            status_then: [(key(), "in_progress".to_string())].into(),
            due_then: [(key(), 800)].into(),
        };
        let then = row_at(row("withdrawn"), &later, 100);
        assert_eq!(
            (then.status.as_str(), then.due_at),
            ("in_progress", Some(800))
        );
        assert!(was_open(&then, 100));
        assert!(!was_open(
            &row_at(row("withdrawn"), &LaterChanges::default(), 600),
            600
        ));
    }

    #[test]
    fn a_dossier_seen_only_later_is_what_the_sources_instants_say() {
        let none = LaterChanges::default();
        // First seen paused since 300 (its own paused_at, or its last change when first seen).
        for paused in [
            EvalRow {
                paused_at: Some(300),
                ..row("supplement_requested")
            },
            EvalRow {
                first_paused_since: Some(300),
                ..row("supplement_requested")
            },
        ] {
            let before = row_at(paused.clone(), &none, 200);
            assert_eq!(before.status, "in_progress");
            assert_eq!((before.paused_at, before.first_paused_since), (None, None));
            assert_eq!(row_at(paused, &none, 400).status, "supplement_requested");
        }
        let resolved = EvalRow {
            resolved_at: Some(300),
            outcome: Some("early".into()),
            ..row("resolved")
        };
        let before = row_at(resolved.clone(), &none, 200);
        assert_eq!(
            (
                before.status.as_str(),
                before.resolved_at,
                before.outcome.as_deref()
            ),
            ("in_progress", None, None)
        );
        assert!(was_open(&before, 200));
        assert!(!was_open(&row_at(resolved, &none, 300), 300));
        assert!(!was_open(&row("received"), -1), "not received yet");
    }
}
