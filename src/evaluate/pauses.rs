//! Paused spans of a dossier: from the source's own pause timestamps when it gives them, else
//! rebuilt from the status changes the store observed.

use chrono::{DateTime, Utc};

use crate::dossier::{Clock, Status};
use crate::sla::PauseSpan;
use crate::store::{EvalRow, PauseChange};

fn instant(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

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
    let mut open: Option<i64> = None;
    for c in changes.into_iter().flatten() {
        match (is_paused(&c.old_status), is_paused(&c.new_status)) {
            (false, true) => open = Some(c.changed_at),
            // A pause that began before the monitor first saw the dossier has no known start;
            // it earns no credit, which can only make the dossier look later, never safer.
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
        // Still paused: since the observed change into the pause or, for a dossier first seen
        // paused, since its last change at the source, which is when it entered the pause.
        spans.push(PauseSpan {
            start: instant(open.unwrap_or(row.updated_at)),
            end: None,
        });
    }
    spans
}
