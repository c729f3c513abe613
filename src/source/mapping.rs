//! Maps a source row onto the canonical dossier (DESIGN §3), or says exactly why it cannot.

use std::collections::BTreeMap;

use chrono::{
    DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;

use super::value::RawValue;
use crate::dossier::{Channel, Dossier, StageEvent, Status};
use crate::store::Rejection;

/// Reasons a row is rejected: the bounded label set of `hcc_source_rows_rejected_total`.
pub mod reason {
    pub const UNKNOWN_STATUS: &str = "unknown_status";
    pub const MISSING_VALUE: &str = "missing_value";
    pub const BAD_TIME: &str = "bad_time";
    pub const DUE_BEFORE_RECEIVED: &str = "due_before_received";
    pub const BAD_VALUE: &str = "bad_value";
    pub const RESOLVED_BEFORE_RECEIVED: &str = "resolved_before_received";
    /// A change marker beyond now + [`super::FUTURE_TOLERANCE`].
    pub const FUTURE_CHANGE: &str = "future_change";
    /// The same dossier id again in one batch: one row is kept (see `poller::keep_latest`).
    pub const DUPLICATE_IN_BATCH: &str = "duplicate_in_batch";
    /// Text that is not UTF-8 (a SQLite TEXT of raw bytes, a SQL_ASCII PostgreSQL database).
    pub const BAD_ENCODING: &str = "bad_encoding";
    /// A value longer than its column's limit ([`super::MAX_CODE_CHARS`],
    /// [`super::MAX_NAME_CHARS`]).
    pub const TOO_LONG: &str = "too_long";
    /// A number beyond what its column holds (a BIGINT UNSIGNED beyond i64).
    pub const OUT_OF_RANGE: &str = "out_of_range";
    pub const ALL: [&str; 11] = [
        UNKNOWN_STATUS,
        MISSING_VALUE,
        BAD_TIME,
        DUE_BEFORE_RECEIVED,
        BAD_VALUE,
        RESOLVED_BEFORE_RECEIVED,
        FUTURE_CHANGE,
        DUPLICATE_IN_BATCH,
        BAD_ENCODING,
        TOO_LONG,
        OUT_OF_RANGE,
    ];
}

/// The longest dossier id, procedure code, department, status or stage admitted, in characters:
/// every national and provincial code is far shorter, and the store indexes these columns (a
/// PostgreSQL index row holds at most about 8 kB).
pub const MAX_CODE_CHARS: usize = 100;
/// The longest procedure name admitted, in characters (the longest in the national catalogue is
/// about 300).
pub const MAX_NAME_CHARS: usize = 500;

/// How far past the poll's now a change marker (`updated_at`, a stage's `entered_at`) may lie:
/// a source's clock running ahead, or its time zone set an hour or more off, stays within it.
/// A marker beyond is a data error (9999-12-31 as "never"): taken as the watermark, it would
/// hide every later change from incremental polls, so the row is rejected instead.
pub const FUTURE_TOLERANCE: TimeDelta = TimeDelta::days(1);

/// The canonical columns a source query returns, required ones first.
pub const REQUIRED: [&str; 6] = [
    "dossier_id",
    "procedure_code",
    "department",
    "received_at",
    "status",
    "updated_at",
];
pub const OPTIONAL: [&str; 6] = [
    "procedure_name",
    "channel",
    "due_at",
    "resolved_at",
    "paused_at",
    "resumed_at",
];

/// The columns a stage query returns, all required.
pub const STAGE_COLUMNS: [&str; 3] = ["dossier_id", "stage", "entered_at"];

/// A query's row shape: where its columns sit in a result, and what each row maps to.
pub trait Columns: Sized {
    type Row;
    /// Finds the columns by name (case-insensitive). Returns the missing required ones as the
    /// error.
    fn resolve(names: &[String]) -> Result<Self, Vec<&'static str>>;
}

fn position(names: &[String], column: &str) -> Option<usize> {
    names.iter().position(|n| n.eq_ignore_ascii_case(column))
}

fn positions<const N: usize>(
    names: &[String],
    required: [&'static str; N],
) -> Result<[usize; N], Vec<&'static str>> {
    let missing: Vec<&'static str> = required
        .into_iter()
        .filter(|c| position(names, c).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(missing);
    }
    Ok(required.map(|c| position(names, c).unwrap_or_default()))
}

/// Where each canonical column sits in the query's result.
#[derive(Debug, Clone)]
pub struct ColumnIndex {
    required: [usize; 6],
    optional: [Option<usize>; 6],
}

impl Columns for ColumnIndex {
    type Row = Dossier;

    fn resolve(names: &[String]) -> Result<ColumnIndex, Vec<&'static str>> {
        Ok(ColumnIndex {
            required: positions(names, REQUIRED)?,
            optional: OPTIONAL.map(|c| position(names, c)),
        })
    }
}

/// Where each stage column sits in the stage query's result.
#[derive(Debug, Clone)]
pub struct StageColumns([usize; 3]);

impl Columns for StageColumns {
    type Row = StageEvent;

    fn resolve(names: &[String]) -> Result<StageColumns, Vec<&'static str>> {
        positions(names, STAGE_COLUMNS).map(StageColumns)
    }
}

/// A mapped row, or why it was refused.
pub type Mapped<T> = Result<T, Rejection>;

/// The instant a row's change is marked with: what the watermark advances to. Only stored rows
/// carry one, so that no rejected row (a marker in year 9999) can move it.
pub trait Marked {
    fn marker(&self) -> DateTime<Utc>;
}

impl Marked for Dossier {
    fn marker(&self) -> DateTime<Utc> {
        self.updated_at
    }
}

impl Marked for StageEvent {
    fn marker(&self) -> DateTime<Utc> {
        self.entered_at
    }
}

#[derive(Debug, Clone)]
pub struct Mapper {
    time_zone: Tz,
    status_map: BTreeMap<String, Status>,
}

struct Reject(&'static str, String);

impl Reject {
    fn of(self, row_key: String) -> Rejection {
        Rejection::new(row_key, self.0, self.1)
    }
}

impl Mapper {
    pub fn new(time_zone: Tz, status_map: BTreeMap<String, Status>) -> Mapper {
        Mapper {
            time_zone,
            status_map,
        }
    }

    /// Maps a dossier row read at `now`.
    pub fn map(
        &self,
        idx: &ColumnIndex,
        values: &[RawValue],
        now: DateTime<Utc>,
    ) -> Mapped<Dossier> {
        let required = idx.required.map(|i| &values[i]);
        let optional = idx
            .optional
            .map(|i| i.map_or(&RawValue::Null, |i| &values[i]));
        let [id, procedure, department, received, status, updated] = required;
        let [procedure_name, channel, due, resolved, paused, resumed] = optional;
        let row_key = id.as_text().unwrap_or_else(|| {
            format!(
                "<no dossier_id; updated_at {}>",
                updated.as_text().unwrap_or_default()
            )
        });
        let result = (|| {
            readable(REQUIRED.into_iter().zip(required))?;
            readable(OPTIONAL.into_iter().zip(optional))?;
            let dossier_id = required_text("dossier_id", id)?;
            let received_at = self.required_time("received_at", received)?;
            let due_at = self.time("due_at", due, true)?;
            if let Some(due_at) = due_at
                && due_at < received_at
            {
                return Err(Reject(
                    reason::DUE_BEFORE_RECEIVED,
                    format!("due_at {due_at} is before received_at {received_at}"),
                ));
            }
            let raw_status = required_text("status", status)?;
            let procedure_code = required_text("procedure_code", procedure)?;
            let department = required_text("department", department)?;
            let procedure_name = procedure_name
                .as_text()
                .map(|name| limited("procedure_name", name, MAX_NAME_CHARS))
                .transpose()?;
            let status = self.status(&raw_status)?;
            let updated_at = self.marker("updated_at", updated, now)?;
            let resolved_at = self.time("resolved_at", resolved, false)?;
            let paused_at = self.time("paused_at", paused, false)?;
            let resumed_at = self.time("resumed_at", resumed, false)?;
            // A source that marks a dossier resolved without saying when is read as resolved at
            // its last change, the closest instant it gives.
            let resolved_at = match (status.is_resolved(), resolved_at) {
                (true, None) => Some(updated_at),
                (_, r) => r,
            };
            if let Some(resolved_at) = resolved_at
                && resolved_at < received_at
            {
                // Taken as given it would be an early outcome, the best there is.
                return Err(Reject(
                    reason::RESOLVED_BEFORE_RECEIVED,
                    format!("resolved_at {resolved_at} is before received_at {received_at}"),
                ));
            }
            let channel = match channel.as_text() {
                None => Channel::Unknown,
                Some(raw) => Channel::parse(&raw).ok_or_else(|| {
                    Reject(
                        reason::BAD_VALUE,
                        format!("channel {raw:?} is not direct/online/postal or 1/2/3"),
                    )
                })?,
            };
            Ok(Dossier {
                dossier_id,
                procedure_code,
                procedure_name,
                department,
                channel,
                received_at,
                due_at,
                resolved_at,
                status,
                raw_status,
                updated_at,
                paused_at,
                resumed_at,
            })
        })();
        result.map_err(|r| r.of(row_key))
    }

    /// Maps a stage row read at `now`.
    pub fn map_stage(
        &self,
        idx: &StageColumns,
        values: &[RawValue],
        now: DateTime<Utc>,
    ) -> Mapped<StageEvent> {
        let columns = idx.0.map(|i| &values[i]);
        let [id, stage, entered] = columns;
        let row_key = format!(
            "stage event of {} at {}",
            id.as_text().as_deref().unwrap_or("<no dossier_id>"),
            entered.as_text().unwrap_or_default()
        );
        let row = (|| {
            readable(STAGE_COLUMNS.into_iter().zip(columns))?;
            Ok(StageEvent {
                dossier_id: required_text("dossier_id", id)?,
                stage: stage_code(stage)?,
                entered_at: self.marker("entered_at", entered, now)?,
            })
        })();
        row.map_err(|r: Reject| r.of(row_key))
    }

    /// Reads a row's change marker, which must not lie beyond `now` + [`FUTURE_TOLERANCE`].
    fn marker(
        &self,
        column: &str,
        v: &RawValue,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, Reject> {
        let t = self.required_time(column, v)?;
        if t > now + FUTURE_TOLERANCE {
            return Err(Reject(
                reason::FUTURE_CHANGE,
                format!(
                    "{column} {t} is more than {} h after now ({now}); fix the source's data or \
                     its time_zone",
                    FUTURE_TOLERANCE.num_hours()
                ),
            ));
        }
        Ok(t)
    }

    fn status(&self, raw: &str) -> Result<Status, Reject> {
        let found = if self.status_map.is_empty() {
            Status::parse(raw).or_else(|| raw.parse().ok().and_then(Status::from_national_code))
        } else {
            self.status_map.get(raw).copied()
        };
        found.ok_or_else(|| {
            Reject(
                reason::UNKNOWN_STATUS,
                format!("status {raw:?} is not in the source's status_map"),
            )
        })
    }

    fn required_time(&self, column: &str, v: &RawValue) -> Result<DateTime<Utc>, Reject> {
        self.time(column, v, false)?
            .ok_or_else(|| Reject(reason::MISSING_VALUE, format!("{column} is empty")))
    }

    /// Reads an instant. A date without time means the start of that day, except for a due date,
    /// which means the whole day: its end.
    fn time(
        &self,
        column: &str,
        v: &RawValue,
        end_of_day: bool,
    ) -> Result<Option<DateTime<Utc>>, Reject> {
        let bad = |what: String| Reject(reason::BAD_TIME, format!("{column}: {what}"));
        let date_time = |d: NaiveDate| {
            let t = if end_of_day {
                NaiveTime::from_hms_opt(23, 59, 59).unwrap_or_default()
            } else {
                NaiveTime::MIN
            };
            d.and_time(t)
        };
        let naive = match v {
            RawValue::Null => return Ok(None),
            RawValue::Bad { reason, detail } => {
                return Err(Reject(reason, format!("{column}: {detail}")));
            }
            RawValue::Instant(t) => return Ok(Some(*t)),
            RawValue::Naive(t) => *t,
            RawValue::Date(d) => date_time(*d),
            // The national sync API's yyyyMMddHHmmss, stored as a number: a local time.
            RawValue::Int(i) if (10_000_000_000_000..100_000_000_000_000).contains(i) => {
                match parse_text_time(&i.to_string()) {
                    Some(TextTime::Naive(t)) => t,
                    _ => return Err(bad(format!("{i} is not a valid yyyyMMddHHmmss"))),
                }
            }
            RawValue::Int(i) => {
                return DateTime::from_timestamp(*i, 0)
                    .map(Some)
                    .ok_or_else(|| bad(format!("{i} is not a Unix time")));
            }
            RawValue::Float(f) => {
                return DateTime::from_timestamp(*f as i64, 0)
                    .map(Some)
                    .ok_or_else(|| bad(format!("{f} is not a Unix time")));
            }
            RawValue::Text(s) if s.trim().is_empty() => return Ok(None),
            RawValue::Text(s) => match parse_text_time(s.trim()) {
                Some(TextTime::Instant(t)) => return Ok(Some(t)),
                Some(TextTime::Naive(t)) => t,
                Some(TextTime::Date(d)) => date_time(d),
                None => return Err(bad(format!("{s:?} is not a date-time this service reads"))),
            },
        };
        self.localize(naive)
            .map(Some)
            .ok_or_else(|| bad(format!("{naive} does not exist in {}", self.time_zone)))
    }

    /// Local time of the source → UTC. In a zone with daylight saving, an ambiguous hour takes
    /// its first occurrence.
    pub fn localize(&self, t: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.time_zone.from_local_datetime(&t) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
            LocalResult::None => None,
        }
    }
}

/// A required code-like text: an id, a code, a status.
fn required_text(column: &str, v: &RawValue) -> Result<String, Reject> {
    let text = v
        .as_text()
        .ok_or_else(|| Reject(reason::MISSING_VALUE, format!("{column} is empty")))?;
    limited(column, text, MAX_CODE_CHARS)
}

/// Refuses a text longer than `max` characters, before it reaches the store or a label. The
/// value itself is not repeated: it may be a megabyte.
fn limited(column: &str, text: String, max: usize) -> Result<String, Reject> {
    let chars = text.chars().count();
    if chars > max {
        return Err(Reject(
            reason::TOO_LONG,
            format!("{column} is {chars} characters long; at most {max} are admitted"),
        ));
    }
    Ok(text)
}

/// The first of a row's canonical values the driver could not read, as the row's rejection.
fn readable<'a>(columns: impl IntoIterator<Item = (&'a str, &'a RawValue)>) -> Result<(), Reject> {
    for (column, v) in columns {
        if let RawValue::Bad { reason, detail } = v {
            return Err(Reject(reason, format!("{column}: {detail}")));
        }
    }
    Ok(())
}

/// A stage becomes a metric label, which must never carry personal data: only a code is
/// admitted (a handler's name has spaces), and the value is not repeated in the log.
fn stage_code(v: &RawValue) -> Result<String, Reject> {
    let code = required_text("stage", v)?;
    if crate::label::is_code(&code) {
        Ok(code)
    } else {
        Err(Reject(
            reason::BAD_VALUE,
            format!(
                "stage is not a stage or unit code ({}); map it to a code in stage_query",
                crate::label::CODE_RULE
            ),
        ))
    }
}

enum TextTime {
    Instant(DateTime<Utc>),
    Naive(NaiveDateTime),
    Date(NaiveDate),
}

/// The formats seen in provincial databases and the national sync API.
fn parse_text_time(s: &str) -> Option<TextTime> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(TextTime::Instant(t.with_timezone(&Utc)));
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%#z"] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(TextTime::Instant(t.with_timezone(&Utc)));
        }
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y%m%d%H%M%S",
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(TextTime::Naive(t));
        }
    }
    for f in ["%Y-%m-%d", "%d/%m/%Y", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(TextTime::Date(d));
        }
    }
    None
}
