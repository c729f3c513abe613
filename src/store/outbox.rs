//! Escalation decisions and the outbox of emails (DESIGN §6): decisions and the emails they
//! produce are written in one transaction; the mailer takes due rows and records each attempt.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Store, StoreError, failed, on_pool, on_tx};

/// States of an outbox row.
pub mod state {
    pub const PENDING: &str = "pending";
    pub const SENT: &str = "sent";
    pub const DEAD: &str = "dead";
    /// Taken out by an operator (`outbox discard`): never sent, kept for the record.
    pub const DISCARDED: &str = "discarded";

    pub fn parse(s: &str) -> Option<&'static str> {
        [PENDING, SENT, DEAD, DISCARDED]
            .into_iter()
            .find(|x| *x == s)
    }
}

/// An escalation decided: the outbox's unique key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationKey {
    pub source: String,
    pub dossier_id: String,
    pub level: String,
    pub cycle: i64,
}

/// An email to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub key: String,
    pub message_id: String,
    /// The escalation level, or `report:<name>`: the `level` label of the outbox metrics.
    pub level: String,
    pub recipient: String,
    pub body: Vec<u8>,
    pub working_hours_only: bool,
    pub next_attempt_at: DateTime<Utc>,
}

/// A queued email due for an attempt.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxRow {
    pub message_key: String,
    pub message_id: String,
    pub level: String,
    pub recipient: String,
    pub body: Vec<u8>,
    pub working_hours_only: i64,
    pub attempts: i64,
    /// The sender whose claim on this row lapsed before it recorded an attempt: the email may
    /// have reached the server already, and then arrives twice (same Message-ID).
    pub reclaimed_from: Option<String>,
}

/// An outbox row as the API shows it: no body, the recipient masked by the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct OutboxEntry {
    /// Internal: it holds the recipient's address, which never leaves unmasked.
    #[serde(skip)]
    #[schema(ignore)]
    pub message_key: String,
    pub message_id: String,
    pub level: String,
    pub recipient: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    #[serde(serialize_with = "crate::http::instant::unix")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: i64,
    #[serde(serialize_with = "crate::http::instant::unix")]
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: i64,
    #[serde(serialize_with = "crate::http::instant::unix_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sent_at: Option<i64>,
}

/// What an attempt did to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt<'a> {
    Sent,
    /// Failed; tried again at `next` unless `dead`.
    Failed {
        class: &'a str,
        next: DateTime<Utc>,
        dead: bool,
    },
}

const INSERT_MESSAGE: &str = "INSERT INTO outbox (message_key, message_id, level, recipient, body, \
     working_hours_only, state, attempts, created_at, next_attempt_at) \
     VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $8) ON CONFLICT DO NOTHING";

impl Store {
    /// For each dossier that a level was decided for: its first decision and its last cycle.
    pub async fn escalation_history(
        &self,
        level: &str,
    ) -> Result<HashMap<(String, String), (DateTime<Utc>, i64)>, StoreError> {
        let rows: Vec<(String, String, i64, i64)> = on_pool!(self, p => sqlx::query_as(
            "SELECT source, dossier_id, MIN(decided_at), MAX(cycle) FROM escalations \
             WHERE level = $1 GROUP BY source, dossier_id",
        )
        .bind(level)
        .fetch_all(p)
        .await)
        .map_err(failed("reading escalation history"))?;
        Ok(rows
            .into_iter()
            .map(|(s, d, first, cycle)| {
                let first = super::instant(first);
                ((s, d), (first, cycle))
            })
            .collect())
    }

    /// Records decisions and queues their emails in one transaction: either all of a run is
    /// kept, or none of it and the next run decides again. When any decision is there already
    /// (another instance, one that also believed it led, decided it first), none of the run is
    /// kept: its digests would repeat those dossiers under other keys; the next run decides
    /// again from the history. Returns the emails newly queued, or `None` when nothing was kept.
    pub async fn record_escalations(
        &self,
        decisions: &[EscalationKey],
        decided_at: DateTime<Utc>,
        messages: &[NewMessage],
    ) -> Result<Option<u64>, StoreError> {
        let mut tx = self.begin().await?;
        let mut recorded = 0;
        for d in decisions {
            recorded += on_tx!(tx, conn => sqlx::query(
                "INSERT INTO escalations (source, dossier_id, level, cycle, decided_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(&d.source)
            .bind(&d.dossier_id)
            .bind(&d.level)
            .bind(d.cycle)
            .bind(decided_at.timestamp())
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
            .map_err(failed("recording escalations"))?;
        }
        if recorded < decisions.len() as u64 {
            // Dropping the transaction rolls it back.
            return Ok(None);
        }
        let queued = insert_messages(&mut tx, messages, decided_at).await?;
        tx.commit().await?;
        Ok(Some(queued))
    }

    /// Queues emails that no decision stands behind (reports); keys already present are kept.
    pub async fn enqueue(
        &self,
        messages: &[NewMessage],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let queued = insert_messages(&mut tx, messages, now).await?;
        tx.commit().await?;
        Ok(queued)
    }

    /// Claims the pending email due first at `now` for `sender` until `expires`, or none. A
    /// row claimed by another sender is skipped until that claim lapses; one whose claim lapsed
    /// (its sender died or stalled mid-send) is taken over, with `reclaimed_from` set. On
    /// PostgreSQL the row is picked `FOR UPDATE SKIP LOCKED`, so two senders claiming at the
    /// same instant never get the same row; SQLite serves one process, whose writes are serial.
    pub async fn claim_due_message(
        &self,
        sender: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<Option<OutboxRow>, StoreError> {
        const PICK: &str = "SELECT message_key FROM outbox WHERE state = 'pending' \
             AND next_attempt_at <= $3 AND (claim_expires_at IS NULL OR claim_expires_at <= $3) \
             ORDER BY next_attempt_at, message_key LIMIT 1";
        let claim = |lock: &str| {
            format!(
                "UPDATE outbox SET claimed_by = $1, claim_expires_at = $2, \
                 reclaimed_from = claimed_by, \
                 reclaims = reclaims + CASE WHEN claimed_by IS NULL THEN 0 ELSE 1 END \
                 WHERE message_key IN ({PICK}{lock}) \
                 RETURNING message_key, message_id, level, recipient, body, working_hours_only, \
                 attempts, reclaimed_from"
            )
        };
        let sql = match self.pool {
            super::StorePool::Sqlite(_) => claim(""),
            super::StorePool::Postgres(_) => claim(" FOR UPDATE SKIP LOCKED"),
        };
        on_pool!(self, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(sender)
            .bind(expires.timestamp())
            .bind(now.timestamp())
            .fetch_optional(p)
            .await)
        .map_err(failed("claiming a due email"))
    }

    /// Records an attempt by `sender` and releases its claim. A failure is recorded only while
    /// the claim is still the sender's: once another took the row over, the row is theirs. A
    /// send is always recorded, so that nobody sends that row again.
    pub async fn record_attempt(
        &self,
        key: &str,
        sender: &str,
        attempt: Attempt<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (state, error, next, sent) = match attempt {
            Attempt::Sent => (state::SENT, None, now, Some(now.timestamp())),
            Attempt::Failed { class, next, dead } => (
                if dead { state::DEAD } else { state::PENDING },
                Some(class),
                next,
                None,
            ),
        };
        on_pool!(self, p => sqlx::query(
            "UPDATE outbox SET state = $1, attempts = attempts + 1, last_error = $2, \
             next_attempt_at = $3, sent_at = $4, claimed_by = NULL, claim_expires_at = NULL \
             WHERE message_key = $5 AND state = 'pending' AND ($1 = 'sent' OR claimed_by = $6)",
        )
        .bind(state)
        .bind(error)
        .bind(next.timestamp())
        .bind(sent)
        .bind(key)
        .bind(sender)
        .execute(p)
        .await
        .map(drop))
        .map_err(failed("recording an email attempt"))?;
        Ok(())
    }

    /// Pending emails by level whose time to leave has come: tried before (a retry waits out its
    /// back-off) or first due at `now` or earlier. An email held for office hours and never tried
    /// is not due, so that a holiday's held digests do not look like a mail fault.
    pub async fn outbox_due_counts(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        on_pool!(self, p => sqlx::query_as(
            "SELECT level, COUNT(*) FROM outbox \
             WHERE state = 'pending' AND (attempts > 0 OR next_attempt_at <= $1) \
             GROUP BY level ORDER BY level",
        )
        .bind(now.timestamp())
        .fetch_all(p)
        .await)
        .map_err(failed("counting the outbox's due emails"))
    }

    /// Emails by (level, state).
    pub async fn outbox_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        on_pool!(self, p => sqlx::query_as(
            "SELECT level, state, COUNT(*) FROM outbox GROUP BY level, state ORDER BY level, state",
        )
        .fetch_all(p)
        .await)
        .map_err(failed("counting the outbox"))
    }

    /// The latest emails queued, newest first.
    pub async fn outbox_latest(&self, limit: i64) -> Result<Vec<OutboxEntry>, StoreError> {
        on_pool!(self, p => sqlx::query_as(
            "SELECT message_key, message_id, level, recipient, state, attempts, last_error, \
             created_at, next_attempt_at, sent_at FROM outbox \
             ORDER BY created_at DESC, message_key LIMIT $1",
        )
        .bind(limit)
        .fetch_all(p)
        .await)
        .map_err(failed("reading the outbox"))
    }
}

/// Which outbox rows an operator means: every given condition holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxFilter {
    /// Empty: every state.
    pub states: Vec<&'static str>,
    pub level: Option<String>,
    /// Compared without regard to case, as mail systems do.
    pub recipient: Option<String>,
    /// The last error's class (`rejected`, `auth`, ...).
    pub reason: Option<String>,
    /// Queued at or after.
    pub since: Option<DateTime<Utc>>,
    /// Queued before.
    pub until: Option<DateTime<Utc>>,
}

enum Param {
    Text(String),
    Int(i64),
}

impl OutboxFilter {
    /// The WHERE clause with `$n` placeholders, and what they stand for, in order.
    fn clause(&self) -> (String, Vec<Param>) {
        let mut terms = Vec::new();
        let mut params = Vec::new();
        let next = |p: Param, params: &mut Vec<Param>| {
            params.push(p);
            format!("${}", params.len())
        };
        if !self.states.is_empty() {
            let states: Vec<String> = self
                .states
                .iter()
                .map(|s| next(Param::Text((*s).to_owned()), &mut params))
                .collect();
            terms.push(format!("state IN ({})", states.join(", ")));
        }
        if let Some(level) = &self.level {
            terms.push(format!(
                "level = {}",
                next(Param::Text(level.clone()), &mut params)
            ));
        }
        if let Some(to) = &self.recipient {
            let to = Param::Text(to.to_lowercase());
            terms.push(format!("lower(recipient) = {}", next(to, &mut params)));
        }
        if let Some(reason) = &self.reason {
            let reason = Param::Text(reason.clone());
            terms.push(format!("last_error = {}", next(reason, &mut params)));
        }
        if let Some(t) = self.since {
            let t = Param::Int(t.timestamp());
            terms.push(format!("created_at >= {}", next(t, &mut params)));
        }
        if let Some(t) = self.until {
            let t = Param::Int(t.timestamp());
            terms.push(format!("created_at < {}", next(t, &mut params)));
        }
        let clause = if terms.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", terms.join(" AND "))
        };
        (clause, params)
    }
}

impl Store {
    /// The rows `filter` names, oldest first, at most `limit`.
    pub async fn outbox_find(
        &self,
        filter: &OutboxFilter,
        limit: i64,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        let (clause, params) = filter.clause();
        let sql = format!(
            "SELECT message_key, message_id, level, recipient, state, attempts, last_error, \
             created_at, next_attempt_at, sent_at FROM outbox{clause} \
             ORDER BY created_at, message_key LIMIT {limit}"
        );
        on_pool!(self, p => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
            for param in params {
                q = match param {
                    Param::Text(v) => q.bind(v),
                    Param::Int(v) => q.bind(v),
                };
            }
            q.fetch_all(p).await
        })
        .map_err(failed("reading the outbox"))
    }

    /// Puts dead emails back in the queue, due at `now` with a fresh count of attempts: the same
    /// row, so the same Message-ID and bytes. Rows no longer dead are left alone. Returns how
    /// many were revived.
    pub async fn outbox_revive(
        &self,
        keys: &[String],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.outbox_update(
            keys,
            "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $1 \
             WHERE message_key = $2 AND state = 'dead'",
            now,
        )
        .await
    }

    /// Takes pending or dead emails out of the queue for good; the rows stay, `discarded`.
    pub async fn outbox_discard(
        &self,
        keys: &[String],
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.outbox_update(
            keys,
            "UPDATE outbox SET state = 'discarded', next_attempt_at = $1 \
             WHERE message_key = $2 AND state IN ('pending', 'dead')",
            now,
        )
        .await
    }

    async fn outbox_update(
        &self,
        keys: &[String],
        sql: &'static str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let mut changed = 0;
        for key in keys {
            changed += on_tx!(tx, conn => sqlx::query(sql)
                .bind(now.timestamp())
                .bind(key)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))
            .map_err(failed("changing outbox rows"))?;
        }
        tx.commit().await?;
        Ok(changed)
    }
}

async fn insert_messages(
    tx: &mut super::StoreTx,
    messages: &[NewMessage],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut queued = 0;
    for m in messages {
        let done = on_tx!(*tx, conn => sqlx::query(INSERT_MESSAGE)
            .bind(&m.key)
            .bind(&m.message_id)
            .bind(&m.level)
            .bind(&m.recipient)
            .bind(&m.body)
            .bind(i64::from(m.working_hours_only))
            .bind(now.timestamp())
            .bind(m.next_attempt_at.timestamp())
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))
        .map_err(failed("queueing emails"))?;
        queued += done;
    }
    Ok(queued)
}
