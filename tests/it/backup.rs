//! `hcc-monitor backup` on a SQLite store that the service holds open and another writer keeps
//! committing to: the copy is a committed state, checked and owner-only.

use std::os::unix::fs::PermissionsExt;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};

use hcc_monitor::clock::SystemClock;

use crate::helpers::app::{TestApp, config, config_text};

const ROWS: i64 = 100_000;
const PER_TRANSACTION: i64 = 100;

async fn open(path: &std::path::Path, read_only: bool) -> SqlitePool {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .unwrap()
        .read_only(read_only)
        .busy_timeout(std::time::Duration::from_secs(30));
    let options = if read_only {
        options
    } else {
        options.journal_mode(SqliteJournalMode::Wal)
    };
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap()
}

async fn count(pool: &SqlitePool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM backup_rows")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_writes_is_a_committed_state_that_passes_its_integrity_check() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("hcc.toml");
    std::fs::write(&config_path, config_text(dir.path(), "")).unwrap();
    // The service holds the store (and its one-process lock) throughout.
    let app = TestApp::start(config(dir.path(), ""), Arc::new(SystemClock), None).await;

    let store_file = dir.path().join("store.db");
    let writer = open(&store_file, false).await;
    sqlx::query("CREATE TABLE backup_rows (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
        .execute(&writer)
        .await
        .unwrap();
    let writing = {
        let writer = writer.clone();
        tokio::spawn(async move {
            for t in 0..ROWS / PER_TRANSACTION {
                let mut tx = writer.begin().await.unwrap();
                for i in 0..PER_TRANSACTION {
                    sqlx::query("INSERT INTO backup_rows (id, payload) VALUES (?, ?)")
                        .bind(t * PER_TRANSACTION + i)
                        .bind(format!("dossier {t}-{i} {}", "x".repeat(64)))
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                }
                tx.commit().await.unwrap();
            }
        })
    };
    crate::helpers::eventually(
        "the writer has committed a fifth of its rows",
        std::time::Duration::from_secs(60),
        || async { count(&writer).await >= ROWS / 5 },
    )
    .await;

    let to = dir.path().join("backups").join("store-copy.db");
    std::fs::create_dir(to.parent().unwrap()).unwrap();
    let before = count(&writer).await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_hcc-monitor"))
        .args(["backup", "--config"])
        .arg(&config_path)
        .arg("--to")
        .arg(&to)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    let after = count(&writer).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("integrity check ok"), "{stdout}");
    writing.await.unwrap();
    assert_eq!(count(&writer).await, ROWS);
    assert!(
        after > before,
        "the writer committed while the backup ran ({before} then {after} rows)"
    );

    let mode = std::fs::metadata(&to).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the copy is owner-only");
    let copy = open(&to, true).await;
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&copy)
        .await
        .unwrap();
    assert_eq!(check, ["ok"]);
    let copied = count(&copy).await;
    assert!(
        (before..=after).contains(&copied) && copied % PER_TRANSACTION == 0,
        "{copied} rows in the copy: not a committed state between {before} and {after}"
    );
    // Whole transactions only, each one complete: the ids are 0..copied without a gap.
    let max: i64 = sqlx::query("SELECT MAX(id) FROM backup_rows")
        .fetch_one(&copy)
        .await
        .unwrap()
        .get(0);
    assert_eq!(max, copied - 1);
    // The service's own tables came along.
    let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&copy)
        .await
        .unwrap();
    assert!(migrations > 0);
    copy.close().await;
    writer.close().await;
    app.stop().await;
}
