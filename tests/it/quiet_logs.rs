//! The service's log as an operator reads it: a source or a probe that stays down is logged
//! once when it goes down and once when it comes back, not at every run; an OS error is
//! printed once.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::text;
use crate::helpers::db::sqlite_exec;
use crate::helpers::smtp::free_port;

fn count(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

#[tokio::test]
async fn a_source_and_a_probe_that_stay_down_log_once_down_and_once_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let (listen, device) = (free_port(), free_port());
    let config = dir.path().join("hcc.toml");
    std::fs::write(
        &config,
        format!(
            r#"[service]
listen = "127.0.0.1:{listen}"
[store]
url = "sqlite://{d}/store.db"
[[source]]
name = "centre"
url = "sqlite://{d}/centre.db"
schedule = "* * * * * *"
query = "SELECT id AS dossier_id, tt AS procedure_code, dv AS department, nhan AS received_at, trang_thai AS status, sua AS updated_at FROM hs WHERE sua >= :watermark"
[[probe]]
name = "kiosk-1"
group = "kiosk"
kind = "tcp"
schedule = "* * * * * *"
timeout_secs = 1
target = "127.0.0.1:{device}"
"#
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hcc-monitor"))
        .args(["run", "--config", config.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Down for about five runs of each.
    tokio::time::sleep(Duration::from_secs(5)).await;
    sqlite_exec(
        &format!("sqlite://{d}/centre.db?mode=rwc"),
        "CREATE TABLE hs (id TEXT PRIMARY KEY, tt TEXT, dv TEXT, nhan TEXT, trang_thai INT,
            sua TEXT);
         INSERT INTO hs VALUES ('A-1', 'P1', 'SO_TU_PHAP', '2026-05-04 08:00:00', 4,
            '2026-05-04 08:00:00');",
    )
    .await;
    let device = std::net::TcpListener::bind(("127.0.0.1", device)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut log = String::new();
    let mut stderr = child.stderr.take().unwrap();
    // Read until both have recovered, then stop the service.
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = stderr.read_to_string(&mut all);
        all
    });
    let metrics = format!("127.0.0.1:{listen}");
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (_, body) =
            crate::helpers::app::http_get(metrics.parse().unwrap(), "/metrics", None).await;
        let up = |series: &str| crate::helpers::app::metric_value(&body, series) == Some(1.0);
        if up(r#"hcc_source_up{source="centre"}"#)
            && up(r#"hcc_probe_success{group="kiosk",kind="tcp",probe="kiosk-1"}"#)
        {
            // One more run of each, which must log nothing.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            break;
        }
    }
    drop(device);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    log.push_str(&reader.join().unwrap());
    assert_eq!(
        count(
            &log,
            "poll failed; the source is down until a poll succeeds"
        ),
        1,
        "{log}"
    );
    assert_eq!(count(&log, "source recovered: poll succeeded"), 1, "{log}");
    assert_eq!(count(&log, "failed_polls="), 1, "{log}");
    assert_eq!(
        count(&log, "probe failed; it is down until a run succeeds"),
        1,
        "{log}"
    );
    assert_eq!(count(&log, "probe recovered"), 1, "{log}");
    assert_eq!(
        count(&log, "run failed"),
        0,
        "a failed poll is logged once: {log}"
    );
}

#[test]
fn an_os_error_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-folder");
    std::fs::write(&blocker, "").unwrap();
    let config = dir.path().join("hcc.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nurl = \"sqlite://{}/store.db\"\n",
            blocker.display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hcc-monitor"))
        .args(["migrate", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("cannot create the store's folder"), "{err}");
    assert_eq!(err.matches("(os error").count(), 1, "{err}");
}
