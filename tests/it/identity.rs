//! One dossier, counted once: a PostgreSQL one-stop system (the system of record) hands
//! Sở Xây dựng's dossiers over to the department's own MariaDB system (`role = "handoff"`),
//! which has the same dossier codes. Every figure (report, summary, API list, gauges, digest)
//! counts each dossier once, while the department's rows still time the handoffs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::TimeZone;
use chrono_tz::Asia::Ho_Chi_Minh;

use crate::helpers::app::{TestApp, TestClock, config, metric_value};
use crate::helpers::db::{Server, TestDb};
use crate::helpers::eventually;
use crate::helpers::smtp::{SmtpServer, free_port, mail, messages};

const WAIT: Duration = Duration::from_secs(30);
const XAY_DUNG_HEAD: &str = "truong-phong@so-xaydung.example.gov.vn";

/// Five dossiers, as of Thursday 5 March 2026: HS-1 overdue and HS-2 in progress at the
/// department, HS-4 resolved there, HS-3 and HS-5 at Tư pháp, HS-5 without a channel.
const CENTRE: &str = "CREATE TABLE ho_so (ma text PRIMARY KEY, thu_tuc text NOT NULL,
    co_quan text NOT NULL, kenh int, nhan_luc timestamp NOT NULL, han timestamp,
    xong timestamp, trang_thai text NOT NULL, cap_nhat timestamp NOT NULL);
INSERT INTO ho_so VALUES
 ('HS-1', '1.004', 'SO_XAY_DUNG', 2, '2026-03-02 08:00:00', '2026-03-04 17:00:00', NULL, 'DA_CHUYEN', '2026-03-02 09:00:00'),
 ('HS-2', '1.004', 'SO_XAY_DUNG', 1, '2026-03-02 08:00:00', '2026-03-20 17:00:00', NULL, 'DA_CHUYEN', '2026-03-02 09:00:00'),
 ('HS-3', '2.001', 'SO_TU_PHAP', 1, '2026-03-02 08:00:00', '2026-03-20 17:00:00', NULL, 'DANG_XU_LY', '2026-03-02 09:00:00'),
 ('HS-4', '1.004', 'SO_XAY_DUNG', 3, '2026-03-02 08:00:00', '2026-03-20 17:00:00', '2026-03-04 10:00:00', 'DA_TRA', '2026-03-04 10:00:00'),
 ('HS-5', '2.001', 'SO_TU_PHAP', NULL, '2026-03-03 08:00:00', '2026-03-20 17:00:00', NULL, 'DANG_XU_LY', '2026-03-03 08:00:00')";

/// The department's own view of the three it was handed: its own codes, dates and stages, and
/// no channel (its software does not keep one).
const DEPARTMENT: &str = "CREATE TABLE hoso (code varchar(40) PRIMARY KEY,
    proc varchar(40) NOT NULL, received datetime NOT NULL, deadline datetime NULL,
    finished datetime NULL, state int NOT NULL, modified datetime NOT NULL);
CREATE TABLE buoc (code varchar(40) NOT NULL, stage varchar(40) NOT NULL,
    entered datetime NOT NULL);
INSERT INTO buoc VALUES
 ('HS-1', 'tham_dinh', '2026-03-02 10:00:00'),
 ('HS-2', 'tham_dinh', '2026-03-02 10:00:00'),
 ('HS-4', 'tham_dinh', '2026-03-02 10:00:00'),
 ('HS-4', 'tra_ket_qua', '2026-03-04 09:00:00');
INSERT INTO hoso VALUES
 ('HS-1', '1.004', '2026-03-02 09:00:00', '2026-03-04 17:00:00', NULL, 20, '2026-03-02 09:00:00'),
 ('HS-2', '1.004', '2026-03-02 09:00:00', '2026-03-20 17:00:00', NULL, 20, '2026-03-02 09:00:00'),
 ('HS-4', '1.004', '2026-03-02 09:00:00', '2026-03-20 17:00:00', '2026-03-04 10:00:00', 90, '2026-03-04 10:00:00')";

const DISTINCT_DOSSIERS: u64 = 5;
const OPEN: [&str; 4] = ["HS-1", "HS-2", "HS-3", "HS-5"];

fn sections(centre: &str, department: &str, smtp_port: u16) -> String {
    format!(
        r#"[[source]]
name = "centre"
url = "{centre}"
schedule = "* * * * * *"
query = """
SELECT ma AS dossier_id, thu_tuc AS procedure_code, co_quan AS department, kenh AS channel,
       nhan_luc AS received_at, han AS due_at, xong AS resolved_at, trang_thai AS status,
       cap_nhat AS updated_at
FROM ho_so WHERE cap_nhat >= :watermark
"""
[source.status_map]
DA_CHUYEN = "in_progress"
DANG_XU_LY = "in_progress"
DA_TRA = "returned"

[[source]]
name = "so-xd"
role = "handoff"
same_dossiers_as = "centre"
url = "{department}"
schedule = "* * * * * *"
query = """
SELECT code AS dossier_id, proc AS procedure_code, 'SO_XAY_DUNG' AS department,
       received AS received_at, deadline AS due_at, finished AS resolved_at,
       state AS status, modified AS updated_at
FROM hoso WHERE modified >= :watermark
"""
stage_query = """
SELECT code AS dossier_id, stage, entered AS entered_at FROM buoc WHERE entered >= :watermark
"""
[source.status_map]
20 = "in_progress"
90 = "resolved"

[[handoff]]
from = "centre"
to = "so-xd"
transferred_raw_status = "DA_CHUYEN"
schedule = "* * * * * *"

[departments]
SO_TU_PHAP = "Sở Tư pháp"
SO_XAY_DUNG = "Sở Xây dựng"

[recipients.department_heads]
SO_XAY_DUNG = ["{XAY_DUNG_HEAD}"]

[[escalation.level]]
name = "department_head"
sla_state = "overdue"
notify = ["department_head"]
digest_schedule = "* * * * * *"
working_hours_only = false
{}"#,
        mail(smtp_port)
    )
}

/// Every `family{...}` series of an exposition by its `source` label, summed.
fn by_source(exposition: &str, family: &str) -> BTreeMap<String, f64> {
    let mut sums = BTreeMap::new();
    for line in exposition.lines() {
        let Some(rest) = line.strip_prefix(family).and_then(|l| l.strip_prefix('{')) else {
            continue;
        };
        let source = rest
            .split("source=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_default();
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_default();
        *sums.entry(source.to_string()).or_insert(0.0) += value;
    }
    sums
}

async fn json(app: &TestApp, path: &str) -> serde_json::Value {
    let (status, body) = app.get(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

#[tokio::test]
async fn a_dossier_handed_to_a_department_system_is_one_dossier_in_every_figure() {
    let centre = TestDb::create(Server::Postgres).await;
    centre.exec(CENTRE).await;
    let department = TestDb::create(Server::MySql).await;
    department.exec(DEPARTMENT).await;
    let dir = tempfile::tempdir().unwrap();
    let smtp_port = free_port();
    let maildir = dir.path().join("maildir");
    let mut smtp = SmtpServer::start(smtp_port, &maildir).await;
    let cfg = config(
        dir.path(),
        &sections(&centre.url(), &department.url(), smtp_port),
    );
    let now = Ho_Chi_Minh
        .with_ymd_and_hms(2026, 3, 5, 9, 0, 0)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let app = TestApp::start(cfg, TestClock::at(now), Some(dir)).await;
    eventually("both sources polled and evaluated", WAIT, || async {
        let (_, metrics) = app.get("/metrics").await;
        let up = |s: &str| metrics.contains(&format!("hcc_source_up{{source=\"{s}\"}} 1"));
        let open: f64 = by_source(&metrics, "hcc_dossiers_open").values().sum();
        up("centre") && up("so-xd") && open > 0.0
    })
    .await;
    // The department's rows are in the store: both transfers have arrived.
    eventually("the handoffs arrive", WAIT, || async {
        json(&app, "/api/v1/handoffs").await["handoffs"][0]["pending"] == 0
    })
    .await;

    let summary = json(&app, "/api/v1/summary?period=month").await;
    let total = &summary["total"];
    assert_eq!(total["received"], DISTINCT_DOSSIERS, "{summary:#}");
    let xay_dung = summary["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["department"] == "SO_XAY_DUNG")
        .expect("a Xây dựng row");
    assert_eq!(xay_dung["received"], 3, "{xay_dung:#}");
    assert_eq!(xay_dung["resolved"], 1);
    assert_eq!(xay_dung["in_progress"], 2);
    assert_eq!(
        (
            &total["online"],
            &total["direct_or_postal"],
            &total["unknown_channel"]
        ),
        (&1.into(), &3.into(), &1.into()),
        "HS-5 has no channel: unknown, not in person"
    );

    let page = json(&app, "/api/v1/dossiers").await;
    assert_eq!(page["total"], OPEN.len());
    let items = page["items"].as_array().unwrap();
    let ids: BTreeSet<&str> = items
        .iter()
        .map(|v| v["dossier_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, OPEN.into_iter().collect());
    assert!(items.iter().all(|v| v["source"] == "centre"), "{page:#}");
    // What the department's system knows enriches the dossier instead of repeating it.
    let item = |id: &str| items.iter().find(|v| v["dossier_id"] == id).unwrap();
    let there = &item("HS-1")["handed_over_to"];
    assert_eq!(there.as_array().map(Vec::len), Some(1), "{page:#}");
    let received: chrono::DateTime<chrono::Utc> = there[0]["received_at"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("an RFC 3339 instant");
    assert_eq!(
        (
            there[0]["source"].as_str(),
            there[0]["raw_status"].as_str(),
            received
        ),
        (
            Some("so-xd"),
            Some("20"),
            Ho_Chi_Minh
                .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
                .unwrap()
                .with_timezone(&chrono::Utc)
        ),
        "the department's own receipt"
    );
    assert!(item("HS-3").get("handed_over_to").is_none(), "{page:#}");

    let (_, metrics) = app.get("/metrics").await;
    assert_eq!(
        by_source(&metrics, "hcc_dossiers_open"),
        [("centre".to_string(), OPEN.len() as f64)].into(),
        "{metrics}"
    );
    assert_eq!(
        by_source(&metrics, "hcc_dossiers").values().sum::<f64>(),
        DISTINCT_DOSSIERS as f64,
        "one hcc_dossiers per dossier"
    );
    assert_eq!(
        by_source(&metrics, "hcc_dossiers_received")
            .get("so-xd")
            .copied(),
        None
    );
    // The department's stages follow the record's dossiers: HS-1 and HS-2 are open in it.
    assert_eq!(
        metric_value(
            &metrics,
            r#"hcc_dossiers_in_stage{source="so-xd",stage="tham_dinh"}"#
        ),
        Some(2.0),
        "{metrics}"
    );

    eventually("the Xây dựng head's digest", WAIT, || async {
        messages(&maildir).iter().any(|m| m.to == XAY_DUNG_HEAD)
    })
    .await;
    let digest = messages(&maildir)
        .into_iter()
        .find(|m| m.to == XAY_DUNG_HEAD)
        .unwrap();
    let text = digest.text.expect("a text part");
    assert_eq!(text.matches("Hồ sơ HS-1 ").count(), 1, "{text}");
    assert!(digest.subject.contains("1 hồ sơ"), "{}", digest.subject);
    assert!(text.contains("Tình trạng: quá hạn "), "{text}");
    assert!(!text.contains("còn 0 phút"), "{text}");
    smtp.stop();
    app.stop().await;
}
