//! Reloading the config while the service runs, as `systemctl reload` (SIGHUP) or an operator's
//! `curl -X POST /-/reload` does: sources come and go, a broken file is refused whole while the
//! old config keeps running, and the outbox goes through untouched and sent once.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use hcc_monitor::config::Config;
use sqlx::{AssertSqlSafe, Connection, Executor};

use crate::helpers::app::{TestApp, http_call, http_get, metric_value};
use crate::helpers::eventually;
use crate::helpers::smtp::{SmtpServer, delivered_ids, free_port, mail, queued_email};

/// A SQLite source database `name`.db in `dir` holding `ids`, and its `[[source]]` section.
async fn source(dir: &Path, name: &str, ids: &[&str]) -> String {
    let path = dir.join(format!("{name}.db"));
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
    conn.execute(
        "CREATE TABLE IF NOT EXISTS hs (ma TEXT PRIMARY KEY, tt TEXT, dv TEXT, nhan TEXT, sua TEXT)",
    )
    .await
    .unwrap();
    for id in ids {
        let row = format!(
            "INSERT INTO hs VALUES ('{id}', '1.001', 'SO_TP', '2026-12-01 08:00:00', '2026-12-01 08:00:00')"
        );
        conn.execute(AssertSqlSafe(row)).await.unwrap();
    }
    format!(
        r#"
[[source]]
name = "{name}"
url = "sqlite://{}"
schedule = "* * * * * *"
query = """SELECT ma AS dossier_id, tt AS procedure_code, dv AS department, nhan AS received_at,
  'XL' AS status, sua AS updated_at FROM hs WHERE sua >= :watermark"""
[source.status_map]
XL = "in_progress"
"#,
        path.display()
    )
}

fn write_config(path: &Path, dir: &Path, listen: &str, sections: &[&str]) {
    let text = format!(
        "[service]\nlisten = \"{listen}\"\nevaluate_schedule = \"* * * * * *\"\n\
         [store]\nurl = \"sqlite://{}/store.db\"\n{}",
        dir.display(),
        sections.concat()
    );
    std::fs::write(path, text).unwrap();
}

async fn pending(app: &TestApp) -> i64 {
    let counts = app.store.outbox_counts().await.unwrap();
    counts
        .iter()
        .filter(|(_, state, _)| state == "pending")
        .map(|(_, _, n)| n)
        .sum()
}

async fn reload(app: &TestApp) -> (u16, String) {
    http_call(app.addr, "POST", "/-/reload", None).await
}

#[tokio::test]
async fn a_reload_swaps_sources_refuses_a_broken_file_and_keeps_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hcc.toml");
    let a = source(dir.path(), "a", &["A-1"]).await;
    let b = source(dir.path(), "b", &["B-1"]).await;
    let c = source(dir.path(), "c", &["C-1", "C-2"]).await;
    // Nothing listens on the SMTP port yet: the emails wait in the outbox.
    let down = mail(free_port());
    write_config(&path, dir.path(), "127.0.0.1:0", &[&a, &b, &down]);
    let config = Config::load(&path).unwrap();
    let app = TestApp::start(
        config,
        std::sync::Arc::new(hcc_monitor::clock::SystemClock),
        None,
    )
    .await;
    let queued = ["m1", "m2", "m3"].map(|id| queued_email(id, "giam-doc@example.gov.vn"));
    app.store.enqueue(&queued, Utc::now()).await.unwrap();
    eventually("both sources polled", Duration::from_secs(20), || async {
        app.metric(r#"hcc_source_up{source="a"}"#).await == Some(1.0)
            && app.metric(r#"hcc_source_up{source="b"}"#).await == Some(1.0)
    })
    .await;
    let started = app
        .metric("hcc_config_last_reload_success_timestamp_seconds")
        .await
        .expect("exported from the start");
    assert_eq!(
        app.metric("hcc_config_last_reload_successful").await,
        Some(1.0)
    );

    // b goes, c comes; the mail server is still down.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    write_config(&path, dir.path(), "127.0.0.1:0", &[&a, &c, &down]);
    let (status, body) = reload(&app).await;
    assert_eq!((status, body.as_str()), (200, "config reloaded\n"));
    eventually(
        "the new source is polled",
        Duration::from_secs(10),
        || async { app.metric(r#"hcc_source_up{source="c"}"#).await == Some(1.0) },
    )
    .await;
    assert!(app.store.dossier("c", "C-2").await.unwrap().is_some());
    let (_, exposition) = app.get("/metrics").await;
    assert!(
        !exposition.contains(r#"source="b""#),
        "the removed source's series are gone:\n{exposition}"
    );
    assert_eq!(
        metric_value(&exposition, r#"hcc_source_up{source="a"}"#),
        Some(1.0)
    );
    let reloaded = metric_value(
        &exposition,
        "hcc_config_last_reload_success_timestamp_seconds",
    )
    .unwrap();
    assert!(reloaded > started, "{reloaded} > {started}");
    assert_eq!(pending(&app).await, 3, "the outbox is untouched");

    // A broken file is refused whole, with every problem named; the running config stays.
    std::fs::write(
        &path,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace("schedule = \"* * * * * *\"", "schedule = \"every minute\"")
            + "\n[service2]\n",
    )
    .unwrap();
    let (status, body) = reload(&app).await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("the running config is kept"), "{body}");
    assert!(body.contains("source[0].schedule"), "{body}");
    assert!(body.contains("source[1].schedule"), "{body}");
    assert_eq!(
        app.metric("hcc_config_last_reload_successful").await,
        Some(0.0)
    );
    assert_eq!(
        app.metric("hcc_config_last_reload_success_timestamp_seconds")
            .await,
        Some(reloaded)
    );
    let polls = r#"hcc_job_runs_total{result="ok",task="poll:c"}"#;
    let before = app.metric(polls).await.unwrap_or(0.0);
    eventually(
        "the running config still polls",
        Duration::from_secs(10),
        || async { app.metric(polls).await.unwrap_or(0.0) > before },
    )
    .await;

    // The mail server comes up on another port: a reload points the mailer at it, and each
    // email goes exactly once.
    let maildir = dir.path().join("maildir");
    let smtp = SmtpServer::start(free_port(), &maildir).await;
    write_config(
        &path,
        dir.path(),
        "127.0.0.1:0",
        &[&a, &c, &mail(smtp.port)],
    );
    let (status, body) = reload(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.metric("hcc_config_last_reload_successful").await,
        Some(1.0)
    );
    let ids = delivered_ids(&maildir, 3).await;
    assert_eq!(
        ids,
        [
            "<m1@hcc-monitor.test>",
            "<m2@hcc-monitor.test>",
            "<m3@hcc-monitor.test>"
        ]
    );
    assert_eq!(pending(&app).await, 0);
    app.stop().await;
}

#[test]
fn sighup_reloads_the_running_binary_and_a_new_listen_address_waits_for_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hcc.toml");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    write_config(&path, dir.path(), &listen, &[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_hcc-monitor"))
        .args(["run", "--config", path.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let addr = listen.parse().unwrap();
    let metric = |series: &str| {
        rt.block_on(async { metric_value(&http_get(addr, "/metrics", None).await.1, series) })
    };
    let up = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        std::net::TcpStream::connect(addr).is_ok()
    });
    assert!(up, "the service listens");
    assert_eq!(metric("hcc_config_last_reload_successful"), Some(1.0));

    let hup = |child: &std::process::Child| {
        let sent = Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    // A broken file: refused, the process lives on.
    std::fs::write(&path, "[service]\nlisten = 12\n").unwrap();
    hup(&child);
    let refused = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        metric("hcc_config_last_reload_successful") == Some(0.0)
    });
    assert!(
        refused,
        "a refused reload shows as hcc_config_last_reload_successful 0"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "SIGHUP does not end the process"
    );

    // A valid file that moves the listener: taken, but the address stays until a restart.
    write_config(
        &path,
        dir.path(),
        &format!("127.0.0.1:{}", free_port()),
        &[],
    );
    hup(&child);
    let taken = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        metric("hcc_config_last_reload_successful") == Some(1.0)
    });
    assert!(taken, "the valid config is taken on the same address");

    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("config reload refused"), "{log}");
    assert!(log.contains("service.listen"), "{log}");
    assert!(log.contains("changes only with a restart"), "{log}");
    assert!(log.contains("config reloaded"), "{log}");
}

#[tokio::test]
async fn a_reload_replaces_the_bearer_token_and_the_old_one_no_longer_admits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hcc.toml");
    let (old, new) = ("the-token-before-rotation", "the-token-after-rotation!");
    // The token is rotated as a secret file is: the file changes, then a reload reads it.
    let secret = dir.path().join("token");
    std::fs::write(&secret, format!("{old}\n")).unwrap();
    write_config(&path, dir.path(), "127.0.0.1:0", &[]);
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "[service]\n",
        &format!("[service]\nbearer_token_file = \"{}\"\n", secret.display()),
        1,
    );
    std::fs::write(&path, text).unwrap();
    let app = TestApp::start(
        Config::load(&path).unwrap(),
        std::sync::Arc::new(hcc_monitor::clock::SystemClock),
        None,
    )
    .await;
    assert_eq!(http_get(app.addr, "/metrics", Some(old)).await.0, 200);
    std::fs::write(&secret, format!("{new}\n")).unwrap();
    let (status, body) = http_call(app.addr, "POST", "/-/reload", Some(old)).await;
    assert_eq!((status, body.as_str()), (200, "config reloaded\n"));
    assert_eq!(http_get(app.addr, "/metrics", Some(old)).await.0, 401);
    assert_eq!(http_get(app.addr, "/metrics", Some(new)).await.0, 200);
    app.stop().await;
}
