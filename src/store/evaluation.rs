//! What the evaluation cycle and the reports read from the store, and the outcomes they write
//! back. Counting happens in SQL where it can: the cycle must stay light at a million dossiers.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::{Store, StoreError, failed, on_pool, on_tx};
use crate::dossier::{Clock, Status};

/// A dossier the SLA engine evaluates.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct EvalRow {
    pub source: String,
    pub dossier_id: String,
    pub procedure_code: String,
    pub procedure_name: Option<String>,
    pub department: String,
    pub channel: String,
    pub received_at: i64,
    pub due_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub status: String,
    pub updated_at: i64,
    pub paused_at: Option<i64>,
    pub resumed_at: Option<i64>,
    pub outcome: Option<String>,
}

/// A status change into or out of a paused status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseChange {
    pub old_status: String,
    pub new_status: String,
    pub changed_at: i64,
}

/// A decided outcome, written once per resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub source: String,
    pub dossier_id: String,
    pub outcome: &'static str,
    pub processing_working_secs: i64,
}

/// Counts for the three calendar periods ending now: (day, month, year).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodCounts<K> {
    pub key: K,
    pub day: i64,
    pub month: i64,
    pub year: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct Periods {
    pub day_start: DateTime<Utc>,
    pub month_start: DateTime<Utc>,
    pub year_start: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

fn quoted(statuses: impl Iterator<Item = Status>) -> String {
    statuses
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

const COLUMNS: &str = "source, dossier_id, procedure_code, procedure_name, department, channel, \
    received_at, due_at, resolved_at, status, updated_at, paused_at, resumed_at, outcome";

/// Open at `$1`: received by then and not ended by then. A dossier resolved after `$1` was open
/// at `$1`, so `--as-of` replays a past moment from today's store.
static OPEN_AT: LazyLock<String> = LazyLock::new(|| {
    let open = quoted(Status::ALL.into_iter().filter(|s| s.is_open()));
    let resolved = quoted(Status::ALL.into_iter().filter(|s| s.is_resolved()));
    format!(
        "SELECT {COLUMNS} FROM dossiers WHERE vanished_at IS NULL AND received_at <= $1 \
         AND (status IN ({open}) OR (status IN ({resolved}) AND resolved_at > $1))"
    )
});

static PAUSED: LazyLock<String> = LazyLock::new(|| {
    quoted(
        Status::ALL
            .into_iter()
            .filter(|s| s.clock() == Clock::Paused),
    )
});

/// Dossiers in the report of a period: received by its end and either received in it, still
/// open at its start, or resolved in it.
static REPORT_ROWS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS} FROM dossiers WHERE vanished_at IS NULL AND received_at <= $2 \
         AND (received_at >= $1 OR resolved_at IS NULL OR resolved_at >= $1)"
    )
});

static UNSCORED: LazyLock<String> = LazyLock::new(|| {
    let resolved = quoted(Status::ALL.into_iter().filter(|s| s.is_resolved()));
    format!(
        "SELECT {COLUMNS} FROM dossiers WHERE vanished_at IS NULL AND outcome IS NULL \
         AND status IN ({resolved}) AND resolved_at IS NOT NULL"
    )
});

impl Store {
    /// Dossiers open at `at` (see `OPEN_AT`).
    pub async fn open_at(&self, at: DateTime<Utc>) -> Result<Vec<EvalRow>, StoreError> {
        // Built from our own status names only.
        on_pool!(self, p => sqlx::query_as(AssertSqlSafe(OPEN_AT.as_str()))
            .bind(at.timestamp())
            .fetch_all(p)
            .await)
        .map_err(failed("reading open dossiers"))
    }

    /// Resolved dossiers whose outcome is not decided yet.
    pub async fn unscored(&self) -> Result<Vec<EvalRow>, StoreError> {
        on_pool!(self, p => sqlx::query_as(AssertSqlSafe(UNSCORED.as_str()))
            .fetch_all(p)
            .await)
        .map_err(failed("reading resolved dossiers"))
    }

    /// Dossiers that belong in the report of [from, to].
    pub async fn report_rows(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<EvalRow>, StoreError> {
        on_pool!(self, p => sqlx::query_as(AssertSqlSafe(REPORT_ROWS.as_str()))
            .bind(from.timestamp())
            .bind(to.timestamp())
            .fetch_all(p)
            .await)
        .map_err(failed("reading dossiers for a report"))
    }

    /// Status changes into or out of paused statuses, per (source, dossier), oldest first.
    pub async fn pause_changes(
        &self,
    ) -> Result<HashMap<(String, String), Vec<PauseChange>>, StoreError> {
        let sql = format!(
            "SELECT source, dossier_id, old_status, new_status, changed_at FROM status_changes \
             WHERE old_status IN ({p}) OR new_status IN ({p}) ORDER BY id",
            p = PAUSED.as_str()
        );
        let rows: Vec<(String, String, String, String, i64)> = on_pool!(self, p =>
            sqlx::query_as(AssertSqlSafe(sql.as_str())).fetch_all(p).await)
        .map_err(failed("reading pause history"))?;
        let mut by_dossier: HashMap<(String, String), Vec<PauseChange>> = HashMap::new();
        for (source, id, old_status, new_status, changed_at) in rows {
            by_dossier
                .entry((source, id))
                .or_default()
                .push(PauseChange {
                    old_status,
                    new_status,
                    changed_at,
                });
        }
        Ok(by_dossier)
    }

    /// Records decided outcomes in one transaction.
    pub async fn save_outcomes(&self, scored: &[Scored]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for s in scored {
            on_tx!(tx, conn => sqlx::query(
                "UPDATE dossiers SET outcome = $3, processing_working_secs = $4 \
                 WHERE source = $1 AND dossier_id = $2",
            )
            .bind(&s.source)
            .bind(&s.dossier_id)
            .bind(s.outcome)
            .bind(s.processing_working_secs)
            .execute(conn)
            .await
            .map(drop))
            .map_err(failed("saving outcomes"))?;
        }
        tx.commit().await
    }

    /// Resolved dossiers by (source, department, outcome) over the day, month and year to now.
    pub async fn resolved_counts(
        &self,
        p: Periods,
    ) -> Result<Vec<PeriodCounts<(String, String, String)>>, StoreError> {
        self.counts_by_period(p, "outcome", "resolved_at", "AND outcome IS NOT NULL")
            .await
            .map_err(failed("counting resolved dossiers"))
    }

    /// Received dossiers by (source, department, channel) over the day, month and year to now.
    pub async fn received_counts(
        &self,
        p: Periods,
    ) -> Result<Vec<PeriodCounts<(String, String, String)>>, StoreError> {
        self.counts_by_period(p, "channel", "received_at", "")
            .await
            .map_err(failed("counting received dossiers"))
    }

    /// Dossiers by (source, department, `key`) whose instant `at` falls in the day, month and
    /// year up to now. The fragments are this module's own constants.
    async fn counts_by_period(
        &self,
        p: Periods,
        key: &'static str,
        at: &'static str,
        filter: &'static str,
    ) -> Result<Vec<PeriodCounts<(String, String, String)>>, sqlx::Error> {
        let sql = format!(
            "SELECT source, department, {key}, \
             SUM(CASE WHEN {at} >= $1 THEN 1 ELSE 0 END), \
             SUM(CASE WHEN {at} >= $2 THEN 1 ELSE 0 END), COUNT(*) \
             FROM dossiers WHERE vanished_at IS NULL {filter} AND {at} >= $3 AND {at} <= $4 \
             GROUP BY source, department, {key}"
        );
        let rows: Vec<(String, String, String, i64, i64, i64)> = on_pool!(self, pool =>
            sqlx::query_as(AssertSqlSafe(sql.as_str()))
                .bind(p.day_start.timestamp())
                .bind(p.month_start.timestamp())
                .bind(p.year_start.timestamp())
                .bind(p.now.timestamp())
                .fetch_all(pool)
                .await)?;
        Ok(rows
            .into_iter()
            .map(|(s, d, k, day, month, year)| PeriodCounts {
                key: (s, d, k),
                day,
                month,
                year,
            })
            .collect())
    }

    /// Dossiers carried over into the day, month and year: received before the period's start
    /// and not resolved by then (dossiers that ended without a result are left out).
    pub async fn carried_over_counts(
        &self,
        p: Periods,
    ) -> Result<Vec<PeriodCounts<(String, String)>>, StoreError> {
        let ended = quoted(
            [
                Status::Submitted,
                Status::RejectedAtIntake,
                Status::Withdrawn,
            ]
            .into_iter(),
        );
        let sql = format!(
            "SELECT source, department, \
             SUM(CASE WHEN received_at < $1 AND (resolved_at IS NULL OR resolved_at >= $1) THEN 1 ELSE 0 END), \
             SUM(CASE WHEN received_at < $2 AND (resolved_at IS NULL OR resolved_at >= $2) THEN 1 ELSE 0 END), \
             SUM(CASE WHEN received_at < $3 AND (resolved_at IS NULL OR resolved_at >= $3) THEN 1 ELSE 0 END) \
             FROM dossiers WHERE vanished_at IS NULL AND status NOT IN ({ended}) \
             AND received_at < $1 AND (resolved_at IS NULL OR resolved_at >= $3) \
             GROUP BY source, department"
        );
        let rows: Vec<(String, String, i64, i64, i64)> = on_pool!(self, pool =>
            sqlx::query_as(AssertSqlSafe(sql.as_str()))
                .bind(p.day_start.timestamp())
                .bind(p.month_start.timestamp())
                .bind(p.year_start.timestamp())
                .fetch_all(pool)
                .await)
        .map_err(failed("counting carried-over dossiers"))?;
        Ok(rows
            .into_iter()
            .map(|(s, d, day, month, year)| PeriodCounts {
                key: (s, d),
                day,
                month,
                year,
            })
            .collect())
    }

    /// Per (source, department): due-date changes observed in all, and dossiers re-appointed
    /// more than once (the rules allow one re-appointment).
    pub async fn due_change_totals(&self) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
        on_pool!(self, p => sqlx::query_as(
            "SELECT source, department, SUM(due_changes), \
             SUM(CASE WHEN due_changes > 1 THEN 1 ELSE 0 END) \
             FROM dossiers WHERE vanished_at IS NULL AND due_changes > 0 \
             GROUP BY source, department",
        )
        .fetch_all(p)
        .await)
        .map_err(failed("counting due-date changes"))
    }
}
