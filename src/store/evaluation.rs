//! What the evaluation cycle and the reports read from the store, and the outcomes they write
//! back. Counting happens in SQL where it can: the cycle must stay light at a million dossiers.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::links::COUNTED;
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
    /// First seen already paused (no `paused_at` mapped): when that pause began, as far as the
    /// first observation tells (the source's last change then).
    pub first_paused_since: Option<i64>,
    pub outcome: Option<String>,
}

#[cfg(test)]
impl EvalRow {
    /// A dossier `d` of source `s`, received at instant 0 and last changed at 500, in `status`:
    /// what the engine's unit tests vary field by field.
    pub(crate) fn sample(status: &str) -> EvalRow {
        EvalRow {
            source: "s".into(),
            dossier_id: "d".into(),
            procedure_code: "p".into(),
            procedure_name: None,
            department: "x".into(),
            channel: "direct".into(),
            received_at: 0,
            due_at: None,
            resolved_at: None,
            status: status.into(),
            updated_at: 500,
            paused_at: None,
            resumed_at: None,
            first_paused_since: None,
            outcome: None,
        }
    }
}

/// A status change into or out of a paused status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseChange {
    pub old_status: String,
    pub new_status: String,
    /// When it happened: the source's change instant, or when the monitor saw it if the source's
    /// clock runs ahead (a change cannot happen after it was seen).
    pub changed_at: i64,
}

/// (source, dossier_id, old_status, new_status, changed_at), as read.
pub(super) type PauseChangeRow = (String, String, String, String, i64);

/// Adds rows read oldest first to the history of their dossier.
pub(super) fn group_pause_changes(
    by_dossier: &mut HashMap<(String, String), Vec<PauseChange>>,
    rows: Vec<PauseChangeRow>,
) {
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
}

/// What the store recorded changing after an instant, per (source, dossier): the status and the
/// due instant each dossier had then, where they changed since.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LaterChanges {
    pub status_then: HashMap<(String, String), String>,
    pub due_then: HashMap<(String, String), i64>,
}

impl LaterChanges {
    /// True when nothing changed after the instant: the store's rows are as they were then.
    pub fn is_empty(&self) -> bool {
        self.status_then.is_empty() && self.due_then.is_empty()
    }
}

/// When a history row's change took effect (see [`PauseChange::changed_at`]), as SQL.
const EFFECTIVE_AT: &str =
    "CASE WHEN changed_at < observed_at THEN changed_at ELSE observed_at END";

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

/// What one read of the resolved dossiers of the year tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedCounts {
    pub resolved: Vec<PeriodCounts<(String, String, String)>>,
    /// (source, department) → resolved in the period though received before it: [day, month,
    /// year]. Add the dossiers still open that were received before each start to get the
    /// period's carried-over count.
    pub carried_over: HashMap<(String, String), [i64; 3]>,
}

#[derive(Debug, Clone, Copy)]
pub struct Periods {
    pub day_start: DateTime<Utc>,
    pub month_start: DateTime<Utc>,
    pub year_start: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// `'a','b'`, with no spaces: the open-dossier index's condition is written the same way.
fn quoted(statuses: impl Iterator<Item = Status>) -> String {
    statuses
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) const COLUMNS: &str = "source, dossier_id, procedure_code, procedure_name, department, channel, \
    received_at, due_at, resolved_at, status, updated_at, paused_at, resumed_at, first_paused_since, \
    outcome";

/// Open at `$1`: received by then and not ended by then. A dossier resolved after `$1` was open
/// at `$1`, so `--as-of` replays a past moment from today's store. Two reads joined, each on its
/// index (`dossiers_open`; `dossiers_by_resolved`, which SQLite is told: from its statistics it
/// expects many dossiers resolved after an unknown instant and would read the whole table, where
/// for the present there are none). The second read names no receipt bound either, which would
/// pull the planner to the received index; `open_at` checks the receipt itself. The third read
/// adds the dossiers whose status changed after `$1` (none for the present): they may have been
/// open then whatever their status now. The caller replays each row to `$1` and drops
/// duplicates.
pub(super) fn open_at_sql(sqlite: bool) -> String {
    let open = quoted(Status::ALL.into_iter().filter(|s| s.is_open()));
    let unresolved = quoted(Status::ALL.into_iter().filter(|s| !s.is_resolved()));
    let hint = if sqlite {
        "INDEXED BY dossiers_by_resolved "
    } else {
        ""
    };
    format!(
        "SELECT {COLUMNS} FROM dossiers WHERE vanished_at IS NULL AND status IN ({open}) \
         AND received_at <= $1 AND {COUNTED} \
         UNION ALL SELECT {COLUMNS} FROM dossiers {hint}WHERE vanished_at IS NULL \
         AND resolved_at > $1 AND status NOT IN ({unresolved}) AND {COUNTED} \
         UNION ALL SELECT {COLUMNS} FROM dossiers WHERE vanished_at IS NULL AND {COUNTED} \
         AND (source, dossier_id) IN (SELECT source, dossier_id FROM status_changes \
         WHERE observed_at > $1 AND changed_at > $1)"
    )
}

static OPEN_AT_SQLITE: LazyLock<String> = LazyLock::new(|| open_at_sql(true));
static OPEN_AT_POSTGRES: LazyLock<String> = LazyLock::new(|| open_at_sql(false));

pub(super) static PAUSED: LazyLock<String> = LazyLock::new(|| {
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
         AND (received_at >= $1 OR resolved_at IS NULL OR resolved_at >= $1) AND {COUNTED}"
    )
});

/// A resolved dossier's decided outcome, for the progress score.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ResolvedOutcome {
    pub source: String,
    pub dossier_id: String,
    pub department: String,
    pub outcome: String,
    pub resolved_at: i64,
}

/// Resolved dossiers by (source, department, outcome) over [$1, $2], read from the covering
/// `dossiers_resolved_counts` index in group order, like `resolved_counts`.
fn outcome_counts_sql(hint: &str) -> String {
    format!(
        "SELECT source, department, outcome, COUNT(*) FROM dossiers {hint}\
         WHERE vanished_at IS NULL AND resolved_at >= $1 AND resolved_at <= $2 \
         AND outcome IS NOT NULL AND {COUNTED} GROUP BY source, department, outcome"
    )
}

/// Dossiers per statement when reading a list of them by key (2 values each).
const KEYS_PER_STATEMENT: usize = 1000;

/// Exactly the `dossiers_unscored` index's condition: resolved statuses only, so that rows with a
/// result date but an open status, however many, never fill a batch. SQLite is told the index:
/// without statistics it reads `resolved_at IS NOT NULL` as a range and walks every resolved
/// dossier instead.
fn unscored_sql(sqlite: bool) -> String {
    let hint = if sqlite {
        "INDEXED BY dossiers_unscored "
    } else {
        ""
    };
    let resolved = quoted(Status::ALL.into_iter().filter(|s| s.is_resolved()));
    format!(
        "SELECT {COLUMNS} FROM dossiers {hint}WHERE outcome IS NULL AND resolved_at IS NOT NULL \
         AND status IN ({resolved}) AND vanished_at IS NULL LIMIT $1"
    )
}

static UNSCORED_SQLITE: LazyLock<String> = LazyLock::new(|| unscored_sql(true));
static UNSCORED_POSTGRES: LazyLock<String> = LazyLock::new(|| unscored_sql(false));

/// Each change of `table` (`status_changes`, `due_changes`) in effect after `$1`, oldest first,
/// with its old value as text (one decoding for both tables). SQLite is told the index: for
/// `ORDER BY id` it would rather walk the whole table in rowid order.
fn changes_after_sql(hint: &str, table: &str, column: &str) -> String {
    format!(
        "SELECT source, dossier_id, CAST({column} AS TEXT) FROM {table} {hint}\
         WHERE observed_at > $1 AND changed_at > $1 ORDER BY id"
    )
}

/// Outcomes decided per UPDATE statement (4 values each).
const OUTCOMES_PER_STATEMENT: usize = 1000;

impl Store {
    /// The text of a query that differs by backend only in an index hint.
    pub(super) fn for_backend<'a>(&self, sqlite: &'a str, postgres: &'a str) -> &'a str {
        match self.pool {
            super::StorePool::Sqlite(_) => sqlite,
            super::StorePool::Postgres(_) => postgres,
        }
    }

    /// `INDEXED BY index ` on SQLite, whose planner, with or without statistics, may prefer a
    /// range on another index plus a table read per dossier; PostgreSQL plans well by itself.
    fn index_hint(&self, index: &str) -> String {
        match self.pool {
            super::StorePool::Sqlite(_) => format!("INDEXED BY {index} "),
            super::StorePool::Postgres(_) => String::new(),
        }
    }

    /// Dossiers that may have been open at `at` (see `open_at_sql`), each once, as stored now;
    /// [`Store::changes_after`] tells how to replay them to `at`.
    pub async fn open_at(&self, at: DateTime<Utc>) -> Result<Vec<EvalRow>, StoreError> {
        // Built from our own status names only.
        let mut rows: Vec<EvalRow> =
            on_pool!(self, p => sqlx::query_as(AssertSqlSafe(self.for_backend(&OPEN_AT_SQLITE, &OPEN_AT_POSTGRES)))
            .bind(at.timestamp())
            .fetch_all(p)
            .await)
            .map_err(failed("reading open dossiers"))?;
        let mut seen = std::collections::HashSet::new();
        rows.retain(|r| {
            r.received_at <= at.timestamp() && seen.insert((r.source.clone(), r.dossier_id.clone()))
        });
        Ok(rows)
    }

    /// The status and due instant of every dossier that changed after `at`, as they were at
    /// `at`: the old value of its first change since. Read from the changes observed after `at`,
    /// so the live cycle reads nothing.
    pub async fn changes_after(&self, at: DateTime<Utc>) -> Result<LaterChanges, StoreError> {
        let mut later = LaterChanges::default();
        for (table, column) in [
            ("status_changes", "old_status"),
            ("due_changes", "old_due_at"),
        ] {
            let hint = self.index_hint(&format!("{table}_by_observed"));
            let sql = changes_after_sql(&hint, table, column);
            let rows: Vec<(String, String, String)> = on_pool!(self, p =>
                sqlx::query_as(AssertSqlSafe(sql.as_str()))
                .bind(at.timestamp())
                .fetch_all(p)
                .await)
            .map_err(failed("reading the history after an instant"))?;
            for (source, id, old) in rows {
                let key = (source, id);
                if table == "status_changes" {
                    later.status_then.entry(key).or_insert(old);
                } else if let Ok(due) = old.parse() {
                    later.due_then.entry(key).or_insert(due);
                }
            }
        }
        Ok(later)
    }

    /// Up to `limit` resolved dossiers whose outcome is not decided yet (read in bounded
    /// batches, so that scoring a million historic dossiers at first start keeps memory flat).
    pub async fn unscored(&self, limit: i64) -> Result<Vec<EvalRow>, StoreError> {
        let sql = self.for_backend(&UNSCORED_SQLITE, &UNSCORED_POSTGRES);
        on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql))
            .bind(limit)
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
            "SELECT source, dossier_id, old_status, new_status, {EFFECTIVE_AT} FROM status_changes \
             WHERE old_status IN ({p}) OR new_status IN ({p}) ORDER BY id",
            p = PAUSED.as_str()
        );
        let rows: Vec<PauseChangeRow> = on_pool!(self, p =>
            sqlx::query_as(AssertSqlSafe(sql.as_str())).fetch_all(p).await)
        .map_err(failed("reading pause history"))?;
        let mut by_dossier = HashMap::new();
        group_pause_changes(&mut by_dossier, rows);
        Ok(by_dossier)
    }

    /// Records decided outcomes in one transaction, a thousand rows per statement.
    pub async fn save_outcomes(&self, scored: &[Scored]) -> Result<(), StoreError> {
        let numbered = self.backend() == "postgres";
        let mut tx = self.begin().await?;
        for chunk in scored.chunks(OUTCOMES_PER_STATEMENT) {
            // Our own placeholders only; every value is bound.
            let sql = format!(
                "UPDATE dossiers SET outcome = v.column3, processing_working_secs = v.column4 \
                 FROM (VALUES {}) AS v WHERE dossiers.source = v.column1 \
                 AND dossiers.dossier_id = v.column2",
                super::values_placeholders(chunk.len(), 4, numbered)
            );
            on_tx!(tx, conn => {
                let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
                for s in chunk {
                    q = q
                        .bind(&s.source)
                        .bind(&s.dossier_id)
                        .bind(s.outcome)
                        .bind(s.processing_working_secs);
                }
                q.execute(conn).await.map(drop)
            })
            .map_err(failed("saving outcomes"))?;
        }
        tx.commit().await
    }

    /// Resolved dossiers by (source, department, outcome) over the day, month and year to now;
    /// and, by (source, department), those of them received before each period's start, which
    /// were carried over into it.
    pub async fn resolved_counts(&self, p: Periods) -> Result<ResolvedCounts, StoreError> {
        type Row = (String, String, String, i64, i64, i64, i64, i64, i64);
        let sql = format!(
            "SELECT source, department, outcome, \
                 SUM(CASE WHEN resolved_at >= $1 THEN 1 ELSE 0 END), \
                 SUM(CASE WHEN resolved_at >= $2 THEN 1 ELSE 0 END), COUNT(*), \
                 SUM(CASE WHEN resolved_at >= $1 AND received_at < $1 THEN 1 ELSE 0 END), \
                 SUM(CASE WHEN resolved_at >= $2 AND received_at < $2 THEN 1 ELSE 0 END), \
                 SUM(CASE WHEN received_at < $3 THEN 1 ELSE 0 END) \
                 FROM dossiers {}WHERE vanished_at IS NULL AND resolved_at >= $3 \
                 AND resolved_at <= $4 AND outcome IS NOT NULL AND {COUNTED} \
                 GROUP BY source, department, outcome",
            self.index_hint("dossiers_resolved_counts")
        );
        let rows: Vec<Row> = on_pool!(self, pool =>
            sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(p.day_start.timestamp())
            .bind(p.month_start.timestamp())
            .bind(p.year_start.timestamp())
            .bind(p.now.timestamp())
            .fetch_all(pool)
            .await)
        .map_err(failed("counting resolved dossiers"))?;
        let mut counts = ResolvedCounts::default();
        for (s, d, o, day, month, year, c_day, c_month, c_year) in rows {
            let carried = counts
                .carried_over
                .entry((s.clone(), d.clone()))
                .or_insert([0; 3]);
            carried[0] += c_day;
            carried[1] += c_month;
            carried[2] += c_year;
            counts.resolved.push(PeriodCounts {
                key: (s, d, o),
                day,
                month,
                year,
            });
        }
        Ok(counts)
    }

    /// Received dossiers by (source, department, channel) over the day, month and year to now.
    pub async fn received_counts(
        &self,
        p: Periods,
    ) -> Result<Vec<PeriodCounts<(String, String, String)>>, StoreError> {
        let sql = format!(
            "SELECT source, department, channel, \
             SUM(CASE WHEN received_at >= $1 THEN 1 ELSE 0 END), \
             SUM(CASE WHEN received_at >= $2 THEN 1 ELSE 0 END), COUNT(*) \
             FROM dossiers {}WHERE vanished_at IS NULL AND received_at >= $3 \
             AND received_at <= $4 AND {COUNTED} GROUP BY source, department, channel",
            self.index_hint("dossiers_received_counts")
        );
        let rows: Vec<(String, String, String, i64, i64, i64)> = on_pool!(self, pool =>
            sqlx::query_as(AssertSqlSafe(sql.as_str()))
                .bind(p.day_start.timestamp())
                .bind(p.month_start.timestamp())
                .bind(p.year_start.timestamp())
                .bind(p.now.timestamp())
                .fetch_all(pool)
                .await)
        .map_err(failed("counting received dossiers"))?;
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

    /// Dossiers resolved in [from, to] with a decided outcome, counted per (source, department,
    /// outcome).
    pub async fn outcome_counts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, String, String, i64)>, StoreError> {
        let sql = outcome_counts_sql(&self.index_hint("dossiers_resolved_counts"));
        on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
            .bind(from.timestamp())
            .bind(to.timestamp())
            .fetch_all(p)
            .await)
        .map_err(failed("counting the outcomes of a period"))
    }

    /// Of the dossiers `keys` (source, dossier id), those resolved in [from, to] with a decided
    /// outcome. Read by primary key, a thousand per statement: the callers ask about the few
    /// dossiers whose history makes their outcome count differently.
    pub async fn outcomes_of(
        &self,
        keys: &[(String, String)],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ResolvedOutcome>, StoreError> {
        let numbered = self.backend() == "postgres";
        let mut found = Vec::new();
        for chunk in keys.chunks(KEYS_PER_STATEMENT) {
            // Our own placeholders only; every value is bound.
            let sql = format!(
                "SELECT d.source, d.dossier_id, d.department, d.outcome, d.resolved_at \
                 FROM dossiers d JOIN (VALUES {}) AS v \
                 ON d.source = v.column1 AND d.dossier_id = v.column2 \
                 WHERE d.vanished_at IS NULL AND d.outcome IS NOT NULL AND d.{COUNTED}",
                super::values_placeholders(chunk.len(), 2, numbered)
            );
            let rows: Vec<ResolvedOutcome> = on_pool!(self, p => {
                let mut q = sqlx::query_as(AssertSqlSafe(sql.as_str()));
                for (source, id) in chunk {
                    q = q.bind(source).bind(id);
                }
                q.fetch_all(p).await
            })
            .map_err(failed("reading the outcomes of dossiers"))?;
            found.extend(rows);
        }
        let (from, to) = (from.timestamp(), to.timestamp());
        found.retain(|r| (from..=to).contains(&r.resolved_at));
        Ok(found)
    }

    /// Per (source, department): due-date changes observed in all, and dossiers re-appointed
    /// more than once (the rules allow one re-appointment).
    pub async fn due_change_totals(&self) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
        let sql = format!(
            "SELECT source, department, SUM(due_changes), \
             SUM(CASE WHEN due_changes > 1 THEN 1 ELSE 0 END) \
             FROM dossiers WHERE due_changes > 0 AND vanished_at IS NULL AND {COUNTED} \
             GROUP BY source, department"
        );
        on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
        .fetch_all(p)
        .await)
        .map_err(failed("counting due-date changes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Secret, StoreConfig};

    /// The cycle stays light only while each read takes its index: a changed query or index
    /// condition shows up here, not as a slow cycle in production.
    #[tokio::test]
    async fn every_cycle_read_uses_its_index_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_and_migrate(&StoreConfig {
            url: Secret::new(format!("sqlite://{}/s.db", dir.path().display())),
            max_connections: 1,
            source_connections: 1,
        })
        .await
        .unwrap();
        let crate::store::StorePool::Sqlite(pool) = &store.pool else {
            unreachable!("a sqlite:// store")
        };
        // A store's shape: few sources and departments, many dossiers over a year, a tenth
        // open; with the statistics the service gathers (ANALYZE after bulk polls, PRAGMA
        // optimize at start).
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 4999) \
             INSERT INTO dossiers (source, dossier_id, procedure_code, department, channel, \
             received_at, due_at, resolved_at, status, raw_status, updated_at, first_seen_at, \
             last_seen_at, outcome) \
             SELECT 's' || (i % 2), 'd' || i, 'p', 'dep' || (i % 7), 'direct', 1767200000 + i * 6000, \
             1767300000 + i * 6000, CASE WHEN i % 10 = 0 THEN NULL ELSE 1767250000 + i * 6000 END, \
             CASE WHEN i % 10 = 0 THEN 'in_progress' ELSE 'returned' END, 'x', 1, 1, 1, \
             CASE WHEN i % 10 = 0 THEN NULL ELSE 'early' END FROM n",
        )
        .execute(pool)
        .await
        .unwrap();
        store.analyze().await.unwrap();
        let plan = |sql: String| async move {
            let rows: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                    .bind(1_i64)
                    .bind(1_i64)
                    .bind(1_i64)
                    .bind(1_i64)
                    .fetch_all(pool)
                    .await
                    .unwrap();
            rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ")
        };
        let open = plan(OPEN_AT_SQLITE.clone()).await;
        assert!(open.contains("COVERING INDEX dossiers_open"), "{open}");
        assert!(
            open.contains("INDEX dossiers_by_resolved (resolved_at>?)"),
            "{open}"
        );
        let by_status = plan(format!(
            "SELECT source, status, COUNT(*) FROM dossiers WHERE vanished_at IS NULL \
             AND {COUNTED} GROUP BY source, status"
        ))
        .await;
        assert!(
            by_status.contains("COVERING INDEX dossiers_by_status"),
            "{by_status}"
        );
        let outcomes = plan(outcome_counts_sql(
            &store.index_hint("dossiers_resolved_counts"),
        ))
        .await;
        assert!(
            outcomes.contains("COVERING INDEX dossiers_resolved_counts")
                && !outcomes.contains("TEMP B-TREE"),
            "{outcomes}"
        );
        assert!(
            open.contains("INDEX status_changes_by_observed (observed_at>?)"),
            "a live cycle reads no history: {open}"
        );
        for (table, column) in [
            ("status_changes", "old_status"),
            ("due_changes", "old_due_at"),
        ] {
            let hint = store.index_hint(&format!("{table}_by_observed"));
            let later = plan(changes_after_sql(&hint, table, column)).await;
            assert!(
                later.contains(&format!("INDEX {table}_by_observed (observed_at>?)")),
                "{later}"
            );
        }
        let unscored = plan(UNSCORED_SQLITE.clone()).await;
        assert!(unscored.contains("dossiers_unscored"), "{unscored}");
        for (key, at, index) in [
            ("outcome", "resolved_at", "dossiers_resolved_counts"),
            ("channel", "received_at", "dossiers_received_counts"),
        ] {
            let counts = plan(format!(
                "SELECT source, department, {key}, COUNT(*) FROM dossiers {}\
                 WHERE vanished_at IS NULL AND {at} >= $1 AND {at} <= $2 AND {COUNTED} \
                 GROUP BY 1, 2, 3",
                store.index_hint(index)
            ))
            .await;
            assert!(
                counts.contains(&format!("COVERING INDEX {index}")),
                "{counts}"
            );
            assert!(
                !counts.contains("TEMP B-TREE"),
                "read in group order: {counts}"
            );
        }
    }
}
