//! The service's own database (dossiers, history, escalations and the outbox): SQLite by
//! default (a file, WAL), PostgreSQL when the URL says so. Both backends run the same SQL text (instants are Unix seconds, placeholders `$N`), so every
//! query is written once and `on_pool!` instantiates it for the backend in use.

mod backup;
mod dossiers;
mod evaluation;
mod faults;
mod handoffs;
mod identity;
mod instance_lock;
mod lease;
mod links;
mod open;
mod outbox;
mod pages;
mod stages;

use sqlx::{PgPool, SqlitePool};

pub use backup::{Backup, BackupError, backup};
pub use dossiers::{BatchOutcome, Rejection, StatusCount, StoredDossier};
pub use evaluation::{
    EvalRow, LaterChanges, PauseChange, PeriodCounts, Periods, ResolvedCounts, ResolvedOutcome,
    Scored,
};
pub use handoffs::{Arrival, PendingHandoff};
pub use identity::{StoreIdentity, check_marker, marker_path};
pub use instance_lock::InstanceLock;
pub use links::LinkedRow;
pub use outbox::{
    Attempt, EscalationKey, NewMessage, OutboxEntry, OutboxFilter, OutboxRow, state as outbox_state,
};
pub use pages::OpenFilter;
pub use stages::{VisitKey, VisitRow, stages_watermark_key};

/// Runs the same expression against whichever pool the store has.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::StorePool::Sqlite($pool) => $body,
            $crate::store::StorePool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Runs the same expression inside whichever transaction the store opened.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match &mut $tx {
            $crate::store::StoreTx::Sqlite(t, _) => {
                let $conn = &mut **t;
                $body
            }
            $crate::store::StoreTx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}
pub(crate) use on_tx;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error(
        "the store {path} does not exist: check `[store] url` (a relative path is read next to \
         the config file), or run `hcc-monitor migrate` to create an empty one"
    )]
    Missing { path: String },
    #[error(
        "the store at {url} is not an up-to-date hcc-monitor store ({detail}): run \
         `hcc-monitor migrate` first"
    )]
    NotMigrated { url: String, detail: String },
    #[error("cannot create the store's folder {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot create the store file {path}: {source}")]
    CreateFile {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "another hcc-monitor process holds the SQLite store (lock {path}); a SQLite store \
         serves one instance: stop the other one, or share a PostgreSQL store between instances"
    )]
    InUse { path: String },
    #[error("cannot lock the store at {path}: {source}")]
    Lock {
        path: String,
        source: std::io::Error,
    },
    #[error("store URL {url} is not supported; expected sqlite://PATH or postgres://...")]
    UnsupportedUrl { url: String },
    #[error("cannot apply the store's migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "the store file {path} was {what} while the service ran: stopping, since its writes \
         would be lost; restore the file, or start on a new store with `run --new-store`"
    )]
    FileLost { path: String, what: &'static str },
    #[error(
        "the store is {what}, and {marker} says this service had another: its decisions and \
         sent emails would be made again; point the config at the right store, or start with \
         `run --new-store` to take this one"
    )]
    NotTheStore { marker: String, what: &'static str },
    #[error("store query failed while {action}: {source}")]
    Query {
        action: &'static str,
        source: sqlx::Error,
    },
}

/// `($1,..,$cols),($cols+1,..)` for `rows` rows, or with anonymous `?` placeholders for SQLite:
/// it resolves a numbered placeholder by a linear search of the statement's parameter names,
/// which made binding 17,000 `$N` values quadratic (70 % of an initial sync's time was in
/// `sqlite3_bind_parameter_name`).
pub(crate) fn values_placeholders(rows: usize, cols: usize, numbered: bool) -> String {
    let mut sql = String::with_capacity(rows * cols * 7);
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..cols {
            if c > 0 {
                sql.push(',');
            }
            if numbered {
                sql.push('$');
                sql.push_str(&(r * cols + c + 1).to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

/// The store keeps instants as Unix seconds; this reads one back.
pub fn instant(secs: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// Wraps a sqlx error with what the store was doing.
pub(crate) fn failed(action: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| {
        faults::note(&source);
        StoreError::Query { action, source }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum StorePool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A SQLite transaction holds the store's write turn until it ends (see `Store::write_turn`).
pub(crate) enum StoreTx {
    Sqlite(
        sqlx::Transaction<'static, sqlx::Sqlite>,
        tokio::sync::OwnedMutexGuard<()>,
    ),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl StoreTx {
    async fn commit(self) -> Result<(), StoreError> {
        match self {
            StoreTx::Sqlite(t, _turn) => t.commit().await,
            StoreTx::Postgres(t) => t.commit().await,
        }
        .map_err(failed("committing"))
    }
}

/// A handle on the store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: StorePool,
    /// The connections source polls write through (see `for_sources`).
    sources: StorePool,
    /// SQLite lets one writer in at a time and makes the others poll for the lock, so a writer
    /// that commits in quick succession can starve them past the busy timeout. Transactions
    /// take turns here instead, first come first served, so a writer waits at most for the
    /// transactions queued before it, each bounded (`ROWS_PER_TRANSACTION`).
    write_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// A SQLite store's file as opened (see `check_file`).
    file: Option<std::sync::Arc<identity::OpenedFile>>,
}

impl Store {
    pub fn backend(&self) -> &'static str {
        match self.pool {
            StorePool::Sqlite(_) => "sqlite",
            StorePool::Postgres(_) => "postgres",
        }
    }

    /// Applies the migrations that are not applied yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            StorePool::Sqlite(p) => sqlx::migrate!("migrations/sqlite").run(p).await?,
            StorePool::Postgres(p) => sqlx::migrate!("migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    /// Ready means reachable with every migration this binary knows applied.
    pub async fn is_ready(&self) -> Result<bool, StoreError> {
        let expected = match &self.pool {
            StorePool::Sqlite(_) => sqlx::migrate!("migrations/sqlite").iter().count(),
            StorePool::Postgres(_) => sqlx::migrate!("migrations/postgres").iter().count(),
        } as i64;
        let applied: i64 = on_pool!(self, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM _sqlx_migrations WHERE success"
        )
        .fetch_one(p)
        .await)
        .map_err(failed("checking migrations"))?;
        Ok(applied >= expected)
    }

    /// `begin`, and how long it waited (for a free connection, mostly).
    pub(crate) async fn begin_timed(&self) -> Result<(StoreTx, std::time::Duration), StoreError> {
        let started = std::time::Instant::now();
        let tx = self.begin().await?;
        Ok((tx, started.elapsed()))
    }

    pub(crate) async fn begin(&self) -> Result<StoreTx, StoreError> {
        Ok(match &self.pool {
            StorePool::Sqlite(p) => {
                let turn = self.write_turn.clone().lock_owned().await;
                StoreTx::Sqlite(p.begin().await.map_err(failed("beginning"))?, turn)
            }
            StorePool::Postgres(p) => {
                StoreTx::Postgres(p.begin().await.map_err(failed("beginning"))?)
            }
        })
    }

    /// Refreshes the query planner's statistics after a bulk change (an initial sync), so that
    /// it keeps choosing the evaluation indexes. PostgreSQL's autovacuum does this by itself.
    pub async fn analyze(&self) -> Result<(), StoreError> {
        self.sqlite_upkeep("ANALYZE", "analyzing").await
    }

    /// SQLite's own upkeep of planner statistics: analyzes the tables whose statistics are
    /// missing or stale (so a store that grew by small polls also gets them).
    pub async fn optimize(&self) -> Result<(), StoreError> {
        self.sqlite_upkeep("PRAGMA optimize=0x10002", "optimizing")
            .await
    }

    async fn sqlite_upkeep(
        &self,
        sql: &'static str,
        action: &'static str,
    ) -> Result<(), StoreError> {
        if let StorePool::Sqlite(p) = &self.pool {
            sqlx::query(sql).execute(p).await.map_err(failed(action))?;
        }
        Ok(())
    }

    /// The handle source polls use: the same database through a pool of its own
    /// (`store.source_connections`), so that however long polls hold their connections, the
    /// evaluation, the outbox and the HTTP API keep theirs.
    pub fn for_sources(&self) -> Store {
        Store {
            pool: self.sources.clone(),
            sources: self.sources.clone(),
            write_turn: self.write_turn.clone(),
            file: self.file.clone(),
        }
    }

    /// `store.max_connections`: the service's pool, which the HTTP API shares.
    pub fn service_connections(&self) -> u32 {
        on_pool!(self, p => p.options().get_max_connections())
    }

    pub async fn close(&self) {
        on_pool!(self, p => p.close().await);
        on_pool!(self.for_sources(), p => p.close().await);
    }

    /// `close`, waiting at most `limit`: a connection abandoned mid-query (a read stuck on a
    /// lock, at shutdown) comes back only once its query ends, which may be never. False when
    /// connections were left to the exit.
    pub async fn close_within(&self, limit: std::time::Duration) -> bool {
        tokio::time::timeout(limit, self.close()).await.is_ok()
    }
}
