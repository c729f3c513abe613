//! Which store this is: an id written once into the store, and for a SQLite store the file
//! (device and inode) the service opened, so that a store replaced or deleted under a running
//! service stops it instead of its writes going to a deleted inode.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{Store, StoreError, failed, on_pool};

/// The SQLite file as opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenedFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl OpenedFile {
    pub(crate) fn of(path: &Path) -> std::io::Result<OpenedFile> {
        let meta = std::fs::metadata(path)?;
        Ok(OpenedFile {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
}

/// The store's id, and whether this open created it (a brand-new store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreIdentity {
    pub id: String,
    pub created: bool,
}

impl Store {
    /// The store's id, written now if the store has none (it was just created).
    pub async fn identity(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<StoreIdentity, StoreError> {
        if let Some(id) = self.read_identity().await? {
            return Ok(StoreIdentity { id, created: false });
        }
        let id = format!("{:032x}", rand::random::<u128>());
        on_pool!(self, p => sqlx::query(
            "INSERT INTO store_identity (id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING"
        )
        .bind(&id)
        .bind(now.timestamp())
        .execute(p)
        .await
        .map(drop))
        .map_err(failed("writing the store's id"))?;
        // Another instance on a shared store may have written first: its id stands.
        let id = self.read_identity().await?.unwrap_or(id);
        Ok(StoreIdentity { id, created: true })
    }

    async fn read_identity(&self) -> Result<Option<String>, StoreError> {
        on_pool!(self, p => sqlx::query_scalar("SELECT id FROM store_identity ORDER BY created_at LIMIT 1")
            .fetch_optional(p)
            .await)
        .map_err(failed("reading the store's id"))
    }

    /// Fails when the SQLite file opened is no longer at its path (deleted, or replaced by
    /// another file); a PostgreSQL store has no file to lose.
    pub fn check_file(&self) -> Result<(), StoreError> {
        let Some(opened) = &self.file else {
            return Ok(());
        };
        match OpenedFile::of(&opened.path) {
            Ok(now) if now == **opened => Ok(()),
            Ok(_) => Err(StoreError::FileLost {
                path: opened.path.display().to_string(),
                what: "replaced by another file",
            }),
            Err(_) => Err(StoreError::FileLost {
                path: opened.path.display().to_string(),
                what: "deleted",
            }),
        }
    }
}

/// Where the service keeps the id of its store: in the state directory systemd gives it
/// (`state_dir`, from `STATE_DIRECTORY`; the config under /etc is read-only to the service
/// there), else beside its config. Both outlive a store file deleted or a database dropped.
pub fn marker_path(config: &Path, state_dir: Option<&std::ffi::OsStr>) -> PathBuf {
    let mut name = config.file_name().unwrap_or_default().to_os_string();
    name.push(".store-id");
    let first_state_dir = state_dir
        .and_then(|d| d.to_str())
        .and_then(|d| d.split(':').next())
        .filter(|d| !d.is_empty());
    match first_state_dir {
        Some(dir) => Path::new(dir).join(name),
        None => config.with_file_name(name),
    }
}

/// Compares the store's id with the one the marker at `marker` kept. A store with another id,
/// or a brand-new store where the marker says there was one, is refused unless `new_store`;
/// then (or when there is no marker yet) the marker takes the store's id.
pub async fn check_marker(
    store: &Store,
    marker: &Path,
    new_store: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let identity = store.identity(now).await?;
    let kept = std::fs::read_to_string(marker)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    let refused = |what: &'static str| StoreError::NotTheStore {
        marker: marker.display().to_string(),
        what,
    };
    match kept {
        Some(kept) if kept == identity.id => return Ok(()),
        Some(_) if new_store => {
            tracing::warn!(marker = %marker.display(), "starting on a new store as told (--new-store)");
        }
        Some(_) if identity.created => return Err(refused("a brand-new empty store")),
        Some(_) => return Err(refused("another store")),
        None => {}
    }
    if let Err(e) = std::fs::write(marker, format!("{}\n", identity.id)) {
        // Without a marker nothing is lost now; only a later lost store goes unnoticed.
        tracing::warn!(marker = %marker.display(), error = %e, "cannot keep the store's id beside the config: a store replaced later will not be noticed at start");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_goes_in_systemds_state_directory_else_beside_the_config() {
        let config = Path::new("/etc/hcc-monitor/hcc-monitor.toml");
        assert_eq!(
            marker_path(config, Some("/var/lib/hcc-monitor".as_ref())),
            Path::new("/var/lib/hcc-monitor/hcc-monitor.toml.store-id")
        );
        assert_eq!(
            marker_path(config, None),
            Path::new("/etc/hcc-monitor/hcc-monitor.toml.store-id")
        );
    }

    #[tokio::test]
    async fn a_new_store_is_refused_where_the_marker_names_another_unless_told() {
        let dir = tempfile::tempdir().unwrap();
        let open = |name: &str| {
            let url = format!("sqlite://{}/{name}", dir.path().display());
            async move {
                let text = format!("[store]\nurl = \"{url}\"\n");
                let config =
                    crate::config::Config::parse(Path::new("t.toml"), &text, |_| None).unwrap();
                Store::open_and_migrate(&config.store).await.unwrap()
            }
        };
        let marker = dir.path().join("t.toml.store-id");
        let now = chrono::Utc::now();
        let first = open("a.db").await;
        check_marker(&first, &marker, false, now).await.unwrap();
        check_marker(&first, &marker, false, now).await.unwrap();
        let fresh = open("b.db").await;
        let err = check_marker(&fresh, &marker, false, now).await.unwrap_err();
        assert!(err.to_string().contains("brand-new empty store"), "{err}");
        // The refused store now has an id of its own: still not the one the marker names.
        let err = check_marker(&fresh, &marker, false, now).await.unwrap_err();
        assert!(err.to_string().contains("another store"), "{err}");
        check_marker(&fresh, &marker, true, now).await.unwrap();
        check_marker(&fresh, &marker, false, now).await.unwrap();
        let err = check_marker(&first, &marker, false, now).await.unwrap_err();
        assert!(err.to_string().contains("another store"), "{err}");
    }
}
