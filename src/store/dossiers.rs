//! Dossier batches, watermarks, vanished rows and rejected rows.

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::links::COUNTED;
use super::{Store, StoreError, StoreTx, failed, instant, on_pool, on_tx};
use crate::dossier::{Channel, Clock, Dossier, Status};

const DOSSIER_COLUMNS: usize = 18;
/// Rows per INSERT statement: 18,000 bound values, under SQLite's limit of 32,766.
const ROWS_PER_STATEMENT: usize = 1000;
const SQLITE_ROWS_PER_TRANSACTION: usize = 5000;

/// A row the mapping refused: the poller logs it the first time the store sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The dossier id when the row had one, else a description of the row.
    pub row_key: String,
    /// A bounded label value (see `source::mapping::reason`).
    pub reason: &'static str,
    pub detail: String,
}

/// The characters of a rejection's row key and detail that are kept: a rejected value can be a
/// megabyte (a blob in a name column), which must reach neither the log nor the store whole.
const REJECTION_TEXT_CHARS: usize = 200;

impl Rejection {
    /// A rejection with its row key and detail cut to [`REJECTION_TEXT_CHARS`].
    pub fn new(row_key: String, reason: &'static str, detail: String) -> Rejection {
        Rejection {
            row_key: truncated(row_key),
            reason,
            detail: truncated(detail),
        }
    }
}

/// `s`, or its first [`REJECTION_TEXT_CHARS`] characters with how long it was.
fn truncated(s: String) -> String {
    match s.char_indices().nth(REJECTION_TEXT_CHARS) {
        None => s,
        Some((end, _)) => format!("{}... ({} characters in all)", &s[..end], s.chars().count()),
    }
}

#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Rejections not seen before for this (row, reason): the ones to log.
    pub new_rejections: Vec<Rejection>,
    /// How long the batch waited for a store connection and its transaction to begin.
    pub waited: std::time::Duration,
}

/// A dossier as stored, with what the store observed about it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDossier {
    pub dossier: Dossier,
    /// How many times its due instant was seen to change.
    pub due_changes: i64,
    pub vanished: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCount {
    pub source: String,
    pub status: String,
    pub count: i64,
}

/// `INSERT .. VALUES ($1..$18), ($19..$36) .. ON CONFLICT DO UPDATE` for `rows` dossiers.
/// `first_paused_since` is written on insert only: it is what the first observation told.
fn upsert_sql(rows: usize, numbered: bool) -> String {
    let mut sql = String::with_capacity(200 + rows * 100);
    sql.push_str(
        "INSERT INTO dossiers (source, dossier_id, procedure_code, procedure_name, department, \
         channel, received_at, due_at, resolved_at, status, raw_status, updated_at, \
         first_seen_at, last_seen_at, seen_in_resync, paused_at, resumed_at, first_paused_since) VALUES ",
    );
    sql.push_str(&super::values_placeholders(rows, DOSSIER_COLUMNS, numbered));
    sql.push_str(
        " ON CONFLICT (source, dossier_id) DO UPDATE SET \
         procedure_code = excluded.procedure_code, procedure_name = excluded.procedure_name, \
         department = excluded.department, channel = excluded.channel, \
         received_at = excluded.received_at, due_at = excluded.due_at, \
         resolved_at = excluded.resolved_at, status = excluded.status, \
         raw_status = excluded.raw_status, updated_at = excluded.updated_at, \
         last_seen_at = excluded.last_seen_at, vanished_at = NULL, \
         seen_in_resync = COALESCE(excluded.seen_in_resync, dossiers.seen_in_resync), \
         paused_at = excluded.paused_at, resumed_at = excluded.resumed_at, \
         outcome = CASE WHEN COALESCE(dossiers.resolved_at, -1) = COALESCE(excluded.resolved_at, -1) \
             AND COALESCE(dossiers.due_at, -1) = COALESCE(excluded.due_at, -1) \
             THEN dossiers.outcome END, \
         processing_working_secs = CASE \
             WHEN COALESCE(dossiers.resolved_at, -1) = COALESCE(excluded.resolved_at, -1) \
             AND COALESCE(dossiers.due_at, -1) = COALESCE(excluded.due_at, -1) \
             THEN dossiers.processing_working_secs END",
    );
    sql
}

/// A dossier seen paused without the source's own pause start: paused since its last change at
/// the source, the change that paused it or a later one, so never more credit than it earned.
fn first_paused_since(d: &Dossier) -> Option<i64> {
    (d.paused_at.is_none() && d.status.clock() == Clock::Paused).then(|| ts(d.updated_at))
}

pub(super) fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

/// Records rejected rows, one line per (row, reason); returns those not seen before.
pub(super) async fn record_rejections(
    tx: &mut StoreTx,
    source: &str,
    rejections: &[Rejection],
    seen: i64,
) -> Result<Vec<Rejection>, StoreError> {
    let mut new = Vec::new();
    for r in rejections {
        let inserted = on_tx!(*tx, conn => sqlx::query(
            "INSERT INTO rejected_rows (source, row_key, reason, detail, first_seen_at, \
             last_seen_at) VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING",
        )
        .bind(source)
        .bind(&r.row_key)
        .bind(r.reason)
        .bind(&r.detail)
        .bind(seen)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))
        .map_err(failed("recording rejected rows"))?;
        if inserted > 0 {
            new.push(r.clone());
        }
    }
    Ok(new)
}

/// Forgets the rejections of rows now stored: a row fixed at the source is no longer rejected,
/// and is counted again if it breaks again. A duplicate in a batch stays recorded (its dossier is
/// stored by definition), so it is counted once however often the source repeats it.
async fn forget_rejections(
    tx: &mut StoreTx,
    source: &str,
    dossiers: &[Dossier],
) -> Result<(), StoreError> {
    let any: Option<String> = on_tx!(*tx, conn => sqlx::query_scalar(
        "SELECT row_key FROM rejected_rows WHERE source = $1 AND reason <> $2 LIMIT 1",
    )
    .bind(source)
    .bind(DUPLICATE_IN_BATCH)
    .fetch_optional(conn)
    .await)
    .map_err(failed("reading rejected rows"))?;
    if any.is_none() {
        return Ok(());
    }
    for ids in dossiers.chunks(ROWS_PER_STATEMENT) {
        // Our own placeholders only; every value is bound.
        let sql = format!(
            "DELETE FROM rejected_rows WHERE source = $1 AND reason <> $2 AND row_key IN ({})",
            (0..ids.len())
                .map(|i| format!("${}", i + 3))
                .collect::<Vec<_>>()
                .join(",")
        );
        on_tx!(*tx, conn => {
            let mut q = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(source)
                .bind(DUPLICATE_IN_BATCH);
            for d in ids {
                q = q.bind(&d.dossier_id);
            }
            q.execute(conn).await.map(drop)
        })
        .map_err(failed("forgetting rejected rows"))?;
    }
    Ok(())
}

/// The reason `source::mapping` gives a duplicate id in one batch.
const DUPLICATE_IN_BATCH: &str = "duplicate_in_batch";

/// Moves the watermark stored under `key` (a source's name, or its stage query's key).
pub(super) async fn commit_watermark(
    tx: &mut StoreTx,
    key: &str,
    value: &str,
    seen: i64,
) -> Result<(), StoreError> {
    on_tx!(*tx, conn => sqlx::query(
        "INSERT INTO watermarks (source, value, committed_at) VALUES ($1, $2, $3) \
         ON CONFLICT (source) DO UPDATE SET value = excluded.value, \
         committed_at = excluded.committed_at",
    )
    .bind(key)
    .bind(value)
    .bind(seen)
    .execute(conn)
    .await
    .map(drop))
    .map_err(failed("committing the watermark"))
}

impl Store {
    /// Writes one batch of a poll in one transaction: the dossiers, the rejected rows and, when
    /// given, the watermark the poll reached. A crash before commit leaves the old watermark, so
    /// the next poll reads the batch again; upserts make that harmless. `resync` is the id of the
    /// full resync the batch belongs to, if any.
    pub async fn write_batch(
        &self,
        source: &str,
        dossiers: &[Dossier],
        rejections: &[Rejection],
        watermark: Option<&str>,
        seen_at: DateTime<Utc>,
        resync: Option<i64>,
    ) -> Result<BatchOutcome, StoreError> {
        let seen = ts(seen_at);
        let mut parts: Vec<&[Dossier]> = dossiers.chunks(self.rows_per_transaction()).collect();
        let last = parts.pop().unwrap_or_default();
        let mut waited = std::time::Duration::ZERO;
        // The first parts commit their rows alone, which is safe for the reason a batch is:
        // the watermark moves only with the last one, and a row stored twice is upserted.
        for part in parts {
            let (tx, wait) = self.begin_timed().await?;
            waited += wait;
            self.upsert(tx, source, part, seen, resync)
                .await?
                .commit()
                .await?;
        }
        let (tx, wait) = self.begin_timed().await?;
        let mut tx = self.upsert(tx, source, last, seen, resync).await?;
        let outcome = BatchOutcome {
            new_rejections: record_rejections(&mut tx, source, rejections, seen).await?,
            waited: waited + wait,
        };
        if let Some(value) = watermark {
            commit_watermark(&mut tx, source, value, seen).await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// Rows one transaction writes at most: on SQLite a transaction holds the only write lock
    /// (and the write turn) for as long as it writes, about a quarter of a second for 5,000
    /// rows on the reference machine, which bounds how long any other writer waits for it.
    /// PostgreSQL locks rows, not the database.
    fn rows_per_transaction(&self) -> usize {
        match self.backend() {
            "sqlite" => SQLITE_ROWS_PER_TRANSACTION,
            _ => usize::MAX,
        }
    }

    async fn upsert(
        &self,
        mut tx: StoreTx,
        source: &str,
        dossiers: &[Dossier],
        seen: i64,
        resync: Option<i64>,
    ) -> Result<StoreTx, StoreError> {
        for dossiers in dossiers.chunks(ROWS_PER_STATEMENT) {
            // The SQL text is made only of our own placeholders; every value is bound.
            let sql = upsert_sql(dossiers.len(), self.backend() == "postgres");
            on_tx!(tx, conn => {
                let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
                for d in dossiers {
                    q = q
                        .bind(source)
                        .bind(&d.dossier_id)
                        .bind(&d.procedure_code)
                        .bind(&d.procedure_name)
                        .bind(&d.department)
                        .bind(d.channel.as_str())
                        .bind(ts(d.received_at))
                        .bind(d.due_at.map(ts))
                        .bind(d.resolved_at.map(ts))
                        .bind(d.status.as_str())
                        .bind(&d.raw_status)
                        .bind(ts(d.updated_at))
                        .bind(seen)
                        .bind(seen)
                        .bind(resync)
                        .bind(d.paused_at.map(ts))
                        .bind(d.resumed_at.map(ts))
                        .bind(first_paused_since(d));
                }
                q.execute(conn).await.map(|r| r.rows_affected())
            })
            .map_err(failed("storing dossiers"))?;
        }
        // A row stored now is no longer rejected, whichever part of the batch it was in.
        forget_rejections(&mut tx, source, dossiers).await?;
        Ok(tx)
    }

    /// The rows of `source` rejected now, by reason.
    pub async fn rejected_counts(&self, source: &str) -> Result<Vec<(String, i64)>, StoreError> {
        on_pool!(self, p => sqlx::query_as(
            "SELECT reason, COUNT(*) FROM rejected_rows WHERE source = $1 GROUP BY reason",
        )
        .bind(source)
        .fetch_all(p)
        .await)
        .map_err(failed("counting rejected rows"))
    }

    /// The last committed watermark under `key` (a source's name, or its stage query's key), if
    /// it was ever polled.
    pub async fn watermark(&self, key: &str) -> Result<Option<String>, StoreError> {
        on_pool!(self, p => sqlx::query_scalar("SELECT value FROM watermarks WHERE source = $1")
            .bind(key)
            .fetch_optional(p)
            .await)
        .map_err(failed("reading the watermark"))
    }

    /// After the full resync `resync` completed: every dossier of the source that it did not
    /// return is marked vanished. Returns how many were newly marked.
    pub async fn mark_vanished(
        &self,
        source: &str,
        resync: i64,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        on_pool!(self, p => sqlx::query(
            "UPDATE dossiers SET vanished_at = $3 WHERE source = $1 \
             AND COALESCE(seen_in_resync, -1) <> $2 AND vanished_at IS NULL",
        )
        .bind(source)
        .bind(resync)
        .bind(ts(now))
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .map_err(failed("marking vanished dossiers"))
    }

    /// One dossier of a source, if the store has it.
    pub async fn dossier(
        &self,
        source: &str,
        dossier_id: &str,
    ) -> Result<Option<StoredDossier>, StoreError> {
        type Row = (
            String,
            String,
            Option<String>,
            String,
            String,
            i64,
            Option<i64>,
            Option<i64>,
            String,
            String,
            i64,
            i64,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        );
        // due_changes is an INTEGER (INT4) column on PostgreSQL.
        let row: Option<Row> = on_pool!(self, p => sqlx::query_as(
            "SELECT dossier_id, procedure_code, procedure_name, department, channel, received_at, \
             due_at, resolved_at, status, raw_status, updated_at, \
             CAST(due_changes AS BIGINT), vanished_at, paused_at, resumed_at \
             FROM dossiers WHERE source = $1 AND dossier_id = $2",
        )
        .bind(source)
        .bind(dossier_id)
        .fetch_optional(p)
        .await)
        .map_err(failed("reading a dossier"))?;
        Ok(row.map(|r| StoredDossier {
            dossier: Dossier {
                dossier_id: r.0,
                procedure_code: r.1,
                procedure_name: r.2,
                department: r.3,
                channel: Channel::parse(&r.4).unwrap_or(Channel::Unknown),
                received_at: instant(r.5),
                due_at: r.6.map(instant),
                resolved_at: r.7.map(instant),
                status: Status::parse(&r.8).unwrap_or(Status::Received),
                raw_status: r.9,
                updated_at: instant(r.10),
                paused_at: r.13.map(instant),
                resumed_at: r.14.map(instant),
            },
            due_changes: r.11,
            vanished: r.12.is_some(),
        }))
    }

    /// The status changes observed for a dossier, oldest first: (old, new, changed_at).
    pub async fn status_history(
        &self,
        source: &str,
        dossier_id: &str,
    ) -> Result<Vec<(String, String, DateTime<Utc>)>, StoreError> {
        let rows: Vec<(String, String, i64)> = on_pool!(self, p => sqlx::query_as(
            "SELECT old_status, new_status, changed_at FROM status_changes \
             WHERE source = $1 AND dossier_id = $2 ORDER BY id",
        )
        .bind(source)
        .bind(dossier_id)
        .fetch_all(p)
        .await)
        .map_err(failed("reading status history"))?;
        Ok(rows
            .into_iter()
            .map(|(o, n, t)| (o, n, instant(t)))
            .collect())
    }

    /// Dossiers per source and canonical status, vanished ones excluded.
    pub async fn count_by_status(&self) -> Result<Vec<StatusCount>, StoreError> {
        let sql = format!(
            "SELECT source, status, COUNT(*) FROM dossiers WHERE vanished_at IS NULL \
             AND {COUNTED} GROUP BY source, status ORDER BY source, status"
        );
        let rows: Vec<(String, String, i64)> = on_pool!(self, p => sqlx::query_as(
            AssertSqlSafe(sql.as_str()))
        .fetch_all(p)
        .await)
        .map_err(failed("counting dossiers"))?;
        Ok(rows
            .into_iter()
            .map(|(source, status, count)| StatusCount {
                source,
                status,
                count,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejected_megabyte_value_is_kept_as_its_first_200_characters_and_its_length() {
        let value = "ư".repeat(1_000_000);
        let r = Rejection::new(value.clone(), "unknown_status", format!("status {value:?}"));
        assert_eq!(
            r.row_key,
            format!("{}... (1000000 characters in all)", "ư".repeat(200))
        );
        assert!(r.detail.starts_with("status \"ư"), "{}", &r.detail[..20]);
        assert!(r.detail.chars().count() < 250, "{}", r.detail.len());
        let short = Rejection::new("HS-1".into(), "bad_time", "received_at is empty".into());
        assert_eq!(
            (short.row_key.as_str(), short.detail.as_str()),
            ("HS-1", "received_at is empty")
        );
    }
}
