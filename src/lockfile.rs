//! The lockfile (`imagelock.lock`): format, digest of each entry's effective query, atomic write.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::spec::{ImageQuery, Spec};
use crate::ucloud::Image;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockfile {
    pub images: BTreeMap<String, LockedImage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedImage {
    /// `sha256:<hex>` of the entry's effective query.
    pub digest: String,
    /// By region.
    pub pins: BTreeMap<String, Pin>,
}

/// The image chosen for one entry in one region, with enough about it to review a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub image_id: String,
    pub image_name: String,
    pub os_name: String,
    pub os_type: String,
    pub image_type: String,
    pub create_time: i64,
    pub features: Vec<String>,
}

impl From<&Image> for Pin {
    fn from(_image: &Image) -> Self {
        todo!("lockfile helper")
    }
}

/// How a lockfile differs from its spec. Each list is sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Staleness {
    /// In the spec, not in the lock.
    pub missing: Vec<String>,
    /// In both, but the digest (or the set of pinned regions) differs.
    pub changed: Vec<String>,
    /// In the lock, not in the spec.
    pub extra: Vec<String>,
}

impl Staleness {
    pub fn is_fresh(&self) -> bool {
        self.missing.is_empty() && self.changed.is_empty() && self.extra.is_empty()
    }
}

/// `sha256:<hex>` over the canonical form of the effective query.
pub fn digest(_query: &ImageQuery) -> String {
    todo!("lockfile helper")
}

impl Lockfile {
    /// Reads the lockfile; `Ok(None)` when it does not exist.
    pub fn load(_path: &Path) -> Result<Option<Self>, Error> {
        todo!("lockfile helper")
    }

    pub fn parse(_text: &str, _path: &Path) -> Result<Self, Error> {
        todo!("lockfile helper")
    }

    /// The exact bytes of the file: header comment, then the entries, deterministic.
    pub fn render(&self) -> String {
        todo!("lockfile helper")
    }

    /// Writes atomically unless the file already holds these bytes; returns whether it wrote.
    pub fn write(&self, _path: &Path) -> Result<bool, Error> {
        todo!("lockfile helper")
    }

    /// Compares against the spec without any network.
    pub fn staleness(&self, _spec: &Spec) -> Staleness {
        todo!("lockfile helper")
    }
}
