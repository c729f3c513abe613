//! Files and folders that only the service's user may open: the SQLite store (recipients'
//! addresses, dossier data), its lock, and the emails. The modes are set explicitly, so that a
//! permissive umask (0022, the usual one) cannot widen them.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

const FILE_MODE: u32 = 0o600;
const DIR_MODE: u32 = 0o700;

/// Creates `dir` and any missing parents as owner-only folders; existing ones are left as they
/// are (an operator's `/var/lib/hcc-monitor` keeps its mode).
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Opens with owner-only permissions for a file that `options` creates.
pub fn owner_only(options: &mut OpenOptions) -> &mut OpenOptions {
    options.mode(FILE_MODE)
}

/// Creates `file` empty and owner-only unless it exists. SQLite then keeps its mode, and gives
/// the same mode to the `-wal` and `-shm` files beside it.
pub fn create_file_if_missing(file: &Path) -> io::Result<()> {
    match owner_only(OpenOptions::new().write(true).create_new(true)).open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Makes a file that another library created owner-only.
pub fn restrict(file: &Path) -> io::Result<()> {
    std::fs::set_permissions(file, Permissions::from_mode(FILE_MODE))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_and_files_are_owner_only_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_dir_all(&nested).unwrap();
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);
        let file = nested.join("store.db");
        create_file_if_missing(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        // An existing file is neither truncated nor re-moded.
        std::fs::write(&file, "kept").unwrap();
        std::fs::set_permissions(&file, Permissions::from_mode(0o640)).unwrap();
        create_file_if_missing(&file).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "kept");
        assert_eq!(mode(&file), 0o640);
        restrict(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
    }
}
