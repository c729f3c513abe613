//! A column value as it came out of a source database, before mapping. Each dialect module turns
//! its own types into these; everything after that is dialect-free.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

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
}

impl RawValue {
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
            RawValue::Null => None,
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
