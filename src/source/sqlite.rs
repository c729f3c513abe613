//! SQLite sources. SQLite types values, not columns, so each value is read by its own type.

use std::str::FromStr;

use chrono::NaiveDateTime;
use futures::stream::BoxStream;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqliteRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Row, TypeInfo, ValueRef};

use super::mapping::reason;
use super::page::{KeySlots, Page, bind, wrap};
use super::value::{RawRow, RawValue};
use super::{FetchError, pool_options, rows};
use crate::config::SourceConfig;

/// Opened read-only: the monitor must never write to a dossier database. SQLite has no server
/// to enforce a statement timeout; the client-side timeout covers it.
pub fn connect(cfg: &SourceConfig) -> Result<SqlitePool, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(cfg.url.expose())?
        .read_only(true)
        .busy_timeout(cfg.statement_timeout)
        .log_statements(tracing::log::LevelFilter::Trace);
    // A connection is used for one poll and closed: a database file that was removed, replaced
    // or made unreadable is then noticed by the next poll, not hidden behind an open handle.
    Ok(pool_options::<sqlx::Sqlite>(cfg)
        .max_lifetime(std::time::Duration::from_millis(1))
        .connect_lazy_with(options))
}

/// The watermark is bound as text `YYYY-MM-DD HH:MM:SS[.ffffff]`, which orders correctly
/// against timestamps stored as ISO text.
pub fn fetch<'a>(
    pool: &'a SqlitePool,
    sql: &str,
    watermark: NaiveDateTime,
    page: Option<&Page>,
) -> BoxStream<'a, Result<RawRow, FetchError>> {
    let mut sql = sql.replace(":watermark", "?1");
    if let Some(page) = page {
        sql = wrap(
            &sql,
            page,
            &KeySlots {
                marker: "?2",
                id: "?3",
            },
        );
    }
    // The query is the operator's own SQL from the config file, not user input.
    let bound = watermark.format("%Y-%m-%d %H:%M:%S%.f").to_string();
    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(bound);
    if let Some(key) = page.and_then(|p| p.after.as_ref()) {
        query = bind(bind(query, &key.marker), &key.id);
    }
    rows(query.fetch(pool), decode)
}

/// Reads one value; text that is not UTF-8 is a [`RawValue::Bad`] for its row alone.
pub(super) fn decode(row: &SqliteRow, i: usize) -> Result<RawValue, FetchError> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(RawValue::Null);
    }
    let type_name = raw.type_info().name().to_string();
    Ok(match type_name.as_str() {
        "INTEGER" => RawValue::decoded(row.try_get(i), reason::OUT_OF_RANGE, RawValue::Int),
        "REAL" => RawValue::decoded(row.try_get(i), reason::BAD_VALUE, RawValue::Float),
        "BLOB" => RawValue::decoded(row.try_get::<Vec<u8>, _>(i), reason::BAD_ENCODING, |b| {
            RawValue::Text(String::from_utf8_lossy(&b).into_owned())
        }),
        _ => RawValue::decoded(row.try_get(i), reason::BAD_ENCODING, RawValue::Text),
    })
}
