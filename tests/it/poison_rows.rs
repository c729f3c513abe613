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

/// A source database of `server` (SQLite in `dir` when none) holding `TABLE` and `ROWS`; returns
/// its URL and a way to run more SQL in it.
enum SourceDb {
    Sqlite(String),
    Postgres(TestDb),
}

impl SourceDb {
    async fn create(dir: &std::path::Path, server: Option<Server>) -> SourceDb {
        let db = match server {
            None => SourceDb::Sqlite(format!("sqlite://{}/source.db", dir.display())),
            Some(server) => SourceDb::Postgres(TestDb::create(server).await),
        };
        db.exec(&format!("{TABLE};\n{ROWS}")).await;
        db
    }

    fn url(&self) -> String {
        match self {
            SourceDb::Sqlite(url) => url.clone(),
            SourceDb::Postgres(db) => db.url(),
        }
    }

    async fn exec(&self, script: &str) {
        match self {
            SourceDb::Sqlite(url) => sqlite_exec(&format!("{url}?mode=rwc"), script).await,
            SourceDb::Postgres(db) => db.exec(script).await,
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
    assert_eq!(
        tie.department, "Y",
        "of equal changes, the last read is kept"
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
