//! Stage events: stored as a source's stage query gives them, followed visit by visit by the
//! evaluation cycle, each visit marked once it has been counted.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::dossiers::{commit_watermark, record_rejections, ts};
use super::{BatchOutcome, Rejection, Store, StoreError, failed, on_pool, on_tx};
use crate::dossier::StageEvent;

/// Rows per INSERT or UPDATE statement (5 values each), well under SQLite's limit of bound
/// values.
const ROWS_PER_STATEMENT: usize = 1000;

/// The watermark key of a source's stage query: source names cannot contain `#`.
pub fn stages_watermark_key(source: &str) -> String {
    format!("{source}#stages")
}

/// A stage event of a dossier whose visits are still followed, with what the store knows of the
/// dossier (nothing when the source has not returned it, or it vanished).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct VisitRow {
    pub source: String,
    pub dossier_id: String,
    pub stage: String,
    pub entered_at: i64,
    pub observed_at: Option<i64>,
    pub status: Option<String>,
    pub resolved_at: Option<i64>,
}

/// The visit that starts at a stage event, as its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitKey {
    pub source: String,
    pub dossier_id: String,
    pub stage: String,
    pub entered_at: i64,
}

/// Every event of up to `$3` dossiers, after (`$1`, `$2`) in key order, that have an event not
/// counted yet; oldest first per dossier.
const PENDING_VISITS: &str = "SELECT e.source, e.dossier_id, e.stage, e.entered_at, \
    e.observed_at, d.status, d.resolved_at \
    FROM (SELECT DISTINCT source, dossier_id FROM stage_events \
          WHERE observed_at IS NULL AND (source > $1 OR (source = $1 AND dossier_id > $2)) \
          ORDER BY source, dossier_id LIMIT $3) p \
    JOIN stage_events e ON e.source = p.source AND e.dossier_id = p.dossier_id \
    LEFT JOIN dossiers d ON d.source = e.source AND d.dossier_id = e.dossier_id \
         AND d.vanished_at IS NULL \
    ORDER BY e.source, e.dossier_id, e.entered_at, e.stage";

impl Store {
    /// Writes one batch of a stage query in one transaction: the events (an event read again
    /// is the same row), the stage names not seen before, the rejected rows and, when given, the
    /// watermark the read reached.
    pub async fn write_stage_batch(
        &self,
        source: &str,
        events: &[StageEvent],
        rejections: &[Rejection],
        watermark: Option<&str>,
        seen_at: DateTime<Utc>,
    ) -> Result<BatchOutcome, StoreError> {
        let seen = ts(seen_at);
        let numbered = self.backend() == "postgres";
        let (mut tx, waited) = self.begin_timed().await?;
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            // Our own placeholders only; every value is bound.
            let sql = format!(
                "INSERT INTO stage_events (source, dossier_id, stage, entered_at, first_seen_at) \
                 VALUES {} ON CONFLICT DO NOTHING",
                super::values_placeholders(chunk.len(), 5, numbered)
            );
            on_tx!(tx, conn => {
                let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
                for e in chunk {
                    q = q
                        .bind(source)
                        .bind(&e.dossier_id)
                        .bind(&e.stage)
                        .bind(ts(e.entered_at))
                        .bind(seen);
                }
                q.execute(conn).await.map(drop)
            })
            .map_err(failed("storing stage events"))?;
        }
        let stages: BTreeSet<&str> = events.iter().map(|e| e.stage.as_str()).collect();
        for stage in stages {
            on_tx!(tx, conn => sqlx::query(
                "INSERT INTO stages (source, stage, first_seen_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(source)
            .bind(stage)
            .bind(seen)
            .execute(conn)
            .await
            .map(drop))
            .map_err(failed("recording stage names"))?;
        }
        let outcome = BatchOutcome {
            new_rejections: record_rejections(&mut tx, source, rejections, seen).await?,
            waited,
        };
        if let Some(value) = watermark {
            commit_watermark(&mut tx, &stages_watermark_key(source), value, seen).await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// Every (source, stage) seen, per source in order of first sight (ties by name).
    pub async fn stage_names(&self) -> Result<Vec<(String, String)>, StoreError> {
        on_pool!(self, p => sqlx::query_as(
            "SELECT source, stage FROM stages ORDER BY source, first_seen_at, stage",
        )
        .fetch_all(p)
        .await)
        .map_err(failed("reading stage names"))
    }

    /// The events of up to `limit` dossiers after `after` (source, dossier id) that have a visit
    /// not counted yet (see `PENDING_VISITS`): read in bounded batches, so that following the
    /// history of a million dossiers at first start keeps memory flat.
    pub async fn pending_visits(
        &self,
        after: (&str, &str),
        limit: i64,
    ) -> Result<Vec<VisitRow>, StoreError> {
        on_pool!(self, p => sqlx::query_as(PENDING_VISITS)
            .bind(after.0)
            .bind(after.1)
            .bind(limit)
            .fetch_all(p)
            .await)
        .map_err(failed("reading stage events"))
    }

    /// Marks visits as counted, in one transaction.
    pub async fn close_visits(
        &self,
        visits: &[VisitKey],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let numbered = self.backend() == "postgres";
        let mut tx = self.begin().await?;
        for chunk in visits.chunks(ROWS_PER_STATEMENT) {
            // Our own placeholders only; every value is bound.
            let sql = format!(
                "UPDATE stage_events SET observed_at = v.column5 FROM (VALUES {}) AS v \
                 WHERE stage_events.source = v.column1 AND stage_events.dossier_id = v.column2 \
                 AND stage_events.stage = v.column3 AND stage_events.entered_at = v.column4",
                super::values_placeholders(chunk.len(), 5, numbered)
            );
            on_tx!(tx, conn => {
                let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
                for v in chunk {
                    q = q
                        .bind(&v.source)
                        .bind(&v.dossier_id)
                        .bind(&v.stage)
                        .bind(v.entered_at)
                        .bind(ts(at));
                }
                q.execute(conn).await.map(drop)
            })
            .map_err(failed("marking stage visits counted"))?;
        }
        tx.commit().await
    }
}
