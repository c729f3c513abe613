//! One service process per SQLite store. Two processes polling and sending from one file would
//! each send every email (the outbox claim is a PostgreSQL feature); an advisory lock on a file
//! beside the store makes the second one refuse to start instead. PostgreSQL stores need no lock
//! here: several instances may share one.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;

use super::StoreError;
use crate::config::{Dialect, StoreConfig};
use crate::private_fs::owner_only;

/// Held for as long as the service runs; the kernel releases it when the process ends, however
/// it ends, so a crash never leaves a stale lock behind.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

impl InstanceLock {
    /// Locks `<store file>.lock` for a SQLite store; `None` for other stores and in-memory ones.
    pub fn acquire(config: &StoreConfig) -> Result<Option<InstanceLock>, StoreError> {
        let url = config.url.expose();
        if Dialect::from_url(url) != Some(Dialect::Sqlite) {
            return Ok(None);
        }
        let Ok(options) = SqliteConnectOptions::from_str(url) else {
            // Store::open reports a malformed URL with its own error.
            return Ok(None);
        };
        let Some(db) = super::open::sqlite_file(url, &options) else {
            return Ok(None);
        };
        let mut name = db.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        super::open::create_parent_dir(&path)?;
        let lock_err = |source| StoreError::Lock {
            path: path.display().to_string(),
            source,
        };
        let file = owner_only(OpenOptions::new().read(true).write(true).create(true))
            .truncate(false)
            .open(&path)
            .map_err(lock_err)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(InstanceLock { _file: file })),
            Err(TryLockError::WouldBlock) => Err(StoreError::InUse {
                path: path.display().to_string(),
            }),
            Err(TryLockError::Error(source)) => Err(lock_err(source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn sqlite(path: &std::path::Path) -> StoreConfig {
        StoreConfig {
            url: Secret::new(format!("sqlite://{}", path.display())),
            max_connections: 1,
            source_connections: 1,
        }
    }

    #[test]
    fn a_second_holder_of_one_sqlite_store_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let config = sqlite(&dir.path().join("store.db"));
        let first = InstanceLock::acquire(&config).unwrap();
        assert!(first.is_some());
        let err = InstanceLock::acquire(&config).unwrap_err();
        assert!(
            err.to_string().contains("store.db.lock") && err.to_string().contains("another"),
            "{err}"
        );
        drop(first);
        assert!(InstanceLock::acquire(&config).unwrap().is_some());
    }

    #[test]
    fn postgres_and_in_memory_stores_take_no_lock() {
        let pg = StoreConfig {
            url: Secret::new("postgres://u@127.0.0.1/db"),
            max_connections: 1,
            source_connections: 1,
        };
        assert!(InstanceLock::acquire(&pg).unwrap().is_none());
        let mem = StoreConfig {
            url: Secret::new("sqlite::memory:"),
            max_connections: 1,
            source_connections: 1,
        };
        assert!(InstanceLock::acquire(&mem).unwrap().is_none());
    }
}
