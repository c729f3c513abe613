//! Handoffs between a PostgreSQL one-stop system and a department's MariaDB system, on a
//! scripted timeline: transferred on one side, seen later on the other.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hcc_monitor::clock::FixedClock;
use hcc_monitor::handoff::Handoffs;
use hcc_monitor::metrics::Metrics;

use crate::helpers::app::{TestApp, config, config_text};
use crate::helpers::db::{Server, TestDb};
use crate::helpers::eventually;

const WAIT: Duration = Duration::from_secs(20);

const PORTAL: &str = "CREATE TABLE ho_so (ma text PRIMARY KEY, thu_tuc text NOT NULL,
    co_quan text NOT NULL, nhan_luc timestamp NOT NULL, trang_thai text NOT NULL,
    cap_nhat timestamp NOT NULL);
INSERT INTO ho_so VALUES
 ('HS-1', '1.004', 'SO_XAY_DUNG', '2026-03-02 08:00:00', 'TIEP_NHAN', '2026-03-02 08:00:00'),
 ('HS-2', '1.004', 'SO_XAY_DUNG', '2026-03-02 08:00:00', 'TIEP_NHAN', '2026-03-02 08:00:00'),
 ('HS-3', '2.001', 'SO_TU_PHAP', '2026-03-02 08:00:00', 'TIEP_NHAN', '2026-03-02 08:00:00')";

const DEPARTMENT: &str = "CREATE TABLE hoso (code varchar(40) PRIMARY KEY,
    proc varchar(40) NOT NULL, received datetime NOT NULL, state int NOT NULL,
    modified datetime NOT NULL);
INSERT INTO hoso VALUES ('XD-0', '1.004', '2026-03-01 08:00:00', 20, '2026-03-01 08:00:00')";

fn sections(portal: &str, department: &str) -> String {
    format!(
        r#"[[source]]
name = "portal"
url = "{portal}"
schedule = "* * * * * *"
query = """
SELECT ma AS dossier_id, thu_tuc AS procedure_code, co_quan AS department,
       nhan_luc AS received_at, trang_thai AS status, cap_nhat AS updated_at
FROM ho_so WHERE cap_nhat >= :watermark
"""
[source.status_map]
TIEP_NHAN = "received"
DA_CHUYEN = "in_progress"

[[source]]
name = "so-xd"
url = "{department}"
schedule = "* * * * * *"
query = """
SELECT code AS dossier_id, proc AS procedure_code, 'SO_XAY_DUNG' AS department,
       received AS received_at, state AS status, modified AS updated_at
FROM hoso WHERE modified >= :watermark
"""
[source.status_map]
20 = "in_progress"

[[handoff]]
from = "portal"
to = "so-xd"
transferred_status = "in_progress"
stuck_after_working_hours = 8
schedule = "* * * * * *"
"#
    )
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("RFC 3339")
}

async fn wait_for(app: &TestApp, series: &str, value: f64) {
    eventually(&format!("{series} == {value}"), WAIT, || async {
        app.metric(series).await == Some(value)
    })
    .await;
}

const PENDING: &str = r#"hcc_handoff_pending{from="portal",to="so-xd"}"#;
const STUCK: &str = r#"hcc_handoff_stuck{from="portal",to="so-xd"}"#;
const LAG_COUNT: &str = r#"hcc_handoff_lag_seconds_count{from="portal",to="so-xd"}"#;
const LAG_SUM: &str = r#"hcc_handoff_lag_seconds_sum{from="portal",to="so-xd"}"#;

#[tokio::test]
async fn a_transfer_not_seen_by_the_department_is_pending_then_stuck_then_timed_on_arrival() {
    let portal = TestDb::create(Server::Postgres).await;
    portal.exec(PORTAL).await;
    let department = TestDb::create(Server::MySql).await;
    department.exec(DEPARTMENT).await;
    let dir = tempfile::tempdir().unwrap();
    let extra = sections(&portal.url(), &department.url());
    let cfg = config(dir.path(), &extra);
    let config_file = dir.path().join("hcc.toml");
    std::fs::write(&config_file, config_text(dir.path(), &extra)).unwrap();
    let app = TestApp::spawn_with(cfg.clone(), dir).await;
    wait_for(&app, r#"hcc_source_up{source="portal"}"#, 1.0).await;
    wait_for(&app, r#"hcc_source_up{source="so-xd"}"#, 1.0).await;
    wait_for(&app, PENDING, 0.0).await;

    // Monday 2 March 2026, 09:00 in Hà Nội: the portal hands HS-1 to the department. HS-2 is
    // handed over right now, so it cannot have waited a working day yet.
    portal
        .exec(
            "UPDATE ho_so SET trang_thai = 'DA_CHUYEN', cap_nhat = '2026-03-02 09:00:00' \
               WHERE ma = 'HS-1';\n\
               UPDATE ho_so SET trang_thai = 'DA_CHUYEN', cap_nhat = LOCALTIMESTAMP(0) \
               WHERE ma = 'HS-2'",
        )
        .await;
    wait_for(&app, PENDING, 2.0).await;
    wait_for(&app, STUCK, 1.0).await;
    assert_eq!(app.metric(LAG_COUNT).await, Some(0.0));

    let (status, body) = app.get("/api/v1/handoffs").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let pair = &json["handoffs"][0];
    assert_eq!(
        (pair["from"].as_str(), pair["to"].as_str()),
        (Some("portal"), Some("so-xd"))
    );
    assert_eq!(pair["pending"], 2);
    let stuck = pair["stuck"].as_array().expect("stuck list");
    assert_eq!(stuck.len(), 1, "{body}");
    assert_eq!(stuck[0]["dossier_id"], "HS-1");
    assert_eq!(stuck[0]["department"], "SO_XAY_DUNG");
    assert_eq!(stuck[0]["transferred_at"], "2026-03-02T02:00:00+00:00");

    // The department's system shows HS-1: no longer pending, and its lag observed once.
    department
        .exec("INSERT INTO hoso VALUES ('HS-1', '1.004', '2026-03-02 08:00:00', 20, NOW())")
        .await;
    wait_for(&app, LAG_COUNT, 1.0).await;
    wait_for(&app, PENDING, 1.0).await;
    wait_for(&app, STUCK, 0.0).await;
    let lag = app.metric(LAG_SUM).await.expect("lag sum");
    let expected = (Utc::now() - utc("2026-03-02T02:00:00Z")).num_seconds() as f64;
    assert!(
        (expected - lag).abs() < 60.0,
        "lag {lag}, expected about {expected}"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        app.metric(LAG_COUNT).await,
        Some(1.0),
        "observed once, not on every run"
    );
    let (_, body) = app.get("/api/v1/handoffs").await;
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["handoffs"][0]["stuck"], serde_json::json!([]));

    // Replayed as of a past instant, the store gives the state of then: at Monday 17:00 HS-1 had
    // waited 6 working hours (lunch excluded), at Tuesday 17:00 14, past the 8 of the threshold.
    let replay = |as_of: &str| {
        Handoffs::new(
            cfg.handoffs.clone(),
            app.store.clone(),
            cfg.calendar.clone(),
            Arc::new(Metrics::new()),
            Arc::new(FixedClock(utc(as_of))),
        )
    };
    let monday = replay("2026-03-02T17:00:00+07:00");
    let report = monday.report(monday.now()).await.unwrap();
    assert_eq!(
        (report.handoffs[0].pending, report.handoffs[0].stuck.len()),
        (1, 0)
    );
    let tuesday = replay("2026-03-03T17:00:00+07:00");
    let report = tuesday.report(tuesday.now()).await.unwrap();
    assert_eq!(report.handoffs[0].stuck.len(), 1);
    assert_eq!(
        report.handoffs[0].stuck[0].pending_working_seconds,
        14 * 3600
    );

    // The command line gives the same answer.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hcc-monitor"))
        .args(["handoffs", "--config"])
        .arg(&config_file)
        .args(["--as-of", "2026-03-03T17:00:00+07:00"])
        .output()
        .expect("run hcc-monitor handoffs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("portal -> so-xd: 1 pending, 1 stuck"),
        "{stdout}"
    );
    assert!(
        stdout.contains("HS-1  transferred 2026-03-02 09:00  pending 14.0 working hours"),
        "{stdout}"
    );
    app.stop().await;
}
