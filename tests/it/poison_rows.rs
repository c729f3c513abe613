//! Rows that must neither stop nor mislead a source, on SQLite and PostgreSQL sources and both
//! store backends: a change marker in year 9999, a resolution before the receipt, the same
//! dossier twice in one batch. Each case asserts the good rows stored, the bad ones rejected
//! with their reason, the source up, and the watermark at the latest stored row.

use hcc_monitor::source::PollMode;

use crate::helpers::app::poller_on;
use crate::helpers::db::{Server, TestDb, sqlite_exec};

/// Times are the source's local time (Vietnam). `n` orders the rows as read.
const TABLE: &str = "CREATE TABLE hs (n INTEGER, id TEXT, dv TEXT, nhan TIMESTAMP,
    xong TIMESTAMP, tt TEXT, sua TIMESTAMP)";

/// Two good rows; one changed in year 9999 (a "never" placeholder); one resolved the day before
/// it was received, changed last of all; DUP read twice, its latest change first; DUP-TIE twice
/// with one change instant, department X then Y.
const ROWS: &str = "INSERT INTO hs VALUES
 (1, 'GOOD-1', 'STP', '2026-11-02 08:00:00', NULL, 'in_progress', '2026-11-02 08:00:00'),
 (2, 'GOOD-2', 'STP', '2026-11-02 09:00:00', NULL, 'in_progress', '2026-11-02 09:00:00'),
 (3, 'FUTURE', 'STP', '2026-11-02 09:00:00', NULL, 'in_progress', '9999-12-31 23:59:59'),
 (4, 'EARLY', 'STP', '2026-11-02 09:00:00', '2026-11-01 09:00:00', 'resolved', '2026-11-02 13:00:00'),
 (5, 'DUP', 'LATEST', '2026-11-02 09:00:00', NULL, 'in_progress', '2026-11-02 12:00:00'),
 (6, 'DUP', 'OLDER', '2026-11-02 09:00:00', NULL, 'in_progress', '2026-11-02 10:00:00'),
 (7, 'DUP-TIE', 'X', '2026-11-02 09:00:00', NULL, 'in_progress', '2026-11-02 11:00:00'),
 (8, 'DUP-TIE', 'Y', '2026-11-02 09:00:00', NULL, 'in_progress', '2026-11-02 11:00:00')";

const LATER: &str = "INSERT INTO hs VALUES
 (9, 'LATER', 'STP', '2026-11-03 09:00:00', NULL, 'in_progress', '2026-11-03 09:00:00')";

fn source(url: &str) -> String {
    format!(
        r#"[[source]]
name = "poison"
url = "{url}"
watermark_overlap_secs = 0
query = """
SELECT id AS dossier_id, 'K1' AS procedure_code, dv AS department, nhan AS received_at,
       xong AS resolved_at, tt AS status, sua AS updated_at
FROM hs WHERE sua >= :watermark ORDER BY n
"""
"#
    )
}

/// A source database: SQLite in a directory, or one of its own on a database server.
enum SourceDb {
    Sqlite(String),
    Server(TestDb),
}

impl SourceDb {
    /// A source database of `server` (SQLite in `dir` when none) holding `TABLE` and `ROWS`.
    async fn create(dir: &std::path::Path, server: Option<Server>) -> SourceDb {
        let db = match server {
            None => SourceDb::sqlite(dir),
            Some(server) => SourceDb::Server(TestDb::create(server).await),
        };
        db.exec(&format!("{TABLE};\n{ROWS}")).await;
        db
    }

    fn sqlite(dir: &std::path::Path) -> SourceDb {
        SourceDb::Sqlite(format!("sqlite://{}/source.db", dir.display()))
    }

    fn url(&self) -> String {
        match self {
            SourceDb::Sqlite(url) => url.clone(),
            SourceDb::Server(db) => db.url(),
        }
    }

    async fn exec(&self, script: &str) {
        match self {
            SourceDb::Sqlite(url) => sqlite_exec(&format!("{url}?mode=rwc"), script).await,
            SourceDb::Server(db) => db.exec(script).await,
        }
    }
}

async fn poison_rows_are_rejected_and_the_rest_stored(
    source_server: Option<Server>,
    postgres_store: bool,
) {
    let dir = tempfile::tempdir().unwrap();
    let source_db = SourceDb::create(dir.path(), source_server).await;
    let store_db = match postgres_store {
        true => Some(TestDb::create(Server::Postgres).await),
        false => None,
    };
    let (poller, store, metrics) = poller_on(
        dir.path(),
        &source(&source_db.url()),
        store_db.as_ref().map(TestDb::url),
    )
    .await;

    let first = poller
        .poll(PollMode::Incremental)
        .await
        .expect("the poll succeeds despite the poison rows");
    assert_eq!((first.rows, first.rejected), (4, 4), "{first:?}");
    assert_eq!(
        first.watermark.as_deref(),
        Some("2026-11-02 12:00:00"),
        "the latest stored row's change, neither year 9999 nor the rejected EARLY row's"
    );
    let up = metrics.source_up.with_label_values(&["poison"]).get();
    assert_eq!(up, 1, "the source is up");
    let rejected = |reason: &str| {
        metrics
            .source_rows_rejected
            .with_label_values(&["poison", reason])
            .get()
    };
    assert_eq!(rejected("future_change"), 1);
    assert_eq!(rejected("resolved_before_received"), 1);
    assert_eq!(rejected("duplicate_in_batch"), 2);

    let stored = |id: &'static str| {
        let store = &store;
        async move {
            store
                .dossier("poison", id)
                .await
                .unwrap()
                .map(|d| d.dossier)
        }
    };
    for id in ["GOOD-1", "GOOD-2"] {
        assert!(stored(id).await.is_some(), "{id} is stored");
    }
    for id in ["FUTURE", "EARLY"] {
        assert!(stored(id).await.is_none(), "{id} is not stored");
    }
    let dup = stored("DUP").await.expect("DUP is stored once");
    assert_eq!(dup.department, "LATEST", "the latest change is kept");
    let tie = stored("DUP-TIE").await.expect("DUP-TIE is stored once");
    // Pages are ordered by (updated_at, dossier_id), which leaves equal rows in no order.
    assert!(
        ["X", "Y"].contains(&tie.department.as_str()),
        "of equal changes, one is kept: {}",
        tie.department
    );

    // The watermark was not poisoned: a later change is read by the next incremental poll.
    source_db.exec(LATER).await;
    let second = poller.poll(PollMode::Incremental).await.unwrap();
    assert!(stored("LATER").await.is_some(), "{second:?}");
    assert_eq!(second.watermark.as_deref(), Some("2026-11-03 09:00:00"));
    assert_eq!(
        second.first_rejections, 0,
        "FUTURE is read again, not logged again"
    );
    store.close().await;
}

#[tokio::test]
async fn poison_rows_of_a_sqlite_source_are_rejected_on_a_sqlite_store() {
    poison_rows_are_rejected_and_the_rest_stored(None, false).await;
}

#[tokio::test]
async fn poison_rows_of_a_sqlite_source_are_rejected_on_a_postgres_store() {
    poison_rows_are_rejected_and_the_rest_stored(None, true).await;
}

#[tokio::test]
async fn poison_rows_of_a_postgres_source_are_rejected_on_a_sqlite_store() {
    poison_rows_are_rejected_and_the_rest_stored(Some(Server::Postgres), false).await;
}

#[tokio::test]
async fn poison_rows_of_a_postgres_source_are_rejected_on_a_postgres_store() {
    poison_rows_are_rejected_and_the_rest_stored(Some(Server::Postgres), true).await;
}

/// Values the drivers cannot decode, and values too long to store, on every source dialect and
/// both stores. Each case's table has the same columns; `n` orders the rows as read.
const MATRIX_QUERY: &str = "SELECT id AS dossier_id, 'K1' AS procedure_code, ten AS procedure_name,
       dv AS department, nhan AS received_at, han AS due_at, tt AS status, sua AS updated_at
FROM hs WHERE sua >= :watermark ORDER BY n";

struct Case {
    name: &'static str,
    /// Creates the source database, when it is not the one `TestDb::create` makes.
    database: Option<&'static str>,
    /// Creates and fills `hs`: the good rows GOOD-1 and GOOD-2 (last changed, at 09:00) and the
    /// poison ones between them.
    script: String,
    /// Rows rejected per reason.
    rejected: &'static [(&'static str, u64)],
    /// Mends one rejected row at the source, of reason `mended`, whose id is `mended_id`.
    mend: &'static str,
    mended: &'static str,
    mended_id: &'static str,
}

fn postgres_case() -> Case {
    Case {
        name: "PostgreSQL",
        database: None,
        script: "CREATE TABLE hs (n int, id text, ten text, dv text, nhan timestamp, han date,
    tt text, sua timestamptz);
INSERT INTO hs VALUES
 (1, 'GOOD-1', 'Cấp giấy phép', 'STP', '2026-11-02 08:00', NULL, 'in_progress', '2026-11-02 08:00'),
 (2, 'INFINITY', 'x', 'STP', 'infinity', NULL, 'in_progress', '2026-11-02 08:10'),
 (3, 'MINUS-INFINITY', 'x', 'STP', '-infinity', NULL, 'in_progress', '2026-11-02 08:20'),
 (4, 'YEAR-290000', 'x', 'STP', '290000-01-01 00:00', NULL, 'in_progress', '2026-11-02 08:30'),
 (5, 'DUE-INFINITY', 'x', 'STP', '2026-11-02 08:00', 'infinity', 'in_progress', '2026-11-02 08:40'),
 (6, 'CHANGED-INFINITY', 'x', 'STP', '2026-11-02 08:00', NULL, 'in_progress', 'infinity'),
 (7, repeat('x', 1048576), 'x', 'STP', '2026-11-02 08:00', NULL, 'in_progress', '2026-11-02 08:50'),
 (8, 'LONG-NAME', repeat('Thủ tục ', 100), 'STP', '2026-11-02 08:00', NULL, 'in_progress',
    '2026-11-02 08:55'),
 (9, 'GOOD-2', NULL, 'STP', '2026-11-02 09:00', '2026-11-20', 'in_progress', '2026-11-02 09:00')"
            .into(),
        rejected: &[("bad_time", 5), ("too_long", 2)],
        mend: "UPDATE hs SET nhan = '2026-11-02 08:00' WHERE id = 'INFINITY'",
        mended: "bad_time",
        mended_id: "INFINITY",
    }
}

fn sql_ascii_case() -> Case {
    Case {
        name: "PostgreSQL SQL_ASCII",
        database: Some("ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"),
        script: r"CREATE TABLE hs (n int, id text, ten text, dv text, nhan timestamp, han date,
    tt text, sua timestamp);
INSERT INTO hs VALUES
 (1, 'GOOD-1', 'Cấp giấy phép', 'STP', '2026-11-02 08:00', NULL, 'in_progress', '2026-11-02 08:00'),
 (2, 'BAD-BYTE', 'x', E'ST\xffP', '2026-11-02 08:00', NULL, 'in_progress', '2026-11-02 08:10'),
 (3, 'BAD-NAME', E'Th\xfe t\xfbc', 'STP', '2026-11-02 08:00', NULL, 'in_progress', '2026-11-02 08:20'),
 (4, 'GOOD-2', NULL, 'STP', '2026-11-02 09:00', NULL, 'in_progress', '2026-11-02 09:00')"
            .into(),
        rejected: &[("bad_encoding", 2)],
        mend: "UPDATE hs SET dv = 'STP' WHERE id = 'BAD-BYTE'",
        mended: "bad_encoding",
        mended_id: "BAD-BYTE",
    }
}

fn mariadb_case() -> Case {
    Case {
        name: "MariaDB",
        database: None,
        // Zero dates are what a lax sql_mode lets an application write.
        script: "SET SESSION sql_mode = '';
CREATE TABLE hs (n INT, id MEDIUMTEXT, ten TEXT, dv VARCHAR(200), nhan DATETIME, han DATE,
    tt BIGINT UNSIGNED, sua DATETIME);
INSERT INTO hs VALUES
 (1, 'GOOD-1', 'Cấp giấy phép', 'STP', '2026-11-02 08:00:00', NULL, 4, '2026-11-02 08:00:00'),
 (2, 'ZERO-MONTH', 'x', 'STP', '2026-00-10 08:00:00', NULL, 4, '2026-11-02 08:10:00'),
 (3, 'ZERO-DUE', 'x', 'STP', '2026-11-02 08:00:00', '2026-00-10', 4, '2026-11-02 08:20:00'),
 (4, 'ALL-ZERO', 'x', 'STP', '0000-00-00 00:00:00', NULL, 4, '2026-11-02 08:25:00'),
 (5, 'HUGE-STATUS', 'x', 'STP', '2026-11-02 08:00:00', NULL, 18446744073709551615,
    '2026-11-02 08:30:00'),
 (6, REPEAT('x', 1048576), 'x', 'STP', '2026-11-02 08:00:00', NULL, 4, '2026-11-02 08:40:00'),
 (7, 'GOOD-2', NULL, 'STP', '2026-11-02 09:00:00', '2026-11-20', 4, '2026-11-02 09:00:00')"
            .into(),
        // The driver reads the all-zero date as NULL: a missing value.
        rejected: &[
            ("bad_time", 2),
            ("missing_value", 1),
            ("out_of_range", 1),
            ("too_long", 1),
        ],
        mend: "UPDATE hs SET tt = 4 WHERE id = 'HUGE-STATUS'",
        mended: "out_of_range",
        mended_id: "HUGE-STATUS",
    }
}

fn sqlite_case() -> Case {
    Case {
        name: "SQLite",
        database: None,
        script: "CREATE TABLE hs (n INTEGER, id TEXT, ten TEXT, dv TEXT, nhan TEXT, han TEXT,
    tt TEXT, sua TEXT);
INSERT INTO hs VALUES
 (1, 'GOOD-1', 'Cấp giấy phép', 'STP', '2026-11-02 08:00:00', NULL, 'in_progress', '2026-11-02 08:00:00'),
 (2, 'BAD-UTF8', 'x', CAST(x'53ff50' AS TEXT), '2026-11-02 08:00:00', NULL, 'in_progress',
    '2026-11-02 08:10:00'),
 (3, 'BAD-UTF8-NAME', CAST(x'c328' AS TEXT), 'STP', '2026-11-02 08:00:00', NULL, 'in_progress',
    '2026-11-02 08:20:00'),
 (4, replace(hex(zeroblob(524288)), '0', 'x'), 'x', 'STP', '2026-11-02 08:00:00', NULL,
    'in_progress', '2026-11-02 08:30:00'),
 (5, 'LONG-DEPARTMENT', 'x', replace(hex(zeroblob(60)), '0', 'D'), '2026-11-02 08:00:00', NULL,
    'in_progress', '2026-11-02 08:40:00'),
 (6, 'GOOD-2', NULL, 'STP', '2026-11-02 09:00:00', '2026-11-20', 'in_progress', '2026-11-02 09:00:00')"
            .into(),
        rejected: &[("bad_encoding", 2), ("too_long", 2)],
        mend: "UPDATE hs SET dv = 'STP' WHERE id = 'BAD-UTF8'",
        mended: "bad_encoding",
        mended_id: "BAD-UTF8",
    }
}

/// Runs `case` on its source (SQLite when `server` is none): the good rows are stored, each
/// poison row rejected with its reason and counted once however often it is read, the source
/// stays up and no poll panics. A mended row is stored and leaves the gauge of rejected rows.
async fn poison_values_are_rejected_row_by_row(
    case: Case,
    server: Option<Server>,
    postgres_store: bool,
) {
    let dir = tempfile::tempdir().unwrap();
    let source_db = match server {
        None => SourceDb::sqlite(dir.path()),
        Some(server) => SourceDb::Server(match case.database {
            Some(options) => TestDb::create_with(server, options).await,
            None => TestDb::create(server).await,
        }),
    };
    source_db.exec(&case.script).await;
    let store_db = match postgres_store {
        true => Some(TestDb::create(Server::Postgres).await),
        false => None,
    };
    let config = format!(
        "[[source]]\nname = \"poison\"\nurl = \"{}\"\nwatermark_overlap_secs = 0\n\
         query = \"\"\"\n{MATRIX_QUERY}\n\"\"\"\n",
        source_db.url()
    );
    let (poller, store, metrics) =
        poller_on(dir.path(), &config, store_db.as_ref().map(TestDb::url)).await;
    let counted = |reason: &str| {
        metrics
            .source_rows_rejected
            .with_label_values(&["poison", reason])
            .get()
    };
    let rejected_now = |reason: &str| {
        metrics
            .source_rejected_rows
            .with_label_values(&["poison", reason])
            .get()
    };
    let errors = || {
        ["connect", "query", "timeout", "columns", "store", "panic"].map(|kind| {
            metrics
                .source_poll_errors
                .with_label_values(&["poison", kind])
                .get()
        })
    };
    let total: u64 = case.rejected.iter().map(|(_, n)| n).sum();

    let first = poller
        .poll(PollMode::Incremental)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{}: the poll succeeds despite the poison rows: {e}",
                case.name
            )
        });
    assert_eq!(
        (first.rows, first.rejected),
        (2, total),
        "{}: {first:?}",
        case.name
    );
    assert_eq!(first.watermark.as_deref(), Some("2026-11-02 09:00:00"));
    for &(reason, n) in case.rejected {
        assert_eq!(counted(reason), n, "{}: {reason} counted", case.name);
        assert_eq!(
            rejected_now(reason) as u64,
            n,
            "{}: {reason} rejected now",
            case.name
        );
    }
    for id in ["GOOD-1", "GOOD-2"] {
        let stored = store.dossier("poison", id).await.unwrap();
        assert!(stored.is_some(), "{}: {id} is stored", case.name);
    }
    let stored = store.dossier("poison", case.mended_id).await.unwrap();
    assert!(
        stored.is_none(),
        "{}: {} is not stored",
        case.name,
        case.mended_id
    );
    // The megabyte id is kept, and logged, cut to 200 characters.
    let longest = longest_rejection(dir.path(), store_db.as_ref()).await;
    assert!(
        longest < 500,
        "{}: a rejection of {longest} characters",
        case.name
    );

    // Read again in full, twice: the same rows are rejected, none is counted again.
    for _ in 0..2 {
        let again = poller.poll(PollMode::Resync).await.unwrap();
        assert_eq!(
            (again.rows, again.rejected),
            (2, total),
            "{}: {again:?}",
            case.name
        );
        assert_eq!(
            again.first_rejections, 0,
            "{}: nothing new to log",
            case.name
        );
    }
    for &(reason, n) in case.rejected {
        assert_eq!(
            counted(reason),
            n,
            "{}: {reason} counted once per row",
            case.name
        );
    }

    source_db.exec(case.mend).await;
    let mended = poller.poll(PollMode::Resync).await.unwrap();
    assert_eq!(
        (mended.rows, mended.rejected),
        (3, total - 1),
        "{}: {mended:?}",
        case.name
    );
    let stored = store.dossier("poison", case.mended_id).await.unwrap();
    assert!(stored.is_some(), "{}: the mended row is stored", case.name);
    let before = case
        .rejected
        .iter()
        .find(|(r, _)| *r == case.mended)
        .unwrap()
        .1;
    assert_eq!(
        rejected_now(case.mended) as u64,
        before - 1,
        "{}",
        case.name
    );
    assert_eq!(
        counted(case.mended),
        before,
        "{}: the counter never goes back",
        case.name
    );

    let up = metrics.source_up.with_label_values(&["poison"]).get();
    assert_eq!(up, 1, "{}: the source is up", case.name);
    assert_eq!(
        errors(),
        [0; 6],
        "{}: no poll failed, none panicked",
        case.name
    );
    // For the closing note of #18.
    println!(
        "poison case {} on the {} store: rows stored {} / rejected {} ({}) / panics {}",
        case.name,
        if postgres_store {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        first.rows,
        first.rejected,
        case.rejected
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        errors()[5]
    );
    store.close().await;
}

/// The longest row key and detail of a rejection in the store (SQLite in `dir`, or `postgres`).
async fn longest_rejection(dir: &std::path::Path, postgres: Option<&TestDb>) -> i64 {
    use sqlx::Connection;
    let longest = "MAX(LENGTH(row_key) + LENGTH(detail))";
    match postgres {
        Some(db) => {
            let mut conn = sqlx::PgConnection::connect(&db.url()).await.unwrap();
            let sql = format!("SELECT COALESCE({longest}, 0)::bigint FROM rejected_rows");
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
        None => {
            let url = format!("sqlite://{}/store.db", dir.display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let sql = format!("SELECT COALESCE({longest}, 0) FROM rejected_rows");
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut conn)
                .await
                .unwrap()
        }
    }
}

#[tokio::test]
async fn undecodable_postgres_values_are_rejected_on_a_sqlite_store() {
    poison_values_are_rejected_row_by_row(postgres_case(), Some(Server::Postgres), false).await;
}

#[tokio::test]
async fn undecodable_postgres_values_are_rejected_on_a_postgres_store() {
    poison_values_are_rejected_row_by_row(postgres_case(), Some(Server::Postgres), true).await;
}

#[tokio::test]
async fn sql_ascii_bytes_are_rejected_on_a_sqlite_store() {
    poison_values_are_rejected_row_by_row(sql_ascii_case(), Some(Server::Postgres), false).await;
}

#[tokio::test]
async fn sql_ascii_bytes_are_rejected_on_a_postgres_store() {
    poison_values_are_rejected_row_by_row(sql_ascii_case(), Some(Server::Postgres), true).await;
}

#[tokio::test]
async fn undecodable_mariadb_values_are_rejected_on_a_sqlite_store() {
    poison_values_are_rejected_row_by_row(mariadb_case(), Some(Server::MySql), false).await;
}

#[tokio::test]
async fn undecodable_mariadb_values_are_rejected_on_a_postgres_store() {
    poison_values_are_rejected_row_by_row(mariadb_case(), Some(Server::MySql), true).await;
}

#[tokio::test]
async fn undecodable_sqlite_values_are_rejected_on_a_sqlite_store() {
    poison_values_are_rejected_row_by_row(sqlite_case(), None, false).await;
}

#[tokio::test]
async fn undecodable_sqlite_values_are_rejected_on_a_postgres_store() {
    poison_values_are_rejected_row_by_row(sqlite_case(), None, true).await;
}
