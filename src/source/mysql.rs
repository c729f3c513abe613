//! MySQL and MariaDB sources.

use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use futures::stream::BoxStream;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlRow};
use sqlx::{AssertSqlSafe, Column, ConnectOptions, Executor, Row, TypeInfo, ValueRef};

use super::mapping::reason;
use super::page::{KeySlots, Page, bind, wrap};
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
    sql: &str,
    watermark: NaiveDateTime,
    page: Option<&Page>,
) -> BoxStream<'a, Result<RawRow, FetchError>> {
    let uses = sql.matches(":watermark").count();
    let mut sql = sql.replace(":watermark", "?");
    if let Some(page) = page {
        sql = wrap(
            &sql,
            page,
            &KeySlots {
                marker: "?",
                id: "?",
            },
        );
    }
    // The query is the operator's own SQL from the config file, not user input.
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for _ in 0..uses {
        query = query.bind(watermark);
    }
    // Positional: the page condition names the marker twice, after the operator's own `?`s.
    if let Some(key) = page.and_then(|p| p.after.as_ref()) {
        query = bind(bind(bind(query, &key.marker), &key.marker), &key.id);
    }
    rows(query.fetch(pool), decode)
}

/// Reads one value. A value that cannot be read (a zero date, an unsigned integer beyond i64,
/// text that is not UTF-8) is a [`RawValue::Bad`] for its row alone; only a column of a type this
/// service does not read at all fails the query.
pub(super) fn decode(row: &MySqlRow, i: usize) -> Result<RawValue, FetchError> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(RawValue::Null);
    }
    let type_name = raw.type_info().name().to_string();
    let int =
        |r: Result<i64, sqlx::Error>| RawValue::decoded(r, reason::OUT_OF_RANGE, RawValue::Int);
    let time = |r: Result<NaiveDateTime, sqlx::Error>| {
        RawValue::decoded(r, reason::BAD_TIME, RawValue::Naive)
    };
    Ok(match type_name.as_str() {
        "VARCHAR" | "CHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" => {
            RawValue::decoded(row.try_get(i), reason::BAD_ENCODING, RawValue::Text)
        }
        "VARBINARY" | "BINARY" | "BLOB" => {
            RawValue::decoded(row.try_get::<Vec<u8>, _>(i), reason::BAD_ENCODING, |b| {
                RawValue::Text(String::from_utf8_lossy(&b).into_owned())
            })
        }
        "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => {
            int(row.try_get(i))
        }
        "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED" => {
            int(row.try_get::<u32, _>(i).map(Into::into))
        }
        "BIGINT UNSIGNED" => match row.try_get::<u64, _>(i) {
            Ok(n) => i64::try_from(n).map_or_else(
                |_| {
                    RawValue::bad(
                        reason::OUT_OF_RANGE,
                        format!("{n} does not fit a signed 64-bit integer"),
                    )
                },
                RawValue::Int,
            ),
            Err(e) => RawValue::bad(reason::OUT_OF_RANGE, e),
        },
        "FLOAT" => RawValue::decoded(row.try_get::<f32, _>(i), reason::BAD_VALUE, |f| {
            RawValue::Float(f.into())
        }),
        "DOUBLE" => RawValue::decoded(row.try_get(i), reason::BAD_VALUE, RawValue::Float),
        "DATETIME" => time(row.try_get(i)),
        // The session zone is the source's, so a TIMESTAMP arrives as local wall time, which is
        // exactly what a DATETIME decodes to; sqlx only refuses it because it assumes UTC.
        "TIMESTAMP" => time(row.try_get_unchecked(i)),
        // A zero date ('0000-00-00', '2026-00-10', allowed by a lax sql_mode) fails to decode.
        "DATE" => RawValue::decoded(
            row.try_get::<NaiveDate, _>(i),
            reason::BAD_TIME,
            RawValue::Date,
        ),
        _ => {
            return Err(FetchError::UnsupportedType {
                column: row.column(i).name().to_string(),
                type_name,
                hint: "cast it in the query, e.g. CAST(col AS CHAR) or CAST(col AS SIGNED)",
            });
        }
    })
}
