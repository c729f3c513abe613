//! Paused spans of a dossier: from the source's own pause timestamps when it gives them, else
//! rebuilt from the status changes the store observed.

use crate::dossier::{Clock, Status};
use crate::sla::PauseSpan;
use crate::store::{EvalRow, PauseChange, instant};

fn is_paused(status: &str) -> bool {
    Status::parse(status).is_some_and(|s| s.clock() == Clock::Paused)
}

pub fn spans(row: &EvalRow, changes: Option<&Vec<PauseChange>>) -> Vec<PauseSpan> {
    if let Some(start) = row.paused_at {
        return vec![PauseSpan {
            start: instant(start),
            end: row.resumed_at.map(instant),
        }];
    }
    let mut spans = Vec::new();
    // First seen already paused: paused since the first observation's last change at the
    // source, both while the pause lasts and after it ends, so the credit never vanishes.
    let mut open: Option<i64> = row.first_paused_since;
    for c in changes.into_iter().flatten() {
        match (is_paused(&c.old_status), is_paused(&c.new_status)) {
            (false, true) => open = Some(c.changed_at),
            (true, false) => {
                if let Some(start) = open.take() {
                    spans.push(PauseSpan {
                        start: instant(start),
                        end: Some(instant(c.changed_at)),
                    });
                }
            }
            _ => {}
        }
    }
    if is_paused(&row.status) {
        // Still paused since the observed change into the pause, or since the first
        // observation; a row stored paused with the source's own pause start, which the source
        // no longer gives, has neither: since its last change at the source.
        spans.push(PauseSpan {
            start: instant(open.unwrap_or(row.updated_at)),
            end: None,
        });
    }
    spans
}

/// Supplement requests (yêu cầu bổ sung) made by `until`: each observed change into
/// `supplement_requested`, plus one when the first change seen leaves that status (the dossier
/// was first seen asking). The source's own pause timestamps hold one pause at most, so they
/// never tell of a second request and are not needed here.
pub fn supplement_requests(changes: Option<&Vec<PauseChange>>, until: i64) -> usize {
    let asking = Status::SupplementRequested.as_str();
    let changes = changes.map_or(&[][..], Vec::as_slice);
    let first_seen_asking = changes.first().is_some_and(|c| c.old_status == asking);
    let asked = changes
        .iter()
        .filter(|c| c.new_status == asking && c.changed_at <= until)
        .count();
    usize::from(first_seen_asking) + asked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: &str, updated_at: i64, paused: Option<(i64, Option<i64>)>) -> EvalRow {
        EvalRow {
            updated_at,
            paused_at: paused.map(|p| p.0),
            resumed_at: paused.and_then(|p| p.1),
            ..EvalRow::sample(status)
        }
    }

    fn change(old: &str, new: &str, at: i64) -> PauseChange {
        PauseChange {
            old_status: old.into(),
            new_status: new.into(),
            changed_at: at,
        }
    }

    fn span(start: i64, end: Option<i64>) -> PauseSpan {
        PauseSpan {
            start: instant(start),
            end: end.map(instant),
        }
    }

    #[test]
    fn the_sources_own_pause_timestamps_win_over_observed_changes() {
        let changes = vec![change("in_progress", "supplement_requested", 50)];
        let r = row("in_progress", 400, Some((100, Some(300))));
        assert_eq!(spans(&r, Some(&changes)), vec![span(100, Some(300))]);
    }

    #[test]
    fn observed_changes_make_closed_and_open_spans() {
        let changes = vec![
            change("in_progress", "supplement_requested", 100),
            change("supplement_requested", "in_progress", 200),
            change("in_progress", "awaiting_payment", 300),
            // From one paused status to another: still one pause.
            change("awaiting_payment", "stopped", 350),
        ];
        let r = row("stopped", 350, None);
        assert_eq!(
            spans(&r, Some(&changes)),
            vec![span(100, Some(200)), span(300, None)]
        );
    }

    #[test]
    fn supplement_requests_are_counted_up_to_the_instant_fee_waits_are_not() {
        let changes = vec![
            change("supplement_requested", "in_progress", 100),
            change("in_progress", "awaiting_payment", 200),
            change("awaiting_payment", "supplement_requested", 300),
            change("supplement_requested", "in_progress", 400),
            change("in_progress", "supplement_requested", 500),
        ];
        // First seen asking (1), asked again at 300 (2) and at 500 (3); the fee wait is no request.
        assert_eq!(supplement_requests(Some(&changes), 500), 3);
        assert_eq!(supplement_requests(Some(&changes), 499), 2);
        assert_eq!(supplement_requests(Some(&changes), 99), 1);
        assert_eq!(supplement_requests(None, 500), 0);
    }

    #[test]
    fn a_dossier_first_seen_paused_keeps_its_credit_once_it_resumes() {
        // Seen first asking for a supplement, last changed at 120; resumed at 200.
        let first_seen_paused = EvalRow {
            first_paused_since: Some(120),
            ..row("supplement_requested", 120, None)
        };
        assert_eq!(spans(&first_seen_paused, None), vec![span(120, None)]);
        let changes = vec![change("supplement_requested", "in_progress", 200)];
        let resumed = EvalRow {
            status: "in_progress".into(),
            updated_at: 200,
            ..first_seen_paused
        };
        assert_eq!(spans(&resumed, Some(&changes)), vec![span(120, Some(200))]);
        // The same pause observed as it began gives the same span.
        let observed = vec![
            change("in_progress", "supplement_requested", 120),
            change("supplement_requested", "in_progress", 200),
        ];
        assert_eq!(
            spans(&row("in_progress", 200, None), Some(&observed)),
            vec![span(120, Some(200))]
        );
    }
}
