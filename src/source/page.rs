//! Keyset paging of a source's dossier query. The operator's query stays theirs: it is wrapped
//! as a subquery, ordered by the change marker and the dossier id and cut to a bounded number
//! of rows, so each page is a statement of its own that finishes well inside the statement
//! timeout however large the whole result is, and the next page starts after the last row read.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

use super::value::RawValue;

/// The canonical columns the pages are ordered by: the change marker, then the dossier id as the
/// tie-breaker among rows changed at the same instant.
const MARKER: &str = "updated_at";
const ID: &str = "dossier_id";

/// Where a page starts: after the row with this change marker and dossier id, as the source
/// returned them (bound back with their own types, so an integer id compares as an integer).
#[derive(Debug, Clone, PartialEq)]
pub struct PageKey {
    pub marker: RawValue,
    pub id: RawValue,
}

/// One page of the dossier query.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// None for the first page.
    pub after: Option<PageKey>,
    pub rows: usize,
}

/// Placeholders for the page key's marker and id, in the dialect's syntax.
pub struct KeySlots {
    pub marker: &'static str,
    pub id: &'static str,
}

/// The operator's query (its `:watermark` already turned into the dialect's placeholder) as one
/// page: the rows after `page.after` in (updated_at, dossier_id) order, at most `page.rows`.
pub fn wrap(sql: &str, page: &Page, slots: &KeySlots) -> String {
    let inner = sql.trim().trim_end_matches(';').trim_end();
    let after = match page.after {
        None => String::new(),
        Some(_) => format!(
            " WHERE {MARKER} > {m} OR ({MARKER} = {m} AND {ID} > {id})",
            m = slots.marker,
            id = slots.id
        ),
    };
    // The newline ends a trailing `--` comment of the operator's query.
    format!(
        "SELECT * FROM ({inner}\n) hcc_page{after} ORDER BY {MARKER}, {ID} LIMIT {}",
        page.rows
    )
}

/// The positions of the key columns in a row of the dossier query.
pub fn key_columns(names: &[String]) -> Option<(usize, usize)> {
    let at = |c: &str| names.iter().position(|n| n.eq_ignore_ascii_case(c));
    Some((at(MARKER)?, at(ID)?))
}

/// The key of a row, when both its values can be bound again (a NULL or undecodable marker or id
/// cannot start a page; the last row that has a key does).
pub fn key_of(values: &[RawValue], (marker, id): (usize, usize)) -> Option<PageKey> {
    let bindable = |v: &RawValue| !matches!(v, RawValue::Null | RawValue::Bad { .. });
    let (marker, id) = (values.get(marker)?, values.get(id)?);
    (bindable(marker) && bindable(id)).then(|| PageKey {
        marker: marker.clone(),
        id: id.clone(),
    })
}

/// Binds a value read from the source back into a statement of the same source.
pub fn bind<'q, DB: Database>(
    query: Query<'q, DB, DB::Arguments>,
    value: &RawValue,
) -> Query<'q, DB, DB::Arguments>
where
    i64: for<'t> Encode<'t, DB> + Type<DB>,
    f64: for<'t> Encode<'t, DB> + Type<DB>,
    String: for<'t> Encode<'t, DB> + Type<DB>,
    Option<String>: for<'t> Encode<'t, DB> + Type<DB>,
    NaiveDateTime: for<'t> Encode<'t, DB> + Type<DB>,
    DateTime<Utc>: for<'t> Encode<'t, DB> + Type<DB>,
    NaiveDate: for<'t> Encode<'t, DB> + Type<DB>,
{
    match value {
        RawValue::Text(s) => query.bind(s.clone()),
        RawValue::Int(n) => query.bind(*n),
        RawValue::Float(f) => query.bind(*f),
        RawValue::Naive(t) => query.bind(*t),
        RawValue::Instant(t) => query.bind(*t),
        RawValue::Date(d) => query.bind(*d),
        // Never a key (see key_of); bound as NULL, which matches no row.
        RawValue::Null | RawValue::Bad { .. } => query.bind(None::<String>),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOTS: KeySlots = KeySlots {
        marker: "$2",
        id: "$3",
    };

    #[test]
    fn the_first_page_is_the_operators_query_ordered_and_cut() {
        let page = Page {
            after: None,
            rows: 500,
        };
        assert_eq!(
            wrap(
                "SELECT * FROM t WHERE u >= $1 -- changed rows\n;\n",
                &page,
                &SLOTS
            ),
            "SELECT * FROM (SELECT * FROM t WHERE u >= $1 -- changed rows\n) hcc_page \
             ORDER BY updated_at, dossier_id LIMIT 500"
        );
    }

    #[test]
    fn a_later_page_starts_after_the_last_marker_and_id() {
        let page = Page {
            after: Some(PageKey {
                marker: RawValue::Int(1),
                id: RawValue::Int(2),
            }),
            rows: 10,
        };
        assert_eq!(
            wrap("SELECT 1", &page, &SLOTS),
            "SELECT * FROM (SELECT 1\n) hcc_page WHERE updated_at > $2 OR (updated_at = $2 AND \
             dossier_id > $3) ORDER BY updated_at, dossier_id LIMIT 10"
        );
    }

    #[test]
    fn a_row_without_a_usable_marker_or_id_has_no_key() {
        let names = ["Dossier_ID".to_string(), "updated_at".to_string()];
        let at = key_columns(&names).unwrap();
        assert_eq!(at, (1, 0));
        let key = key_of(&[RawValue::Text("a".into()), RawValue::Int(5)], at).unwrap();
        assert_eq!(key.marker, RawValue::Int(5));
        assert!(key_of(&[RawValue::Text("a".into()), RawValue::Null], at).is_none());
        assert!(
            key_of(
                &[RawValue::bad("bad_time", "zero date"), RawValue::Int(5)],
                at
            )
            .is_none()
        );
    }
}
