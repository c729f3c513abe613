//! The HTTP surface as Prometheus and an operator see it.

use std::time::Duration;

use crate::helpers::app::{TestApp, config, demo_config, demo_databases, demo_targets, http_get};
use crate::helpers::eventually;

const TOKEN: &str = "a-long-enough-test-token";

#[tokio::test]
async fn every_endpoint_but_healthz_requires_the_bearer_token_when_one_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), "");
    cfg.service.bearer_token = Some(hcc_monitor::config::Secret::new(TOKEN));
    let app = TestApp::spawn_with(cfg, dir).await;
    assert_eq!(http_get(app.addr, "/healthz", None).await.0, 200);
    for path in ["/metrics", "/readyz", "/api/v1/dossiers", "/api/v1/summary"] {
        assert_eq!(
            http_get(app.addr, path, None).await.0,
            401,
            "{path} without a token"
        );
        assert_eq!(
            http_get(app.addr, path, Some("a-long-enough-WRONG-token"))
                .await
                .0,
            401,
            "{path} with a wrong token"
        );
        assert_eq!(
            http_get(app.addr, path, Some(TOKEN)).await.0,
            200,
            "{path} with the token"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_exposition_passes_promtool_check_metrics() {
    let dir = tempfile::tempdir().unwrap();
    demo_databases(dir.path(), 300, chrono::Utc::now()).await;
    // The demo's own configuration and probe targets, in this test's folder.
    let targets = demo_targets().await;
    let app = TestApp::spawn_with(demo_config(dir.path(), targets.addrs(), |text| text), dir).await;
    eventually("dossiers evaluated", Duration::from_secs(15), || async {
        app.metric(r#"hcc_dossiers_open{department="SO_NNMT",sla_state="on_track",source="demo"}"#)
            .await
            .is_some()
    })
    .await;
    let (_, body) = app.get("/metrics").await;
    let mut child = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/test.sh installs Debian's prometheus package)");
    use tokio::io::AsyncWriteExt;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .await
        .unwrap();
    let out = child.wait_with_output().await.unwrap();
    let lint = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && lint.trim().is_empty(),
        "promtool check metrics:\n{lint}"
    );
    app.stop().await;
}
