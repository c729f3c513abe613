//! Sources that go down, come back or hang, with the service running: nothing else waits, and
//! nothing is lost.

use std::time::Duration;

use crate::helpers::app::TestApp;
use crate::helpers::db::{Server, TestDb, server_addr};
use crate::helpers::eventually;
use crate::helpers::proxy::Proxy;

const SCHEMA: &str = "CREATE TABLE hs (id text PRIMARY KEY, tt text, dv text, nhan timestamp,
    trang_thai int, sua timestamp);
INSERT INTO hs VALUES ('A-1', 'P1', 'SO_TU_PHAP', '2026-05-04 08:00', 4, '2026-05-04 08:00')";

fn source(name: &str, url: &str, extra: &str) -> String {
    format!(
        r#"[[source]]
name = "{name}"
url = "{url}"
schedule = "* * * * * *"
connect_timeout_secs = 1
{extra}
query = "SELECT id AS dossier_id, tt AS procedure_code, dv AS department, nhan AS received_at, trang_thai AS status, sua AS updated_at FROM hs WHERE sua >= :watermark"
"#
    )
}

#[tokio::test]
async fn a_source_that_goes_down_is_reported_down_and_recovers_by_itself_without_losing_rows() {
    let db = TestDb::create(Server::Postgres).await;
    db.exec(SCHEMA).await;
    let proxy = Proxy::start(server_addr(Server::Postgres)).await;
    let url = format!("postgres://postgres@{}/{}", proxy.addr, db.name);
    let app = TestApp::spawn(&source("centre", &url, "")).await;
    let up = r#"hcc_source_up{source="centre"}"#;

    eventually("source up", Duration::from_secs(10), || async {
        app.metric(up).await == Some(1.0)
    })
    .await;

    proxy.stop().await;
    eventually("source down", Duration::from_secs(10), || async {
        app.metric(up).await == Some(0.0)
    })
    .await;
    let errors = app
        .metric(r#"hcc_source_poll_errors_total{kind="connect",source="centre"}"#)
        .await
        .unwrap();
    assert!(errors >= 1.0);
    assert_eq!(
        app.get("/healthz").await.0,
        200,
        "the service keeps answering"
    );
    assert_eq!(
        app.get("/readyz").await.0,
        200,
        "a source outage is not a store outage"
    );

    // A dossier arrives while the monitor cannot see the database.
    db.exec("INSERT INTO hs VALUES ('A-2', 'P1', 'SO_TU_PHAP', '2026-05-04 09:00', 4, '2026-05-04 09:00')")
        .await;
    proxy.resume().await;
    eventually("source back up", Duration::from_secs(10), || async {
        app.metric(up).await == Some(1.0)
    })
    .await;
    eventually(
        "the row written during the outage is stored",
        Duration::from_secs(5),
        || async { app.store.dossier("centre", "A-2").await.unwrap().is_some() },
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_hanging_source_holds_up_neither_other_sources_nor_the_http_server() {
    let slow = TestDb::create(Server::Postgres).await;
    slow.exec(SCHEMA).await;
    let fast = TestDb::create(Server::Postgres).await;
    fast.exec(SCHEMA).await;
    let hanging = source(
        "hanging",
        &slow.url(),
        "timeout_secs = 30\nstatement_timeout_secs = 30",
    )
    .replace("FROM hs WHERE", "FROM hs, pg_sleep(20) WHERE");
    let app = TestApp::spawn(&format!("{hanging}\n{}", source("fast", &fast.url(), ""))).await;

    eventually(
        "the fast source is polled",
        Duration::from_secs(10),
        || async { app.metric(r#"hcc_source_up{source="fast"}"#).await == Some(1.0) },
    )
    .await;
    // The fast source goes on being polled every second while the other hangs.
    fast.exec("INSERT INTO hs VALUES ('B-1', 'P1', 'SO_TU_PHAP', '2026-05-04 09:00', 4, '2026-05-05 09:00')")
        .await;
    eventually(
        "a new fast row arrives",
        Duration::from_secs(10),
        || async { app.store.dossier("fast", "B-1").await.unwrap().is_some() },
    )
    .await;
    let started = std::time::Instant::now();
    assert_eq!(app.get("/metrics").await.0, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "/metrics answers at once"
    );
    assert_eq!(
        app.metric(r#"hcc_source_up{source="hanging"}"#).await,
        Some(0.0)
    );
    let skipped = app
        .metric(r#"hcc_job_skipped_total{task="poll:hanging"}"#)
        .await
        .unwrap_or(0.0);
    assert!(
        skipped >= 1.0,
        "firings while the hanging poll runs are skipped"
    );
    // Shutdown abandons the hanging read instead of waiting out its 20 s.
    let stopping = std::time::Instant::now();
    app.stop().await;
    assert!(stopping.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_second_service_on_the_same_sqlite_store_refuses_to_start_until_the_first_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = TestApp::start(
        crate::helpers::app::config(dir.path(), ""),
        std::sync::Arc::new(hcc_monitor::clock::SystemClock),
        None,
    )
    .await;
    let err = match hcc_monitor::app::Application::build(
        crate::helpers::app::config(dir.path(), ""),
        std::sync::Arc::new(hcc_monitor::clock::SystemClock),
    )
    .await
    {
        Ok(_) => panic!("a second instance started on a SQLite store in use"),
        Err(err) => err.to_string(),
    };
    assert!(
        err.contains("another hcc-monitor process holds the SQLite store")
            && err.contains("store.db.lock"),
        "{err}"
    );
    first.stop().await;
    let second = TestApp::start(
        crate::helpers::app::config(dir.path(), ""),
        std::sync::Arc::new(hcc_monitor::clock::SystemClock),
        None,
    )
    .await;
    second.stop().await;
}
