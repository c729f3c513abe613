//! The one way `/api/v1` (and the CLI's JSON) writes an instant: RFC 3339 with an explicit
//! offset, in UTC (`2026-03-05T01:00:00+00:00`), whether the value is kept as a `DateTime` or as
//! the store's Unix seconds.

use chrono::{DateTime, Utc};
use serde::Serializer;

pub fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

pub fn rfc3339_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}

pub fn unix<S: Serializer>(secs: &i64, s: S) -> Result<S::Ok, S::Error> {
    rfc3339(&crate::store::instant(*secs), s)
}

pub fn unix_opt<S: Serializer>(secs: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    rfc3339_opt(&secs.map(crate::store::instant), s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn instants_are_written_with_a_numeric_offset() {
        #[derive(serde::Serialize)]
        struct T {
            #[serde(serialize_with = "super::unix")]
            a: i64,
            #[serde(serialize_with = "super::unix_opt")]
            b: Option<i64>,
        }
        let json = serde_json::to_string(&T {
            a: 1_772_672_400,
            b: None,
        })
        .unwrap();
        assert_eq!(json, r#"{"a":"2026-03-05T01:00:00+00:00","b":null}"#);
    }
}
