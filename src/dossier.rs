//! The canonical dossier (DESIGN §3): the one row shape every source is mapped onto.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Canonical dossier states, numbered as the national portal's TrangThaiHoSo (1-10), because every
/// provincial system already maps its local states onto those.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Submitted,
    Received,
    RejectedAtIntake,
    InProgress,
    SupplementRequested,
    AwaitingPayment,
    Withdrawn,
    Stopped,
    Resolved,
    Returned,
}

/// What the deadline clock does while a dossier is in a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    NotStarted,
    Running,
    Paused,
    /// Terminal without an outcome (rejected at intake, withdrawn).
    None,
    /// Result ready: the outcome is decided.
    Stopped,
}

impl Status {
    pub const ALL: [Status; 10] = [
        Status::Submitted,
        Status::Received,
        Status::RejectedAtIntake,
        Status::InProgress,
        Status::SupplementRequested,
        Status::AwaitingPayment,
        Status::Withdrawn,
        Status::Stopped,
        Status::Resolved,
        Status::Returned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::Received => "received",
            Status::RejectedAtIntake => "rejected_at_intake",
            Status::InProgress => "in_progress",
            Status::SupplementRequested => "supplement_requested",
            Status::AwaitingPayment => "awaiting_payment",
            Status::Withdrawn => "withdrawn",
            Status::Stopped => "stopped",
            Status::Resolved => "resolved",
            Status::Returned => "returned",
        }
    }

    /// The national portal's code (TrangThaiHoSo).
    pub fn national_code(self) -> u8 {
        Status::ALL
            .iter()
            .position(|s| *s == self)
            .map_or(0, |i| i as u8 + 1)
    }

    pub fn from_national_code(code: i64) -> Option<Status> {
        usize::try_from(code - 1)
            .ok()
            .and_then(|i| Status::ALL.get(i).copied())
    }

    pub fn parse(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }

    pub fn clock(self) -> Clock {
        match self {
            Status::Submitted => Clock::NotStarted,
            Status::Received | Status::InProgress => Clock::Running,
            Status::SupplementRequested | Status::AwaitingPayment | Status::Stopped => {
                Clock::Paused
            }
            Status::RejectedAtIntake | Status::Withdrawn => Clock::None,
            Status::Resolved | Status::Returned => Clock::Stopped,
        }
    }

    /// Open dossiers are the ones whose deadline still matters: running or paused clocks.
    pub fn is_open(self) -> bool {
        matches!(self.clock(), Clock::Running | Clock::Paused)
    }

    pub fn is_resolved(self) -> bool {
        self.clock() == Clock::Stopped
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the dossier reached the centre (KenhThucHien: 1 in person, 2 online, 3 postal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Direct,
    Online,
    Postal,
    Unknown,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Direct => "direct",
            Channel::Online => "online",
            Channel::Postal => "postal",
            Channel::Unknown => "unknown",
        }
    }

    /// Accepts the canonical names, the national codes and the Vietnamese words seen in sources.
    pub fn parse(raw: &str) -> Option<Channel> {
        match raw.trim().to_lowercase().as_str() {
            "" => Some(Channel::Unknown),
            "direct" | "1" | "trực tiếp" | "truc tiep" | "in_person" => Some(Channel::Direct),
            "online" | "2" | "trực tuyến" | "truc tuyen" => Some(Channel::Online),
            "postal" | "3" | "bưu chính" | "buu chinh" => Some(Channel::Postal),
            _ => None,
        }
    }
}

/// One dossier as the store keeps it, in UTC instants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dossier {
    pub dossier_id: String,
    pub procedure_code: String,
    pub procedure_name: Option<String>,
    pub department: String,
    pub channel: Channel,
    pub received_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub status: Status,
    /// The source's own status code, kept for audit.
    pub raw_status: String,
    pub updated_at: DateTime<Utc>,
    /// The last pause as the source records it (e.g. NgayYeuCauBoSung / NgayCongDanBoSung), when
    /// it does; otherwise pauses come from the status changes the store observed.
    pub paused_at: Option<DateTime<Utc>>,
    pub resumed_at: Option<DateTime<Utc>>,
}

/// A dossier entering a stage of its processing (a step, or a unit such as a department's
/// office or the leader who signs), from a source's optional stage query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageEvent {
    pub dossier_id: String,
    /// A stage or unit code: it becomes a metric label, so the mapping admits codes only.
    pub stage: String,
    pub entered_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_codes_round_trip_and_match_the_portal() {
        for s in Status::ALL {
            assert_eq!(
                Status::from_national_code(s.national_code().into()),
                Some(s)
            );
        }
        assert_eq!(Status::Received.national_code(), 2);
        assert_eq!(Status::Returned.national_code(), 10);
        assert_eq!(Status::from_national_code(0), None);
        assert_eq!(Status::from_national_code(11), None);
    }

    #[test]
    fn paused_and_running_states_are_open_resolved_ones_are_not() {
        assert!(Status::SupplementRequested.is_open());
        assert!(Status::InProgress.is_open());
        assert!(!Status::Resolved.is_open());
        assert!(!Status::Withdrawn.is_open());
        assert!(!Status::Submitted.is_open());
        assert!(Status::Returned.is_resolved());
    }
}
