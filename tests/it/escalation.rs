//! Escalation digests and reports end to end: a SQLite dossier source polled by the service, a
//! clock set by the test, and a real SMTP server (aiosmtpd) whose Maildir is read back with
//! Python's `email` package.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Asia::Ho_Chi_Minh;
use hcc_monitor::clock::FixedClock;
use sqlx::{AssertSqlSafe, Connection, Executor};

use crate::helpers::app::{TestApp, TestClock, config};
use crate::helpers::eventually;
use crate::helpers::smtp::{Mail, SmtpServer, free_port, mail, messages};

const TU_PHAP_HEAD: &str = "truong-phong@so-tuphap.example.gov.vn";
const XAY_DUNG_HEAD: &str = "truong-phong@so-xaydung.example.gov.vn";
const DIRECTOR: &str = "giam-doc@tthcc.example.gov.vn";
const LEADERS: &str = "lanh-dao@ubnd.example.gov.vn";

/// March 2026, Vietnam time: Monday the 2nd, no holidays.
fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Ho_Chi_Minh
        .with_ymd_and_hms(2026, 3, d, h, m, 0)
        .unwrap()
        .with_timezone(&Utc)
}

/// (id, department, received, due, national status code); times as the sync API writes them.
type Row = (&'static str, &'static str, &'static str, &'static str, i64);

/// Thursday 5 March 2026 at 09:00 (times below are local):
const ROWS: [Row; 5] = [
    // 8 working hours left: the Tư pháp head.
    ("TP-1", "SO_TU_PHAP", "20260302080000", "20260306090000", 4),
    // 10 h left, 71 % used: nobody yet.
    ("TP-2", "SO_TU_PHAP", "20260302080000", "20260306110000", 4),
    // 7 h left: the Xây dựng head.
    ("XD-1", "SO_XAY_DUNG", "20260302080000", "20260306080000", 2),
    // Overdue since Wednesday: the provincial leaders, not the levels below.
    (
        "XD-LATE",
        "SO_XAY_DUNG",
        "20260226080000",
        "20260304170000",
        4,
    ),
    // Resolved: never.
    (
        "XD-DONE",
        "SO_XAY_DUNG",
        "20260226080000",
        "20260304170000",
        10,
    ),
];

async fn source(dir: &Path, rows: &[Row]) -> String {
    let path = dir.join("source.db");
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
    conn.execute(
        "CREATE TABLE HoSo (MaHoSo TEXT PRIMARY KEY, MaTTHC TEXT, TenTTHC TEXT, DonViXuLy TEXT,
         NgayTiepNhan TEXT, NgayHenTra TEXT, NgayKetThucXuLy TEXT, TrangThaiHoSo INTEGER,
         NgayCapNhat TEXT)",
    )
    .await
    .unwrap();
    for (id, dept, received, due, status) in rows {
        let resolved = if *status >= 9 {
            format!("'{due}'")
        } else {
            "NULL".into()
        };
        let sql = format!(
            "INSERT INTO HoSo VALUES ('{id}', '1.001', 'Chứng thực bản sao <điện tử>', '{dept}', \
             '{received}', '{due}', {resolved}, {status}, '2026-03-02 08:00:00')"
        );
        conn.execute(AssertSqlSafe(sql)).await.unwrap();
    }
    format!(
        r#"[[source]]
name = "hcc"
url = "sqlite://{}"
schedule = "* * * * * *"
query = """
SELECT MaHoSo AS dossier_id, MaTTHC AS procedure_code, TenTTHC AS procedure_name,
       DonViXuLy AS department, NgayTiepNhan AS received_at, NgayHenTra AS due_at,
       NgayKetThucXuLy AS resolved_at, TrangThaiHoSo AS status, NgayCapNhat AS updated_at
FROM HoSo WHERE NgayCapNhat >= :watermark
"""

[departments]
SO_TU_PHAP = "Sở Tư pháp"
SO_XAY_DUNG = "Sở Xây dựng"

[recipients]
centre_director = ["{DIRECTOR}"]
province_leaders = ["{LEADERS}"]

[recipients.department_heads]
SO_TU_PHAP = ["{TU_PHAP_HEAD}"]
SO_XAY_DUNG = ["{XAY_DUNG_HEAD}"]
"#,
        path.display()
    )
}

/// The three levels of DESIGN §6, run every second; `extra` goes into the department heads'
/// level, `leaders` into the provincial leaders'.
fn levels(extra: &str, leaders: &str) -> String {
    format!(
        r#"
[[escalation.level]]
name = "department_head"
fraction_used_at_least = 0.75
working_hours_left_at_most = 8
notify = ["department_head"]
digest_schedule = "* * * * * *"
{extra}

[[escalation.level]]
name = "centre_director"
due_today = true
notify = ["centre_director"]
digest_schedule = "* * * * * *"

[[escalation.level]]
name = "province_leaders"
sla_state = "overdue"
notify = ["province_leaders"]
digest_schedule = "* * * * * *"
{leaders}
"#
    )
}

fn to(mails: &[Mail], address: &str) -> Vec<Mail> {
    mails.iter().filter(|m| m.to == address).cloned().collect()
}

async fn wait_for_mails(maildir: &Path, n: usize) -> Vec<Mail> {
    eventually(
        &format!("{n} emails delivered"),
        Duration::from_secs(30),
        || async { messages(maildir).len() >= n },
    )
    .await;
    messages(maildir)
}

/// Lets a few more planner and drain runs pass, for checks that nothing more arrives.
async fn a_few_runs() {
    tokio::time::sleep(Duration::from_millis(3500)).await;
}

fn per_message_id(mails: &[Mail]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for m in mails {
        *counts.entry(m.message_id.clone()).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn digests_reach_the_right_leaders_once_in_vietnamese_as_text_and_html() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(free_port(), &dir.path().join("maildir")).await;
    let sources = source(dir.path(), &ROWS).await;
    let cfg = config(
        dir.path(),
        &format!("{sources}{}{}", levels("", ""), mail(smtp.port)),
    );
    // Frozen, so that the time left reads exactly.
    let app = TestApp::start(cfg, Arc::new(FixedClock(at(5, 9, 0))), None).await;

    let mails = wait_for_mails(&smtp.maildir, 3).await;
    a_few_runs().await;
    let again = messages(&smtp.maildir);
    assert_eq!(
        again.len(),
        3,
        "no repeats: {:?}",
        again.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );

    let tp = to(&mails, TU_PHAP_HEAD);
    assert_eq!(tp.len(), 1);
    let tp = &tp[0];
    assert_eq!(tp.subject, "[TTHCC] 1 hồ sơ sắp quá hạn - Sở Tư pháp");
    assert!(
        tp.raw_subject.to_ascii_lowercase().contains("=?utf-8?b?")
            && !tp.raw_subject.contains("hồ sơ"),
        "the subject is RFC 2047 encoded on the wire: {}",
        tp.raw_subject
    );
    assert_eq!(tp.defects, 0, "the MIME structure parses cleanly");
    let text = tp.text.as_deref().expect("a plain-text part");
    let html = tp.html.as_deref().expect("an HTML part");
    assert!(text.contains("TP-1") && !text.contains("TP-2"), "{text}");
    assert!(text.contains("còn 1 ngày làm việc"), "{text}");
    assert!(
        text.contains("Chứng thực bản sao <điện tử> (1.001)"),
        "{text}"
    );
    assert!(
        html.contains("Chứng thực bản sao &lt;điện tử&gt; (1.001)"),
        "{html}"
    );
    assert!(html.contains("Sở Tư pháp: 2 đang giải quyết"), "{html}");

    let xd = to(&mails, XAY_DUNG_HEAD);
    assert_eq!(xd.len(), 1);
    let xd_text = xd[0].text.as_deref().unwrap();
    assert!(
        xd_text.contains("XD-1") && xd_text.contains("còn 7 giờ làm việc"),
        "{xd_text}"
    );
    assert!(
        !xd_text.contains("XD-LATE"),
        "the overdue one went to the level above"
    );

    let leaders = to(&mails, LEADERS);
    assert_eq!(leaders.len(), 1);
    assert_eq!(
        leaders[0].subject,
        "[TTHCC] 1 hồ sơ đã quá hạn - Sở Xây dựng"
    );
    let text = leaders[0].text.as_deref().unwrap();
    assert!(
        text.contains("XD-LATE") && text.contains("quá hạn 2 giờ làm việc"),
        "{text}"
    );
    assert!(to(&mails, DIRECTOR).is_empty(), "nothing is due today");

    assert_eq!(
        app.metric(r#"hcc_escalations_sent_total{level="department_head"}"#)
            .await,
        Some(2.0)
    );
    assert_eq!(
        app.metric(r#"hcc_outbox_pending{level="department_head"}"#)
            .await,
        Some(0.0)
    );
    let (status, body) = app.get("/api/v1/outbox").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["counts"]["sent"]["department_head"], 2);
    assert!(
        !body.contains("truong-phong@"),
        "addresses are masked: {body}"
    );
    assert!(body.contains("t***@so-tuphap.example.gov.vn"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn an_smtp_outage_delays_escalations_and_each_is_delivered_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let sources = source(dir.path(), &ROWS).await;
    let cfg = config(
        dir.path(),
        &format!("{sources}{}{}", levels("", ""), mail(port)),
    );
    let app = TestApp::start(cfg, TestClock::at(at(5, 9, 0)), None).await;

    eventually(
        "attempts fail while the server is down",
        Duration::from_secs(30),
        || async {
            app.metric(r#"hcc_escalations_failed_total{level="department_head",reason="connect"}"#)
                .await
                .unwrap_or_default()
                >= 2.0
        },
    )
    .await;
    let smtp = SmtpServer::start(port, &dir.path().join("maildir")).await;
    let mails = wait_for_mails(&smtp.maildir, 3).await;
    a_few_runs().await;
    let mails_after = messages(&smtp.maildir);
    assert_eq!(mails_after.len(), 3, "{mails:?}");
    assert!(per_message_id(&mails_after).values().all(|n| *n == 1));
    for address in [TU_PHAP_HEAD, XAY_DUNG_HEAD, LEADERS] {
        assert_eq!(to(&mails_after, address).len(), 1, "{address}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_crash_between_decision_and_send_loses_nothing_and_sends_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(free_port(), &dir.path().join("maildir")).await;
    let sources = source(dir.path(), &ROWS).await;
    // The leaders' level may go out at night; the department heads' waits for working hours.
    let text = format!(
        "{sources}{}{}",
        levels("", "working_hours_only = false"),
        mail(smtp.port)
    );
    // Thursday 20:00: XD-1 and TP-1 have a few hours left, XD-LATE is overdue.
    let clock = TestClock::at(at(5, 20, 0));
    let app = TestApp::start(config(dir.path(), &text), clock.clone(), None).await;
    let first = wait_for_mails(&smtp.maildir, 1).await;
    assert_eq!(first[0].to, LEADERS);
    eventually(
        "the heads' digests are queued",
        Duration::from_secs(30),
        || async {
            app.metric(r#"hcc_outbox_pending{level="department_head"}"#)
                .await
                == Some(2.0)
        },
    )
    .await;
    a_few_runs().await;
    assert_eq!(
        messages(&smtp.maildir).len(),
        1,
        "nothing to the heads at 20:00"
    );
    app.kill().await;

    // Restarted on the same store the next morning, at the opening: the heads' digests queued
    // before the crash go out once, the leaders' is not sent again, and the director hears of
    // the three dossiers now due today.
    clock.set(at(6, 7, 0));
    let app = TestApp::start(config(dir.path(), &text), clock, None).await;
    wait_for_mails(&smtp.maildir, 4).await;
    a_few_runs().await;
    let mails = messages(&smtp.maildir);
    let summary: Vec<_> = mails.iter().map(|m| (&m.to, &m.subject)).collect();
    assert_eq!(mails.len(), 4, "{summary:?}");
    assert!(
        per_message_id(&mails).values().all(|n| *n == 1),
        "{summary:?}"
    );
    for address in [TU_PHAP_HEAD, XAY_DUNG_HEAD, LEADERS, DIRECTOR] {
        assert_eq!(to(&mails, address).len(), 1, "{address}: {summary:?}");
    }
    assert_eq!(
        to(&mails, TU_PHAP_HEAD)[0].subject,
        "[TTHCC] 2 hồ sơ sắp quá hạn - Sở Tư pháp",
        "decided at 20:00, when TP-2 had 4 working hours left"
    );
    assert_eq!(
        to(&mails, DIRECTOR)[0].subject,
        "[TTHCC] 3 hồ sơ sắp quá hạn - 2 đơn vị"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_repeating_level_does_not_repeat_inside_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(free_port(), &dir.path().join("maildir")).await;
    let sources = source(dir.path(), &ROWS[..1]).await;
    let text = format!(
        "{sources}{}{}",
        levels("repeat_every_working_hours = 1", ""),
        mail(smtp.port)
    );
    let clock = TestClock::at(at(5, 9, 0));
    let app = TestApp::start(config(dir.path(), &text), clock.clone(), None).await;
    wait_for_mails(&smtp.maildir, 1).await;
    clock.set(at(5, 9, 59));
    a_few_runs().await;
    assert_eq!(
        messages(&smtp.maildir).len(),
        1,
        "59 minutes are inside the interval"
    );
    clock.set(at(5, 10, 0));
    let mails = wait_for_mails(&smtp.maildir, 2).await;
    assert_eq!(
        per_message_id(&mails).len(),
        2,
        "the second cycle is a new message"
    );
    a_few_runs().await;
    assert_eq!(messages(&smtp.maildir).len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_scheduled_report_goes_once_per_period_with_its_csv() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(free_port(), &dir.path().join("maildir")).await;
    let sources = source(dir.path(), &ROWS).await;
    let report = format!(
        "\n[[report]]\nname = \"daily\"\nperiod = \"day\"\nschedule = \"* * * * * *\"\n\
         recipients = [\"{DIRECTOR}\"]\n"
    );
    let text = format!("{sources}{report}{}", mail(smtp.port));
    let app = TestApp::start(
        config(dir.path(), &text),
        TestClock::at(at(5, 16, 30)),
        None,
    )
    .await;
    let mails = wait_for_mails(&smtp.maildir, 1).await;
    a_few_runs().await;
    assert_eq!(messages(&smtp.maildir).len(), 1, "once per period");
    let m = &mails[0];
    assert_eq!(m.to, DIRECTOR);
    assert_eq!(
        m.subject,
        "[TTHCC] Báo cáo tình hình giải quyết hồ sơ theo ngày - 05/03/2026"
    );
    assert!(m.html.as_deref().unwrap().contains("<td>Sở Xây dựng</td>"));
    assert!(m.text.as_deref().unwrap().contains("Tổng cộng"));
    let body = m.text.as_deref().unwrap();
    assert!(
        body.contains(
            "theo ngày, kỳ báo cáo từ 00:00 05/03/2026 đến 23:59 05/03/2026 (số liệu đến 16:30 \
             05/03/2026)"
        ),
        "{body}"
    );
    assert!(
        body.contains("Điểm tiến độ, kết quả giải quyết theo Quyết định 766/QĐ-TTg: "),
        "{body}"
    );
    assert!(
        m.html
            .as_deref()
            .unwrap()
            .contains("<th>Điểm tiến độ (766)</th>")
    );
    assert_eq!(m.attachments.len(), 1);
    let csv = &m.attachments[0];
    assert_eq!(csv.filename, "bao-cao-daily-20260305.csv");
    assert_eq!(csv.content_type, "text/csv");
    assert!(
        csv.content
            .starts_with("\u{feff}Mã đơn vị,Đơn vị,Tiếp nhận"),
        "a byte-order mark, so that Excel reads UTF-8: {}",
        csv.content
    );
    assert!(csv.content.contains("SO_XAY_DUNG"));
    app.stop().await;
}

#[tokio::test]
async fn the_demo_writes_its_escalations_as_eml_files() {
    let dir = tempfile::tempdir().unwrap();
    let calendar =
        Arc::new(hcc_monitor::calendar::Calendar::from_settings(&Default::default()).unwrap());
    let tz = calendar.time_zone();
    let cal = calendar.clone();
    let due: hcc_monitor::demo::generator::DueFn =
        Arc::new(move |t, days| cal.add_working_days(t, days));
    let listen = "127.0.0.1:0".parse().unwrap();
    let now = Utc::now();
    // The demo's own size: at 300 dossiers some days have none due for any level.
    let path = hcc_monitor::demo::prepare(dir.path(), listen, 3000, now, tz, due)
        .await
        .unwrap();
    let config = hcc_monitor::config::Config::load(&path).unwrap();
    assert_eq!(config.notify.levels.len(), 3);
    let app = hcc_monitor::app::Application::build(config, Arc::new(FixedClock(now)))
        .await
        .unwrap();
    let notifier = app.notifier().clone();
    let store = app.state().store.clone();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    eventually(
        "the demo source is polled",
        Duration::from_secs(30),
        || async {
            store
                .count_by_status()
                .await
                .unwrap()
                .iter()
                .map(|c| c.count)
                .sum::<i64>()
                >= 3000
        },
    )
    .await;
    let mut decided = 0;
    for level in 0..3 {
        decided += notifier.escalate(level).await.unwrap().decided;
    }
    assert!(
        decided > 0,
        "sixty days of demo data have dossiers to escalate"
    );
    notifier.report(0).await.unwrap();
    notifier.drain().await.unwrap();
    let emails = std::fs::read_dir(dir.path().join("mail"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "eml")
        })
        .count();
    assert!(emails >= 2, "{emails} .eml files");
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn send_test_email_delivers_one_message_through_the_configured_server() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(free_port(), &dir.path().join("maildir")).await;
    let path = dir.path().join("hcc.toml");
    let store = format!(
        "[store]\nurl = \"sqlite://{}/store.db\"\n",
        dir.path().display()
    );
    std::fs::write(&path, format!("{store}{}", mail(smtp.port))).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hcc-monitor"))
        .args(["send-test-email", "--config"])
        .arg(&path)
        .args(["--to", DIRECTOR, "--as-of", "2026-03-05T09:00:00+07:00"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("sent to g***@tthcc.example.gov.vn"),
        "{stdout}"
    );
    let mails = messages(&smtp.maildir);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].subject, "[TTHCC] Thư thử nghiệm của hcc-monitor");
    assert!(
        mails[0]
            .text
            .as_deref()
            .unwrap()
            .contains("09:00 05/03/2026")
    );
    assert!(stdout.contains(&mails[0].message_id), "{stdout}");
}

#[tokio::test]
async fn the_outbox_keeps_its_guarantees_on_a_postgresql_store() {
    use hcc_monitor::store::{Attempt, EscalationKey, NewMessage, Store};
    let db = crate::helpers::db::TestDb::create(crate::helpers::db::Server::Postgres).await;
    let store = Store::open_and_migrate(&hcc_monitor::config::StoreConfig {
        url: hcc_monitor::config::Secret::new(db.url()),
        max_connections: 2,
        source_connections: 1,
    })
    .await
    .unwrap();
    let now = at(5, 9, 0);
    let key = EscalationKey {
        source: "hcc".into(),
        dossier_id: "TP-1".into(),
        level: "department_head".into(),
        cycle: 0,
    };
    let message = NewMessage {
        key: "escalation/department_head/1/a@x.vn".into(),
        message_id: hcc_monitor::notify::message_id("escalation/department_head/1/a@x.vn"),
        level: "department_head".into(),
        recipient: "a@x.vn".into(),
        body: "Subject: x\r\n\r\nx\r\n".into(),
        working_hours_only: true,
        next_attempt_at: at(5, 13, 30),
    };
    let queued = store
        .record_escalations(
            std::slice::from_ref(&key),
            now,
            std::slice::from_ref(&message),
        )
        .await
        .unwrap();
    assert_eq!(queued, Some(1));
    // The same decision and email again: nothing new.
    let again = store
        .record_escalations(&[key], now, &[message])
        .await
        .unwrap();
    assert_eq!(again, None, "decided already: nothing kept");
    let history = store.escalation_history("department_head").await.unwrap();
    assert_eq!(history[&("hcc".into(), "TP-1".into())], (now, 0));

    let claim = |sender: &'static str, t: DateTime<Utc>| {
        let store = store.clone();
        async move {
            store
                .claim_due_message(sender, t, t + chrono::Duration::seconds(60))
                .await
                .unwrap()
        }
    };
    assert!(claim("a", now).await.is_none(), "waits for 13:30");
    let due = claim("a", at(5, 13, 30)).await.expect("due at 13:30");
    assert_eq!(due.reclaimed_from, None);
    let next = at(5, 14, 0);
    store
        .record_attempt(
            &due.message_key,
            "a",
            Attempt::Failed {
                class: "connect",
                next,
                dead: false,
            },
            at(5, 13, 30),
        )
        .await
        .unwrap();
    let due = claim("a", next).await.expect("due again at 14:00");
    store
        .record_attempt(&due.message_key, "a", Attempt::Sent, next)
        .await
        .unwrap();
    assert_eq!(
        store.outbox_counts().await.unwrap(),
        [("department_head".to_string(), "sent".to_string(), 1)]
    );
    let latest = store.outbox_latest(10).await.unwrap();
    assert_eq!(
        (latest[0].attempts, latest[0].sent_at),
        (2, Some(next.timestamp()))
    );
    store.close().await;
}
