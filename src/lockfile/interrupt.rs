//! An interrupt during a lockfile write leaves no temporary file behind.
//!
//! The lockfile is replaced by writing a temporary file beside it and renaming it into place, so
//! the old lockfile is whole at every instant, whatever happens. What an interrupt could leave is
//! the temporary file itself: SIGINT, SIGTERM and SIGHUP end the process without running any
//! destructor. While a temporary file exists its path is registered here, and a signal handler
//! removes it, then lets the signal end the process as it would have (default action).
//!
//! The handler only calls async-signal-safe functions (`unlink`, `signal`, `raise`) on a path
//! prepared beforehand. It is installed through `signal-hook-registry`, the registry tokio's
//! signal support also uses, so it coexists with other handlers of the same signals.

use std::path::Path;

/// Marks a temporary file for removal if a signal ends the process before the guard is dropped.
pub(super) struct TempGuard {
    #[cfg(unix)]
    path: *mut libc::c_char,
}

#[cfg(unix)]
mod imp {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::sync::Once;
    use std::sync::atomic::{AtomicPtr, Ordering};

    /// The temporary file to remove, or null. Its string is leaked on purpose: a handler running
    /// on another thread may still read it after the guard is gone, and a process writes its
    /// lockfile once or twice.
    static TEMP: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());
    static INSTALL: Once = Once::new();

    fn install() {
        INSTALL.call_once(|| {
            for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                // SAFETY: the action only calls async-signal-safe functions on data that is never
                // freed (see `TEMP`).
                let installed =
                    unsafe { signal_hook_registry::register(signal, move || on_signal(signal)) };
                if let Err(err) = installed {
                    tracing::debug!("cannot handle signal {signal}: {err}");
                }
            }
        });
    }

    fn on_signal(signal: libc::c_int) {
        let path = TEMP.swap(std::ptr::null_mut(), Ordering::SeqCst);
        // SAFETY: `path` is null or a leaked, NUL-terminated string; `unlink`, `signal` and
        // `raise` are async-signal-safe. The signal is blocked while its handler runs, so the
        // raised one is delivered with the default action as soon as the handler returns.
        unsafe {
            if !path.is_null() {
                libc::unlink(path);
            }
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }

    pub(super) fn register(path: &Path) -> *mut libc::c_char {
        install();
        let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
            return std::ptr::null_mut();
        };
        let leaked = c_path.into_raw();
        TEMP.store(leaked, Ordering::SeqCst);
        leaked
    }

    pub(super) fn clear(path: *mut libc::c_char) {
        let _ = TEMP.compare_exchange(
            path,
            std::ptr::null_mut(),
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }
}

impl TempGuard {
    /// Registers `path` (not created yet) for removal on SIGINT, SIGTERM or SIGHUP.
    pub(super) fn new(path: &Path) -> Self {
        #[cfg(unix)]
        {
            Self {
                path: imp::register(path),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            Self {}
        }
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        #[cfg(unix)]
        imp::clear(self.path);
    }
}
