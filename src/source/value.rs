//! A column value as it came out of a source database, before mapping. Each dialect module turns
//! its own types into these; everything after that is dialect-free.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::mapping::reason;

#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    /// A timestamp without zone: local time of the source.
    Naive(NaiveDateTime),
    /// A timestamp with zone, already converted to UTC.
    Instant(DateTime<Utc>),
    Date(NaiveDate),
    /// A value the driver returned but this service cannot read: an infinite or out-of-range
    /// timestamp, text that is not UTF-8, a zero date, an integer beyond i64. The row it sits in
    /// becomes a rejection with `reason` (see `mapping::reason`); the rest of the poll goes on.
    Bad {
        reason: &'static str,
        detail: String,
    },
}

impl RawValue {
    pub fn bad(reason: &'static str, detail: impl std::fmt::Display) -> RawValue {
        RawValue::Bad {
            reason,
            detail: detail.to_string(),
        }
    }

    /// A driver's decode result, or a [`RawValue::Bad`] with `reason` when it failed.
    pub fn decoded<T>(
        result: Result<T, sqlx::Error>,
        reason: &'static str,
        value: impl FnOnce(T) -> RawValue,
    ) -> RawValue {
        result.map_or_else(|e| RawValue::bad(reason, e), value)
    }

    /// UTF-8 text from the bytes a driver returned, or a `bad_encoding` value.
    pub fn text(bytes: &[u8]) -> RawValue {
        match std::str::from_utf8(bytes) {
            Ok(s) => RawValue::Text(s.to_string()),
            Err(e) => RawValue::bad(reason::BAD_ENCODING, format!("the text is not UTF-8: {e}")),
        }
    }

    pub fn is_null(&self) -> bool {
        match self {
            RawValue::Null => true,
            RawValue::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// The value as a number: SQL probe results and error counts.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            RawValue::Int(i) => Some(*i as f64),
            RawValue::Float(f) => Some(*f),
            RawValue::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as text, for ids, codes and names (numbers are common status codes).
    pub fn as_text(&self) -> Option<String> {
        match self {
            RawValue::Null | RawValue::Bad { .. } => None,
            RawValue::Text(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            RawValue::Int(i) => Some(i.to_string()),
            RawValue::Float(f) => Some(f.to_string()),
            RawValue::Naive(t) => Some(t.to_string()),
            RawValue::Instant(t) => Some(t.to_rfc3339()),
            RawValue::Date(d) => Some(d.to_string()),
        }
    }
}

/// A row of a source query, with the column names shared by every row of the poll.
#[derive(Debug, Clone)]
pub struct RawRow {
    pub names: std::sync::Arc<[String]>,
    pub values: Vec<RawValue>,
}
