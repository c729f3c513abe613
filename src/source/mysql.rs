//! MySQL and MariaDB sources.

use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use futures::stream::BoxStream;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlRow};
use sqlx::{AssertSqlSafe, Column, ConnectOptions, Executor, Row, TypeInfo, ValueRef};

use super::value::{RawRow, RawValue};
use super::{FetchError, pool_options, rows};
use crate::config::SourceConfig;

/// A lazy pool of read-only sessions with a statement timeout. The session zone is the source's,
/// so `DATETIME` and `TIMESTAMP` columns both read (and compare with the watermark) as the
/// source's local time.
pub fn connect(cfg: &SourceConfig) -> Result<MySqlPool, sqlx::Error> {
    let offset = cfg
        .time_zone
        .offset_from_utc_datetime(&Utc::now().naive_utc())
        .fix()
        .local_minus_utc();
    let zone = format!(
        "{}{:02}:{:02}",
        if offset < 0 { '-' } else { '+' },
        offset.abs() / 3600,
        offset.abs() % 3600 / 60
    );
    let options = MySqlConnectOptions::from_str(cfg.url.expose())?
        .timezone(Some(zone))
        .log_statements(tracing::log::LevelFilter::Trace);
    let statement_secs = cfg.statement_timeout.as_secs_f64();
    Ok(pool_options::<sqlx::MySql>(cfg)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
                // MariaDB names the limit max_statement_time (seconds); MySQL
                // max_execution_time (milliseconds).
                let mariadb = format!("SET SESSION max_statement_time = {statement_secs}");
                if conn.execute(AssertSqlSafe(mariadb)).await.is_err() {
                    let mysql = format!(
                        "SET SESSION max_execution_time = {}",
                        (statement_secs * 1000.0) as u64
                    );
                    conn.execute(AssertSqlSafe(mysql)).await?;
                }
                Ok(())
            })
        })
        .connect_lazy_with(options))
}

pub fn fetch<'a>(
    pool: &'a MySqlPool,
    sql: &'a str,
    watermark: NaiveDateTime,
) -> BoxStream<'a, Result<RawRow, FetchError>> {
    let uses = sql.matches(":watermark").count();
    let sql = sql.replace(":watermark", "?");
    // The query is the operator's own SQL from the config file, not user input.
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for _ in 0..uses {
        query = query.bind(watermark);
    }
    rows(query.fetch(pool), decode)
}

pub(super) fn decode(row: &MySqlRow, i: usize) -> Result<RawValue, FetchError> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(RawValue::Null);
    }
    let type_name = raw.type_info().name().to_string();
    Ok(match type_name.as_str() {
        "VARCHAR" | "CHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" => {
            RawValue::Text(row.try_get(i)?)
        }
        "VARBINARY" | "BINARY" | "BLOB" => {
            RawValue::Text(String::from_utf8_lossy(&row.try_get::<Vec<u8>, _>(i)?).into_owned())
        }
        "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => {
            RawValue::Int(row.try_get(i)?)
        }
        "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED" => {
            RawValue::Int(row.try_get::<u32, _>(i)?.into())
        }
        "BIGINT UNSIGNED" => {
            RawValue::Int(i64::try_from(row.try_get::<u64, _>(i)?).map_err(|_| {
                FetchError::UnsupportedType {
                    column: row.column(i).name().to_string(),
                    type_name: type_name.clone(),
                    hint: "the value does not fit a signed 64-bit integer",
                }
            })?)
        }
        "FLOAT" => RawValue::Float(row.try_get::<f32, _>(i)?.into()),
        "DOUBLE" => RawValue::Float(row.try_get(i)?),
        "DATETIME" => RawValue::Naive(row.try_get(i)?),
        // The session zone is the source's, so a TIMESTAMP arrives as local wall time, which is
        // exactly what a DATETIME decodes to; sqlx only refuses it because it assumes UTC.
        "TIMESTAMP" => RawValue::Naive(row.try_get_unchecked(i)?),
        "DATE" => RawValue::Date(row.try_get::<NaiveDate, _>(i)?),
        _ => {
            return Err(FetchError::UnsupportedType {
                column: row.column(i).name().to_string(),
                type_name,
                hint: "cast it in the query, e.g. CAST(col AS CHAR) or CAST(col AS SIGNED)",
            });
        }
    })
}
