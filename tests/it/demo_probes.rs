//! The demo as IT sees it: the service on the demo's own config probes the targets the demo
//! serves, counts the one-stop system's errors and follows the handoffs to the department's
//! system.

use std::time::Duration;

use chrono::Utc;
use sqlx::Connection;

use crate::helpers::app::{TestApp, demo_config, demo_databases, demo_targets, http_get};
use crate::helpers::eventually;

const WAIT: Duration = Duration::from_secs(30);

fn success(group: &str, kind: &str, probe: &str) -> String {
    format!(r#"hcc_probe_success{{group="{group}",kind="{kind}",probe="{probe}"}}"#)
}

async fn wait_for(app: &TestApp, series: &str, value: f64) {
    eventually(&format!("{series} == {value}"), WAIT, || async {
        app.metric(series).await == Some(value)
    })
    .await;
}

/// Handed-over dossiers that the department's system never registered.
async fn lost_handoffs(dir: &std::path::Path) -> i64 {
    let url = format!("sqlite://{}/source.db", dir.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("ATTACH DATABASE $1 AS department")
        .bind(dir.join("department.db").display().to_string())
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM ho_so WHERE trang_thai = 'DA_CHUYEN' \
         AND ma_ho_so NOT IN (SELECT code FROM department.dossier_registry)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

/// Demo databases as of now in which some handovers never reach the department. The generator
/// is seeded, so which dossiers are in transfer, and so whether one of them is lost (one in
/// eight by id), depends on the day: larger sets are tried (a larger set holds the smaller one's
/// dossiers and more) rather than hoping for today's.
async fn demo_with_lost_handoffs() -> (tempfile::TempDir, i64) {
    for dossiers in (1500..=9000).step_by(500) {
        let dir = tempfile::tempdir().unwrap();
        demo_databases(dir.path(), dossiers, Utc::now()).await;
        let lost = lost_handoffs(dir.path()).await;
        if lost > 0 {
            return (dir, lost);
        }
    }
    panic!("no demo data set of 1,500 to 9,000 dossiers loses a handover");
}

#[tokio::test]
async fn the_demo_shows_probes_tls_expiry_software_errors_and_handoffs() {
    let (dir, lost) = demo_with_lost_handoffs().await;
    let targets = demo_targets().await;
    let config = demo_config(dir.path(), targets.addrs(), |text| {
        text.replace("\"*/10 * * * * *\"", "\"* * * * * *\"")
    });
    let app = TestApp::spawn_with(config, dir).await;

    // The portal fails one request in ten: it is up again at the next run.
    wait_for(&app, &success("portal", "http", "cong-dich-vu-cong"), 1.0).await;
    wait_for(&app, &success("kiosk", "http", "kiosk-tang-1"), 1.0).await;
    wait_for(
        &app,
        &success("queue_machine", "tcp", "may-lay-so-tang-1"),
        1.0,
    )
    .await;
    wait_for(
        &app,
        &success("database", "sql", "ho-so-tiep-nhan-hom-nay"),
        1.0,
    )
    .await;
    wait_for(
        &app,
        &success("queue_machine", "tcp", "may-lay-so-tang-2"),
        0.0,
    )
    .await;
    let refused = r#"hcc_probe_failures_total{probe="may-lay-so-tang-2",reason="refused"}"#;
    eventually("the undelivered machine refuses", WAIT, || async {
        app.metric(refused).await.is_some_and(|n| n >= 1.0)
    })
    .await;
    let pending = r#"hcc_handoff_pending{from="demo",to="so-xay-dung"}"#;
    wait_for(&app, pending, lost as f64).await;

    let (_, body) = app.get("/metrics").await;
    let value = |series: &str| crate::helpers::app::metric_value(&body, series);
    let expiry = value(r#"hcc_probe_tls_expiry_timestamp_seconds{probe="kiosk-tang-1"}"#)
        .expect("the kiosk certificate's expiry");
    let days = (expiry - Utc::now().timestamp() as f64) / 86_400.0;
    assert!(
        (44.0..=45.0).contains(&days),
        "the kiosk certificate expires in {days} days"
    );
    let errors: f64 = body
        .lines()
        .filter(|l| {
            l.starts_with(r#"hcc_software_errors_total{"#) && l.contains(r#"system="motcua""#)
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(errors > 0.0, "the one-stop system's errors are counted");
    assert!(
        value(r#"hcc_probe_value{probe="ho-so-tiep-nhan-hom-nay"}"#).is_some(),
        "today's dossiers counted"
    );
    let stuck = value(r#"hcc_handoff_stuck{from="demo",to="so-xay-dung"}"#)
        .expect("the stuck handoffs gauge");
    assert!(
        (0.0..=lost as f64).contains(&stuck),
        "{stuck} stuck of {lost} pending"
    );
    assert_eq!(
        value(r#"hcc_source_up{source="so-xay-dung"}"#),
        Some(1.0),
        "the department's system is read"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_demo_portal_answers_503_to_one_request_in_ten() {
    let targets = demo_targets().await;
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let (status, body) = http_get(targets.addrs().portal, "/", None).await;
        statuses.push(status);
        if status == 200 {
            assert!(body.contains("hoạt động"), "{body}");
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 503).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        18,
        "{statuses:?}"
    );
}
