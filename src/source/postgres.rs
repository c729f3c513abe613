//! PostgreSQL sources.

use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use futures::stream::BoxStream;
use sqlx::postgres::{PgConnectOptions, PgPool, PgRow, PgValueFormat, PgValueRef};
use sqlx::{AssertSqlSafe, Column, ConnectOptions, Executor, Row, TypeInfo, ValueRef};

use super::mapping::reason;
use super::page::{KeySlots, Page, bind, wrap};
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
    Ok(pool_options::<sqlx::Postgres>(cfg)
        .after_connect(|conn, _| {
            Box::pin(async move {
                // A SQL_ASCII database stores bytes unchecked, and the server refuses to send a
                // result holding one that is not UTF-8 to a UTF-8 client, failing the whole
                // query. Received as they are, such bytes fail their own row (bad_encoding).
                let encoding: String = sqlx::query_scalar("SHOW server_encoding")
                    .fetch_one(&mut *conn)
                    .await?;
                if encoding == "SQL_ASCII" {
                    conn.execute("SET client_encoding = 'SQL_ASCII'").await?;
                }
                Ok(())
            })
        })
        .connect_lazy_with(options))
}

pub fn fetch<'a>(
    pool: &'a PgPool,
    sql: &str,
    watermark: NaiveDateTime,
    page: Option<&Page>,
) -> BoxStream<'a, Result<RawRow, FetchError>> {
    let mut sql = sql.replace(":watermark", "$1");
    if let Some(page) = page {
        sql = wrap(
            &sql,
            page,
            &KeySlots {
                marker: "$2",
                id: "$3",
            },
        );
    }
    // The query is the operator's own SQL from the config file, not user input.
    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(watermark);
    if let Some(key) = page.and_then(|p| p.after.as_ref()) {
        query = bind(bind(query, &key.marker), &key.id);
    }
    rows(query.fetch(pool), decode)
}

/// Reads one value. A value that cannot be read is a [`RawValue::Bad`] for its row alone;
/// only a column of a type this service does not read at all fails the query.
pub(super) fn decode(row: &PgRow, i: usize) -> Result<RawValue, FetchError> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(RawValue::Null);
    }
    let type_name = raw.type_info().name().to_string();
    let int =
        |r: Result<i64, sqlx::Error>| RawValue::decoded(r, reason::OUT_OF_RANGE, RawValue::Int);
    let float =
        |r: Result<f64, sqlx::Error>| RawValue::decoded(r, reason::BAD_VALUE, RawValue::Float);
    Ok(match type_name.as_str() {
        // From the bytes: in a SQL_ASCII database the server passes any byte through unchecked.
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" | "UNKNOWN" => raw
            .as_bytes()
            .map_or_else(|e| RawValue::bad(reason::BAD_ENCODING, e), RawValue::text),
        "INT2" => int(row.try_get::<i16, _>(i).map(Into::into)),
        "INT4" => int(row.try_get::<i32, _>(i).map(Into::into)),
        "INT8" => int(row.try_get(i)),
        "FLOAT4" => float(row.try_get::<f32, _>(i).map(Into::into)),
        "FLOAT8" => float(row.try_get(i)),
        "BOOL" => int(row.try_get::<bool, _>(i).map(Into::into)),
        "TIMESTAMP" => time(&raw, RawValue::Naive),
        "TIMESTAMPTZ" => time(&raw, |t| RawValue::Instant(t.and_utc())),
        "DATE" => date(&raw),
        _ => {
            return Err(FetchError::UnsupportedType {
                column: row.column(i).name().to_string(),
                type_name,
                hint: "cast it in the query, e.g. col::text or col::bigint",
            });
        }
    })
}

/// PostgreSQL's epoch for timestamps and dates sent in binary.
fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap_or_default()
        .and_time(NaiveTime::MIN)
}

/// A `timestamp` (local) or `timestamptz` (UTC) decoded without the driver's chrono decoding,
/// which panics on `infinity` and on years beyond chrono's range (±262,143).
fn time(raw: &PgValueRef<'_>, value: impl FnOnce(NaiveDateTime) -> RawValue) -> RawValue {
    let bad = |what: String| RawValue::bad(reason::BAD_TIME, what);
    match raw.format() {
        PgValueFormat::Binary => {
            let Some(micros) = raw
                .as_bytes()
                .ok()
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(i64::from_be_bytes)
            else {
                return bad("a timestamp is not 8 bytes".into());
            };
            match micros {
                i64::MAX => bad("the timestamp is infinity".into()),
                i64::MIN => bad("the timestamp is -infinity".into()),
                _ => epoch()
                    .checked_add_signed(TimeDelta::microseconds(micros))
                    .map_or_else(
                        || {
                            bad(format!(
                                "{micros} µs from 2000-01-01 is out of the supported range"
                            ))
                        },
                        value,
                    ),
            }
        }
        PgValueFormat::Text => {
            let text = raw.as_str().unwrap_or_default();
            ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f"]
                .into_iter()
                .find_map(|f| {
                    chrono::DateTime::parse_from_str(text, f)
                        .map(|t| t.naive_utc())
                        .or_else(|_| NaiveDateTime::parse_from_str(text, f))
                        .ok()
                })
                .map_or_else(
                    || bad(format!("{text:?} is not a readable timestamp")),
                    value,
                )
        }
    }
}

/// A `date`, decoded by hand for the same reason as [`time`].
fn date(raw: &PgValueRef<'_>) -> RawValue {
    let bad = |what: String| RawValue::bad(reason::BAD_TIME, what);
    match raw.format() {
        PgValueFormat::Binary => {
            let Some(days) = raw
                .as_bytes()
                .ok()
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(i32::from_be_bytes)
            else {
                return bad("a date is not 4 bytes".into());
            };
            match days {
                i32::MAX => bad("the date is infinity".into()),
                i32::MIN => bad("the date is -infinity".into()),
                _ => epoch()
                    .date()
                    .checked_add_signed(TimeDelta::days(days.into()))
                    .map_or_else(
                        || {
                            bad(format!(
                                "{days} days from 2000-01-01 is out of the supported range"
                            ))
                        },
                        RawValue::Date,
                    ),
            }
        }
        PgValueFormat::Text => {
            let text = raw.as_str().unwrap_or_default();
            NaiveDate::parse_from_str(text, "%Y-%m-%d").map_or_else(
                |_| bad(format!("{text:?} is not a readable date")),
                RawValue::Date,
            )
        }
    }
}
