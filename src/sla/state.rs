//! The SLA state of an open dossier at an instant (DESIGN §5).

use chrono::{DateTime, Utc};

use super::settings::SlaPolicy;
use crate::calendar::Calendar;
use crate::dossier::{Clock, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SlaState {
    OnTrack,
    AtRisk,
    DueSoon,
    Overdue,
    Paused,
}

impl SlaState {
    pub const ALL: [SlaState; 5] = [
        SlaState::OnTrack,
        SlaState::AtRisk,
        SlaState::DueSoon,
        SlaState::Overdue,
        SlaState::Paused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SlaState::OnTrack => "on_track",
            SlaState::AtRisk => "at_risk",
            SlaState::DueSoon => "due_soon",
            SlaState::Overdue => "overdue",
            SlaState::Paused => "paused",
        }
    }
}

/// A state name that is none of [`SlaState::ALL`]; the message lists the valid ones, since a
/// filter on a misspelt state would otherwise match nothing and look like good news.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SLA state {0:?}: expected on_track, at_risk, due_soon, overdue or paused")]
pub struct UnknownState(pub String);

impl std::str::FromStr for SlaState {
    type Err = UnknownState;

    fn from_str(s: &str) -> Result<SlaState, UnknownState> {
        SlaState::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| UnknownState(s.to_string()))
    }
}

/// A span spent in a paused status; `end` is `None` while the pause lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PauseSpan {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

/// What the engine needs of an open dossier. `pauses` must not overlap (they come from status
/// changes, which cannot).
#[derive(Debug, Clone, Copy)]
pub struct OpenDossier<'a> {
    pub received_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub status: Status,
    pub pauses: &'a [PauseSpan],
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    pub state: SlaState,
    /// Working time since received, minus paused working time.
    pub elapsed_working_secs: i64,
    /// Working time until the effective due; negative once past it (working time overdue).
    pub left_working_secs: Option<i64>,
    /// Working time between received and the source's due.
    pub allowed_working_secs: Option<i64>,
    /// `elapsed / allowed`; `None` without a deadline or with nothing allowed.
    pub fraction_used: Option<f64>,
    pub has_deadline: bool,
    /// The deadline that counts: the source's due, moved later by paused working time when
    /// `pause_extends_due`.
    pub effective_due: Option<DateTime<Utc>>,
}

/// Working time spent paused between `received` and `until`.
pub fn paused_working_secs(
    cal: &Calendar,
    received: DateTime<Utc>,
    pauses: &[PauseSpan],
    until: DateTime<Utc>,
) -> i64 {
    pauses
        .iter()
        .map(|p| {
            let start = p.start.max(received);
            let end = p.end.map_or(until, |e| e.min(until));
            cal.working_seconds_between(start, end)
        })
        .sum()
}

/// The dossier's state at `now`. Rules in order: a paused status is `Paused`; past the
/// effective due `Overdue`; at most the `due_soon` threshold left `DueSoon`; at least
/// `at_risk_fraction` of the allowed time used `AtRisk`; else `OnTrack`.
pub fn evaluate(
    cal: &Calendar,
    policy: &SlaPolicy,
    dossier: &OpenDossier<'_>,
    now: DateTime<Utc>,
) -> Evaluation {
    let paused = paused_working_secs(cal, dossier.received_at, dossier.pauses, now);
    let elapsed = (cal.working_seconds_between(dossier.received_at, now) - paused).max(0);
    let is_paused = dossier.status.clock() == Clock::Paused;
    let Some(due) = dossier.due_at else {
        return Evaluation {
            state: if is_paused {
                SlaState::Paused
            } else {
                SlaState::OnTrack
            },
            elapsed_working_secs: elapsed,
            left_working_secs: None,
            allowed_working_secs: None,
            fraction_used: None,
            has_deadline: false,
            effective_due: None,
        };
    };

    let effective_due = policy.effective_due(cal, due, paused);
    let allowed = cal.working_seconds_between(dossier.received_at, due);
    let left = if now <= effective_due {
        cal.working_seconds_between(now, effective_due)
    } else {
        -cal.working_seconds_between(effective_due, now)
    };
    let fraction_used = (allowed > 0).then(|| elapsed as f64 / allowed as f64);
    let state = if is_paused {
        SlaState::Paused
    } else if now > effective_due {
        SlaState::Overdue
    } else if left as f64 <= policy.due_soon_secs(cal, allowed) {
        SlaState::DueSoon
    } else if fraction_used.is_some_and(|f| f >= policy.at_risk_fraction) {
        SlaState::AtRisk
    } else {
        SlaState::OnTrack
    };
    Evaluation {
        state,
        elapsed_working_secs: elapsed,
        left_working_secs: Some(left),
        allowed_working_secs: Some(allowed),
        fraction_used,
        has_deadline: true,
        effective_due: Some(effective_due),
    }
}
