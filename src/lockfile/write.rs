//! Replacing the lockfile atomically: a temporary file in the same directory, fsync, rename, fsync
//! of the directory. A failure at any step, or an interrupt (see `interrupt.rs`), leaves the
//! previous file as it was and no temporary file.
//!
//! Also: the new content is never larger than imagelock reads back; a read-only lockfile is
//! refused rather than replaced; a symlinked lockfile is written through the link (the link stays,
//! its target is replaced); a file that already holds the content, give or take CRLF line endings
//! and a byte-order mark, is left alone.

use std::fs;
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use super::interrupt::TempGuard;
use crate::error::Error;

/// Writes `bytes` to `path` unless it already holds them; returns whether it wrote. `max` is the
/// largest lockfile imagelock reads, which it therefore never writes.
pub(super) fn write_if_changed(path: &Path, bytes: &[u8], max: u64) -> Result<bool, Error> {
    let fail = |err: io::Error| Error::io("write", path, err);
    if bytes.len() as u64 > max {
        return Err(fail(io::Error::new(
            ErrorKind::FileTooLarge,
            format!(
                "the new lockfile would be {} bytes, more than imagelock reads back ({max} bytes); \
                 split the spec into several, each with its own lockfile",
                bytes.len()
            ),
        )));
    }
    let target = follow_links(path).map_err(fail)?;
    let existing = match fs::metadata(&target) {
        Ok(metadata) => Some(metadata),
        Err(err) if err.kind() == ErrorKind::NotFound => None,
        Err(err) => return Err(fail(err)),
    };
    if let Some(metadata) = &existing {
        if metadata.is_dir() {
            return Err(fail(io::Error::new(
                ErrorKind::IsADirectory,
                "it is a directory; pass the lockfile's path with `--lock`",
            )));
        }
        if holds(&target, bytes, max) {
            return Ok(false);
        }
        if metadata.permissions().readonly() {
            return Err(fail(io::Error::new(
                ErrorKind::PermissionDenied,
                "the file is read-only, so imagelock leaves it as it is; make it writable \
                 (`chmod u+w`) to let imagelock update it",
            )));
        }
    }
    replace(&target, bytes, existing.as_ref()).map_err(fail)?;
    Ok(true)
}

/// Whether the file at `path` holds `bytes`, ignoring a byte-order mark and CRLF line endings
/// (like cargo, which leaves a lockfile whose only difference is line endings alone).
fn holds(path: &Path, bytes: &[u8], max: u64) -> bool {
    let Ok(Some(existing)) = read_capped(path, max) else {
        return false;
    };
    let existing = existing
        .strip_prefix("\u{feff}".as_bytes())
        .unwrap_or(&existing);
    if existing == bytes {
        return true;
    }
    if !existing.contains(&b'\r') {
        return false;
    }
    let mut normalized = Vec::with_capacity(existing.len());
    let mut rest = existing;
    while let Some(at) = rest.windows(2).position(|pair| pair == b"\r\n") {
        normalized.extend_from_slice(&rest[..at]);
        normalized.push(b'\n');
        rest = &rest[at + 2..];
    }
    normalized.extend_from_slice(rest);
    normalized == bytes
}

/// Reads at most `max` bytes of the file at `path`: `Ok(None)` when it is larger. Reading stops
/// after `max + 1` bytes, so a device (`/dev/zero`) or a pipe never fills memory.
pub fn read_capped(path: &Path, max: u64) -> io::Result<Option<Vec<u8>>> {
    let file = fs::File::open(path)?;
    // A regular file says its size: one allocation instead of doubling (and copying) a
    // multi-megabyte buffer. Devices and pipes say 0 and grow as read; `take` bounds them all.
    let hint = file.metadata().map_or(0, |m| m.len()).min(max) as usize;
    let mut bytes = Vec::with_capacity(hint + 1);
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= max).then_some(bytes))
}

/// The file a lockfile path stands for: itself, or the end of its chain of symlinks (which may
/// not exist yet). Replacing the end keeps the links.
fn follow_links(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    // As many links as Linux follows before it gives up with ELOOP.
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

fn replace(target: &Path, bytes: &[u8], existing: Option<&fs::Metadata>) -> io::Result<()> {
    let dir = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = target
        .file_name()
        .map_or_else(|| "imagelock.lock".into(), |n| n.to_string_lossy());
    let temp = dir.join(format!(
        ".{name}.{}.{:08x}.tmp",
        std::process::id(),
        fastrand::u32(..)
    ));
    let step =
        |what: String| move |err: io::Error| io::Error::new(err.kind(), format!("{what}: {err}"));
    let guard = TempGuard::new(&temp);
    let written = (|| {
        let mut file = create_new(&temp, existing).map_err(step(format!(
            "creating a temporary file in {}",
            dir.display()
        )))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(step(format!("writing {}", temp.display())))?;
        drop(file);
        fs::rename(&temp, target).map_err(step(format!("renaming {} into place", temp.display())))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    drop(guard);
    written?;
    sync_dir(dir);
    Ok(())
}

/// Creates the temporary file, with the lockfile's permissions when it exists, else readable by
/// everyone who reads the repository.
fn create_new(temp: &Path, existing: Option<&fs::Metadata>) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o644);
        let file = options.open(temp)?;
        if let Some(metadata) = existing {
            // `mode` is filtered by the umask; the old file's exact bits win.
            file.set_permissions(fs::Permissions::from_mode(metadata.permissions().mode()))?;
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        let _ = existing;
        options.open(temp)
    }
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

    const MAX: u64 = 1024;

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_new_file_readable_by_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imagelock.lock");
        assert!(write_if_changed(&path, b"one\n", MAX).unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"one\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o444, 0o444, "{mode:o}");
        }
        // Nothing but the lockfile is left behind.
        assert_eq!(files_in(dir.path()), ["imagelock.lock"]);
    }

    #[test]
    fn same_bytes_are_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imagelock.lock");
        assert!(write_if_changed(&path, b"one\n", MAX).unwrap());
        let before = fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!write_if_changed(&path, b"one\n", MAX).unwrap());
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
        assert!(write_if_changed(&path, b"two\n", MAX).unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"two\n");
    }

    #[test]
    fn crlf_and_bom_copies_of_the_content_are_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imagelock.lock");
        for existing in [
            &b"a: 1\r\nb: 2\r\n"[..],
            b"\xef\xbb\xbfa: 1\nb: 2\n",
            b"\xef\xbb\xbfa: 1\r\nb: 2\r\n",
        ] {
            fs::write(&path, existing).unwrap();
            assert!(!write_if_changed(&path, b"a: 1\nb: 2\n", MAX).unwrap());
            assert_eq!(fs::read(&path).unwrap(), existing);
        }
        // A different content is rewritten, with LF endings.
        fs::write(&path, b"a: 1\r\nb: 3\r\n").unwrap();
        assert!(write_if_changed(&path, b"a: 1\nb: 2\n", MAX).unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"a: 1\nb: 2\n");
        // A lone CR is not a line ending.
        fs::write(&path, b"a: 1\rb: 2\n").unwrap();
        assert!(write_if_changed(&path, b"a: 1b: 2\n", MAX).unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn keeps_the_existing_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imagelock.lock");
        fs::write(&path, b"old\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o664)).unwrap();
        assert!(write_if_changed(&path, b"new\n", MAX).unwrap());
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o664);
    }

    #[test]
    fn a_missing_directory_is_an_io_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("imagelock.lock");
        let err = write_if_changed(&path, b"x", MAX).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        assert_eq!(err.exit().code(), 2);
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "cannot write {}: creating a temporary file",
                path.display()
            )),
            "{message}"
        );
        assert_eq!(files_in(dir.path()), Vec::<String>::new());
    }

    #[test]
    fn never_writes_more_than_it_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imagelock.lock");
        fs::write(&path, b"old\n").unwrap();
        let big = vec![b'a'; MAX as usize + 1];
        let err = write_if_changed(&path, &big, MAX).unwrap_err();
        assert_eq!(err.exit().code(), 2);
        assert!(
            err.to_string()
                .contains("would be 1025 bytes, more than imagelock reads back (1024 bytes)"),
            "{err}"
        );
        assert_eq!(fs::read(&path).unwrap(), b"old\n");
        let exact = vec![b'a'; MAX as usize];
        assert!(write_if_changed(&path, &exact, MAX).unwrap());
        assert_eq!(read_capped(&path, MAX).unwrap().unwrap(), exact);
    }

    #[cfg(unix)]
    #[test]
    fn a_read_only_lockfile_is_refused_not_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imagelock.lock");
        fs::write(&path, b"old\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
        let err = write_if_changed(&path, b"new\n", MAX).unwrap_err();
        assert_eq!(err.exit().code(), 2);
        assert!(err.to_string().contains("the file is read-only"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old\n");
        assert_eq!(files_in(dir.path()), ["imagelock.lock"]);
        // Unchanged content is fine: nothing needs writing.
        assert!(!write_if_changed(&path, b"old\n", MAX).unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_lockfile_is_written_through_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("shared");
        fs::create_dir(&real_dir).unwrap();
        let target = real_dir.join("real.lock");
        fs::write(&target, b"old\n").unwrap();
        let link = dir.path().join("imagelock.lock");
        std::os::unix::fs::symlink("shared/real.lock", &link).unwrap();
        // A chain of links too.
        let link2 = dir.path().join("other.lock");
        std::os::unix::fs::symlink("imagelock.lock", &link2).unwrap();

        assert!(write_if_changed(&link2, b"new\n", MAX).unwrap());
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            fs::symlink_metadata(&link2)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&target).unwrap(), b"new\n");
        assert_eq!(files_in(&real_dir), ["real.lock"]);

        // A dangling link gets its target created.
        fs::remove_file(&target).unwrap();
        assert!(write_if_changed(&link, b"again\n", MAX).unwrap());
        assert_eq!(fs::read(&target).unwrap(), b"again\n");
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[cfg(unix)]
    #[test]
    fn reads_are_capped_on_devices() {
        // /dev/zero never ends: the read stops one byte past the cap.
        assert_eq!(read_capped(Path::new("/dev/zero"), MAX).unwrap(), None);
        assert_eq!(
            read_capped(Path::new("/dev/null"), MAX).unwrap(),
            Some(Vec::new())
        );
    }
}
