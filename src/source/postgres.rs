//! PostgreSQL sources.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use futures::stream::BoxStream;
use sqlx::postgres::{PgConnectOptions, PgPool, PgRow};
use sqlx::{AssertSqlSafe, Column, ConnectOptions, Row, TypeInfo, ValueRef};

use super::value::{RawRow, RawValue};
use super::{FetchError, pool_options, rows};
use crate::config::SourceConfig;

/// A lazy pool: nothing connects until the first poll, so a source that is down at start holds
/// up nothing. Every session is read-only and carries a statement timeout and the source's zone
/// (so a `timestamp` watermark compares right against `timestamptz` columns too).
pub fn connect(cfg: &SourceConfig) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(cfg.url.expose())?
        .application_name("hcc-monitor")
        .options([
            ("default_transaction_read_only", "on".to_string()),
            (
                "statement_timeout",
                format!("{}", cfg.statement_timeout.as_millis()),
            ),
            ("TimeZone", cfg.time_zone.name().to_string()),
        ])
        .log_statements(tracing::log::LevelFilter::Trace);
    Ok(pool_options::<sqlx::Postgres>(cfg).connect_lazy_with(options))
}

pub fn fetch<'a>(
    pool: &'a PgPool,
    sql: &'a str,
    watermark: NaiveDateTime,
) -> BoxStream<'a, Result<RawRow, FetchError>> {
    let sql = sql.replace(":watermark", "$1");
    // The query is the operator's own SQL from the config file, not user input.
    rows(
        sqlx::query(AssertSqlSafe(sql)).bind(watermark).fetch(pool),
        decode,
    )
}

pub(super) fn decode(row: &PgRow, i: usize) -> Result<RawValue, FetchError> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(RawValue::Null);
    }
    let type_name = raw.type_info().name().to_string();
    Ok(match type_name.as_str() {
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" | "UNKNOWN" => {
            RawValue::Text(row.try_get(i)?)
        }
        "INT2" => RawValue::Int(row.try_get::<i16, _>(i)?.into()),
        "INT4" => RawValue::Int(row.try_get::<i32, _>(i)?.into()),
        "INT8" => RawValue::Int(row.try_get(i)?),
        "FLOAT4" => RawValue::Float(row.try_get::<f32, _>(i)?.into()),
        "FLOAT8" => RawValue::Float(row.try_get(i)?),
        "BOOL" => RawValue::Int(row.try_get::<bool, _>(i)?.into()),
        "TIMESTAMP" => RawValue::Naive(row.try_get(i)?),
        "TIMESTAMPTZ" => RawValue::Instant(row.try_get::<DateTime<Utc>, _>(i)?),
        "DATE" => RawValue::Date(row.try_get::<NaiveDate, _>(i)?),
        _ => {
            return Err(FetchError::UnsupportedType {
                column: row.column(i).name().to_string(),
                type_name,
                hint: "cast it in the query, e.g. col::text or col::bigint",
            });
        }
    })
}
