//! The binary as an operator runs it: check-config, poll-once, dossiers and report with
//! --as-of (end to end through a real PostgreSQL source), and a clean exit on SIGTERM.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::db::{Server, TestDb};
use crate::helpers::smtp::free_port;

pub(crate) fn hcc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hcc-monitor"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn version_names_the_release_and_the_git_revision_it_was_built_from() {
    let out = hcc(&["--version"]);
    assert!(out.status.success());
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .expect("git runs");
    let head = text(&head.stdout).trim().to_string();
    let printed = text(&out.stdout);
    assert!(
        printed.starts_with(&format!(
            "hcc-monitor {} (git {head}",
            env!("CARGO_PKG_VERSION")
        )),
        "{printed}"
    );
}

#[test]
fn check_config_prints_every_problem_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[service]\nlisten = \"nowhere\"\n[[source]]\nname = \"a b\"\nurl = \"oracle://x\"\n",
    )
    .unwrap();
    let out = hcc(&["check-config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    for expected in [
        "4 problem(s)",
        "service.listen: \"nowhere\" is not a socket address",
        "source[0].name: \"a b\": use letters, digits",
        "source[0].url: oracle://x: unknown database",
        "source[0].query: missing",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn check_config_with_connect_names_the_source_it_cannot_reach() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.toml");
    std::fs::write(
        &path,
        format!(
            "[store]\nurl = \"sqlite://{}/store.db\"\n[[source]]\nname = \"gone\"\n\
             url = \"postgres://postgres@127.0.0.1:5432/hcc_no_such_db\"\n\
             query = \"SELECT 1 WHERE now() > :watermark\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let plain = hcc(&["check-config", path.to_str().unwrap()]);
    assert!(plain.status.success(), "{}", text(&plain.stderr));
    let connect = hcc(&["check-config", "--connect", path.to_str().unwrap()]);
    assert_eq!(connect.status.code(), Some(1));
    let out = text(&connect.stdout);
    // The check leaves no store behind: the service creates it at its first start.
    assert!(out.contains("store: the store "), "{out}");
    assert!(out.contains("/store.db does not exist"), "{out}");
    assert!(!dir.path().join("store.db").exists());
    assert!(
        out.contains("source gone (postgres://***@127.0.0.1:5432/hcc_no_such_db)"),
        "{out}"
    );
    assert!(out.contains("hcc_no_such_db\" does not exist"), "{out}");
}

#[test]
fn sigterm_stops_the_service_cleanly_with_exit_code_zero() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let path = dir.path().join("run.toml");
    std::fs::write(
        &path,
        format!(
            "[service]\nlisten = \"127.0.0.1:{port}\"\n[store]\nurl = \"sqlite://{}/store.db\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hcc-monitor"))
        .args(["run", "--config", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(ready, "the service listens");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = (0..200)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(50));
            child.try_wait().unwrap()
        })
        .expect("the service exits after SIGTERM");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn json_logs_are_one_object_per_line_and_each_job_line_names_its_job_and_source() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.toml");
    // The key asks for JSON; the source is on a port where nothing listens, so its poll
    // fails and logs from inside its job.
    std::fs::write(
        &path,
        format!(
            "[service]\nlisten = \"127.0.0.1:{}\"\nlog_format = \"json\"\n\
             [store]\nurl = \"sqlite://{}/store.db\"\n[[source]]\nname = \"gone\"\n\
             url = \"postgres://reader@127.0.0.1:{}/motcua\"\nquery = \"SELECT 1 WHERE x >= :watermark\"\nconnect_timeout_secs = 1\n",
            free_port(),
            dir.path().display(),
            free_port(),
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hcc-monitor"))
        .args(["run", "--config", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let _ = tx.send(line.expect("stderr is UTF-8"));
        }
    });
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.contains("poll failed")) {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => lines.push(line),
            Err(e) => panic!("no poll failure logged ({e}); got:\n{}", lines.join("\n")),
        }
    }
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    for (event, line) in events.iter().zip(&lines) {
        assert!(event["timestamp"].is_string(), "{line}");
        assert!(event["level"].is_string(), "{line}");
        assert!(event["target"].is_string(), "{line}");
        assert!(event["fields"]["message"].is_string(), "{line}");
    }
    let failed = events
        .iter()
        .find(|e| e["fields"]["message"] == "poll failed; the source is down until a poll succeeds")
        .unwrap();
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["fields"]["source"], "gone");
    assert_eq!(failed["spans"][0]["job"], "poll:gone", "{failed}");
    assert!(
        events.iter().any(|e| e["fields"]["message"] == "stopped"),
        "{lines:?}"
    );

    // The flag beats the key; text off a terminal has no colour codes.
    let text_logs = Command::new(env!("CARGO_BIN_EXE_hcc-monitor"))
        .args([
            "--log-format",
            "text",
            "check-config",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(text_logs.status.success(), "{}", text(&text_logs.stderr));
    let logged = text(&text_logs.stderr);
    assert!(
        logged.contains(" WARN hcc_monitor::calendar: the calendar year is provisional"),
        "{logged}"
    );
    assert!(
        !logged.contains('\x1b') && !logged.contains('{'),
        "{logged}"
    );
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The binary under `umask 000`, so that only explicit modes keep files private, run from
/// `cwd`.
fn hcc_in(cwd: &std::path::Path, args: &[&str]) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_hcc-monitor"))
        .args(args)
        .current_dir(cwd)
        .env_remove("STATE_DIRECTORY");
    command
}

#[test]
fn the_store_and_the_emails_are_owner_only_and_relative_paths_resolve_next_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let conf = dir.path().join("etc");
    std::fs::create_dir(&conf).unwrap();
    let path = conf.join("hcc.toml");
    let port = free_port();
    std::fs::write(
        &path,
        format!(
            "[service]\nlisten = \"127.0.0.1:{port}\"\n[store]\nurl = \"sqlite://state/store.db\"\n\
             [mail]\nfrom = \"hcc <hcc@example.org>\"\nfolder = \"state/mail\"\n"
        ),
    )
    .unwrap();
    let config = path.to_str().unwrap();
    let mut child = hcc_in(elsewhere.path(), &["run", "--config", config])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let state = conf.join("state");
    let store = state.join("store.db");
    let beside = |suffix: &str| state.join(format!("store.db{suffix}"));
    let created = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        beside("-wal").exists() && beside("-shm").exists()
    });
    let files = [
        store.clone(),
        beside("-wal"),
        beside("-shm"),
        beside(".lock"),
    ];
    let modes: Vec<u32> = files.iter().map(|f| mode(f)).collect();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(created, "the store's WAL files next to the config");
    assert_eq!(modes, [0o600; 4], "{files:?}");
    assert_eq!(mode(&state), 0o700);
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);

    let sent = hcc_in(
        elsewhere.path(),
        &[
            "send-test-email",
            "--config",
            config,
            "--to",
            "it@example.org",
        ],
    )
    .output()
    .unwrap();
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    let mail = state.join("mail");
    assert_eq!(mode(&mail), 0o700);
    let emails: Vec<_> = std::fs::read_dir(&mail)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(emails.len(), 1);
    assert_eq!(mode(&emails[0]), 0o600);

    // Under systemd the state goes to $STATE_DIRECTORY instead.
    let state_directory = dir.path().join("var-lib");
    std::fs::create_dir(&state_directory).unwrap();
    let migrated = hcc_in(elsewhere.path(), &["migrate", "--config", config])
        .env("STATE_DIRECTORY", &state_directory)
        .output()
        .unwrap();
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    assert_eq!(mode(&state_directory.join("state/store.db")), 0o600);
}

#[test]
fn the_service_tells_systemd_it_is_ready_once_it_listens_and_that_it_is_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let path = dir.path().join("run.toml");
    std::fs::write(
        &path,
        format!(
            "[service]\nlisten = \"127.0.0.1:{port}\"\n[store]\nurl = \"sqlite://{}/store.db\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    // What systemd does for Type=notify: a datagram socket named in NOTIFY_SOCKET.
    let socket_path = dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hcc-monitor"))
        .args(["run", "--config", path.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &socket_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).expect("a readiness notification");
    assert_eq!(text(&buf[..n]), "READY=1\n");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "ready means listening"
    );
    assert!(
        dir.path().join("store.db").exists(),
        "ready means the store is open"
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let n = socket.recv(&mut buf).expect("a stopping notification");
    assert_eq!(text(&buf[..n]), "STOPPING=1\n");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// Dossiers at hand-picked instants around Wednesday 4 March 2026, 10:00 in Hanoi. Office hours
/// 07:00-11:30 and 13:30-17:00 (8 h a day); no holiday in these weeks.
const SCHEMA: &str = "CREATE TABLE ho_so (ma text PRIMARY KEY, thu_tuc text, don_vi text,
    kenh int, nhan timestamp, hen timestamp, xong timestamp, tt text, sua timestamp);
INSERT INTO ho_so VALUES
 ('A', 'P3', 'SO_TU_PHAP', 2, '2026-03-02 08:00', NULL, NULL, 'XL', '2026-03-02 08:00'),
 ('B', 'PX', 'SO_TU_PHAP', 1, '2026-03-03 16:00', '2026-03-13 17:00', NULL, 'XL', '2026-03-03 16:00'),
 ('C', 'PX', 'SO_NNMT', 1, '2026-02-23 08:00', '2026-03-03 17:00', NULL, 'XL', '2026-02-23 08:00'),
 ('D', 'PX', 'SO_NNMT', 1, '2026-02-25 08:00', '2026-03-05 17:00', NULL, 'XL', '2026-02-25 08:00'),
 ('E', 'PX', 'SO_NNMT', 1, '2026-03-02 08:00', '2026-03-09 17:00', NULL, 'BS', '2026-03-03 09:00'),
 ('F', 'PX', 'SO_TU_PHAP', 2, '2026-03-02 08:00', '2026-03-04 17:00', '2026-03-03 15:00', 'KQ', '2026-03-03 15:00'),
 ('G', 'PX', 'SO_NNMT', 1, '2026-02-26 08:00', '2026-03-02 17:00', '2026-03-03 09:00', 'KQ', '2026-03-03 09:00'),
 ('H', 'PX', 'SO_TU_PHAP', 1, '2026-02-27 08:00', '2026-03-03 17:00', '2026-03-03 16:00', 'KQ', '2026-03-03 16:00')";

const AS_OF: &str = "2026-03-04T10:00:00+07:00";

#[tokio::test]
async fn dossiers_and_report_as_of_a_past_instant_through_a_real_postgres_source() {
    let db = TestDb::create(Server::Postgres).await;
    db.exec(SCHEMA).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e2e.toml");
    std::fs::write(
        &path,
        format!(
            r#"[store]
url = "sqlite://{}/store.db"
[catalogue.procedures]
P3 = "3 working days"
[[source]]
name = "pg"
url = "{}"
query = """SELECT ma AS dossier_id, thu_tuc AS procedure_code, don_vi AS department,
  kenh AS channel, nhan AS received_at, hen AS due_at, xong AS resolved_at, tt AS status,
  sua AS updated_at FROM ho_so WHERE sua >= :watermark"""
[source.status_map]
XL = "in_progress"
BS = "supplement_requested"
KQ = "resolved"
"#,
            dir.path().display(),
            db.url()
        ),
    )
    .unwrap();
    let config = path.to_str().unwrap();

    let polled = hcc(&["poll-once", "--config", config]);
    assert!(polled.status.success(), "{}", text(&polled.stderr));
    assert!(
        text(&polled.stdout).contains("pg: 8 rows stored, 0 rejected, watermark"),
        "{}",
        text(&polled.stdout)
    );

    let listed = hcc(&[
        "dossiers", "--config", config, "--as-of", AS_OF, "--format", "json",
    ]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    // The shipped 2027 calendar is provisional, so the command warns: on stderr, leaving
    // stdout one JSON document that `jq` can read.
    assert!(
        text(&listed.stderr).contains("the calendar year is provisional"),
        "{}",
        text(&listed.stderr)
    );
    let views: Vec<Value> = serde_json::from_slice(&listed.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", text(&listed.stdout)));
    let got: Vec<(&str, &str, Option<i64>)> = views
        .iter()
        .map(|v| {
            (
                v["dossier_id"].as_str().unwrap(),
                v["sla_state"].as_str().unwrap(),
                v["left_working_secs"].as_i64(),
            )
        })
        .collect();
    const H: i64 = 3600;
    assert_eq!(
        got,
        vec![
            // C: due Tue 17:00; Wed 07:00-10:00 past it.
            ("C", "overdue", Some(-3 * H)),
            // A: no due in the source; P3 = 24 working hours from Mon 08:00 (7 h Mon, 8 h Tue,
            // 8 h Wed, 1 h Thu) = Thu 08:00; left Wed 10:00-11:30, 13:30-17:00, Thu 07:00-08:00.
            ("A", "due_soon", Some(6 * H)),
            // D: 42 h of 55 h used (0.76 >= 0.75); 13 h left.
            ("D", "at_risk", Some(13 * H)),
            // E: asked for a supplement on Tue 09:00 and paused since: 9 paused working hours
            // (Tue 09:00-11:30, 13:30-17:00 = 6 h; Wed 07:00-10:00 = 3 h) move its due from
            // Mon 9/3 17:00 to Wed 11/3 08:00: 5 + 8 + 8 + 8 + 8 + 1 = 38 h left.
            ("E", "paused", Some(38 * H)),
            // B: 4 h of 65 h used.
            ("B", "on_track", Some(61 * H)),
        ]
    );
    let a = &views[1];
    assert_eq!(
        a["due_at"], "2026-03-05T01:00:00+00:00",
        "Thursday 08:00 in Hanoi"
    );

    let overdue = hcc(&[
        "dossiers", "--config", config, "--as-of", AS_OF, "--state", "overdue",
    ]);
    let table = text(&overdue.stdout);
    assert!(table.contains("quá hạn 3 giờ làm việc"), "{table}");
    assert!(table.contains("1 open dossier\n"), "{table}");

    let report = hcc(&[
        "report", "--config", config, "--as-of", AS_OF, "--period", "month", "--format", "json",
    ]);
    assert!(report.status.success(), "{}", text(&report.stderr));
    let r: Value = serde_json::from_slice(&report.stdout).unwrap();
    let t = &r["total"];
    let n = |k: &str| t[k].as_u64().unwrap();
    // Received in March: A, B, E, F; carried over from February: C, D, G, H.
    assert_eq!((n("received"), n("carried_over"), n("online")), (4, 4, 2));
    // Resolved in March: F early, H on the due day (on time), G a day late.
    assert_eq!(
        (n("resolved"), n("early"), n("on_time"), n("late")),
        (3, 1, 1, 1)
    );
    assert_eq!(
        (
            n("in_progress"),
            n("within_deadline"),
            n("overdue"),
            n("paused")
        ),
        (4, 3, 1, 1)
    );
    assert!((t["on_time_rate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(
        r["from"], "2026-02-28T17:00:00+00:00",
        "1 March, local midnight"
    );
    assert_eq!(r["to"], "2026-03-31T16:59:59+00:00", "31 March, 23:59:59");
    // Decision 766's progress: 8 handled (F, G, H resolved in March; A, B, C, D, E open), in
    // time F, H and A, B, D, E (E is paused, its due moved past 10:00) = 20 × 6 / 8 = 15.
    // Sở Tư pháp: A, B, F, H all in time = 20; Sở NN&MT: D, E of C, D, E, G = 20 × 2 / 4 = 10.
    assert_eq!(t["progress_score"].as_f64(), Some(15.0));
    assert_eq!(
        (
            t["progress"]["handled"].as_u64(),
            t["progress"]["in_time"].as_u64()
        ),
        (Some(8), Some(6))
    );
    let by_department: Vec<(&str, Option<f64>)> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["department"].as_str().unwrap(),
                row["progress_score"].as_f64(),
            )
        })
        .collect();
    assert_eq!(
        by_department,
        [("SO_NNMT", Some(10.0)), ("SO_TU_PHAP", Some(20.0))]
    );

    // The reporting regime's month, cut off on the 15th: 15/2 00:00 to 14/3 23:59:59, so
    // every dossier here was received in the period and none carried over.
    let cut_on_the_15th = |format: &str| {
        hcc(&[
            "report",
            "--config",
            config,
            "--as-of",
            AS_OF,
            "--period",
            "month",
            "--period-start-day",
            "15",
            "--format",
            format,
        ])
    };
    let cut = cut_on_the_15th("json");
    assert!(cut.status.success(), "{}", text(&cut.stderr));
    let c: Value = serde_json::from_slice(&cut.stdout).unwrap();
    assert_eq!(
        (c["from"].as_str(), c["to"].as_str()),
        (
            Some("2026-02-14T17:00:00+00:00"),
            Some("2026-03-14T16:59:59+00:00")
        )
    );
    assert_eq!(
        (
            c["total"]["received"].as_u64(),
            c["total"]["carried_over"].as_u64()
        ),
        (Some(8), Some(0))
    );
    let table = cut_on_the_15th("table");
    let header = text(&table.stdout);
    assert!(
        header.starts_with(
            "Báo cáo tình hình giải quyết hồ sơ theo tháng (kỳ báo cáo từ 00:00 15/02/2026 đến \
             23:59 14/03/2026; số liệu đến 10:00 04/03/2026)\n"
        ),
        "{header}"
    );
    assert!(header.contains("Điểm tiến độ (766)"), "{header}");
    let bad = hcc(&[
        "report",
        "--config",
        config,
        "--period",
        "month",
        "--period-start-day",
        "29",
    ]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("29 is out of range; allowed 1"),
        "{}",
        text(&bad.stderr)
    );
    assert_eq!(r["provisional_calendar_years"], serde_json::json!([]));

    // In December the open dossiers' deadlines reach into 2027, whose shipped calendar is
    // provisional: the report says so under its table, until the official file is loaded.
    let december = ["--as-of", "2026-12-20T10:00:00+07:00", "--period", "month"];
    let table = hcc(&[&["report", "--config", config][..], &december[..]].concat());
    assert!(table.status.success(), "{}", text(&table.stderr));
    let table = text(&table.stdout);
    assert!(
        table.contains("Lưu ý: lịch nghỉ năm 2027 là lịch tạm tính"),
        "{table}"
    );
    let official = dir.path().join("2027.toml");
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/calendars/2027.toml"))
            .unwrap();
    std::fs::write(&official, shipped.replace("provisional = true", "")).unwrap();
    let with_official = dir.path().join("official.toml");
    let base = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &with_official,
        format!("[calendar]\nfiles = [\"{}\"]\n{base}", official.display()),
    )
    .unwrap();
    let config = with_official.to_str().unwrap();
    let table = hcc(&[&["report", "--config", config][..], &december[..]].concat());
    assert!(table.status.success(), "{}", text(&table.stderr));
    assert!(
        !text(&table.stdout).contains("Lưu ý"),
        "{}",
        text(&table.stdout)
    );
}

const ALERTMANAGER_EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/alerts/alertmanager/alertmanager.example.yml"
);

#[test]
fn the_example_alertmanager_config_carries_the_current_calendar_and_amtool_accepts_it() {
    let out = hcc(&["calendar", "--format", "alertmanager"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let generated = text(&out.stdout);
    let example = std::fs::read_to_string(ALERTMANAGER_EXAMPLE).expect("the example exists");
    let begin = example
        .find("time_intervals:\n")
        .expect("the example has a time_intervals section");
    let end = example
        .find("# END hcc-monitor calendar")
        .expect("the generated block is marked");
    let block = &example[begin..end];
    assert!(
        generated.ends_with(block),
        "alerts/alertmanager/alertmanager.example.yml is out of date with the calendar: replace \
         its time_intervals block with `hcc-monitor calendar`'s output"
    );
    assert!(example.contains("active_time_intervals: [hcc-office-hours]"));

    let amtool = Command::new("amtool")
        .args(["check-config", ALERTMANAGER_EXAMPLE])
        .output()
        .expect("amtool is installed (scripts/test-deps.sh installs prometheus-alertmanager)");
    assert!(
        amtool.status.success(),
        "amtool check-config:\n{}{}",
        text(&amtool.stdout),
        text(&amtool.stderr)
    );
}

#[test]
fn the_calendar_export_reads_the_operators_calendar_section() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hcc.toml");
    // A centre that worked Ngày Văn hóa Việt Nam (Tue 24/11/2026) and opens at 07:30.
    std::fs::write(
        &config,
        "[calendar]\nsessions = [\"07:30-11:30\", \"13:30-17:00\"]\nworking_days = [\"2026-11-24\"]\n",
    )
    .unwrap();
    let out = hcc(&[
        "calendar",
        "--config",
        config.to_str().unwrap(),
        "--name",
        "office",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let generated = text(&out.stdout);
    assert!(generated.contains("  - name: office\n"), "{generated}");
    assert!(
        generated.contains(
            "      - years: [\"2026\"]\n        months: [november]\n        days_of_month: [\"2:6\", \"9:13\", \"16:20\", \"23:27\", \"30\"]\n        times: [{start_time: \"07:30\", end_time: \"11:30\"}, {start_time: \"13:30\", end_time: \"17:00\"}]\n"
        ),
        "{generated}"
    );
    // An Alertmanager config around it passes amtool.
    let am = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am,
        format!(
            "route:\n  receiver: r\n  routes:\n    - matchers: [team=\"leaders\"]\n      receiver: r\n      active_time_intervals: [office]\nreceivers:\n  - name: r\n{generated}"
        ),
    )
    .unwrap();
    let amtool = Command::new("amtool")
        .args(["check-config", am.to_str().unwrap()])
        .output()
        .expect("amtool runs");
    assert!(amtool.status.success(), "{}", text(&amtool.stderr));
}

#[test]
fn the_ical_export_is_read_by_an_independent_icalendar_parser() {
    let out = hcc(&["calendar", "--format", "ical"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    let ics = dir.path().join("lich.ics");
    std::fs::write(&ics, &out.stdout).unwrap();
    // Python's icalendar (scripts/test-deps.sh installs it) parses the file strictly and lists
    // each event as start, end, summary.
    let script = r#"
import sys, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())
for e in cal.walk('VEVENT'):
    print(e.decoded('DTSTART').isoformat(), e.decoded('DTEND').isoformat(), str(e['SUMMARY']), sep='|')
"#;
    let python = std::env::var("HCC_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let parsed = Command::new(python)
        .args(["-c", script, ics.to_str().unwrap()])
        .output()
        .expect("python runs");
    assert!(parsed.status.success(), "{}", text(&parsed.stderr));
    let events = text(&parsed.stdout);
    assert!(
        events.contains("2026-02-14|2026-02-23|Tết Nguyên Đán\n"),
        "{events}"
    );
    assert!(
        events.contains("2026-11-24|2026-11-25|Ngày Văn hóa Việt Nam\n"),
        "{events}"
    );
    assert!(
        events.contains("2026-01-10|2026-01-11|Làm bù cho thứ Sáu 2/1\n"),
        "{events}"
    );
}

#[test]
fn an_as_of_outside_years_2000_to_2100_is_refused_naming_the_range() {
    let cases: [&[&str]; 4] = [
        &["report", "--as-of", "+262142-12-31T23:59:59Z"],
        &["dossiers", "--as-of", "1999-12-31T23:59:59Z"],
        &["poll-once", "--as-of", "2101-01-01T00:00:00Z"],
        // With `=`: a value starting with '-' would be read as a flag.
        &["outbox", "list", "--since=-262143-01-01T00:00:00Z"],
    ];
    for args in cases {
        let args = [args, &["--config", "unused.toml"]].concat();
        let out = hcc(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(
            err.contains("is outside the supported range: years 2000 to 2100"),
            "{args:?}: {err}"
        );
    }
}
