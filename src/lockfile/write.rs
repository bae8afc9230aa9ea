//! Replacing the lockfile atomically: a temp file in the same directory, fsync, rename, fsync of
//! the directory. A failure at any step leaves the previous file as it was.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::Error;

/// Writes `bytes` to `path` unless it already holds exactly them; returns whether it wrote.
pub(super) fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool, Error> {
    // Compare sizes first so a stray huge file at the path is never read into memory.
    let same_size = fs::metadata(path).is_ok_and(|m| m.len() == bytes.len() as u64);
    if same_size && fs::read(path).is_ok_and(|existing| existing == bytes) {
        return Ok(false);
    }
    let fail = |what: &str, err: std::io::Error| {
        Error::Internal(format!("cannot write {}: {what}: {err}", path.display()))
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut temp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| fail("creating a temporary file", e))?;
    temp.write_all(bytes)
        .map_err(|e| fail("writing the temporary file", e))?;
    temp.as_file()
        .sync_all()
        .map_err(|e| fail("syncing the temporary file", e))?;
    // NamedTempFile is created 0600; the lockfile is meant to be read by everyone who reads the repo.
    let permissions = match fs::metadata(path) {
        Ok(existing) => existing.permissions(),
        Err(_) => default_permissions(temp.as_file())
            .map_err(|e| fail("reading the temporary file's permissions", e))?,
    };
    temp.as_file()
        .set_permissions(permissions)
        .map_err(|e| fail("setting permissions", e))?;
    temp.persist(path)
        .map_err(|e| fail("renaming the temporary file into place", e.error))?;
    sync_dir(dir);
    Ok(true)
}

#[cfg(unix)]
fn default_permissions(_file: &fs::File) -> std::io::Result<fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Ok(fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn default_permissions(file: &fs::File) -> std::io::Result<fs::Permissions> {
    Ok(file.metadata()?.permissions())
}

/// Makes the rename durable. Best effort: the new file is already in place, and some filesystems
/// (and all of Windows) cannot open or sync a directory, which is no reason to fail the run.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Err(err) = fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!("could not fsync {}: {err}", dir.display());
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_new_file_readable_by_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imagelock.lock");
        assert!(write_if_changed(&path, b"one\n").unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"one\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644);
        }
        // Nothing but the lockfile is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn same_bytes_are_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imagelock.lock");
        assert!(write_if_changed(&path, b"one\n").unwrap());
        let before = fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!write_if_changed(&path, b"one\n").unwrap());
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
        assert!(write_if_changed(&path, b"two\n").unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"two\n");
    }

    #[cfg(unix)]
    #[test]
    fn keeps_the_existing_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imagelock.lock");
        fs::write(&path, b"old\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o664)).unwrap();
        assert!(write_if_changed(&path, b"new\n").unwrap());
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o664);
    }

    #[test]
    fn a_failed_write_names_the_path_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("imagelock.lock");
        let err = write_if_changed(&path, b"x").unwrap_err();
        assert!(matches!(err, Error::Internal(_)));
        assert!(err.to_string().contains("no-such-dir"), "{err}");
    }
}
