//! Probes against real peers on 127.0.0.1: HTTP and HTTPS servers, TCP devices that answer,
//! refuse or hang, a PostgreSQL database; software error counts from SQL and HTTP.

use std::path::Path;
use std::time::Duration;

use hcc_monitor::config::Config;

use crate::helpers::app::TestApp;
use crate::helpers::db::{Server, TestDb};
use crate::helpers::eventually;
use crate::helpers::peers;

const WAIT: Duration = Duration::from_secs(15);

/// Waits until the series has exactly `value`.
async fn wait_for(app: &TestApp, series: &str, value: f64) {
    eventually(&format!("{series} == {value}"), WAIT, || async {
        app.metric(series).await == Some(value)
    })
    .await;
}

/// Waits until the series is at least `value`.
async fn wait_at_least(app: &TestApp, series: &str, value: f64) {
    eventually(&format!("{series} >= {value}"), WAIT, || async {
        app.metric(series).await.is_some_and(|v| v >= value)
    })
    .await;
}

fn http_probe(name: &str, group: &str, url: &str, extra: &str) -> String {
    format!(
        "[[probe]]\nname = \"{name}\"\ngroup = \"{group}\"\nkind = \"http\"\n\
         schedule = \"* * * * * *\"\ntimeout_secs = 2\nurl = \"{url}\"\n{extra}\n"
    )
}

fn tcp_probe(name: &str, target: &str, extra: &str) -> String {
    format!(
        "[[probe]]\nname = \"{name}\"\ngroup = \"queue_machine\"\nkind = \"tcp\"\n\
         schedule = \"* * * * * *\"\ntimeout_secs = 1\ntarget = \"{target}\"\n{extra}\n"
    )
}

fn site(path: &str) -> (u16, String) {
    match path {
        "/ok" => (200, "dịch vụ công: ok".to_string()),
        "/errors.json" => (200, r#"{"timeout": 4, "crash": 1}"#.to_string()),
        _ => (503, "maintenance".to_string()),
    }
}

#[tokio::test]
async fn http_probes_report_status_body_phases_and_the_certificate_expiry() {
    let plain = peers::http(site, None).await;
    // A kiosk's self-signed certificate, expiring 2031-01-02T00:00:00Z.
    let tls = peers::http(site, Some(peers::self_signed((2031, 1, 2)))).await;
    let (p, t) = (plain.addr, tls.addr);
    let probes = [
        http_probe(
            "portal",
            "portal",
            &format!("http://{p}/ok"),
            "body_contains = \"ok\"",
        ),
        http_probe("portal-down", "portal", &format!("http://{p}/down"), ""),
        http_probe(
            "portal-text",
            "portal",
            &format!("http://{p}/ok"),
            "body_contains = \"xin chào\"",
        ),
        http_probe(
            "kiosk",
            "kiosk",
            &format!("https://{t}/ok"),
            "insecure_skip_verify = true\nvalid_status_codes = [200]",
        ),
        http_probe("kiosk-verified", "kiosk", &format!("https://{t}/ok"), ""),
    ]
    .concat();
    let app = TestApp::spawn(&probes).await;

    wait_for(
        &app,
        r#"hcc_probe_success{group="portal",kind="http",probe="portal"}"#,
        1.0,
    )
    .await;
    wait_at_least(
        &app,
        r#"hcc_probe_failures_total{probe="portal-down",reason="status"}"#,
        1.0,
    )
    .await;
    wait_at_least(
        &app,
        r#"hcc_probe_failures_total{probe="portal-text",reason="body"}"#,
        1.0,
    )
    .await;
    wait_for(
        &app,
        r#"hcc_probe_success{group="kiosk",kind="http",probe="kiosk"}"#,
        1.0,
    )
    .await;
    wait_at_least(
        &app,
        r#"hcc_probe_failures_total{probe="kiosk-verified",reason="tls"}"#,
        1.0,
    )
    .await;

    let (_, body) = app.get("/metrics").await;
    let value = |series: &str| crate::helpers::app::metric_value(&body, series);
    assert_eq!(
        value(r#"hcc_probe_tls_expiry_timestamp_seconds{probe="kiosk"}"#),
        Some(1_925_078_400.0),
        "the self-signed certificate's notAfter, read although it does not verify"
    );
    assert_eq!(
        value(r#"hcc_probe_success{group="kiosk",kind="http",probe="kiosk-verified"}"#),
        Some(0.0)
    );
    assert_eq!(
        value(r#"hcc_probe_failures_total{probe="portal",reason="status"}"#),
        Some(0.0),
        "every reason is registered at 0"
    );
    assert!(
        value(r#"hcc_probe_phase_duration_seconds{phase="processing",probe="portal"}"#)
            .is_some_and(|s| s > 0.0)
    );
    assert!(
        value(r#"hcc_probe_phase_duration_seconds{phase="connect",probe="kiosk"}"#)
            .is_some_and(|s| s > 0.0),
        "the TLS handshake is part of connect"
    );
    assert!(
        value(r#"hcc_probe_duration_seconds{group="portal",kind="http",probe="portal"}"#)
            .is_some_and(|s| s > 0.0 && s < 2.0)
    );
    app.stop().await;
}

#[tokio::test]
async fn tcp_probes_tell_an_answer_a_refusal_a_wrong_reply_and_a_hang_apart() {
    let printer = peers::tcp_answering("READY\r\n").await;
    let jammed = peers::tcp_answering("ERROR 42 paper jam\r\n").await;
    let silent = peers::tcp_silent().await;
    let closed = peers::closed_port().await;
    let ask = "send = \"STATUS\\r\\n\"\nexpect = \"READY\"";
    let probes = [
        tcp_probe("printer", &printer.addr.to_string(), ask),
        tcp_probe("printer-jammed", &jammed.addr.to_string(), ask),
        tcp_probe("queue-off", &closed.to_string(), ""),
        tcp_probe("kiosk-hung", &silent.addr.to_string(), ask),
    ]
    .concat();
    let app = TestApp::spawn(&probes).await;

    wait_at_least(
        &app,
        r#"hcc_probe_failures_total{probe="kiosk-hung",reason="timeout"}"#,
        2.0,
    )
    .await;
    // While the hung kiosk used up its whole timeout on every run, the printer was probed on
    // every firing all the same.
    wait_at_least(
        &app,
        r#"hcc_job_runs_total{result="ok",task="probe:printer"}"#,
        3.0,
    )
    .await;
    let (_, body) = app.get("/metrics").await;
    let value = |series: &str| crate::helpers::app::metric_value(&body, series);
    assert_eq!(
        value(r#"hcc_probe_success{group="queue_machine",kind="tcp",probe="printer"}"#),
        Some(1.0)
    );
    assert_eq!(
        value(r#"hcc_probe_failures_total{probe="printer",reason="timeout"}"#),
        Some(0.0)
    );
    assert!(
        value(r#"hcc_probe_failures_total{probe="printer-jammed",reason="body"}"#)
            .is_some_and(|n| n >= 1.0)
    );
    assert!(
        value(r#"hcc_probe_failures_total{probe="queue-off",reason="refused"}"#)
            .is_some_and(|n| n >= 1.0)
    );
    assert_eq!(
        value(r#"hcc_probe_success{group="queue_machine",kind="tcp",probe="kiosk-hung"}"#),
        Some(0.0)
    );
    assert!(
        value(r#"hcc_probe_duration_seconds{group="queue_machine",kind="tcp",probe="kiosk-hung"}"#)
            .is_some_and(|s| (1.0..1.9).contains(&s)),
        "a hung device costs its timeout, no more"
    );
    app.stop().await;
}

const SOURCE_SCHEMA: &str = "CREATE TABLE ho_so (ma text PRIMARY KEY, thu_tuc text NOT NULL,
    co_quan text NOT NULL, nhan_luc timestamp NOT NULL, trang_thai text NOT NULL,
    cap_nhat timestamp NOT NULL);
INSERT INTO ho_so VALUES
 ('HS-1', '1.001', 'SO_XD', '2026-03-02 08:00:00', 'received', '2026-03-02 08:00:00'),
 ('HS-2', '1.001', 'SO_XD', '2026-03-02 08:30:00', 'received', '2026-03-02 08:30:00'),
 ('HS-3', '1.001', 'SO_XD', '2026-03-02 09:00:00', 'in_progress', '2026-03-02 09:00:00');
CREATE TABLE nhat_ky_loi (muc text NOT NULL, noi_dung text);
INSERT INTO nhat_ky_loi VALUES ('ERROR', 'a'), ('ERROR', 'b'), ('ERROR', 'c'), ('WARN', 'd')";

fn source(url: &str) -> String {
    format!(
        r#"[[source]]
name = "pg"
url = "{url}"
query = """
SELECT ma AS dossier_id, thu_tuc AS procedure_code, co_quan AS department,
       nhan_luc AS received_at, trang_thai AS status, cap_nhat AS updated_at
FROM ho_so WHERE cap_nhat >= :watermark
"""
"#
    )
}

#[tokio::test]
async fn sql_probes_and_software_error_counts_read_real_databases_and_apis() {
    let db = TestDb::create(Server::Postgres).await;
    db.exec(SOURCE_SCHEMA).await;
    let api = peers::http(site, None).await;
    let config = format!(
        r#"{}
[[probe]]
name = "backlog"
group = "database"
kind = "sql"
schedule = "* * * * * *"
source = "pg"
query = "SELECT COUNT(*) FROM ho_so WHERE trang_thai = 'received'"

[[probe]]
name = "broken"
group = "database"
kind = "sql"
schedule = "* * * * * *"
source = "pg"
query = "SELECT x FROM no_such_table"

[[software]]
system = "motcua"
kind = "sql"
schedule = "* * * * * *"
source = "pg"
query = "SELECT muc, COUNT(*) FROM nhat_ky_loi GROUP BY muc"

[[software]]
system = "portal"
kind = "http"
schedule = "* * * * * *"
url = "http://{}/errors.json"
"#,
        source(&db.url()),
        api.addr
    );
    let app = TestApp::spawn(&config).await;

    wait_for(&app, r#"hcc_probe_value{probe="backlog"}"#, 2.0).await;
    wait_at_least(
        &app,
        r#"hcc_probe_failures_total{probe="broken",reason="query"}"#,
        1.0,
    )
    .await;
    wait_for(
        &app,
        r#"hcc_software_errors_total{kind="ERROR",system="motcua"}"#,
        3.0,
    )
    .await;
    wait_for(
        &app,
        r#"hcc_software_errors_total{kind="timeout",system="portal"}"#,
        4.0,
    )
    .await;
    assert_eq!(
        app.metric(r#"hcc_software_errors_total{kind="crash",system="portal"}"#)
            .await,
        Some(1.0)
    );
    assert_eq!(
        app.metric(r#"hcc_probe_success{group="database",kind="sql",probe="backlog"}"#)
            .await,
        Some(1.0)
    );
    assert_eq!(app.metric(r#"hcc_probe_value{probe="broken"}"#).await, None);

    db.exec(
        "INSERT INTO nhat_ky_loi VALUES ('ERROR', 'e'), ('ERROR', 'f');\n\
             UPDATE ho_so SET trang_thai = 'in_progress' WHERE ma = 'HS-1'",
    )
    .await;
    wait_for(
        &app,
        r#"hcc_software_errors_total{kind="ERROR",system="motcua"}"#,
        5.0,
    )
    .await;
    wait_for(&app, r#"hcc_probe_value{probe="backlog"}"#, 1.0).await;
    app.stop().await;
}

fn problems(text: &str) -> Vec<String> {
    match Config::parse(Path::new("bad.toml"), text, |_| None) {
        Ok(_) => vec![],
        Err(e) => e.problems(),
    }
}

const A_SOURCE: &str = r#"
[[source]]
name = "centre"
url = "postgres://reader@127.0.0.1/motcua"
query = "SELECT 1 WHERE x >= :watermark"
"#;

#[test]
fn bad_probe_software_and_handoff_sections_report_every_problem_with_its_key() {
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "a probe without kind, and one with another kind's keys",
            "[[probe]]\nname = \"a\"\ngroup = \"kiosk\"\n\
             [[probe]]\nname = \"b\"\ngroup = \"kiosk\"\nkind = \"tcp\"\ntarget = \"127.0.0.1:9100\"\n\
             url = \"http://127.0.0.1/\"\n"
                .into(),
            vec![
                "probe[0].kind: missing; expected one of: http, tcp, sql",
                "probe[1].url: is not a key of kind \"tcp\"; it applies to kind http",
            ],
        ),
        (
            "bad values of each kind",
            format!(
                "{A_SOURCE}[[probe]]\nname = \"web\"\ngroup = \"web\"\nkind = \"http\"\n\
                 url = \"ftp://127.0.0.1/\"\nip_version = \"5\"\nvalid_status_codes = [700]\n\
                 [[probe]]\nname = \"printer\"\ngroup = \"printer\"\nkind = \"tcp\"\n\
                 target = \"127.0.0.1\"\n\
                 [[probe]]\nname = \"db\"\ngroup = \"database\"\nkind = \"sql\"\n\
                 source = \"nowhere\"\nquery = \"SELECT 1\"\nschedule = \"0 0 8 * * 1-5\"\n"
            ),
            vec![
                "probe[0].ip_version: \"5\"; expected \"any\", \"4\" or \"6\"",
                "probe[0].url: ftp://127.0.0.1/ is not an http:// or https:// URL",
                "probe[0].valid_status_codes: 700 is not an HTTP status code",
                "probe[1].target: \"127.0.0.1\"; expected \"host:port\"",
                "probe[2].schedule: \"0 0 8 * * 1-5\": write weekdays by name (Mon-Fri, Sat, Sun), not by number",
                "probe[2].source: \"nowhere\" is not the name of a [[source]]",
            ],
        ),
        (
            "an IP version that contradicts the address",
            "[[probe]]\nname = \"v6\"\ngroup = \"web\"\nkind = \"http\"\n\
             url = \"http://127.0.0.1/\"\nip_version = \"6\"\n"
                .into(),
            vec!["probe[0].ip_version: contradicts the address in url"],
        ),
        (
            "software and handoffs naming what does not exist",
            format!(
                "{A_SOURCE}[[software]]\nsystem = \"motcua\"\nkind = \"sql\"\nsource = \"centre\"\n\
                 [[handoff]]\nfrom = \"centre\"\nto = \"centre\"\ntransferred_status = \"sent\"\n\
                 [[handoff]]\nfrom = \"centre\"\nto = \"so\"\ntransferred_raw_status = \"CHUYEN\"\n"
            ),
            vec![
                "handoff[0].to: is the same source as from",
                "handoff[0].transferred_status: \"sent\" is not a canonical status; expected one of: submitted, received, rejected_at_intake, in_progress, supplement_requested, awaiting_payment, withdrawn, stopped, resolved, returned (or give the source's own code as transferred_raw_status)",
                "handoff[1].to: \"so\" is not the name of a [[source]]",
                "software[0].query: missing; expected SQL returning rows (kind, count), e.g. \"SELECT level, COUNT(*) FROM error_log GROUP BY level\"",
            ],
        ),
    ];
    for (case, text, expected) in cases {
        let mut got = problems(&text);
        got.sort();
        assert_eq!(got, expected, "case: {case}");
    }
}

#[test]
fn the_example_config_with_probes_software_and_handoffs_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("hcc-monitor.example.toml");
    let text = std::fs::read_to_string(&path).expect("example config");
    let config = Config::parse(&path, &text, |_| Some("secret".to_string()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!config.probes.is_empty());
    assert!(!config.software.is_empty());
    assert!(!config.handoffs.is_empty());
}
