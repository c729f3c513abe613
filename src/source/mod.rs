//! Dossier sources: one module per database dialect turns rows into `RawValue`s; `mapping` turns
//! those into canonical dossiers; `poller` runs a poll and commits it to the store.

pub mod mapping;
mod mysql;
mod page;
mod poller;
mod postgres;
mod sqlite;
pub mod value;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use sqlx::pool::PoolOptions;
use sqlx::{AssertSqlSafe, Column, Row};

pub use poller::{Deadlines, PollMode, PollReport, Poller};
use value::{RawRow, RawValue};

use crate::config::{Dialect, SourceConfig};
use crate::metrics::poll_error;
use crate::store::StoreError;

/// Why a fetch of rows failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("column {column} has type {type_name}, which this service cannot read; {hint}")]
    UnsupportedType {
        column: String,
        type_name: String,
        hint: &'static str,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source {name}: invalid connection URL: {error}")]
    Url { name: String, error: sqlx::Error },
    #[error("source {name}: cannot reach the database: {error}")]
    Connect { name: String, error: sqlx::Error },
    #[error("source {name}: query failed: {error}")]
    Query { name: String, error: FetchError },
    #[error("source {name}: no row arrived for {after:?}; the query was abandoned")]
    Timeout { name: String, after: Duration },
    #[error("source {name}: the database cancelled the query at its statement timeout: {error}")]
    StatementTimeout { name: String, error: sqlx::Error },
    #[error(
        "source {name}: the {query} returns no column {missing:?} (it returns {found:?}); \
         rename columns with AS to the canonical names"
    )]
    Columns {
        name: String,
        /// The config key of the query: query or stage_query.
        query: &'static str,
        missing: Vec<&'static str>,
        found: Vec<String>,
    },
    #[error("source {name}: {error}")]
    Store { name: String, error: StoreError },
    #[error("source {name}: the poll panicked: {message}")]
    Panic { name: String, message: String },
}

impl SourceError {
    /// The bounded label of `hcc_source_poll_errors_total{kind}`.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceError::Url { .. } | SourceError::Connect { .. } => poll_error::CONNECT,
            SourceError::Query { .. } => poll_error::QUERY,
            SourceError::Timeout { .. } | SourceError::StatementTimeout { .. } => {
                poll_error::TIMEOUT
            }
            SourceError::Columns { .. } => poll_error::COLUMNS,
            SourceError::Store { .. } => poll_error::STORE,
            SourceError::Panic { .. } => poll_error::PANIC,
        }
    }

    /// Sorts a driver error into connect / statement timeout / query.
    pub(crate) fn from_fetch(name: &str, error: FetchError) -> SourceError {
        let name = name.to_string();
        match error {
            FetchError::Sql(error) if is_connect_error(&error) => {
                SourceError::Connect { name, error }
            }
            FetchError::Sql(error) if is_statement_timeout(&error) => {
                SourceError::StatementTimeout { name, error }
            }
            error => SourceError::Query { name, error },
        }
    }
}

fn is_connect_error(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Protocol(_)
    ) || matches!(e, sqlx::Error::Database(d) if d.code().is_some_and(|c| {
            // SQLSTATE class 28: authorization (unknown role, wrong password); 3D000 / 42000
            // with MySQL's 1049: unknown database; SQLite 14: cannot open the file.
            c.starts_with("28") || c == "3D000" || c == "14"
        }) || d.message().contains("Unknown database"))
}

/// PostgreSQL 57014 (query_canceled by statement_timeout); MariaDB 1969 and MySQL 3024 (max
/// statement / execution time exceeded). MySQL reports codes as SQLSTATE, so the number is
/// matched in the message too.
fn is_statement_timeout(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default();
            code == "57014"
                || code == "70100"
                || d.message().contains("max_statement_time")
                || d.message().contains("maximum statement execution time")
        }
        _ => false,
    }
}

/// Pool settings every dialect shares: few connections, bounded waits, and dropped idle
/// connections so a restarted database is reconnected to by the next poll.
fn pool_options<DB: sqlx::Database>(cfg: &SourceConfig) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(cfg.max_connections)
        .min_connections(0)
        .acquire_timeout(cfg.connect_timeout)
        .idle_timeout(Some(Duration::from_secs(300)))
        .test_before_acquire(true)
}

/// Turns a driver's row stream into raw rows, naming the columns once per poll.
fn rows<'a, R: Row + 'a>(
    stream: BoxStream<'a, Result<R, sqlx::Error>>,
    decode: fn(&R, usize) -> Result<RawValue, FetchError>,
) -> BoxStream<'a, Result<RawRow, FetchError>> {
    let mut names: Option<Arc<[String]>> = None;
    stream
        .map(move |row| {
            let row = row?;
            let names = names
                .get_or_insert_with(|| row.columns().iter().map(|c| c.name().to_string()).collect())
                .clone();
            Ok(RawRow {
                values: (0..names.len())
                    .map(|i| decode(&row, i))
                    .collect::<Result<_, _>>()?,
                names,
            })
        })
        .boxed()
}

/// A source's connection pool, of its dialect.
#[derive(Debug, Clone)]
pub enum SourcePool {
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
    Sqlite(sqlx::SqlitePool),
}

impl SourcePool {
    /// Builds the pool without connecting.
    pub fn new(cfg: &SourceConfig) -> Result<SourcePool, SourceError> {
        let url_error = |error| SourceError::Url {
            name: cfg.name.clone(),
            error,
        };
        Ok(match cfg.dialect {
            Dialect::Postgres => SourcePool::Postgres(postgres::connect(cfg).map_err(url_error)?),
            Dialect::MySql => SourcePool::MySql(mysql::connect(cfg).map_err(url_error)?),
            Dialect::Sqlite => SourcePool::Sqlite(sqlite::connect(cfg).map_err(url_error)?),
        })
    }

    /// Rows changed since `watermark` (the source's local time): all of them, or one page.
    pub fn fetch<'a>(
        &'a self,
        sql: &str,
        watermark: NaiveDateTime,
        page: Option<&page::Page>,
    ) -> BoxStream<'a, Result<RawRow, FetchError>> {
        match self {
            SourcePool::Postgres(p) => postgres::fetch(p, sql, watermark, page),
            SourcePool::MySql(p) => mysql::fetch(p, sql, watermark, page),
            SourcePool::Sqlite(p) => sqlite::fetch(p, sql, watermark, page),
        }
    }

    /// Runs an operator's query that takes no parameter and returns its first `limit` rows: SQL
    /// probes and software error counts. The rest of the result is not read.
    pub async fn query(&self, sql: &str, limit: usize) -> Result<Vec<RawRow>, FetchError> {
        // The query is the operator's own SQL from the config file, not user input.
        let sql = AssertSqlSafe(sql.to_string());
        let stream = match self {
            SourcePool::Postgres(p) => rows(sqlx::query(sql).fetch(p), postgres::decode),
            SourcePool::MySql(p) => rows(sqlx::query(sql).fetch(p), mysql::decode),
            SourcePool::Sqlite(p) => rows(sqlx::query(sql).fetch(p), sqlite::decode),
        };
        stream.take(limit).try_collect().await
    }

    /// Opens one connection and runs a trivial query: `check-config --connect`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            SourcePool::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(drop),
            SourcePool::MySql(p) => sqlx::query("SELECT 1").execute(p).await.map(drop),
            SourcePool::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(drop),
        }
    }

    pub async fn close(&self) {
        match self {
            SourcePool::Postgres(p) => p.close().await,
            SourcePool::MySql(p) => p.close().await,
            SourcePool::Sqlite(p) => p.close().await,
        }
    }
}
