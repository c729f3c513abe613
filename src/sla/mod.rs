//! SLA states, outcomes, statutory times, escalation planning (DESIGN §4-§6) and Decision 766's
//! progress score: pure functions of the calendar, the policy and a dossier's instants; no I/O.
//!
//! Pauses: working time spent in a paused status never counts as elapsed, and by default
//! (`pause_extends_due`) moves the deadline later by as much. Callers computing the outcome of
//! a resolved dossier pass the same effective due (`SlaPolicy::effective_due` with
//! `paused_working_secs` up to the resolution).

mod catalogue;
mod escalation;
mod format;
mod outcome;
mod progress;
mod settings;
mod state;

#[cfg(test)]
mod tests;

pub use catalogue::{Catalogue, Procedure, StatutoryTime, StatutoryTimeError};
pub use escalation::{Condition, Decision, LevelRule, Previous, current_level, decide};
pub use format::{
    english_count, format_count, format_decimal, format_percent, format_time_left,
    format_working_duration,
};
pub use outcome::{OnTimeRule, Outcome, outcome};
pub use progress::{ProgressTally, asked_too_often};
pub use settings::{DueSoon, SlaPolicy, SlaSettings, SlaSettingsError};
pub use state::{
    Evaluation, OpenDossier, PauseSpan, SlaState, UnknownState, evaluate, paused_working_secs,
};
