//! The HTTP surface as Prometheus and an operator see it.

use std::time::Duration;

use crate::helpers::app::{TestApp, config, demo_config, demo_databases, demo_targets, http_get};
use crate::helpers::eventually;
use crate::helpers::tls::TestCa;

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

/// The app over HTTPS with a certificate from `ca`, user alice (password "right horse") and
/// the bearer token.
async fn spawn_tls(ca: &TestCa) -> (TestApp, hcc_monitor::config::TlsFiles) {
    let dir = tempfile::tempdir().unwrap();
    let (files, _) = ca.issue(dir.path());
    let mut cfg = config(dir.path(), "");
    cfg.service.tls = Some(files.clone());
    cfg.service.bearer_token = Some(hcc_monitor::config::Secret::new(TOKEN));
    // Cost 4, the least bcrypt allows, keeps the test fast; the check is the same.
    cfg.service.basic_auth_users = hcc_monitor::config::BasicAuthUsers::new(
        [("alice".to_string(), bcrypt::hash("right horse", 4).unwrap())].into(),
    );
    (TestApp::spawn_with(cfg, dir).await, files)
}

#[tokio::test]
async fn over_tls_a_right_password_or_token_admits_a_wrong_one_does_not_and_plain_http_is_refused()
{
    let ca = TestCa::new();
    let (app, _) = spawn_tls(&ca).await;
    let client = ca.client();
    let url = |path: &str| format!("https://{}{path}", app.addr);
    let status = |request: reqwest::RequestBuilder| async move {
        request
            .send()
            .await
            .expect("HTTPS answers")
            .status()
            .as_u16()
    };
    assert_eq!(status(client.get(url("/healthz"))).await, 200);
    let refused = client.get(url("/metrics")).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let challenges: Vec<_> = refused
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        challenges,
        ["Basic realm=\"hcc-monitor\", charset=\"UTF-8\"", "Bearer"]
    );
    let basic =
        |user: &str, password: &str| client.get(url("/metrics")).basic_auth(user, Some(password));
    assert_eq!(status(basic("alice", "right horse")).await, 200);
    assert_eq!(status(basic("alice", "wrong horse")).await, 401);
    assert_eq!(status(basic("bob", "right horse")).await, 401);
    let bearer = |value: String| {
        client
            .get(url("/api/v1/summary"))
            .header("authorization", value)
    };
    assert_eq!(status(bearer(format!("bearer {TOKEN}"))).await, 200);
    assert_eq!(status(bearer(format!("Bearer {TOKEN}-"))).await, 401);
    // Plain HTTP to the TLS port gets no HTTP answer at all.
    assert_eq!(http_get(app.addr, "/healthz", None).await.0, 0);
    let plain = reqwest::Client::new()
        .get(format!("http://{}/healthz", app.addr))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP got {plain:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_renewed_certificate_is_served_from_the_next_connection_on_without_a_restart() {
    let ca = TestCa::new();
    let (app, files) = spawn_tls(&ca).await;
    let client = ca.client();
    let served = || async {
        let response = client
            .get(format!("https://{}/healthz", app.addr))
            .send()
            .await
            .expect("HTTPS answers");
        let info = response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .expect("TLS info");
        info.peer_certificate()
            .expect("a peer certificate")
            .to_vec()
    };
    let first = served().await;
    let dir = files.cert_file.parent().unwrap();
    let (_, renewed) = ca.issue(dir);
    assert_ne!(first, renewed.to_vec());
    assert_eq!(served().await, renewed.to_vec());
    // A broken renewal keeps the last good certificate in service.
    std::fs::write(&files.cert_file, "not a certificate").unwrap();
    assert_eq!(served().await, renewed.to_vec());
    app.stop().await;
}
