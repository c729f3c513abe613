//! Opening the store from its URL.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{Store, StoreError, StorePool};
use crate::config::{Dialect, StoreConfig, redact_url};

/// How long a query waits for a free connection before it fails with a store error: a wait
/// that long means the store is overloaded, which its callers report as such.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Creates the folder a store file (or its lock) goes in, if missing, owner-only.
pub(super) fn create_parent_dir(file: &Path) -> Result<(), StoreError> {
    match file.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => {
            crate::private_fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                path: dir.display().to_string(),
                source,
            })
        }
        None => Ok(()),
    }
}

/// The file of an on-disk SQLite store; `None` for an in-memory one, which belongs to its
/// process already.
pub(super) fn sqlite_file<'a>(url: &str, options: &'a SqliteConnectOptions) -> Option<&'a Path> {
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let file = options.get_filename();
    (!in_memory && !file.as_os_str().is_empty()).then_some(file)
}

impl Store {
    /// Opens (creating a SQLite file and its folder if missing) without migrating.
    pub async fn open(config: &StoreConfig) -> Result<Store, StoreError> {
        Store::connect(config, true).await
    }

    /// Opens a store that must already exist and be migrated: what the read-only commands
    /// use, since an empty store they made up would print "0 open dossiers" as if it were true.
    pub async fn open_existing(config: &StoreConfig) -> Result<Store, StoreError> {
        let store = Store::connect(config, false).await?;
        match store.is_ready().await {
            Ok(true) => Ok(store),
            Ok(false) => Err(StoreError::NotMigrated {
                url: redact_url(config.url.expose()),
                detail: "migrations are pending".into(),
            }),
            Err(e) => Err(StoreError::NotMigrated {
                url: redact_url(config.url.expose()),
                detail: e.to_string(),
            }),
        }
    }

    /// Opens the store; `create`: a missing SQLite file (and its folder) is created, else it is
    /// an error naming the file.
    async fn connect(config: &StoreConfig, create: bool) -> Result<Store, StoreError> {
        let url = config.url.expose();
        let shown = redact_url(url);
        let open_err = |source| StoreError::Open {
            url: shown.clone(),
            source,
        };
        let mut file = None;
        let (pool, sources) = match Dialect::from_url(url) {
            Some(Dialect::Sqlite) => {
                let in_memory = url.contains(":memory:") || url.contains("mode=memory");
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(open_err)?
                    // The file is created below, once; a connection opened after it was
                    // deleted fails rather than start an empty store under the running service.
                    .create_if_missing(in_memory)
                    .journal_mode(SqliteJournalMode::Wal)
                    // WAL with NORMAL is durable across process crashes, which is what the
                    // outbox needs; only a power cut may lose the last commits.
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    // 16 MiB of page cache per connection (the default is 2 MiB): the evaluation
                    // cycle's index scans stay in memory, within the RSS budget for 4 connections
                    // (the 2 poll connections, which write rather than scan, may add 32 MiB).
                    .pragma("cache_size", "-16384")
                    // After a bulk sync the WAL file shrinks back once checkpointed.
                    .pragma("journal_size_limit", "67108864")
                    .foreign_keys(true)
                    .log_statements(tracing::log::LevelFilter::Trace);
                match sqlite_file(url, &options) {
                    Some(file) if !create && !file.exists() => {
                        return Err(StoreError::Missing {
                            path: file.display().to_string(),
                        });
                    }
                    Some(file) if create => {
                        create_parent_dir(file)?;
                        // Created here rather than by SQLite, whose files get the umask's mode.
                        crate::private_fs::create_file_if_missing(file).map_err(|source| {
                            StoreError::CreateFile {
                                path: file.display().to_string(),
                                source,
                            }
                        })?;
                    }
                    _ => {}
                }
                if let Some(path) = sqlite_file(url, &options) {
                    let opened = super::identity::OpenedFile::of(path).map_err(|source| {
                        StoreError::CreateFile {
                            path: path.display().to_string(),
                            source,
                        }
                    })?;
                    file = Some(std::sync::Arc::new(opened));
                }
                let pool = |size| {
                    SqlitePoolOptions::new()
                        .max_connections(size)
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        .before_acquire(|_, meta| {
                            Box::pin(async move { Ok(!super::faults::predates_fault(meta.age)) })
                        })
                        .connect_with(options.clone())
                };
                let service = pool(config.max_connections).await.map_err(open_err)?;
                // An in-memory database exists once per pool: the polls must share it.
                let sources = match in_memory {
                    true => service.clone(),
                    false => pool(config.source_connections).await.map_err(open_err)?,
                };
                (StorePool::Sqlite(service), StorePool::Sqlite(sources))
            }
            Some(Dialect::Postgres) => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(open_err)?
                    .application_name("hcc-monitor")
                    .log_statements(tracing::log::LevelFilter::Trace);
                let pool = |size| {
                    PgPoolOptions::new()
                        .max_connections(size)
                        .acquire_timeout(ACQUIRE_TIMEOUT)
                        .connect_with(options.clone())
                };
                (
                    StorePool::Postgres(pool(config.max_connections).await.map_err(open_err)?),
                    StorePool::Postgres(pool(config.source_connections).await.map_err(open_err)?),
                )
            }
            _ => return Err(StoreError::UnsupportedUrl { url: shown }),
        };
        Ok(Store {
            pool,
            sources,
            write_turn: Default::default(),
            file,
        })
    }

    /// Opens and applies pending migrations: what the service does at start.
    pub async fn open_and_migrate(config: &StoreConfig) -> Result<Store, StoreError> {
        let store = Store::open(config).await?;
        store.migrate().await?;
        store.optimize().await?;
        Ok(store)
    }
}
