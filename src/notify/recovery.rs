//! What an operator does with emails the mailer gave up on or should not send: list them,
//! queue them again once the server is fixed, or discard them. Shared by `hcc-monitor outbox`
//! and the API; every row changed leaves an audit line in the log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::mask;
use crate::clock::SupportedInstant;
use crate::store::{OutboxEntry, OutboxFilter, Store, StoreError, outbox_state};

/// Rows one action reads at most: an operator acting on more narrows the filter or repeats.
pub const MAX_ROWS: i64 = 10_000;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum OutboxAction {
    List,
    /// Dead emails back in the queue, due now, with the same Message-ID.
    Retry,
    /// Pending or dead emails out of the queue for good.
    Discard,
}

impl OutboxAction {
    /// The states an action may touch; `list` sees them all.
    fn states(self) -> &'static [&'static str] {
        match self {
            OutboxAction::List => &[],
            OutboxAction::Retry => &[outbox_state::DEAD],
            OutboxAction::Discard => &[outbox_state::PENDING, outbox_state::DEAD],
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            OutboxAction::List => "list",
            OutboxAction::Retry => "retry",
            OutboxAction::Discard => "discard",
        }
    }
}

/// The rows an operator names, as the CLI's flags and the API's query parameters read.
#[derive(Debug, Clone, Default, Deserialize, clap::Args, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxSelection {
    /// Only this escalation level (or `report:<name>`).
    #[arg(long)]
    pub level: Option<String>,
    /// Only this recipient's address.
    #[arg(long)]
    pub recipient: Option<String>,
    /// Only rows whose last error was of this class: rejected, auth, connect, tls, timeout, other.
    #[arg(long)]
    pub reason: Option<String>,
    /// Only rows in this state: pending, sent, dead, discarded.
    #[arg(long)]
    pub state: Option<String>,
    /// Only rows queued at or after this instant (RFC 3339).
    #[arg(long)]
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<SupportedInstant>,
    /// Only rows queued before this instant (RFC 3339).
    #[arg(long)]
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<SupportedInstant>,
    /// Say what would change, change nothing.
    #[arg(long)]
    #[serde(default)]
    pub dry_run: bool,
}

impl OutboxSelection {
    pub fn filter(self) -> Result<OutboxFilter, String> {
        let states = match self.state.as_deref() {
            None => Vec::new(),
            Some(s) => vec![outbox_state::parse(s).ok_or_else(|| {
                format!("state {s:?} is unknown; expected pending, sent, dead or discarded")
            })?],
        };
        Ok(OutboxFilter {
            states,
            level: self.level,
            recipient: self.recipient,
            reason: self.reason,
            since: self.since.map(SupportedInstant::get),
            until: self.until.map(SupportedInstant::get),
        })
    }
}

/// What an action found and did; recipients masked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OutboxOutcome {
    pub action: OutboxAction,
    pub dry_run: bool,
    /// The rows the filter names (before the change).
    pub matched: Vec<OutboxEntry>,
    /// Rows changed; 0 for `list` and dry runs.
    pub changed: u64,
}

/// Runs `action` on the rows `filter` names, restricted to the states the action may touch (a
/// state in `filter` narrows them further). `who` names the operator's channel in the audit.
pub async fn act_on_outbox(
    store: &Store,
    action: OutboxAction,
    mut filter: OutboxFilter,
    dry_run: bool,
    who: &str,
    now: DateTime<Utc>,
) -> Result<OutboxOutcome, StoreError> {
    let allowed = action.states();
    if !allowed.is_empty() {
        filter.states = if filter.states.is_empty() {
            allowed.to_vec()
        } else {
            filter
                .states
                .into_iter()
                .filter(|s| allowed.contains(s))
                .collect()
        };
        if filter.states.is_empty() {
            return Ok(OutboxOutcome {
                action,
                dry_run,
                matched: Vec::new(),
                changed: 0,
            });
        }
    }
    let matched = store.outbox_find(&filter, MAX_ROWS).await?;
    let keys: Vec<String> = matched.iter().map(|e| e.message_key.clone()).collect();
    let changed = match action {
        _ if dry_run => 0,
        OutboxAction::List => 0,
        OutboxAction::Retry => store.outbox_revive(&keys, now).await?,
        OutboxAction::Discard => store.outbox_discard(&keys, now).await?,
    };
    if action != OutboxAction::List {
        for e in &matched {
            tracing::info!(
                action = action.as_str(),
                dry_run,
                by = who,
                message_id = %e.message_id,
                level = %e.level,
                to = %mask(&e.recipient),
                state = %e.state,
                reason = e.last_error.as_deref().unwrap_or(""),
                "outbox action"
            );
        }
    }
    Ok(OutboxOutcome {
        action,
        dry_run,
        matched: matched
            .into_iter()
            .map(|e| OutboxEntry {
                recipient: mask(&e.recipient),
                ..e
            })
            .collect(),
        changed,
    })
}
