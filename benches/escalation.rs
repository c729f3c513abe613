//! `cargo bench --bench escalation`: escalation planning and digest rendering for 10,000 due
//! dossiers across 50 recipients (target ≤ 2 s: decisions, 50 rendered digests and the outbox
//! transaction), then mailer throughput to a real local SMTP server (aiosmtpd, discarding what
//! it receives). Medians of 3 runs on fresh stores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hcc_monitor::clock::FixedClock;
use hcc_monitor::config::Config;
use hcc_monitor::dossier::{Channel, Dossier, Status};
use hcc_monitor::evaluate::Evaluator;
use hcc_monitor::metrics::Metrics;
use hcc_monitor::notify::{Mailer, Notifier, Templates};
use hcc_monitor::store::Store;

const DOSSIERS: usize = 10_000;
const DEPARTMENTS: usize = 50;

fn instant(s: &str) -> DateTime<Utc> {
    s.parse().expect("RFC 3339")
}

fn config(dir: &std::path::Path, smtp_port: u16) -> Config {
    let heads: String = (0..DEPARTMENTS)
        .map(|d| format!("D{d:02} = [\"truong-phong-{d:02}@so-{d:02}.example.gov.vn\"]\n"))
        .collect();
    let text = format!(
        r#"[store]
url = "sqlite://{dir}/store.db"
[recipients.department_heads]
{heads}
[[escalation.level]]
name = "department_head"
working_hours_left_at_most = 8
notify = ["department_head"]
[mail]
transport = "smtp"
host = "127.0.0.1"
port = {smtp_port}
tls = "plain"
from = "hcc-monitor <tthcc@example.gov.vn>"
pool_size = 4
"#,
        dir = dir.display()
    );
    Config::parse(std::path::Path::new("bench.toml"), &text, |_| None).expect("bench config")
}

/// Received Monday 2 March 2026 08:00, due Wednesday 17:00: at Wednesday 10:00 each has 5
/// working hours left, so every one is due for the department-head level.
fn dossiers() -> Vec<Dossier> {
    (0..DOSSIERS)
        .map(|i| Dossier {
            dossier_id: format!("HS-{i:06}"),
            procedure_code: format!("1.{:06}", i % 300),
            procedure_name: Some("Cấp giấy phép xây dựng".into()),
            department: format!("D{:02}", i % DEPARTMENTS),
            channel: Channel::Direct,
            received_at: instant("2026-03-02T01:00:00Z"),
            due_at: Some(instant("2026-03-04T10:00:00Z")),
            resolved_at: None,
            status: Status::InProgress,
            raw_status: "DANG_XU_LY".into(),
            updated_at: instant("2026-03-02T01:00:00Z"),
            paused_at: None,
            resumed_at: None,
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn main() {
    let port = free_port();
    let python = std::env::var("HCC_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut smtp = std::process::Command::new(python)
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Sink",
        ])
        .spawn()
        .expect("aiosmtpd (bash scripts/test-deps.sh installs it)");
    let up = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "aiosmtpd did not start");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut plans = Vec::new();
    let mut sends = Vec::new();
    let mut emails = 0;
    for _ in 0..3 {
        let (plan, send, sent) = rt.block_on(run(port));
        plans.push(plan);
        sends.push(send);
        emails = sent;
    }
    let _ = smtp.kill();
    let _ = smtp.wait();
    plans.sort();
    sends.sort();
    let (plan, send) = (plans[1], sends[1]);
    println!("hcc-monitor escalation benchmark: {DOSSIERS} due dossiers, {DEPARTMENTS} recipients");
    println!("| step | figure | target |");
    println!("| --- | --- | --- |");
    println!(
        "| plan, render {emails} digests and write the outbox, median of 3 | {:.3} s | ≤ 2 s |",
        plan.as_secs_f64()
    );
    println!(
        "| send them to a local SMTP server, median of 3 | {:.3} s ({:.0} emails/s, {:.0} dossier lines/s) | - |",
        send.as_secs_f64(),
        emails as f64 / send.as_secs_f64(),
        DOSSIERS as f64 / send.as_secs_f64()
    );
}

async fn run(port: u16) -> (Duration, Duration, usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(dir.path(), port);
    let store = Store::open_and_migrate(&config.store).await.expect("store");
    store
        .write_batch(
            "bench",
            &dossiers(),
            &[],
            None,
            instant("2026-03-02T01:00:00Z"),
            None,
        )
        .await
        .expect("dossiers");
    let metrics = Arc::new(Metrics::new());
    let clock = Arc::new(FixedClock(instant("2026-03-04T03:00:00Z")));
    let evaluator = Arc::new(Evaluator::new(&config, store.clone(), metrics.clone()));
    let notifier = Notifier::new(
        config.notify.clone(),
        config.calendar.clone(),
        store.clone(),
        evaluator,
        metrics,
        clock,
        Templates::load(None).expect("templates"),
        Mailer::new(&config.notify.mail).expect("mailer"),
    );
    let started = Instant::now();
    let run = notifier.escalate(0).await.expect("escalate");
    let plan = started.elapsed();
    assert_eq!(run.decided, DOSSIERS);
    let started = Instant::now();
    let mut sent = 0;
    loop {
        let drained = notifier.drain().await.expect("drain");
        sent += drained.sent;
        if drained.sent == 0 {
            break;
        }
    }
    let send = started.elapsed();
    assert_eq!(sent as u64, run.queued);
    (plan, send, sent)
}
