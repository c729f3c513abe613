//! A source query whose whole result takes longer than the statement timeout is read in keyset
//! pages, each its own statement: the first poll completes, and rows sharing one change marker
//! across a page boundary are read exactly once. On real MariaDB and PostgreSQL sources.

use hcc_monitor::source::PollMode;

use crate::helpers::app::poller;
use crate::helpers::db::{Server, TestDb};

/// Rows of the slow source: at 1 ms each (a sleep per row sent) the whole result takes 3 s,
/// three times the statement timeout; a page of 200 rows takes 0.2 s.
const ROWS: usize = 3_000;

/// A table `t` of `rows` dossiers, `D-00001`.., the n-th changed n seconds after 2026-04-01
/// 08:00, indexed on (marker, id) as a source worth paging is; `slow(x)` returns x after 1 ms.
fn schema(server: Server, rows: usize) -> String {
    match server {
        Server::MySql => format!(
            "CREATE TABLE t (code VARCHAR(20) PRIMARY KEY, dept VARCHAR(20) NOT NULL,
                received DATETIME NOT NULL, state VARCHAR(20) NOT NULL, modified DATETIME NOT NULL,
                INDEX t_modified (modified, code)) DEFAULT CHARSET = utf8mb4;
            INSERT INTO t SELECT CONCAT('D-', LPAD(seq, 5, '0')), 'SO_TU_PHAP',
                '2026-04-01 08:00:00', 'received', '2026-04-01 08:00:00' + INTERVAL seq SECOND
                FROM seq_1_to_{rows}"
        ),
        Server::Postgres => format!(
            "CREATE TABLE t (code VARCHAR(20) PRIMARY KEY, dept VARCHAR(20) NOT NULL,
                received TIMESTAMP NOT NULL, state VARCHAR(20) NOT NULL, modified TIMESTAMP NOT NULL);
            CREATE INDEX t_modified ON t (modified, code);
            INSERT INTO t SELECT 'D-' || lpad(n::text, 5, '0'), 'SO_TU_PHAP',
                '2026-04-01 08:00:00', 'received', TIMESTAMP '2026-04-01 08:00:00' + n * INTERVAL '1 second'
                FROM generate_series(1, {rows}) AS n;
            CREATE FUNCTION slow(x TEXT) RETURNS TEXT LANGUAGE plpgsql IMMUTABLE AS $$ BEGIN PERFORM pg_sleep(0.001); RETURN x; END $$"
        ),
    }
}

fn source(server: Server, url: &str, page_rows: usize) -> String {
    // The sleep sits on a column no page is ordered by, so a page only pays for its own rows.
    let department = match server {
        Server::MySql => "IF(SLEEP(0.001) = 0, dept, dept)",
        Server::Postgres => "slow(dept)",
    };
    format!(
        r#"[[source]]
name = "big"
url = "{url}"
watermark_overlap_secs = 0
timeout_secs = 2
statement_timeout_secs = 1
page_rows = {page_rows}
batch_rows = 500
query = """
SELECT code AS dossier_id, 'P1' AS procedure_code, {department} AS department,
       received AS received_at, state AS status, modified AS updated_at
FROM t WHERE modified >= :watermark
"""
"#
    )
}

async fn stored(store: &hcc_monitor::store::Store) -> i64 {
    let counts = store.count_by_status().await.unwrap();
    counts.iter().map(|c| c.count).sum()
}

async fn a_result_longer_than_the_statement_timeout_is_read_in_pages(server: Server) {
    let db = TestDb::create(server).await;
    db.exec(&schema(server, ROWS)).await;
    let dir = tempfile::tempdir().unwrap();

    // The premise: read in one statement, the result outlasts the statement timeout.
    let (unpaged, _, _) = poller(dir.path(), &source(server, &db.url(), ROWS)).await;
    let error = unpaged
        .poll(PollMode::Incremental)
        .await
        .expect_err("one statement for every row is too slow");
    assert_eq!(error.kind(), "timeout", "{error}");
    unpaged.close().await;

    let dir = tempfile::tempdir().unwrap();
    let (poller, store, _) = poller(dir.path(), &source(server, &db.url(), 200)).await;
    let first = poller
        .poll(PollMode::Incremental)
        .await
        .expect("the first poll completes page by page");
    assert_eq!(first.rows, ROWS as u64);
    assert_eq!(stored(&store).await, ROWS as i64);
    // The last row: 3,000 s after 08:00.
    assert_eq!(first.watermark.as_deref(), Some("2026-04-01 08:50:00"));
    assert_eq!(
        store.watermark("big").await.unwrap().as_deref(),
        Some("2026-04-01 08:50:00")
    );

    // Later polls move on: only the row at the watermark and the one changed since.
    db.exec("UPDATE t SET state = 'in_progress', modified = '2026-04-02 09:00:00' WHERE code = 'D-00007'")
        .await;
    let second = poller.poll(PollMode::Incremental).await.unwrap();
    assert_eq!(second.rows, 2);
    assert_eq!(second.watermark.as_deref(), Some("2026-04-02 09:00:00"));
    // The nightly resync reads every row again, page by page, through the same timeout.
    let resync = poller
        .poll(PollMode::Resync)
        .await
        .expect("the resync pages too");
    assert_eq!(resync.rows, ROWS as u64);
    assert_eq!(resync.vanished, 0);
}

#[tokio::test]
async fn a_mariadb_result_longer_than_the_statement_timeout_is_read_in_pages() {
    a_result_longer_than_the_statement_timeout_is_read_in_pages(Server::MySql).await;
}

#[tokio::test]
async fn a_postgres_result_longer_than_the_statement_timeout_is_read_in_pages() {
    a_result_longer_than_the_statement_timeout_is_read_in_pages(Server::Postgres).await;
}

async fn rows_sharing_a_marker_across_pages_are_read_once(server: Server) {
    let db = TestDb::create(server).await;
    db.exec(&schema(server, 10)).await;
    // Seven of the ten changed in one bulk update at one instant: pages of three split them.
    db.exec(
        "UPDATE t SET modified = '2026-04-03 10:00:00' WHERE code BETWEEN 'D-00002' AND 'D-00008'",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (poller, store, _) = poller(dir.path(), &source(server, &db.url(), 3)).await;
    let first = poller.poll(PollMode::Incremental).await.unwrap();
    assert_eq!(first.rows, 10, "each row read once, none lost");
    assert_eq!(stored(&store).await, 10);
    assert_eq!(first.watermark.as_deref(), Some("2026-04-03 10:00:00"));
    for n in 1..=10 {
        let id = format!("D-{n:05}");
        assert!(store.dossier("big", &id).await.unwrap().is_some(), "{id}");
    }
}

#[tokio::test]
async fn mariadb_rows_sharing_a_marker_across_pages_are_read_once() {
    rows_sharing_a_marker_across_pages_are_read_once(Server::MySql).await;
}

#[tokio::test]
async fn postgres_rows_sharing_a_marker_across_pages_are_read_once() {
    rows_sharing_a_marker_across_pages_are_read_once(Server::Postgres).await;
}
