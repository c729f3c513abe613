//! The `[[handoff]]` section: a pair of sources between which dossiers are transferred.

use std::collections::HashSet;

use serde::Deserialize;

use crate::config::{
    Checker, CronSchedule, HANDOFF_SCHEDULE, HANDOFF_STUCK_AFTER_WORKING_HOURS, MAX_WORKING_HOURS,
};
use crate::dossier::Status;

#[derive(Debug, Default, Deserialize)]
pub struct RawHandoff {
    pub from: Option<String>,
    pub to: Option<String>,
    pub transferred_status: Option<String>,
    pub transferred_raw_status: Option<String>,
    pub stuck_after_working_hours: Option<u64>,
    pub schedule: Option<String>,
}

/// What marks a dossier of the `from` source as handed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transferred {
    /// A canonical status: the transfer instant is when the store saw the dossier enter it.
    Status(Status),
    /// The source's own code: the transfer instant is the row's change marker when first seen
    /// in it (the store keeps no history of raw codes).
    Raw(String),
}

#[derive(Debug, Clone)]
pub struct HandoffConfig {
    pub from: String,
    pub to: String,
    pub transferred: Transferred,
    /// Working time after which a handoff not seen in `to` is stuck.
    pub stuck_after_working_secs: i64,
    pub schedule: CronSchedule,
}

pub(crate) fn validate_handoffs(
    c: &mut Checker<'_>,
    raw: Vec<RawHandoff>,
    sources: &HashSet<String>,
) -> Option<Vec<HandoffConfig>> {
    let mut pairs = HashSet::new();
    raw.into_iter()
        .enumerate()
        .map(|(i, h)| {
            let key = |k: &str| format!("handoff[{i}].{k}");
            let mut source = |k: &str, name: Option<String>| match name {
                None => {
                    c.problem(key(k), "missing; expected the name of a [[source]]");
                    None
                }
                Some(n) if !sources.contains(&n) => {
                    c.problem(key(k), format!("{n:?} is not the name of a [[source]]"));
                    None
                }
                Some(n) => Some(n),
            };
            let from = source("from", h.from);
            let to = source("to", h.to);
            if let (Some(f), Some(t)) = (&from, &to) {
                if f == t {
                    c.problem(key("to"), "is the same source as from");
                } else if !pairs.insert((f.clone(), t.clone())) {
                    c.problem(
                        key("to"),
                        format!("the handoff {f} → {t} is declared twice"),
                    );
                }
            }
            let transferred = match (h.transferred_status, h.transferred_raw_status) {
                (Some(s), None) => Status::parse(&s).map(Transferred::Status).or_else(|| {
                    c.problem(
                        key("transferred_status"),
                        format!(
                            "{s:?} is not a canonical status; expected one of: {} (or give the \
                             source's own code as transferred_raw_status)",
                            Status::ALL.map(|s| s.as_str()).join(", ")
                        ),
                    );
                    None
                }),
                (None, Some(raw)) if !raw.is_empty() => Some(Transferred::Raw(raw)),
                (Some(_), Some(_)) => {
                    c.problem(
                        key("transferred_status"),
                        "give either transferred_status or transferred_raw_status, not both",
                    );
                    None
                }
                _ => {
                    c.problem(
                        key("transferred_status"),
                        "missing; expected the canonical status (transferred_status) or the \
                         source's own code (transferred_raw_status) that means transferred",
                    );
                    None
                }
            };
            let hours = c.positive(
                &key("stuck_after_working_hours"),
                h.stuck_after_working_hours,
                HANDOFF_STUCK_AFTER_WORKING_HOURS,
                u64::from(MAX_WORKING_HOURS),
            );
            let schedule = c.schedule(&key("schedule"), h.schedule.as_deref(), HANDOFF_SCHEDULE);
            Some(HandoffConfig {
                from: from?,
                to: to?,
                transferred: transferred?,
                stuck_after_working_secs: i64::try_from(hours).ok()?.saturating_mul(3600),
                schedule: schedule?,
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
}
