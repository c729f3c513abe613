//! One page of the open dossiers, cut in SQL: the API answers in the time of a page, not of every
//! open dossier, however many the store holds.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::evaluation::{COLUMNS, PAUSED, PauseChangeRow, group_pause_changes, open_at_sql};
use super::{EvalRow, PauseChange, Store, StoreError, failed, on_pool};

/// Which open dossiers a page is cut from; `None` matches every value.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenFilter<'a> {
    pub source: Option<&'a str>,
    pub department: Option<&'a str>,
}

/// Earliest deadline first, dossiers without one last, then by receipt; the key makes the order
/// total, so that consecutive pages neither repeat nor skip a dossier.
const ORDER: &str = "due_at IS NULL, due_at, received_at, source, dossier_id";

fn filtered(sqlite: bool, select: &str, tail: &str) -> String {
    format!(
        "SELECT {select} FROM ({open}) AS o WHERE received_at <= $1 \
         AND ($2 IS NULL OR source = $2) AND ($3 IS NULL OR department = $3){tail}",
        open = open_at_sql(sqlite)
    )
}

static PAGE: LazyLock<[String; 2]> = LazyLock::new(|| {
    let tail = format!(" ORDER BY {ORDER} LIMIT $4 OFFSET $5");
    [true, false].map(|sqlite| filtered(sqlite, COLUMNS, &tail))
});
static COUNT: LazyLock<[String; 2]> =
    LazyLock::new(|| [true, false].map(|sqlite| filtered(sqlite, "COUNT(*)", "")));

/// Keys per statement when reading the pause history of a page (two bound values each).
const KEYS_PER_STATEMENT: usize = 1000;

impl Store {
    /// Up to `limit` dossiers open at `at` that match `filter`, from `offset` on in `ORDER`, and
    /// how many match in all.
    pub async fn open_page(
        &self,
        at: DateTime<Utc>,
        filter: OpenFilter<'_>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<EvalRow>, i64), StoreError> {
        let page = self.for_backend(&PAGE[0], &PAGE[1]);
        let count = self.for_backend(&COUNT[0], &COUNT[1]);
        // Built from our own status names only; every value is bound.
        let rows: Vec<EvalRow> = on_pool!(self, p => sqlx::query_as(AssertSqlSafe(page))
            .bind(at.timestamp())
            .bind(filter.source)
            .bind(filter.department)
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await)
        .map_err(failed("reading a page of open dossiers"))?;
        let total: i64 = on_pool!(self, p => sqlx::query_scalar(AssertSqlSafe(count))
            .bind(at.timestamp())
            .bind(filter.source)
            .bind(filter.department)
            .fetch_one(p)
            .await)
        .map_err(failed("counting open dossiers"))?;
        Ok((rows, total))
    }

    /// The pause history of the dossiers named, as `pause_changes` gives it for all.
    pub async fn pause_changes_of(
        &self,
        keys: &[(String, String)],
    ) -> Result<HashMap<(String, String), Vec<PauseChange>>, StoreError> {
        let numbered = self.backend() == "postgres";
        let mut by_dossier: HashMap<(String, String), Vec<PauseChange>> = HashMap::new();
        for chunk in keys.chunks(KEYS_PER_STATEMENT) {
            // Our own placeholders and status names only; every value is bound.
            let sql = format!(
                "SELECT c.source, c.dossier_id, c.old_status, c.new_status, c.changed_at \
                 FROM status_changes c JOIN (VALUES {}) AS v \
                 ON c.source = v.column1 AND c.dossier_id = v.column2 \
                 WHERE c.old_status IN ({p}) OR c.new_status IN ({p}) ORDER BY c.id",
                super::values_placeholders(chunk.len(), 2, numbered),
                p = PAUSED.as_str()
            );
            let rows: Vec<PauseChangeRow> = on_pool!(self, p => {
                let mut q = sqlx::query_as(AssertSqlSafe(sql.as_str()));
                for (source, id) in chunk {
                    q = q.bind(source).bind(id);
                }
                q.fetch_all(p).await
            })
            .map_err(failed("reading the pause history of dossiers"))?;
            group_pause_changes(&mut by_dossier, rows);
        }
        Ok(by_dossier)
    }
}
