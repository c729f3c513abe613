//! Which sources' rows are another source's dossiers (`role = "handoff"`): every count and list
//! of dossiers leaves them out with [`COUNTED`], so a dossier handed over to a department's
//! system is one dossier, the system of record's.

use chrono::{DateTime, Utc};

use sqlx::AssertSqlSafe;

use super::{Store, StoreError, failed, on_pool};

/// The condition, on a `dossiers` row read unaliased or as `d`, that keeps the rows of systems
/// of record only. It reads `source` alone, which every index over dossiers covers.
pub(crate) const COUNTED: &str = "source NOT IN (SELECT source FROM source_links)";

impl Store {
    /// Records what the source `source` is: `Some(record)` when its dossiers are those of the
    /// source `record`, `None` for a system of record. Every poll says it again, so a changed
    /// role holds from the source's next poll.
    pub async fn declare_source(
        &self,
        source: &str,
        same_dossiers_as: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match same_dossiers_as {
            Some(record) => on_pool!(self, p => sqlx::query(
                "INSERT INTO source_links (source, same_dossiers_as, declared_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (source) DO UPDATE SET \
                 same_dossiers_as = excluded.same_dossiers_as, declared_at = excluded.declared_at",
            )
            .bind(source)
            .bind(record)
            .bind(now.timestamp())
            .execute(p)
            .await
            .map(drop)),
            None => on_pool!(self, p => sqlx::query("DELETE FROM source_links WHERE source = $1")
                .bind(source)
                .execute(p)
                .await
                .map(drop)),
        }
        .map_err(failed("declaring a source's role"))
    }
}

/// What a department's system (`role = "handoff"`) holds of one of the record's dossiers.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LinkedRow {
    /// The system of record whose dossier this is.
    pub record: String,
    pub dossier_id: String,
    /// The department's system.
    pub source: String,
    pub status: String,
    pub raw_status: String,
    /// When the department's system received it, by its own clock.
    pub received_at: i64,
    pub resolved_at: Option<i64>,
}

impl Store {
    /// The rows of the department systems, with the system of record each belongs to: those of
    /// the dossier ids given when they are few (an API page: one statement by key), else every
    /// one (a whole list: one scan rather than a statement per thousand keys).
    pub async fn linked_rows(&self, dossier_ids: &[&str]) -> Result<Vec<LinkedRow>, StoreError> {
        const SELECT: &str = "SELECT l.same_dossiers_as AS record, d.dossier_id, d.source, \
             d.status, d.raw_status, d.received_at, d.resolved_at \
             FROM dossiers d JOIN source_links l ON l.source = d.source";
        if dossier_ids.len() > KEYS_PER_STATEMENT {
            let sql = format!("{SELECT} WHERE d.vanished_at IS NULL");
            return on_pool!(self, p => sqlx::query_as(AssertSqlSafe(sql.as_str()))
                .fetch_all(p)
                .await)
            .map_err(failed("reading the department systems' rows"));
        }
        // Our own placeholders only; every id is bound.
        let sql = format!(
            "{SELECT} JOIN (VALUES {}) AS v ON d.dossier_id = v.column1 \
             WHERE d.vanished_at IS NULL",
            super::values_placeholders(dossier_ids.len(), 1, self.backend() == "postgres")
        );
        on_pool!(self, p => {
            let mut q = sqlx::query_as(AssertSqlSafe(sql.as_str()));
            for id in dossier_ids {
                q = q.bind(*id);
            }
            q.fetch_all(p).await
        })
        .map_err(failed("reading the department systems' rows"))
    }
}

/// Ids one keyed read of the department systems' rows binds at most.
const KEYS_PER_STATEMENT: usize = 1000;
