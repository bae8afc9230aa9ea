//! One writer at a time: an advisory lock held from reading the lockfile to replacing it, so two
//! runs started at once (two pipeline jobs, a user and a hook) never both resolve and race on the
//! rename; the second waits, then finds the lockfile already up to date.
//!
//! The lock is taken on the spec file, opened read-only, not on the lockfile: the lockfile is
//! replaced by a rename, so a lock on it would guard a file that is no longer there, and a
//! dedicated `.lock` file would be one more thing to gitignore. Readers (`check`, `get`) take no
//! lock: the rename already shows them either the old or the new file, whole.

use std::fs::{File, TryLockError};
use std::path::Path;

use crate::error::Error;

/// Held until dropped; the operating system releases it if the process dies.
#[derive(Debug)]
pub struct RunLock {
    _file: Option<File>,
}

impl RunLock {
    /// Takes the lock on `spec`, waiting as long as another run holds it; `on_wait` is called once,
    /// before waiting, so the user knows why nothing happens.
    ///
    /// A filesystem that cannot lock (some network mounts) gets a warning and no lock rather than
    /// a failed run: the atomic rename still keeps the lockfile whole.
    pub fn acquire(spec: &Path, on_wait: impl FnOnce()) -> Result<Self, Error> {
        let file = File::open(spec).map_err(|e| {
            Error::Invalid(format!("cannot open {} to lock it: {e}", spec.display()))
        })?;
        match file.try_lock() {
            Ok(()) => return Ok(Self { _file: Some(file) }),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(err)) => return Ok(Self::unlocked(spec, &err)),
        }
        on_wait();
        match file.lock() {
            Ok(()) => Ok(Self { _file: Some(file) }),
            Err(err) => Ok(Self::unlocked(spec, &err)),
        }
    }

    fn unlocked(spec: &Path, err: &std::io::Error) -> Self {
        tracing::warn!(
            "cannot lock {} ({err}); not guarding against another imagelock run at the same time",
            spec.display()
        );
        Self { _file: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, mpsc};
    use std::time::Duration;

    #[test]
    fn a_second_holder_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join("imagelock.yaml");
        std::fs::write(&spec, "version: 1\n").unwrap();

        let first = RunLock::acquire(&spec, || panic!("nothing holds it yet")).unwrap();
        let waited = Arc::new(AtomicBool::new(false));
        let (acquired, acquired_rx) = mpsc::channel();
        let thread = {
            let spec = spec.clone();
            let waited = Arc::clone(&waited);
            std::thread::spawn(move || {
                let _second =
                    RunLock::acquire(&spec, || waited.store(true, Ordering::SeqCst)).unwrap();
                acquired.send(()).unwrap();
            })
        };
        // While the first is held the second cannot get it...
        assert!(
            acquired_rx
                .recv_timeout(Duration::from_millis(300))
                .is_err()
        );
        assert!(waited.load(Ordering::SeqCst));
        // ...and gets it once the first is dropped.
        drop(first);
        acquired_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        thread.join().unwrap();
    }

    #[test]
    fn a_missing_spec_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = RunLock::acquire(&dir.path().join("nope.yaml"), || {}).unwrap_err();
        assert!(err.to_string().contains("nope.yaml"), "{err}");
    }
}
