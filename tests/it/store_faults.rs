//! Store faults against the real binary and aiosmtpd: whatever the store does, each email is
//! delivered once (counted by Message-ID in the server's Maildir).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use hcc_monitor::config::Config;
use hcc_monitor::store::Store;

use crate::helpers::db::sqlite_exec;
use crate::helpers::instance::Instance;
use crate::helpers::smtp::{SmtpServer, free_port, mail, messages, queued_email};

const EMAILS: usize = 40;

/// Mounts a tmpfs of `size` at `dir`; false (and a message) where mounting is not permitted.
fn mount_tmpfs(dir: &Path, size: &str) -> bool {
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status();
    let mounted = status.is_ok_and(|s| s.success());
    if !mounted {
        eprintln!(
            "SKIPPED: cannot mount a tmpfs at {} (needs root)",
            dir.display()
        );
    }
    mounted
}

struct Unmount<'a>(&'a Path);

impl Drop for Unmount<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0).status();
    }
}

/// Writes zeros into `file` until the file system is full.
fn fill(file: &Path) {
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=64k"])
        .arg(format!("of={}", file.display()))
        .stderr(std::process::Stdio::null())
        .status();
}

/// The service's config: the store at `store_url`, an empty SQLite source, mail to `smtp_port`.
fn config_text(dir: &Path, port: u16, store_url: &str, smtp_port: u16) -> String {
    let source = dir.join("source.db");
    format!(
        r#"[service]
listen = "127.0.0.1:{port}"
[store]
url = "{store_url}"
{mail}
[[source]]
name = "hs"
url = "sqlite://{source}"
schedule = "* * * * * *"
query = "SELECT id AS dossier_id, tt AS procedure_code, dv AS department, nhan AS received_at, han AS due_at, xong AS resolved_at, trang_thai AS status, sua AS updated_at FROM hs WHERE sua >= :watermark"
[source.status_map]
DANG_XU_LY = "in_progress"
"#,
        mail = mail(smtp_port),
        source = source.display(),
    )
}

async fn source_table(dir: &Path) {
    sqlite_exec(
        &format!("sqlite://{}?mode=rwc", dir.join("source.db").display()),
        "CREATE TABLE hs (id TEXT, tt TEXT, dv TEXT, nhan TEXT, han TEXT, xong TEXT, \
         trang_thai TEXT, sua TEXT)",
    )
    .await;
}

/// Queues `EMAILS` emails due now in the store at `store_url`.
async fn queue_emails(dir: &Path, store_url: &str, prefix: &str) {
    let text = format!("[store]\nurl = \"{store_url}\"\n");
    let config = Config::parse(&dir.join("q.toml"), &text, |_| None).unwrap();
    let store = Store::open_and_migrate(&config.store).await.unwrap();
    let emails: Vec<_> = (0..EMAILS)
        .map(|i| {
            queued_email(
                &format!("{prefix}-{i}"),
                &format!("nguoi-{i}@example.gov.vn"),
            )
        })
        .collect();
    store.enqueue(&emails, Utc::now()).await.unwrap();
    store.close().await;
}

/// Deliveries, distinct Message-IDs and duplicates, printed for the record.
fn tally(case: &str, maildir: &Path) -> (usize, usize, usize) {
    let mut ids: Vec<String> = messages(maildir)
        .into_iter()
        .map(|m| m.message_id)
        .collect();
    let deliveries = ids.len();
    ids.sort();
    ids.dedup();
    let distinct = ids.len();
    println!(
        "{case}: deliveries {deliveries} / distinct Message-IDs {distinct} / duplicates {}",
        deliveries - distinct
    );
    (deliveries, distinct, deliveries - distinct)
}

async fn until_delivered(maildir: &Path, n: usize, limit: Duration) {
    crate::helpers::eventually(&format!("{n} distinct emails delivered"), limit, || async {
        let mut ids: Vec<String> = messages(maildir)
            .into_iter()
            .map(|m| m.message_id)
            .collect();
        ids.sort();
        ids.dedup();
        ids.len() >= n
    })
    .await;
}

#[tokio::test]
async fn a_full_disk_under_the_sqlite_store_delays_emails_and_sends_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    if !mount_tmpfs(&disk, "16m") {
        return;
    }
    let _unmount = Unmount(&disk);
    let store_url = format!("sqlite://{}/store.db", disk.display());
    source_table(dir.path()).await;
    queue_emails(dir.path(), &store_url, "full").await;
    let maildir = dir.path().join("maildir");
    // A slow relay keeps emails due while the disk fills.
    let smtp = SmtpServer::start_slow(free_port(), &maildir, Duration::from_millis(300)).await;
    let text = |port| config_text(dir.path(), port, &store_url, smtp.port);
    let service = Instance::new(dir.path(), "full", text);
    crate::helpers::eventually(
        "a first email delivered",
        Duration::from_secs(30),
        || async { !messages(&maildir).is_empty() },
    )
    .await;

    let filler = disk.join("filler");
    fill(&filler);
    tokio::time::sleep(Duration::from_secs(20)).await;
    let during = tally("full disk, while full", &maildir);
    std::fs::remove_file(&filler).unwrap();

    until_delivered(&maildir, EMAILS, Duration::from_secs(90)).await;
    // Time for a duplicate to show up, were one sent.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (deliveries, distinct, duplicates) = tally("full disk", &maildir);
    let log = service.log();
    println!(
        "full disk: {} sends the store could not record, {} write faults seen",
        log.matches("the store cannot record it").count(),
        log.matches("store write fault").count()
    );
    assert!(
        during.0 < EMAILS,
        "the disk filled before the drain ended: {during:?}"
    );
    assert_eq!(distinct, EMAILS);
    assert_eq!(duplicates, 0, "{deliveries} deliveries\n{log}");
    let metrics = service.metrics().await;
    assert_eq!(
        crate::helpers::app::metric_value(&metrics, "hcc_outbox_unrecorded_sends"),
        Some(0.0),
        "recovered without a restart"
    );
    assert!(!log.contains("panicked"), "{log}");
}

#[tokio::test]
async fn a_store_file_deleted_while_running_stops_the_service_and_an_empty_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store_file = dir.path().join("store").join("store.db");
    let store_url = format!("sqlite://{}", store_file.display());
    source_table(dir.path()).await;
    queue_emails(dir.path(), &store_url, "deleted").await;
    let maildir = dir.path().join("maildir");
    let smtp = SmtpServer::start_slow(free_port(), &maildir, Duration::from_millis(300)).await;
    let text = |port| config_text(dir.path(), port, &store_url, smtp.port);
    let mut service = Instance::new(dir.path(), "deleted", text);
    crate::helpers::eventually(
        "a first email delivered",
        Duration::from_secs(30),
        || async { !messages(&maildir).is_empty() },
    )
    .await;

    std::fs::remove_file(&store_file).unwrap();
    let status = service.exited(Duration::from_secs(15)).await;
    let log = service.log();
    assert!(
        status.is_some_and(|s| !s.success()),
        "the service must stop with an error: {status:?}\n{log}"
    );
    assert!(
        log.contains("was deleted while the service ran"),
        "the error says what happened: {log}"
    );

    // A restart on the store created anew refuses to run: its decisions would be made again.
    service.start();
    let status = service.exited(Duration::from_secs(15)).await;
    let log = service.log();
    assert!(status.is_some_and(|s| !s.success()), "{status:?}\n{log}");
    assert!(
        log.contains("the store is a brand-new empty store"),
        "{log}"
    );
    assert!(
        log.contains("--new-store"),
        "the error names the way out: {log}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (deliveries, distinct, duplicates) = tally("deleted store file", &maildir);
    assert!(
        deliveries < EMAILS,
        "the service stopped before sending all: {deliveries}"
    );
    assert_eq!(
        duplicates, 0,
        "{deliveries} deliveries, {distinct} distinct"
    );
}

#[tokio::test]
async fn a_postgresql_store_outage_shows_the_store_down_never_a_source() {
    use crate::helpers::app::TestApp;
    use crate::helpers::db::{Server, TestDb};
    use crate::helpers::proxy::Proxy;
    let db = TestDb::create(Server::Postgres).await;
    let proxy = Proxy::start(crate::helpers::db::pg_addr()).await;
    let store_url = format!("postgres://postgres@{}/{}", proxy.addr, db.name);
    let dir = tempfile::tempdir().unwrap();
    source_table(dir.path()).await;
    let text = config_text(dir.path(), 0, &store_url, free_port());
    let config = Config::parse(&dir.path().join("t.toml"), &text, |_| None).unwrap();
    let app = TestApp::spawn_with(config, dir).await;
    let series = |name: &'static str, value: f64| {
        let app = &app;
        move || async move { app.metric(name).await == Some(value) }
    };
    crate::helpers::eventually(
        "the store up",
        Duration::from_secs(10),
        series("hcc_store_up", 1.0),
    )
    .await;
    crate::helpers::eventually(
        "the source up",
        Duration::from_secs(10),
        series("hcc_source_up{source=\"hs\"}", 1.0),
    )
    .await;

    proxy.stop().await;
    crate::helpers::eventually(
        "the store down",
        Duration::from_secs(15),
        series("hcc_store_up", 0.0),
    )
    .await;
    for _ in 0..5 {
        let up = app.metric("hcc_source_up{source=\"hs\"}").await;
        assert_ne!(up, Some(0.0), "a store outage is not the source's");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!(
        "postgresql store outage: hcc_store_up 0, hcc_source_up {:?}",
        app.metric("hcc_source_up{source=\"hs\"}").await
    );

    proxy.resume().await;
    crate::helpers::eventually(
        "the store up again",
        Duration::from_secs(15),
        series("hcc_store_up", 1.0),
    )
    .await;
    crate::helpers::eventually(
        "the source up again",
        Duration::from_secs(15),
        series("hcc_source_up{source=\"hs\"}", 1.0),
    )
    .await;
    app.stop().await;
}
