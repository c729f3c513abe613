//! The store's connections kept apart: a source stuck in a store write leaves the other sources,
//! the evaluation and the HTTP API theirs, and a slow or failing store is never reported as a
//! source that is down.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hcc_monitor::clock::SystemClock;
use hcc_monitor::config::Config;
use hcc_monitor::source::PollMode;
use sqlx::{Connection, Executor};

use crate::helpers::app::{TestApp, poller};
use crate::helpers::db::{Server, TestDb, sqlite_exec};
use crate::helpers::eventually;

/// A SQLite source file in `dir` with one dossier, and its `[[source]]` section polled every
/// second.
async fn source(dir: &Path, name: &str) -> (String, String) {
    let url = format!("sqlite://{}/{name}.db", dir.display());
    sqlite_exec(
        &format!("{url}?mode=rwc"),
        &format!(
            "CREATE TABLE hs (id TEXT PRIMARY KEY, tt TEXT, dv TEXT, nhan TEXT, trang_thai INT,
                sua TEXT);\n\
             INSERT INTO hs VALUES ('{name}-1', 'P1', 'SO_TU_PHAP', '2026-05-04 08:00:00', 4,
                '2026-05-04 08:00:00');\n"
        ),
    )
    .await;
    let section = format!(
        r#"[[source]]
name = "{name}"
url = "{url}"
schedule = "* * * * * *"
query = "SELECT id AS dossier_id, tt AS procedure_code, dv AS department, nhan AS received_at, trang_thai AS status, sua AS updated_at FROM hs WHERE sua >= :watermark"
"#
    );
    (url, section)
}

fn series(metric: &str, source: &str) -> String {
    format!("{metric}{{source=\"{source}\"}}")
}

#[tokio::test]
async fn a_source_stuck_in_a_store_write_leaves_other_sources_and_the_api_their_connections() {
    let dir = tempfile::tempdir().unwrap();
    let store_db = TestDb::create(Server::Postgres).await;
    let (stuck_url, stuck) = source(dir.path(), "stuck").await;
    let (healthy_url, healthy) = source(dir.path(), "healthy").await;
    // One connection for the service: if polls could take it, the API would wait behind them.
    let text = format!(
        "[service]\nlisten = \"127.0.0.1:0\"\nevaluate_schedule = \"* * * * * *\"\n\
         [store]\nurl = \"{}\"\nmax_connections = 1\nsource_connections = 2\n{stuck}{healthy}",
        store_db.url()
    );
    let config = Config::parse(Path::new("test.toml"), &text, |_| None).unwrap();
    let app = TestApp::start(config, Arc::new(SystemClock), Some(dir)).await;
    let polls = |name| series("hcc_source_poll_duration_seconds_count", name);
    eventually("both sources polled", Duration::from_secs(15), || async {
        app.metric(&polls("stuck")).await >= Some(1.0)
            && app.metric(&polls("healthy")).await >= Some(1.0)
    })
    .await;

    // Hold the stuck source's watermark row, then give it a newer row: its next poll blocks
    // inside its store transaction, holding a store connection, until we let go.
    let mut lock = sqlx::PgConnection::connect(&store_db.url()).await.unwrap();
    lock.execute("BEGIN").await.unwrap();
    lock.execute("SELECT value FROM watermarks WHERE source = 'stuck' FOR UPDATE")
        .await
        .unwrap();
    sqlite_exec(
        &stuck_url,
        "UPDATE hs SET sua = '2026-05-04 09:00:00', trang_thai = 5;\n",
    )
    .await;
    let blocked = format!(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = '{}' AND wait_event_type = 'Lock'",
        store_db.name
    );
    let watch = sqlx::PgPool::connect(&store_db.url()).await.unwrap();
    eventually(
        "the stuck source waits on its lock",
        Duration::from_secs(15),
        || async {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(blocked.clone()))
                .fetch_one(&watch)
                .await
                .unwrap();
            n > 0
        },
    )
    .await;
    let stuck_polls = app.metric(&polls("stuck")).await;

    // While it is stuck: the healthy source keeps polling and storing new rows, the API
    // answers at once, and neither source is reported down.
    let healthy_polls = app.metric(&polls("healthy")).await.unwrap();
    sqlite_exec(
        &healthy_url,
        "INSERT INTO hs VALUES ('healthy-2', 'P1', 'SO_TU_PHAP', '2026-05-04 09:00:00', 4,
            '2026-05-04 09:00:00');\n",
    )
    .await;
    let until = Instant::now() + Duration::from_secs(4);
    let mut slowest = Duration::ZERO;
    while Instant::now() < until {
        let started = Instant::now();
        let (status, body) = app.get("/api/v1/summary").await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(status, 200, "{body}");
        for name in ["healthy", "stuck"] {
            assert_eq!(
                app.metric(&series("hcc_source_up", name)).await,
                Some(1.0),
                "{name} reported down while only the store was held"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        slowest < Duration::from_secs(1),
        "the API waited {slowest:?} behind a stuck poll"
    );
    assert!(
        app.metric(&polls("healthy")).await.unwrap() >= healthy_polls + 2.0,
        "the healthy source stopped polling while another one was stuck in the store"
    );
    assert!(
        app.store
            .dossier("healthy", "healthy-2")
            .await
            .unwrap()
            .is_some(),
        "the healthy source's new row was not stored"
    );
    assert_eq!(
        app.metric(&polls("stuck")).await,
        stuck_polls,
        "the stuck source's poll ended while its store write was held"
    );
    let waited = app
        .metric(&series("hcc_store_wait_seconds_count", "healthy"))
        .await;
    assert!(waited >= Some(1.0), "store waits are measured: {waited:?}");

    // Let go: the stuck poll finishes and its row arrives.
    lock.execute("ROLLBACK").await.unwrap();
    eventually(
        "the stuck source's row stored",
        Duration::from_secs(15),
        || async {
            app.store
                .dossier("stuck", "stuck-1")
                .await
                .unwrap()
                .is_some_and(|d| d.dossier.raw_status == "5")
        },
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_store_that_fails_is_a_store_error_and_leaves_the_source_up() {
    let dir = tempfile::tempdir().unwrap();
    let (_, section) = source(dir.path(), "centre").await;
    let (poller, store, metrics) = poller(dir.path(), &section).await;
    poller.poll(PollMode::Incremental).await.unwrap();
    let up = || metrics.source_up.with_label_values(&["centre"]).get();
    assert_eq!(up(), 1);

    store.close().await;
    let err = poller.poll(PollMode::Incremental).await.unwrap_err();
    assert_eq!(err.kind(), "store", "{err}");
    assert_eq!(
        up(),
        1,
        "a store failure was reported as the source being down"
    );
    let store_errors = metrics
        .source_poll_errors
        .with_label_values(&["centre", "store"])
        .get();
    assert_eq!(store_errors, 1);
}

/// Dossiers of `source` in the store, as the API counts them.
async fn stored(app: &TestApp, source: &str) -> u64 {
    let (_, body) = app
        .get(&format!("/api/v1/dossiers?source={source}&limit=1"))
        .await;
    serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["total"].as_u64())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_long_sync_into_sqlite_lets_another_source_commit_and_readers_never_wait() {
    const ROWS: u64 = 60_000;
    let dir = tempfile::tempdir().unwrap();
    let (small_url, small) = source(dir.path(), "small").await;
    let (bulk_url, bulk) = source(dir.path(), "bulk").await;
    // One read batch for the whole sync: before its writes were bounded, it was one
    // transaction holding SQLite's only write lock for as long as it wrote.
    sqlite_exec(
        &bulk_url,
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})
             INSERT INTO hs SELECT 'bulk-' || i, 'P1', 'SO_TU_PHAP', '2026-05-04 08:00:00', 4,
                '2026-05-04 08:00:00' FROM n;\n"
        ),
    )
    .await;
    let bulk = bulk.replace("schedule = ", "batch_rows = 100000\nschedule = ");
    let text = format!(
        "[service]\nlisten = \"127.0.0.1:0\"\n[store]\nurl = \"sqlite://{}/store.db\"\n{small}{bulk}",
        dir.path().display()
    );
    let config = Config::parse(Path::new("test.toml"), &text, |_| None).unwrap();
    let app = TestApp::start(config, Arc::new(SystemClock), Some(dir)).await;
    eventually(
        "the bulk sync under way",
        Duration::from_secs(60),
        || async { stored(&app, "bulk").await > 0 },
    )
    .await;

    sqlite_exec(
        &small_url,
        "INSERT INTO hs VALUES ('small-2', 'P1', 'SO_TU_PHAP', '2026-05-04 09:00:00', 4,
            '2026-05-04 09:00:00');\n",
    )
    .await;
    let written = Instant::now();
    let mut small_stored = None;
    let mut slowest_read = Duration::ZERO;
    let mut reads = 0;
    loop {
        // A read by key costs next to nothing, so its time is the time it waited.
        let started = Instant::now();
        let read = app.store.dossier("small", "small-1").await.unwrap();
        slowest_read = slowest_read.max(started.elapsed());
        assert!(read.is_some());
        reads += 1;
        let bulk_stored = stored(&app, "bulk").await;
        if small_stored.is_none()
            && app
                .store
                .dossier("small", "small-2")
                .await
                .unwrap()
                .is_some()
        {
            small_stored = Some((written.elapsed(), bulk_stored));
        }
        assert_eq!(
            app.metric(&series("hcc_source_up", "small")).await,
            Some(1.0)
        );
        if bulk_stored == ROWS {
            break;
        }
        assert!(
            written.elapsed() < Duration::from_secs(120),
            "the sync ends"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let synced = written.elapsed();
    let (after, bulk_then) = small_stored.expect("the small source's row stored");
    eprintln!(
        "{ROWS}-row sync: small source's row stored {after:?} after it was written, with \
         {bulk_then} bulk rows in; slowest of {reads} reads by key during the sync {slowest_read:?}; \
         sync ended {synced:?} after the row was written"
    );
    assert!(
        bulk_then < ROWS,
        "the small source's row went in only once the sync had ended"
    );
    assert!(after < Duration::from_secs(3), "{after:?}");
    assert!(
        slowest_read < Duration::from_millis(250),
        "a read waited {slowest_read:?} behind the sync's writes"
    );
    let store_errors = app
        .metric("hcc_source_poll_errors_total{kind=\"store\",source=\"small\"}")
        .await;
    assert_eq!(store_errors, Some(0.0));
    app.stop().await;
}
