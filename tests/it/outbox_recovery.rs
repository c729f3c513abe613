//! Dead email is not lost for good: a relay that answers 500 to everything is recognised as a
//! server fault (no email dies at its first refusal), and once it is fixed, `hcc-monitor outbox
//! retry` sends what died, each once, with its original Message-ID; `discard` takes one out.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hcc_monitor::clock::SystemClock;
use hcc_monitor::config::Config;
use serde_json::Value;

use crate::helpers::app::{TestApp, http_call};
use crate::helpers::eventually;
use crate::helpers::smtp::{SmtpServer, delivered_ids, free_port, mail, messages, queued_email};

fn outbox(config: &std::path::Path, args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hcc-monitor"))
        .arg("outbox")
        .args(args)
        .args(["--config", config.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .output()
        .expect("the binary runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(out.status.success(), "{}", text(&out.stderr));
    (text(&out.stdout), text(&out.stderr))
}

/// The rows in `state`, as the API's `list` answers (the IT page's view).
async fn listed(app: &TestApp, state: &str) -> Vec<Value> {
    let (status, body) = http_call(
        app.addr,
        "POST",
        &format!("/api/v1/outbox/list?state={state}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["matched"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_refusing_relay_kills_nothing_at_once_and_retry_sends_the_dead_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hcc.toml");
    let port = free_port();
    let mut relay = SmtpServer::start_refusing(port, "500 5.7.1 relay not configured").await;
    std::fs::write(
        &path,
        format!(
            "[service]\nlisten = \"127.0.0.1:0\"\n[store]\nurl = \"sqlite://{}/store.db\"\n{}max_attempts = 2\n",
            dir.path().display(),
            mail(port)
        ),
    )
    .unwrap();
    let app = TestApp::start(Config::load(&path).unwrap(), Arc::new(SystemClock), None).await;
    let to: Vec<String> = (1..=5)
        .map(|i| format!("lanh-dao-{i}@example.gov.vn"))
        .collect();
    let queued: Vec<_> = to
        .iter()
        .enumerate()
        .map(|(i, t)| queued_email(&format!("e{i}"), t))
        .collect();
    app.store.enqueue(&queued, Utc::now()).await.unwrap();

    // Every email is refused, yet none dies at its first refusal: the same 500 for every
    // recipient is the relay's fault, so each goes to its last attempt (2).
    eventually("all five given up", Duration::from_secs(30), || async {
        listed(&app, "dead").await.len() == 5
    })
    .await;
    let dead = listed(&app, "dead").await;
    assert!(
        dead.iter()
            .all(|e| e["attempts"] == 2 && e["last_error"] == "rejected"),
        "{dead:#?}"
    );
    assert!(
        dead.iter()
            .all(|e| !e["recipient"].as_str().unwrap().contains("lanh-dao-")),
        "recipients are masked: {dead:#?}"
    );

    // The relay is fixed (a real server on the same port).
    relay.stop();
    let maildir = dir.path().join("maildir");
    let _smtp = SmtpServer::start(port, &maildir).await;

    // One of them is not to be sent at all any more.
    let (out, log) = outbox(
        &path,
        &["discard", "--recipient", "LANH-DAO-5@example.gov.vn"],
    );
    assert!(out.contains("1 of 1 emails discarded"), "{out}");
    assert!(
        log.contains("outbox action") && log.contains("discard"),
        "{log}"
    );

    // A dry run changes nothing.
    let (out, _) = outbox(&path, &["retry", "--dry-run"]);
    assert!(
        out.contains("4 emails match; dry run, nothing changed"),
        "{out}"
    );
    assert_eq!(listed(&app, "dead").await.len(), 4);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(messages(&maildir).is_empty());

    let (out, log) = outbox(&path, &["retry", "--level", "centre_director"]);
    assert!(out.contains("4 of 4 emails queued again"), "{out}");
    assert_eq!(
        log.matches("outbox action").count(),
        4,
        "an audit line per row: {log}"
    );
    let ids = delivered_ids(&maildir, 4).await;
    assert_eq!(
        ids,
        (0..4)
            .map(|i| format!("<e{i}@hcc-monitor.test>"))
            .collect::<Vec<_>>(),
        "each once, with its original Message-ID"
    );
    let (out, _) = outbox(&path, &["retry"]);
    assert!(out.contains("0 of 0 emails queued again"), "{out}");
    assert_eq!(listed(&app, "sent").await.len(), 4);
    assert_eq!(listed(&app, "discarded").await.len(), 1);
    app.stop().await;
}
