//! An online copy of a SQLite store, taken while the service runs. A plain `cp` of the file
//! misses what is still in the WAL and may copy a page mid-write; `VACUUM INTO` reads one
//! transaction's snapshot instead, so the copy is a state that was committed, whatever the
//! writers are doing. The copy is checked and synced before it replaces the target, so PATH is
//! always either the previous backup or a complete new one.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::config::{Dialect, StoreConfig, redact_url};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "the store is PostgreSQL ({url}): back it up with PostgreSQL's own tools, e.g. \
         `pg_dump --format=custom --file={to} '{url}'` (with the store's password), and restore \
         it with `pg_restore --clean --dbname=...`"
    )]
    Postgres { url: String, to: String },
    #[error("store URL {url} is not supported; `backup` copies sqlite://PATH stores")]
    UnsupportedUrl { url: String },
    #[error("{path} is the store itself: back it up to another file")]
    OntoStore { path: String },
    #[error("cannot open the store at {url} (is the path right?): {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot copy the store into {path}: {source}")]
    Copy { path: String, source: sqlx::Error },
    #[error(
        "the copy in {path} failed its integrity check, it was removed (the store itself may \
         be damaged: run `PRAGMA integrity_check` on it): {}", problems.join("; ")
    )]
    Damaged { path: String, problems: Vec<String> },
    #[error("cannot check the copy in {path}: {source}")]
    Check { path: String, source: sqlx::Error },
    #[error("cannot {action} {path}: {source}")]
    File {
        action: &'static str,
        path: String,
        source: io::Error,
    },
}

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub path: PathBuf,
    pub bytes: u64,
}

/// Copies the store in `config` to `to`, replacing it atomically: the copy is written to a
/// temporary file beside `to` (owner-only, since the store holds addresses and email bodies),
/// checked with `PRAGMA integrity_check`, synced, then renamed over `to`.
pub async fn backup(config: &StoreConfig, to: &Path) -> Result<Backup, BackupError> {
    let url = config.url.expose();
    let shown = redact_url(url);
    match Dialect::from_url(url) {
        Some(Dialect::Sqlite) => {}
        Some(Dialect::Postgres) => {
            return Err(BackupError::Postgres {
                url: shown,
                to: to.display().to_string(),
            });
        }
        _ => return Err(BackupError::UnsupportedUrl { url: shown }),
    }
    let open_err = |source| BackupError::Open {
        url: shown.clone(),
        source,
    };
    // Never created here: a mistyped path must fail, not back up a new empty store.
    let source = SqliteConnectOptions::from_str(url)
        .map_err(open_err)?
        .create_if_missing(false)
        // The service's writers hold the lock for one batch at a time.
        .busy_timeout(Duration::from_secs(30))
        .log_statements(tracing::log::LevelFilter::Trace);
    // Renaming the copy over the live store would leave the service writing to a deleted file.
    if same_file(source.get_filename(), to) {
        return Err(BackupError::OntoStore {
            path: to.display().to_string(),
        });
    }
    let temp = temp_path(to);
    let result = copy_and_check(source, &temp, &shown).await;
    let result = match result {
        Ok(()) => publish(&temp, to),
        Err(e) => Err(e),
    };
    if result.is_err() {
        // A partial or damaged copy is of no use; the target is untouched.
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// `.NAME.tmp` beside `to`: the same filesystem, so the final rename is atomic.
fn temp_path(to: &Path) -> PathBuf {
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".to_string());
    to.with_file_name(format!(".{name}.tmp"))
}

fn file_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BackupError {
    let path = path.display().to_string();
    move |source| BackupError::File {
        action,
        path,
        source,
    }
}

async fn copy_and_check(
    source: SqliteConnectOptions,
    temp: &Path,
    shown: &str,
) -> Result<(), BackupError> {
    // A leftover of an interrupted backup would make VACUUM INTO fail.
    match std::fs::remove_file(temp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(file_err("remove the leftover", temp)(e));
        }
        _ => {}
    }
    // Created empty and owner-only before SQLite writes into it (it accepts an empty file), so
    // the copy is never readable by others, whatever the umask.
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temp)
        .map_err(file_err("create", temp))?;
    let temp_text = temp.to_str().ok_or_else(|| BackupError::File {
        action: "use",
        path: temp.display().to_string(),
        source: io::Error::new(io::ErrorKind::InvalidInput, "the path is not UTF-8"),
    })?;
    let mut conn = source.connect().await.map_err(|source| BackupError::Open {
        url: shown.to_string(),
        source,
    })?;
    let copied = sqlx::query("VACUUM INTO ?")
        .bind(temp_text)
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    copied.map_err(|source| BackupError::Copy {
        path: temp_text.to_string(),
        source,
    })?;

    let check_err = |source| BackupError::Check {
        path: temp_text.to_string(),
        source,
    };
    let mut copy = SqliteConnectOptions::new()
        .filename(temp)
        .read_only(true)
        .log_statements(tracing::log::LevelFilter::Trace)
        .connect()
        .await
        .map_err(check_err)?;
    let problems: Result<Vec<String>, _> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut copy)
        .await;
    let _ = copy.close().await;
    let problems = problems.map_err(check_err)?;
    if problems != ["ok"] {
        return Err(BackupError::Damaged {
            path: temp_text.to_string(),
            problems,
        });
    }
    Ok(())
}

/// Syncs the checked copy, renames it over `to` and syncs the folder, so that after a power cut
/// `to` is the old backup or the whole new one.
fn publish(temp: &Path, to: &Path) -> Result<Backup, BackupError> {
    let file = File::open(temp).map_err(file_err("open", temp))?;
    file.sync_all().map_err(file_err("sync", temp))?;
    let bytes = file.metadata().map_err(file_err("read", temp))?.len();
    std::fs::rename(temp, to).map_err(file_err("rename the copy onto", to))?;
    let dir = match to.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(file_err("sync the folder", dir))?;
    Ok(Backup {
        path: to.to_path_buf(),
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use std::os::unix::fs::PermissionsExt;

    fn store_at(url: String) -> StoreConfig {
        StoreConfig {
            url: Secret::new(url),
            max_connections: 1,
            source_connections: 1,
        }
    }

    /// A migrated store in a fresh folder, open as the service holds it.
    async fn migrated_store() -> (tempfile::TempDir, StoreConfig, crate::store::Store) {
        let dir = tempfile::tempdir().unwrap();
        let config = store_at(format!("sqlite://{}/store.db", dir.path().display()));
        let store = crate::store::Store::open_and_migrate(&config)
            .await
            .unwrap();
        (dir, config, store)
    }

    #[tokio::test]
    async fn a_postgres_store_is_sent_to_pg_dump_without_its_password() {
        let config = store_at("postgres://hcc:s3cret@db/hcc_monitor".into());
        let err = backup(&config, Path::new("/tmp/hcc.dump"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "pg_dump --format=custom --file=/tmp/hcc.dump 'postgres://***@db/hcc_monitor'"
            ),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_store_is_an_error_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let config = store_at(format!("sqlite://{}/nope.db", dir.path().display()));
        let to = dir.path().join("copy.db");
        let err = backup(&config, &to).await.unwrap_err();
        assert!(matches!(err, BackupError::Open { .. }), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn the_store_itself_is_refused_as_the_target() {
        let (dir, config, store) = migrated_store().await;
        // The same file by another path.
        let to = dir.path().join(".").join("store.db");
        let err = backup(&config, &to).await.unwrap_err();
        store.close().await;
        assert!(matches!(err, BackupError::OntoStore { .. }), "{err}");
    }

    #[tokio::test]
    async fn the_copy_is_owner_only_and_replaces_an_older_backup() {
        let (dir, config, store) = migrated_store().await;
        let to = dir.path().join("backup.db");
        std::fs::write(&to, "an older backup").unwrap();
        let done = backup(&config, &to).await.unwrap();
        store.close().await;
        assert_eq!(done.bytes, std::fs::metadata(&to).unwrap().len());
        let mode = std::fs::metadata(&to).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!temp_path(&to).exists());
        let head = std::fs::read(&to).unwrap();
        assert!(head.starts_with(b"SQLite format 3\0"));
    }
}
