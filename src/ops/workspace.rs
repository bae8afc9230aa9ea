//! Where the spec and the lockfile are: `-f`/`--lock` when given, else `imagelock.yaml` in the
//! current directory or the nearest parent that has one (as cargo finds `Cargo.toml`), with the
//! lockfile beside it.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lockfile::Lockfile;
use crate::spec::{self, Spec};

/// The spec's file name.
pub const SPEC_FILE: &str = "imagelock.yaml";
/// The lockfile's file name, next to the spec.
pub const LOCK_FILE: &str = "imagelock.lock";

/// The two files of one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub spec: PathBuf,
    pub lock: PathBuf,
}

impl Workspace {
    /// `spec` and `lock` as given on the command line; the spec is searched for upward from `cwd`
    /// when not given. Fails (exit 2) naming `cwd` when no directory up to the root has a spec.
    pub fn discover(spec: Option<&Path>, lock: Option<&Path>, cwd: &Path) -> Result<Self> {
        let spec = match spec {
            Some(path) => path.to_path_buf(),
            None => find_upward(cwd).ok_or_else(|| {
                Error::Invalid(format!(
                    "no {SPEC_FILE} in {} or any parent directory; pass -f PATH, or run \
                     `imagelock init` where the spec should live",
                    cwd.display()
                ))
            })?,
        };
        let lock = match lock {
            Some(path) => path.to_path_buf(),
            None => lock_beside(&spec),
        };
        Ok(Self { spec, lock })
    }

    /// Like [`Workspace::discover`], but a missing spec is not an error: `init` creates one in
    /// `cwd`, and `verify` can check a lockfile alone.
    pub fn discover_or_here(spec: Option<&Path>, lock: Option<&Path>, cwd: &Path) -> Self {
        Self::discover(spec, lock, cwd).unwrap_or_else(|_| {
            let spec = cwd.join(SPEC_FILE);
            let lock = lock.map_or_else(|| lock_beside(&spec), Path::to_path_buf);
            Self { spec, lock }
        })
    }

    pub fn load_spec(&self) -> Result<Spec> {
        spec::load(&self.spec)
    }

    /// The lockfile, or `None` when there is none yet.
    pub fn load_lock(&self) -> Result<Option<Lockfile>> {
        Lockfile::load(&self.lock)
    }

    /// The lockfile, or an empty one when there is none yet (for `lock`, which creates it).
    pub fn load_lock_or_empty(&self) -> Result<Lockfile> {
        Ok(self.load_lock()?.unwrap_or_default())
    }
}

/// `imagelock.lock` in the spec's directory. A spec read from a device or a pipe
/// (`-f /dev/stdin`) has no directory of its own, so its lockfile is in the current directory.
fn lock_beside(spec: &Path) -> PathBuf {
    let is_file = std::fs::metadata(spec).map_or(true, |m| m.is_file());
    match spec.parent() {
        Some(dir) if is_file => dir.join(LOCK_FILE),
        _ => PathBuf::from(LOCK_FILE),
    }
}

/// The nearest `imagelock.yaml` from `cwd` up, as a path relative to `cwd` (`imagelock.yaml`,
/// `../../imagelock.yaml`), so messages stay short and read the same on every machine.
fn find_upward(cwd: &Path) -> Option<PathBuf> {
    cwd.ancestors().enumerate().find_map(|(depth, dir)| {
        dir.join(SPEC_FILE).is_file().then(|| {
            let mut relative: PathBuf = std::iter::repeat_n("..", depth).collect();
            relative.push(SPEC_FILE);
            relative
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_spec_in_a_parent_and_the_lock_beside_it() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join(SPEC_FILE), "version: 1\n").unwrap();
        let deep = root.path().join("infra/tf");
        std::fs::create_dir_all(&deep).unwrap();
        let found = Workspace::discover(None, None, &deep).unwrap();
        assert_eq!(found.spec, Path::new("../../imagelock.yaml"));
        assert_eq!(found.lock, Path::new("../../imagelock.lock"));
        let here = Workspace::discover(None, None, root.path()).unwrap();
        assert_eq!(here.spec, Path::new(SPEC_FILE));
        assert_eq!(here.lock, Path::new(LOCK_FILE));
    }

    #[test]
    fn names_the_starting_directory_when_there_is_none() {
        let root = tempfile::tempdir().unwrap();
        let err = Workspace::discover(None, None, root.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("no imagelock.yaml in {}", root.path().display())),
            "{err}"
        );
        assert_eq!(err.exit(), crate::Exit::Invalid);
    }

    #[test]
    fn a_spec_from_a_device_keeps_its_lock_in_the_current_directory() {
        let here = Path::new("/tmp");
        let ws = Workspace::discover(Some(Path::new("/dev/stdin")), None, here).unwrap();
        assert_eq!(ws.lock, PathBuf::from(LOCK_FILE));
    }
}
