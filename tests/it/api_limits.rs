//! The JSON API under load: a burst is answered 503 with Retry-After instead of taking the
//! store's connections from the polls, and at shutdown a read in flight is abandoned at once.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hcc_monitor::clock::SystemClock;
use hcc_monitor::config::Config;
use sqlx::{Connection, Executor};

use crate::helpers::app::{TestApp, http_response};
use crate::helpers::db::{Server, TestDb, sqlite_exec};
use crate::helpers::eventually;

/// A SQLite source in `dir` with `rows` open dossiers, all overdue, polled every second.
async fn source(dir: &Path, name: &str, rows: usize) -> (String, String) {
    let url = format!("sqlite://{}/{name}.db", dir.display());
    sqlite_exec(
        &format!("{url}?mode=rwc"),
        &format!(
            "CREATE TABLE hs (id TEXT PRIMARY KEY, p TEXT, d TEXT, r TEXT, due TEXT, st TEXT,
                u TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
             INSERT INTO hs SELECT '{name}-' || i, 'P1', 'SO_TU_PHAP', '2026-05-04 08:00:00',
                '2026-05-20 17:00:00', 'in_progress', '2026-05-04 08:00:00' FROM n;\n"
        ),
    )
    .await;
    let section = format!(
        r#"[[source]]
name = "{name}"
url = "{url}"
schedule = "* * * * * *"
query = "SELECT id AS dossier_id, p AS procedure_code, d AS department, r AS received_at, due AS due_at, st AS status, u AS updated_at FROM hs WHERE u >= :watermark"
"#
    );
    (url, section)
}

fn parse(text: &str) -> Config {
    Config::parse(Path::new("test.toml"), text, |_| None).unwrap()
}

#[tokio::test]
async fn a_burst_of_api_requests_gets_503_with_retry_after_while_a_source_poll_completes() {
    let dir = tempfile::tempdir().unwrap();
    let (_, big) = source(dir.path(), "big", 20_000).await;
    let (small_url, small) = source(dir.path(), "small", 1).await;
    // Two service connections: one for the API, one kept for the evaluation and the outbox.
    let text = format!(
        "[service]\nlisten = \"127.0.0.1:0\"\nevaluate_schedule = \"*/5 * * * * *\"\n\
         [store]\nurl = \"sqlite://{}/store.db\"\nmax_connections = 2\n{big}{small}",
        dir.path().display()
    );
    let app = TestApp::start(parse(&text), Arc::new(SystemClock), Some(dir)).await;
    eventually("both sources stored", Duration::from_secs(60), || async {
        app.get("/api/v1/dossiers?limit=1")
            .await
            .1
            .contains("\"total\":20001")
    })
    .await;

    // Each request evaluates every open dossier (a filter on the state), so a wave of them
    // overlaps; they run until the small source's next row is in the store.
    let bursting = Arc::new(AtomicBool::new(true));
    let addr = app.addr;
    let burst = tokio::spawn({
        let bursting = bursting.clone();
        async move {
            let mut answers = Vec::new();
            while bursting.load(Ordering::Relaxed) {
                let wave = (0..24).map(|_| {
                    http_response(addr, "GET", "/api/v1/dossiers?sla_state=overdue", None)
                });
                answers.extend(futures::future::join_all(wave).await);
            }
            answers
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlite_exec(
        &small_url,
        "INSERT INTO hs VALUES ('small-new', 'P1', 'SO_TU_PHAP', '2026-12-01 08:00:00',
            '2026-12-31 17:00:00', 'in_progress', datetime('now'));\n",
    )
    .await;
    let started = Instant::now();
    eventually(
        "the small source's new row stored",
        Duration::from_secs(10),
        || async {
            app.store
                .dossier("small", "small-new")
                .await
                .unwrap()
                .is_some()
        },
    )
    .await;
    let stored_after = started.elapsed();
    bursting.store(false, Ordering::Relaxed);
    let answers = burst.await.unwrap();

    let refused: Vec<&(u16, String, String)> = answers
        .iter()
        .filter(|(status, ..)| *status == 503)
        .collect();
    let served = answers.iter().filter(|(status, ..)| *status == 200).count();
    assert_eq!(
        refused.len() + served,
        answers.len(),
        "only 200 and 503: {:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    assert!(
        !refused.is_empty() && served > 0,
        "{served} served, {} refused",
        refused.len()
    );
    for (_, head, _) in &refused {
        assert!(
            head.to_ascii_lowercase().contains("\r\nretry-after: 1\r\n"),
            "{head}"
        );
    }
    assert_eq!(
        app.metric("hcc_api_requests_rejected_total").await,
        Some(refused.len() as f64)
    );
    for source in ["big", "small"] {
        assert_eq!(
            app.metric(&format!("hcc_source_up{{source=\"{source}\"}}"))
                .await,
            Some(1.0)
        );
    }
    eprintln!(
        "burst: {} requests, {served} served, {} refused; the new row was stored {stored_after:?} \
         after it was written",
        answers.len(),
        refused.len()
    );
    app.stop().await;
}

#[tokio::test]
async fn at_shutdown_a_read_in_flight_is_abandoned_at_once_not_awaited_for_the_grace() {
    let dir = tempfile::tempdir().unwrap();
    let store_db = TestDb::create(Server::Postgres).await;
    let (_, one) = source(dir.path(), "one", 3).await;
    let text = format!(
        "[service]\nlisten = \"127.0.0.1:0\"\nshutdown_grace_secs = 20\n\
         [store]\nurl = \"{}\"\n{one}",
        store_db.url()
    );
    let app = TestApp::start(parse(&text), Arc::new(SystemClock), Some(dir)).await;
    eventually("polled", Duration::from_secs(15), || async {
        app.get("/api/v1/dossiers").await.1.contains("\"total\":3")
    })
    .await;

    // A lock on the table makes every read of it wait, as a store at its limit would.
    let mut lock = sqlx::PgConnection::connect(&store_db.url()).await.unwrap();
    lock.execute("BEGIN").await.unwrap();
    lock.execute("LOCK TABLE dossiers IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let addr = app.addr;
    let read =
        tokio::spawn(async move { http_response(addr, "GET", "/api/v1/dossiers", None).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!read.is_finished(), "the read waits on the lock");

    let stopping = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), app.stop())
        .await
        .expect("stopped well within the 20 s grace");
    let stopped_in = stopping.elapsed();
    let (status, _, body) = read.await.unwrap();
    assert_eq!((status, body.as_str()), (503, "shutting down\n"));
    eprintln!("stopped in {stopped_in:?} with a read in flight");
    lock.execute("ROLLBACK").await.unwrap();
}
