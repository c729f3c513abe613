//! The notifier's logic on a SQLite store with the memory mailer: which level reaches whom,
//! once; and what the templates make of a source's values.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Asia::Ho_Chi_Minh;

use super::*;
use crate::clock::FixedClock;
use crate::config::Config;
use crate::dossier::{Channel, Dossier, Status};
use crate::sla::{Evaluation, SlaState};

/// March 2026: Monday the 2nd, no holidays.
fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Ho_Chi_Minh
        .with_ymd_and_hms(2026, 3, d, h, m, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn dossier(id: &str, name: &str, due: DateTime<Utc>, status: Status) -> Dossier {
    Dossier {
        dossier_id: id.to_string(),
        procedure_code: "1.001".to_string(),
        procedure_name: Some(name.to_string()),
        department: "SO_TU_PHAP".to_string(),
        channel: Channel::Direct,
        received_at: at(2, 8, 0),
        due_at: Some(due),
        resolved_at: (status == Status::Resolved).then(|| at(3, 9, 0)),
        status,
        raw_status: status.as_str().to_string(),
        updated_at: at(2, 8, 0),
        paused_at: None,
        resumed_at: None,
    }
}

async fn notifier(dir: &Path, now: DateTime<Utc>) -> (Notifier, Sent) {
    let text = format!(
        "[store]\nurl = \"sqlite://{}/store.db\"\n\
         [departments]\nSO_TU_PHAP = \"Sở Tư pháp\"\n\
         [recipients]\ncentre_director = [\"giam-doc@tthcc.example.gov.vn\"]\n\
         province_leaders = [\"lanh-dao@ubnd.example.gov.vn\"]\n\
         [recipients.department_heads]\nSO_TU_PHAP = [\"truong-phong@so-tuphap.example.gov.vn\"]\n",
        dir.display()
    );
    let config = Config::parse(Path::new("t.toml"), &text, |_| None).unwrap();
    let store = Store::open_and_migrate(&config.store).await.unwrap();
    let dossiers = [
        dossier(
            "HS-TODAY",
            "Chứng thực bản sao",
            at(5, 17, 0),
            Status::InProgress,
        ),
        dossier(
            "HS-8H",
            "Đăng ký khai sinh",
            at(6, 9, 0),
            Status::InProgress,
        ),
        dossier(
            "HS-LATE",
            "Cấp phiếu lý lịch",
            at(4, 17, 0),
            Status::InProgress,
        ),
        dossier(
            "HS-DONE",
            "Cấp phiếu lý lịch",
            at(4, 17, 0),
            Status::Resolved,
        ),
        dossier(
            "HS-WAIT",
            "Cấp phiếu lý lịch",
            at(4, 17, 0),
            Status::SupplementRequested,
        ),
    ];
    store
        .write_batch("src", &dossiers, &[], None, now, None)
        .await
        .unwrap();
    let metrics = Arc::new(Metrics::new());
    let evaluator = Arc::new(Evaluator::new(&config, store.clone(), metrics.clone()));
    let (mailer, sent) = Mailer::memory();
    let n = Notifier::new(
        config.notify.clone(),
        config.calendar.clone(),
        store,
        evaluator,
        metrics,
        Arc::new(FixedClock(now)),
        Templates::load(None).unwrap(),
        mailer,
    );
    (n, sent)
}

fn recipients(sent: &Sent) -> Vec<String> {
    let mut to: Vec<String> = sent
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(env, _)| env.to().iter().map(ToString::to_string))
        .collect();
    to.sort();
    to
}

#[tokio::test]
async fn each_dossier_reaches_its_highest_level_once_and_waits_for_working_hours() {
    let dir = tempfile::tempdir().unwrap();
    // Thursday 20:00: decisions are made, the digests wait for Friday 07:00.
    let (n, sent) = notifier(dir.path(), at(5, 20, 0)).await;
    let names: Vec<&str> = n.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["department_head", "centre_director", "province_leaders"]
    );
    let mut decided = Vec::new();
    for level in 0..3 {
        decided.push(n.escalate(level).await.unwrap().decided);
    }
    // At 20:00 on Thursday, HS-TODAY (due 17:00) is overdue too: two for the leaders.
    assert_eq!(decided, [1, 0, 2]);
    assert_eq!(
        n.drain().await.unwrap().sent,
        0,
        "nothing before the opening"
    );
    for level in 0..3 {
        assert_eq!(n.escalate(level).await.unwrap(), EscalationRun::default());
    }

    // Friday at the opening, after a restart: the queued digests go out.
    let (n, sent_at_opening) = notifier(dir.path(), at(6, 7, 0)).await;
    assert_eq!(n.drain().await.unwrap().sent, 2);
    assert_eq!(
        recipients(&sent_at_opening),
        [
            "lanh-dao@ubnd.example.gov.vn",
            "truong-phong@so-tuphap.example.gov.vn"
        ]
    );
    assert!(sent.lock().unwrap().is_empty());
    let counts = n.store.outbox_counts().await.unwrap();
    assert!(
        counts.iter().all(|(_, state, _)| state == "sent"),
        "{counts:?}"
    );
}

fn view(id: &str, procedure: &str, state: SlaState, left: i64) -> OpenView {
    OpenView {
        source: "src".into(),
        dossier_id: id.into(),
        procedure_code: "1.001".into(),
        procedure_name: Some(procedure.into()),
        department: "SO_TU_PHAP".into(),
        status: Status::InProgress,
        received_at: at(2, 8, 0),
        due_at: Some(at(5, 17, 0)),
        sla_state: state.as_str(),
        elapsed_working_secs: 0,
        left_working_secs: Some(left),
        fraction_used: Some(0.9),
        handed_over_to: Vec::new(),
        evaluation: Evaluation {
            state,
            elapsed_working_secs: 0,
            left_working_secs: Some(left),
            allowed_working_secs: Some(24 * 3600),
            fraction_used: Some(0.9),
            has_deadline: true,
            effective_due: Some(at(5, 17, 0)),
        },
    }
}

/// The first level's digest on Thursday 5/3 at 09:00, listing the first `listed` of `views`
/// (the department's counts are of all of them), in the shipped templates.
fn digest_at_9(n: &Notifier, views: &[OpenView], listed: usize) -> templates::Rendered {
    let dossiers: Vec<&OpenView> = views.iter().take(listed).collect();
    let ctx = context::digest(
        &n.config,
        &n.calendar,
        &n.rules[0],
        &dossiers,
        views,
        at(5, 9, 0),
    );
    Templates::load(None)
        .unwrap()
        .render(Kind::Digest, &ctx)
        .unwrap()
}

#[tokio::test]
async fn an_overdue_dossier_reads_as_overdue_in_the_digest() {
    let dir = tempfile::tempdir().unwrap();
    let (n, _) = notifier(dir.path(), at(5, 9, 0)).await;
    // Two hours of working time past the deadline, and one that passed at night: no working
    // minute past it yet.
    let views = vec![
        view("HS-LATE", "Khai sinh", SlaState::Overdue, -2 * 3600),
        view("HS-NIGHT", "Khai sinh", SlaState::Overdue, 0),
    ];
    let r = digest_at_9(&n, &views, views.len());
    assert!(
        r.text.contains("Tình trạng: quá hạn 2 giờ làm việc\n"),
        "{}",
        r.text
    );
    assert!(r.text.contains("Tình trạng: vừa quá hạn\n"), "{}", r.text);
    assert!(!r.text.contains("còn 0 phút"), "{}", r.text);
    assert!(
        r.html.contains("<td>quá hạn 2 giờ làm việc</td>"),
        "{}",
        r.html
    );
    assert!(!r.html.contains("còn 0 phút"), "{}", r.html);
}

#[tokio::test]
async fn digests_escape_source_values_in_html_and_say_the_time_left_in_vietnamese() {
    let dir = tempfile::tempdir().unwrap();
    let (n, _) = notifier(dir.path(), at(5, 9, 0)).await;
    let views = vec![view(
        "HS-<1>",
        "<b>Chứng thực</b> & sao y",
        SlaState::DueSoon,
        3 * 3600,
    )];
    // Enough paused dossiers of the department for its count to need a thousands separator.
    let views: Vec<OpenView> = views
        .into_iter()
        .chain((0..1_200).map(|i| view(&format!("HS-P{i}"), "Khai sinh", SlaState::Paused, 0)))
        .collect();
    let r = digest_at_9(&n, &views, 1);
    assert_eq!(r.subject, "[TTHCC] 1 hồ sơ sắp quá hạn - Sở Tư pháp");
    assert!(
        r.html
            .contains("&lt;b&gt;Chứng thực&lt;&#x2f;b&gt; &amp; sao y"),
        "{}",
        r.html
    );
    assert!(r.html.contains("HS-&lt;1&gt;"));
    assert!(!r.html.contains("<b>Chứng"));
    assert!(
        r.text.contains("<b>Chứng thực</b> & sao y"),
        "plain text is not escaped"
    );
    assert!(r.text.contains("còn 3 giờ làm việc"));
    assert!(
        r.text.contains(
            "Sở Tư pháp: 1 đang giải quyết, trong đó 1 sắp đến hạn, 0 quá hạn; 1.200 tạm dừng"
        ),
        "{}",
        r.text
    );
    assert!(r.html.contains("1.200 tạm dừng"), "{}", r.html);
    assert!(
        r.text.contains("đã dùng từ 75 % thời gian giải quyết"),
        "{}",
        r.text
    );
}

/// What the store's own connections run, here to make recording "sent" fail as a full disk does.
async fn store_sql(store: &Store, sql: &'static str) {
    crate::store::on_pool!(store, p => sqlx::query(sql).execute(p).await.map(drop)).unwrap();
}

#[tokio::test]
async fn a_send_the_store_cannot_record_stops_the_drain_and_is_recorded_before_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let (n, sent) = notifier(dir.path(), at(6, 7, 0)).await;
    for level in 0..3 {
        n.escalate(level).await.unwrap();
    }
    store_sql(
        &n.store,
        "CREATE TRIGGER no_sent BEFORE UPDATE OF state ON outbox WHEN NEW.state = 'sent' \
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END",
    )
    .await;
    assert!(n.drain().await.is_err(), "the drain must stop");
    assert_eq!(sent.lock().unwrap().len(), 1, "one email left, no second");
    assert_eq!(n.metrics.outbox_unrecorded_sends.get(), 1);
    // However long the store stays broken (and the claim lapses), nothing goes again.
    let later = Notifier {
        clock: Arc::new(FixedClock(at(6, 9, 0))),
        ..n
    };
    for _ in 0..3 {
        assert!(later.drain().await.is_err());
    }
    assert_eq!(sent.lock().unwrap().len(), 1);

    store_sql(&later.store, "DROP TRIGGER no_sent").await;
    let run = later.drain().await.unwrap();
    assert_eq!(
        run.sent, 1,
        "the other email goes once the first is recorded"
    );
    assert_eq!(later.metrics.outbox_unrecorded_sends.get(), 0);
    let ids: Vec<String> = sent
        .lock()
        .unwrap()
        .iter()
        .map(|(_, body)| {
            String::from_utf8_lossy(body)
                .lines()
                .find(|l| l.starts_with("Message-ID"))
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1], "each Message-ID once");
    let counts = later.store.outbox_counts().await.unwrap();
    assert!(
        counts.iter().all(|(_, state, _)| state == "sent"),
        "{counts:?}"
    );
}
