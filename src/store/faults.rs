//! Reopening SQLite connections after a write fault. A connection that met a full disk or an
//! I/O error can keep its write lock (a COMMIT that failed leaves the transaction open), and every
//! later write then fails with "database is locked" until a restart. Any store error that looks
//! like such a fault marks the instant; every connection opened before it is closed when next
//! taken from its pool, so the service reconnects by itself once the disk has room again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The last write fault seen, process-wide: the pools' acquire hook has no handle on the store
/// whose query failed, and closing a healthy connection of another store costs only a reopen.
static LAST_FAULT: Mutex<Option<Instant>> = Mutex::new(None);

/// How long after a fault a "locked" answer is taken as its aftermath rather than contention.
const AFTERMATH: Duration = Duration::from_secs(120);

/// SQLite's primary result codes that mean the connection may be left in a bad state.
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_IOERR: i64 = 10;
const SQLITE_CORRUPT: i64 = 11;
const SQLITE_FULL: i64 = 13;
const SQLITE_READONLY: i64 = 8;

fn last_fault() -> Option<Instant> {
    *LAST_FAULT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Notes `error` if it is a write fault (or a lock met soon after one).
pub(crate) fn note(error: &sqlx::Error) {
    let Some(code) = error
        .as_database_error()
        .filter(|e| e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some())
        .and_then(|e| e.code())
        .and_then(|c| c.parse::<i64>().ok())
    else {
        return;
    };
    let fault = match code & 0xff {
        SQLITE_IOERR | SQLITE_FULL | SQLITE_CORRUPT | SQLITE_READONLY => true,
        SQLITE_BUSY | SQLITE_LOCKED => last_fault().is_some_and(|t| t.elapsed() < AFTERMATH),
        _ => false,
    };
    if fault {
        tracing::warn!(%error, "store write fault: its connections are reopened");
        *LAST_FAULT.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }
}

/// Whether a pooled connection of `age` predates the last fault and must be reopened.
pub(crate) fn predates_fault(age: Duration) -> bool {
    last_fault().is_some_and(|t| age > t.elapsed())
}
