//! Several instances on one store (issue 14): outbox claims that keep every email to one
//! sender, and a fault test of two instances of the real binary on one PostgreSQL store, the
//! leader killed at random moments and paused past its lease.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Span, Utc};
use hcc_monitor::config::{Secret, StoreConfig};
use hcc_monitor::store::{Attempt, Store};
use rand::Rng;

use crate::helpers::db::{Server, TestDb};
use crate::helpers::instance::{Instance, until_role};
use crate::helpers::prometheus::{Answer, Prometheus, repo_path};
use crate::helpers::smtp::{SmtpServer, free_port, mail, messages, queued_email};

async fn pg_store(db: &TestDb, connections: u32) -> Store {
    Store::open_and_migrate(&StoreConfig {
        url: Secret::new(db.url()),
        max_connections: connections,
        source_connections: 1,
    })
    .await
    .unwrap()
}

/// Claims every due row as `sender`, recording each as sent, and returns their keys.
async fn claim_all(store: Store, sender: &'static str, now: DateTime<Utc>) -> Vec<String> {
    let mut keys = Vec::new();
    while let Some(row) = store
        .claim_due_message(sender, now, now + Span::seconds(30))
        .await
        .unwrap()
    {
        // A send takes a moment: the other sender claims meanwhile.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        store
            .record_attempt(&row.message_key, sender, Attempt::Sent, now)
            .await
            .unwrap();
        keys.push(row.message_key);
    }
    keys
}

#[tokio::test]
async fn two_senders_draining_one_postgresql_outbox_at_once_never_take_the_same_email() {
    let db = TestDb::create(Server::Postgres).await;
    let store = pg_store(&db, 4).await;
    let now = Utc::now();
    let emails: Vec<_> = (0..200)
        .map(|i| queued_email(&format!("m{i}"), "a@x.vn"))
        .collect();
    store.enqueue(&emails, now).await.unwrap();
    let (a, b) = tokio::join!(
        tokio::spawn(claim_all(store.clone(), "a", now)),
        tokio::spawn(claim_all(store.clone(), "b", now)),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(
        !a.is_empty() && !b.is_empty(),
        "both took part: {} and {}",
        a.len(),
        b.len()
    );
    let a_set: HashSet<_> = a.iter().collect();
    let both: Vec<_> = b.iter().filter(|k| a_set.contains(k)).collect();
    assert!(both.is_empty(), "claimed by both: {both:?}");
    assert_eq!(a.len() + b.len(), 200);
    store.close().await;
}

/// A sender that dies (or stalls) mid-send: its claim lapses, another takes the row over with
/// the same Message-ID and is told whose claim it was; the stalled one, waking up, cannot undo
/// the new sender's record.
async fn a_lapsed_claim_passes_to_the_next_sender(store: &Store) {
    let now = Utc::now();
    store
        .enqueue(&[queued_email("slow", "a@x.vn")], now)
        .await
        .unwrap();
    let first = store
        .claim_due_message("a", now, now + Span::seconds(10))
        .await
        .unwrap()
        .expect("due");
    assert_eq!(first.reclaimed_from, None);
    assert!(
        store
            .claim_due_message("b", now + Span::seconds(5), now + Span::seconds(15))
            .await
            .unwrap()
            .is_none(),
        "a's claim still holds"
    );
    let later = now + Span::seconds(11);
    let second = store
        .claim_due_message("b", later, later + Span::seconds(10))
        .await
        .unwrap()
        .expect("a's claim lapsed");
    assert_eq!(second.message_id, first.message_id);
    assert_eq!(second.reclaimed_from.as_deref(), Some("a"));
    // a wakes up and records a failure: the row is b's now, so nothing changes.
    let failed = Attempt::Failed {
        class: "timeout",
        next: later,
        dead: true,
    };
    store
        .record_attempt(&first.message_key, "a", failed, later)
        .await
        .unwrap();
    store
        .record_attempt(&second.message_key, "b", Attempt::Sent, later)
        .await
        .unwrap();
    let rows = store.outbox_latest(10).await.unwrap();
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("sent", 1));
    assert!(
        store
            .claim_due_message("a", later, later + Span::seconds(10))
            .await
            .unwrap()
            .is_none(),
        "sent: nobody claims it again"
    );
}

#[tokio::test]
async fn a_lapsed_claim_passes_to_the_next_sender_on_postgresql() {
    let db = TestDb::create(Server::Postgres).await;
    let store = pg_store(&db, 2).await;
    a_lapsed_claim_passes_to_the_next_sender(&store).await;
    store.close().await;
}

#[tokio::test]
async fn a_lapsed_claim_passes_to_the_next_sender_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_and_migrate(&StoreConfig {
        url: Secret::new(format!(
            "sqlite://{}",
            dir.path().join("store.db").display()
        )),
        max_connections: 2,
        source_connections: 1,
    })
    .await
    .unwrap();
    a_lapsed_claim_passes_to_the_next_sender(&store).await;
    store.close().await;
}

// ------------------------------------------------------------------------------------------
// The fault test: two instances of the real binary on one PostgreSQL store, a slow SMTP server,
// the leader killed again and again, then paused past its lease.

/// Short, so that the test stays within a few minutes: a standby leads at most 4 s after the
/// leader died.
const LEASE_SECS: u64 = 3;
const RENEW_SECS: u64 = 1;
const EMAILS: usize = 200;
const KILLS: usize = 20;
/// What aiosmtpd takes to accept each message.
const SMTP_DELAY: Duration = Duration::from_millis(300);

/// A level for the overdue dossiers, at any hour, to the province's leaders.
const LEADERS_LEVEL: &str = r#"
[recipients]
province_leaders = ["lanh-dao@example.gov.vn"]

[[escalation.level]]
name = "province_leaders"
sla_state = "overdue"
notify = ["province_leaders"]
digest_schedule = "* * * * * *"
working_hours_only = false
"#;

/// An instance's config: the shared store, a lease short enough for a test, the PostgreSQL
/// source `hs` polled every second by a query that names the instance in a comment and lasts
/// long enough (200 ms) to be seen in `pg_stat_activity`, and `extra` sections.
fn instance_config(
    name: &str,
    port: u16,
    store_url: &str,
    source_url: &str,
    extra: &str,
) -> String {
    format!(
        r#"[service]
listen = "127.0.0.1:{port}"
evaluate_schedule = "* * * * * *"
[store]
url = "{store_url}"
[ha]
lease_secs = {LEASE_SECS}
renew_secs = {RENEW_SECS}
{extra}
[[source]]
name = "pg"
url = "{source_url}"
schedule = "* * * * * *"
query = """
/* {name} */ SELECT id AS dossier_id, tt AS procedure_code, dv AS department,
       nhan AS received_at, han AS due_at, xong AS resolved_at, trang_thai AS status,
       sua AS updated_at
FROM hs, (SELECT pg_sleep(0.2)) AS slow_enough_to_be_seen WHERE sua >= :watermark
"""
[source.status_map]
DANG_XU_LY = "in_progress"
DA_XONG = "resolved"
"#
    )
}

/// The source's table, with `open` dossiers in progress (a third of them overdue) and
/// `resolved` ones resolved a few minutes ago (a third of them late).
async fn source_table(db: &TestDb, open: u32, resolved: u32) {
    db.exec(&format!(
        "CREATE TABLE hs (id text PRIMARY KEY, tt text, dv text, nhan timestamp, han timestamp, \
         xong timestamp, trang_thai text, sua timestamp);
INSERT INTO hs SELECT 'MO-' || g, 'P1', CASE WHEN g % 2 = 0 THEN 'SO_TU_PHAP' ELSE 'SO_XAY_DUNG' END, \
         now() - interval '20 days', \
         CASE WHEN g % 3 = 0 THEN now() - interval '2 days' ELSE now() + interval '20 days' END, \
         NULL, 'DANG_XU_LY', now() - interval '1 day' FROM generate_series(1, {open}) g;
INSERT INTO hs SELECT 'XONG-' || g, 'P1', 'SO_TU_PHAP', now() - interval '3 days', \
         CASE WHEN g % 3 = 0 THEN now() - interval '1 day' ELSE now() + interval '5 days' END, \
         now() - interval '5 minutes', 'DA_XONG', now() - interval '5 minutes' \
         FROM generate_series(1, {resolved}) g"
    ))
    .await;
}

/// Samples the source's `pg_stat_activity` every 20 ms until `stop`: returns the samples where
/// a poll ran, and those where polls of both instances ran at once (each instance's query
/// carries its name in a comment).
async fn watch_polls(source_url: String, stop: tokio_util::sync::CancellationToken) -> (u32, u32) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&source_url).await.unwrap();
    let (mut polling, mut both) = (0, 0);
    while !stop.is_cancelled() {
        let active: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT substring(query from '/\\* (inst-[ab]) \\*/') FROM pg_stat_activity \
             WHERE datname = current_database() AND state = 'active' \
             AND pid <> pg_backend_pid() AND query LIKE '%/* inst-%'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        polling += u32::from(!active.is_empty());
        both += u32::from(active.len() > 1);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (polling, both)
}

fn summary(times: &mut [Duration]) -> String {
    times.sort();
    let ms = |d: Duration| d.as_millis();
    format!(
        "min {} ms, median {} ms, max {} ms",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    )
}

#[tokio::test]
async fn two_instances_on_one_postgresql_store_survive_kills_and_a_pause_sending_each_email_once() {
    let store_db = TestDb::create(Server::Postgres).await;
    let source_db = TestDb::create(Server::Postgres).await;
    source_table(&source_db, 20, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start_slow(free_port(), &dir.path().join("maildir"), SMTP_DELAY).await;

    // The emails, decided before the instances start: due now, each to its own address.
    let store = pg_store(&store_db, 2).await;
    let emails: Vec<_> = (0..EMAILS)
        .map(|i| {
            queued_email(
                &format!("ha-{i}"),
                &format!("nguoi-nhan-{i}@example.gov.vn"),
            )
        })
        .collect();
    store.enqueue(&emails, Utc::now()).await.unwrap();

    // And the leaders' digest of the overdue dossiers, decided by whichever instance leads.
    let extra = format!("{}{LEADERS_LEVEL}", mail(smtp.port));
    let text = |name: &'static str| {
        let (store_url, source_url, extra) = (store_db.url(), source_db.url(), extra.clone());
        move |port: u16| instance_config(name, port, &store_url, &source_url, &extra)
    };
    let stop_watching = tokio_util::sync::CancellationToken::new();
    let watcher = tokio::spawn(watch_polls(source_db.url(), stop_watching.clone()));
    let mut a = Instance::new(dir.path(), "inst-a", text("inst-a"));
    let configured = Duration::from_secs(LEASE_SECS + RENEW_SECS);
    until_role(&a, "leader", Duration::from_secs(20)).await;
    let mut b = Instance::new(dir.path(), "inst-b", text("inst-b"));
    until_role(&b, "standby", Duration::from_secs(20)).await;

    // A standby exports its process series only: nothing that a rule sums or pages on.
    let standby = b.metrics().await;
    assert!(standby.contains("hcc_leader 0"), "{standby}");
    assert!(!standby.contains("hcc_source_up"), "{standby}");
    assert!(!standby.contains("hcc_outbox_pending"), "{standby}");
    assert!(a.metrics().await.contains("hcc_leader 1"));

    let mut rng = rand::rng();
    let mut takeovers = Vec::new();
    for _ in 0..KILLS {
        // A random moment of the leader's work: mid-send, mid-poll, between the two.
        let wait = rng.random_range(200..1500);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let (leader, standby) = if a.role().await.as_deref() == Some("leader") {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        leader.sigkill();
        takeovers.push(until_role(standby, "leader", configured * 2).await);
        leader.start();
        until_role(leader, "standby", Duration::from_secs(20)).await;
    }

    // The split brain: the leader paused past its lease, then resumed. It must find it no longer
    // leads, and stop.
    let (leader, standby) = if a.role().await.as_deref() == Some("leader") {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    tokio::time::sleep(Duration::from_millis(rng.random_range(200..1000))).await;
    leader.signal("STOP");
    let paused_at = Instant::now();
    let paused_takeover = until_role(standby, "leader", configured * 2).await;
    tokio::time::sleep(Duration::from_secs(LEASE_SECS)).await;
    leader.signal("CONT");
    let paused_for = paused_at.elapsed();
    let stepped_down = until_role(leader, "standby", Duration::from_secs(10)).await;

    // Every email delivered; a Message-ID twice only where a claim was taken over.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let pending: i64 = store
            .outbox_counts()
            .await
            .unwrap()
            .into_iter()
            .filter(|(_, state, _)| state != "sent")
            .map(|(_, _, n)| n)
            .sum();
        if pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{pending} emails still not sent");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A message in flight at a kill may be stored by the server a moment later.
    tokio::time::sleep(SMTP_DELAY * 3).await;
    stop_watching.cancel();
    let (polling, both) = watcher.await.unwrap();

    let mut copies: std::collections::HashMap<String, usize> = Default::default();
    for m in messages(&smtp.maildir) {
        *copies.entry(m.message_id).or_default() += 1;
    }
    let (reclaimed, decided, digests, escalated): (Vec<(String, i64)>, Vec<String>, i64, i64) = {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&store_db.url()).await.unwrap();
        let mut scalar = async |sql: &'static str| -> i64 {
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        };
        let digests =
            scalar("SELECT COUNT(*) FROM outbox WHERE message_key LIKE 'escalation/%'").await;
        let escalated = scalar("SELECT COUNT(*) FROM escalations").await;
        (
            sqlx::query_as("SELECT message_id, reclaims FROM outbox WHERE reclaims > 0")
                .fetch_all(&mut conn)
                .await
                .unwrap(),
            sqlx::query_scalar("SELECT message_id FROM outbox")
                .fetch_all(&mut conn)
                .await
                .unwrap(),
            digests,
            escalated,
        )
    };
    let reclaimed_ids: HashSet<&str> = reclaimed.iter().map(|(id, _)| id.as_str()).collect();
    let resends: i64 = reclaimed.iter().map(|(_, n)| n).sum();
    let duplicates: Vec<(&String, &usize)> = copies.iter().filter(|(_, n)| **n > 1).collect();
    let extra_copies: usize = duplicates.iter().map(|(_, n)| *n - 1).sum();
    let missing: Vec<&String> = decided
        .iter()
        .filter(|id| !copies.contains_key(*id))
        .collect();

    let mut all = takeovers.clone();
    all.push(paused_takeover);
    println!(
        "HA fault test: {KILLS} SIGKILLs of the leader and 1 SIGSTOP of {} ms; lease {LEASE_SECS} s, \
         renew {RENEW_SECS} s, configured takeover bound {} ms",
        paused_for.as_millis(),
        configured.as_millis()
    );
    println!("  takeovers after SIGKILL: {}", summary(&mut takeovers));
    println!(
        "  takeover after SIGSTOP: {} ms; the paused leader stepped down {} ms after SIGCONT",
        paused_takeover.as_millis(),
        stepped_down.as_millis()
    );
    println!(
        "  emails decided {} ({EMAILS} queued before the start, {digests} digest of {escalated} \
         overdue dossiers planned by the leaders), delivered {} distinct, {} messages in all; \
         Message-IDs twice: {} ({extra_copies} extra copies); in-flight resends (claims taken \
         over): {resends} on {} rows",
        decided.len(),
        copies.len(),
        copies.values().sum::<usize>(),
        duplicates.len(),
        reclaimed.len()
    );
    println!(
        "  source polls seen in pg_stat_activity: {polling} samples, {both} with both instances"
    );

    assert!(missing.is_empty(), "never delivered: {missing:?}");
    assert_eq!(copies.len(), decided.len(), "only the decided emails");
    assert_eq!(
        (digests, escalated),
        (1, 6),
        "the overdue dossiers decided once, in one digest, whoever led"
    );
    for (id, _) in &duplicates {
        assert!(
            reclaimed_ids.contains(id.as_str()),
            "{id} arrived twice but no claim on it was taken over"
        );
    }
    assert!(
        extra_copies as i64 <= resends,
        "{extra_copies} extra copies for {resends} in-flight resends"
    );
    for t in &all {
        assert!(
            *t <= configured + Duration::from_millis(500),
            "takeover took {t:?}, configured {configured:?}"
        );
    }
    assert!(polling > 0, "the source's polls were seen");
    assert_eq!(both, 0, "samples where both instances polled the source");
    store.close().await;
}

/// The figures the dashboards and alerts are built on, as a real Prometheus with the shipped
/// rules answers them, each series without its `instance` label (which says which instance
/// led, not what the figure is).
async fn figures(p: &Prometheus) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    for q in FIGURES {
        let Answer::Series(series) = p.query(q).await else {
            panic!("{q} failed");
        };
        let mut values: Vec<(String, String)> = series
            .iter()
            .map(|s| {
                let mut labels = s["metric"].as_object().cloned().unwrap_or_default();
                labels.remove("instance");
                (
                    serde_json::Value::Object(labels).to_string(),
                    s["value"][1].to_string(),
                )
            })
            .collect();
        values.sort();
        out.push((q.to_string(), values));
    }
    out
}

const FIGURES: &[&str] = &[
    "sum(hcc:dossiers_open:sum)",
    "sum by (department, sla_state) (hcc_dossiers_open)",
    "hcc:dossiers_overdue:ratio",
    "hcc:on_time_rate:ratio",
    "sum by (period) (hcc:dossiers_resolved:sum)",
    "sum by (period) (hcc:dossiers_resolved_in_time:sum)",
    "sum by (period) (hcc:dossiers_received:sum)",
    "count(hcc_source_up)",
];

/// Waits until `p` answers every figure, with the backlog at `open`.
async fn wait_for_figures(p: &Prometheus, open: u32, what: &str) {
    p.wait_for(what, Duration::from_secs(60), || async {
        let Answer::Series(s) = p.query("sum(hcc:dossiers_open:sum)").await else {
            return false;
        };
        let backlog_ok = s
            .first()
            .and_then(|v| v["value"][1].as_str()?.parse::<u32>().ok())
            == Some(open);
        let mut all = backlog_ok;
        for q in FIGURES {
            all = all && p.count(q).await > 0;
        }
        all
    })
    .await;
}

#[tokio::test]
async fn prometheus_shows_the_same_backlog_and_on_time_figures_with_one_or_two_instances() {
    let store_db = TestDb::create(Server::Postgres).await;
    let source_db = TestDb::create(Server::Postgres).await;
    source_table(&source_db, 30, 12).await;
    let dir = tempfile::tempdir().unwrap();
    let rules = [repo_path("alerts/hcc-monitor.rules.yml")];
    let text = |name: &'static str| {
        let (store_url, source_url) = (store_db.url(), source_db.url());
        move |port: u16| instance_config(name, port, &store_url, &source_url, "")
    };
    let addr = |i: &Instance| std::net::SocketAddr::from(([127, 0, 0, 1], i.port));

    // One instance, as a centre runs it today.
    let mut a = Instance::new(dir.path(), "inst-a", text("inst-a"));
    until_role(&a, "leader", Duration::from_secs(20)).await;
    let one = Prometheus::start("hcc-monitor", addr(&a), &rules).await;
    wait_for_figures(&one, 30, "the figures of one instance").await;
    let alone = figures(&one).await;

    // A second instance on the same store, and a Prometheus scraping both.
    let b = Instance::new(dir.path(), "inst-b", text("inst-b"));
    until_role(&b, "standby", Duration::from_secs(20)).await;
    let two = Prometheus::scraping("hcc-monitor", &[addr(&a), addr(&b)], &rules).await;
    two.wait_for(
        "both instances scraped",
        Duration::from_secs(30),
        || async { two.count("up == 1").await == 2 },
    )
    .await;
    wait_for_figures(&two, 30, "the figures of two instances").await;
    assert_eq!(figures(&two).await, alone, "two instances against one");

    // The leader dies: the standby's figures take over, the same again.
    a.sigkill();
    until_role(&b, "leader", Duration::from_secs(10)).await;
    let b_instance = format!("127.0.0.1:{}", b.port);
    two.wait_for(
        "the new leader's figures",
        Duration::from_secs(60),
        || async {
            two.count(&format!(
                "hcc:dossiers_open:sum{{instance=\"{b_instance}\"}}"
            ))
            .await
                > 0
                && two.count("up == 0").await == 1
        },
    )
    .await;
    wait_for_figures(&two, 30, "the figures after the failover").await;
    assert_eq!(figures(&two).await, alone, "after the failover");
    println!(
        "Prometheus with one and two instances (and after a failover): {} figures identical",
        alone.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_cannot_renew_its_lease_stops_leading_when_it_lapses_and_leads_again_after() {
    use crate::helpers::app::TestApp;
    use crate::helpers::proxy::Proxy;
    let db = TestDb::create(Server::Postgres).await;
    let proxy = Proxy::start(crate::helpers::db::pg_addr()).await;
    let url = format!("postgres://postgres@{}/{}", proxy.addr, db.name);
    let text = format!(
        "[service]\nlisten = \"127.0.0.1:0\"\n[store]\nurl = \"{url}\"\n\
         [ha]\nlease_secs = {LEASE_SECS}\nrenew_secs = {RENEW_SECS}\n"
    );
    let config =
        hcc_monitor::config::Config::parse(std::path::Path::new("t.toml"), &text, |_| None)
            .unwrap();
    let app = TestApp::spawn_with(config, tempfile::tempdir().unwrap()).await;
    let leads = |value: f64| {
        let app = &app;
        move || async move { app.metric("hcc_leader").await == Some(value) }
    };
    crate::helpers::eventually("it leads", Duration::from_secs(10), leads(1.0)).await;
    assert_eq!(app.get("/readyz").await.1, "ready: leader\n");
    assert!(
        app.metric("hcc_office_open").await.is_some(),
        "a leader exports everything"
    );

    // The store becomes unreachable: no renewal gets through, and the lease lapses.
    proxy.stop().await;
    let cut = Instant::now();
    crate::helpers::eventually("it stops leading", Duration::from_secs(10), leads(0.0)).await;
    let stepped_down = cut.elapsed();
    // It steps down at its own deadline, at most a lease after the cut. The bound allows a
    // renewal period and 3 s more: each look at /metrics is a request that a loaded machine
    // answers late (7.9 s was seen with the machine's two cores shared by five builds).
    assert!(
        stepped_down <= Duration::from_secs(LEASE_SECS + RENEW_SECS + 3),
        "stepped down {stepped_down:?} after the cut, the lease is {LEASE_SECS} s"
    );
    assert_eq!(app.metric("hcc_leader_changes_total").await, Some(2.0));
    assert_eq!(
        app.metric("hcc_office_open").await,
        None,
        "a standby exports its process series only"
    );

    proxy.resume().await;
    crate::helpers::eventually("it leads again", Duration::from_secs(10), leads(1.0)).await;
    assert_eq!(app.metric("hcc_leader_changes_total").await, Some(3.0));
    app.stop().await;
}
