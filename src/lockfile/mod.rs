//! The lockfile (`imagelock.lock`): format, digest of each entry's effective query, atomic write.
//!
//! `format.rs` renders and parses the exact bytes (docs/lockfile.md), `digest.rs` hashes an
//! entry's effective query, `checksum.rs` tells hand edits apart from reformatting, `write.rs`
//! replaces the file atomically. This module holds the types and the comparison against a spec.

mod canonical;
mod checksum;
mod digest;
mod format;
mod guard;
mod interrupt;
pub mod merge;
mod read;
mod write;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::spec::{Agreement, ImageQuery, Selection, Spec};
use crate::ucloud::Image;

pub use checksum::checksum;
pub use digest::digest;
pub use format::{HEADER, MAX_LOCKFILE_BYTES};
pub use guard::RunLock;
pub use write::read_capped;

/// The digest of every entry of a spec, by entry name.
pub type SpecDigests = BTreeMap<String, String>;

/// Digests of all of a spec's entries: what [`Lockfile::staleness`] compares the lock against.
pub fn digests(spec: &Spec) -> SpecDigests {
    // Hashing thousands of entries takes tens of milliseconds, most of a large `check`; the
    // entries are independent, so every core takes a share.
    const PER_THREAD: usize = 1000;
    let entries: Vec<(&String, &ImageQuery)> = spec.images.iter().collect();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = cores.min(entries.len() / PER_THREAD).max(1);
    let hash = |share: &[(&String, &ImageQuery)]| -> Vec<(String, String)> {
        share
            .iter()
            .map(|(name, query)| ((*name).clone(), digest(query)))
            .collect()
    };
    if threads == 1 {
        return hash(&entries).into_iter().collect();
    }
    std::thread::scope(|scope| {
        let shares: Vec<_> = entries
            .chunks(entries.len().div_ceil(threads))
            .map(|share| scope.spawn(move || hash(share)))
            .collect();
        shares
            .into_iter()
            .flat_map(|share| {
                share
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// The lockfile format version this imagelock writes. It also reads version 1 (no `select`,
/// `agree`, `checksum`, `maintain_eol` or `project_id` keys), and upgrades it on the next write.
pub const LOCKFILE_VERSION: u64 = 2;

/// The oldest lockfile format version this imagelock reads.
pub const OLDEST_READABLE_VERSION: u64 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockfile {
    pub images: BTreeMap<String, LockedImage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedImage {
    /// `sha256:<hex>` of the entry's effective query.
    pub digest: String,
    /// The entry's `select` when it was locked (absent in version 1 lockfiles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<Selection>,
    /// The entry's `agree` when it was locked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agree: Option<Agreement>,
    /// `sha256:<hex>` over the digest and the pins' parsed values: tells a hand edit apart from a
    /// reformatting. Absent in lockfiles written before it existed (trusted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// By region.
    pub pins: BTreeMap<String, Pin>,
}

impl LockedImage {
    /// Whether these pins answer `query`, whose digest is `query_digest`: same digest, and a pin
    /// for exactly the query's regions.
    pub fn satisfies(&self, query: &ImageQuery, query_digest: &str) -> bool {
        self.digest == query_digest
            && self.pins.len() == query.regions.len()
            && query
                .regions
                .iter()
                .all(|region| self.pins.contains_key(region))
    }
}

/// The image chosen for one entry in one region, with enough about it to review a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    pub image_id: String,
    pub image_name: String,
    pub os_name: String,
    pub os_type: String,
    pub image_type: String,
    pub create_time: i64,
    pub features: Vec<String>,
    /// The image's MaintainEol as `YYYY-MM-DD`, when the API gave a readable one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintain_eol: Option<String>,
    /// The ProjectId sent when this pin was resolved (absent when none was sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
}

impl From<&Image> for Pin {
    fn from(image: &Image) -> Self {
        // Sorted and distinct, so a reordering by the API never shows up as a diff.
        let mut features = image.features.clone();
        features.sort();
        features.dedup();
        Self {
            image_id: image.image_id.clone(),
            image_name: image.image_name.clone(),
            os_name: image.os_name.clone(),
            os_type: image.os_type.clone(),
            image_type: image.image_type.clone(),
            create_time: image.create_time,
            features,
            maintain_eol: None,
            project_id: None,
        }
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
    /// In both, and the entry's values no longer match its checksum: edited by hand. Such an
    /// entry is listed here only, not also in `changed` (its digest may be the edited value).
    pub hand_edited: Vec<String>,
    /// Pins, of entries in both, on an image the spec denies; sorted by entry, then region.
    pub denied: Vec<DeniedPin>,
}

/// A pin on an image that the spec's `deny` lists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeniedPin {
    pub entry: String,
    pub region: String,
    pub image_id: String,
    /// The reason the spec gives for denying the image.
    pub reason: String,
}

impl Staleness {
    /// Whether the lock answers the spec: nothing missing, changed, extra, hand-edited or denied.
    pub fn is_fresh(&self) -> bool {
        self.missing.is_empty()
            && self.changed.is_empty()
            && self.extra.is_empty()
            && self.hand_edited.is_empty()
            && self.denied.is_empty()
    }

    /// Why the entry `name` is behind its spec, if it is (a pin on a denied image aside). The
    /// lists are sorted, so this is a binary search, not a scan per entry.
    pub fn behind(&self, name: &str) -> Option<Behind> {
        let has = |list: &[String]| list.binary_search_by(|n| n.as_str().cmp(name)).is_ok();
        if has(&self.missing) {
            Some(Behind::Missing)
        } else if has(&self.hand_edited) {
            Some(Behind::HandEdited)
        } else if has(&self.changed) {
            Some(Behind::Changed)
        } else {
            None
        }
    }
}

/// How an entry is behind its spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behind {
    /// In the spec, not locked.
    Missing,
    /// Its pins were edited by hand.
    HandEdited,
    /// Its query changed since it was locked.
    Changed,
}

impl Lockfile {
    /// Reads the lockfile; `Ok(None)` when it does not exist.
    pub fn load(path: &Path) -> Result<Option<Self>, Error> {
        format::load(path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        format::parse(text, path)
    }

    /// The exact bytes of the file: header comment, then the entries, deterministic.
    ///
    /// Every entry is written with a checksum: its own when it has one (so an entry edited by
    /// hand stays detectable), else a fresh one over its values. Code that changes an entry's
    /// values must call [`LockedImage::seal`] (or clear `checksum`) before writing it.
    pub fn render(&self) -> String {
        format::render(self)
    }

    /// Writes atomically unless the file already holds these bytes (give or take CRLF line
    /// endings and a byte-order mark); returns whether it wrote. Every failure (a read-only file
    /// or directory, a missing directory, a full disk, a lockfile larger than imagelock reads) is
    /// [`Error::Io`] naming `path`, and leaves the old file as it was. A symlink is written
    /// through: its target is replaced.
    pub fn write(&self, path: &Path) -> Result<bool, Error> {
        write::write_if_changed(path, self.render().as_bytes(), MAX_LOCKFILE_BYTES)
    }

    /// Compares against the spec without any network.
    pub fn staleness(&self, spec: &Spec) -> Staleness {
        self.staleness_against(spec, &digests(spec))
    }

    /// [`Lockfile::staleness`] with the spec's [`digests`] already computed, e.g. on another
    /// thread while this lockfile was being read.
    pub fn staleness_against(&self, spec: &Spec, digests: &SpecDigests) -> Staleness {
        let mut staleness = Staleness::default();
        for (name, query) in &spec.images {
            let Some(locked) = self.images.get(name) else {
                staleness.missing.push(name.clone());
                continue;
            };
            for (region, pin) in &locked.pins {
                if let Some(reason) = spec.deny.get(&pin.image_id) {
                    staleness.denied.push(DeniedPin {
                        entry: name.clone(),
                        region: region.clone(),
                        image_id: pin.image_id.clone(),
                        reason: reason.clone(),
                    });
                }
            }
            if locked.is_hand_edited() {
                staleness.hand_edited.push(name.clone());
                continue;
            }
            let fresh = match digests.get(name) {
                Some(known) => locked.satisfies(query, known),
                None => locked.satisfies(query, &digest(query)),
            };
            if !fresh {
                staleness.changed.push(name.clone());
            }
        }
        staleness.extra = self
            .images
            .keys()
            .filter(|name| !spec.images.contains_key(*name))
            .cloned()
            .collect();
        // BTreeMap iteration already sorts; keep the promise explicit for future changes.
        staleness.missing.sort();
        staleness.changed.sort();
        staleness.extra.sort();
        staleness.hand_edited.sort();
        staleness.denied.sort();
        staleness
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Filters, ImageQuery, OsType, Selection};
    use std::path::PathBuf;

    #[test]
    fn digests_of_a_large_spec_are_each_entry_s_digest() {
        // Enough entries to take the multi-threaded path.
        let images: BTreeMap<String, ImageQuery> = (0..2_500)
            .map(|n| {
                let mut q = query(&format!("entry-{n}"), &["cn-bj2", "hk"]);
                if n % 2 == 0 {
                    q.filters.os_type = Some(OsType::Linux);
                }
                (q.name.clone(), q)
            })
            .collect();
        let spec = Spec {
            deny: Default::default(),
            warnings: Vec::new(),
            path: PathBuf::from("imagelock.yaml"),
            images,
        };
        let all = digests(&spec);
        assert_eq!(all.len(), 2_500);
        for (name, query) in &spec.images {
            assert_eq!(all[name], digest(query), "{name}");
        }
    }

    #[test]
    fn pins_satisfy_a_query_with_the_same_digest_and_regions() {
        let q = query("web", &["cn-bj2", "hk"]);
        let d = digest(&q);
        let pins = |regions: &[&str]| LockedImage {
            select: None,
            agree: None,
            checksum: None,
            digest: d.clone(),
            pins: regions
                .iter()
                .map(|r| {
                    (
                        r.to_string(),
                        Pin::from(&Image {
                            image_id: "uimage-x".into(),
                            ..Image::default()
                        }),
                    )
                })
                .collect(),
        };
        assert!(pins(&["cn-bj2", "hk"]).satisfies(&q, &d));
        assert!(!pins(&["cn-bj2"]).satisfies(&q, &d));
        assert!(!pins(&["cn-bj2", "sg"]).satisfies(&q, &d));
        assert!(!pins(&["cn-bj2", "hk"]).satisfies(&q, "sha256:other"));
    }

    fn query(name: &str, regions: &[&str]) -> ImageQuery {
        ImageQuery {
            agree: None,
            hold: None,
            name: name.into(),
            regions: regions.iter().map(|r| r.to_string()).collect(),
            zone: None,
            project_id: None,
            filters: Filters::default(),
            select: Selection::Newest,
        }
    }

    fn pin(id: &str) -> Pin {
        Pin {
            maintain_eol: None,
            project_id: None,
            image_id: id.into(),
            image_name: "Ubuntu 22.04".into(),
            os_name: "Ubuntu 22.04".into(),
            os_type: "Linux".into(),
            image_type: "Base".into(),
            create_time: 1,
            features: vec![],
        }
    }

    fn locked(query: &ImageQuery) -> LockedImage {
        LockedImage {
            select: None,
            agree: None,
            checksum: None,
            digest: digest(query),
            pins: query
                .regions
                .iter()
                .map(|r| (r.clone(), pin("uimage-1")))
                .collect(),
        }
    }

    fn spec(queries: &[ImageQuery]) -> Spec {
        Spec {
            deny: Default::default(),
            warnings: Vec::new(),
            path: PathBuf::from("imagelock.yaml"),
            images: queries
                .iter()
                .map(|q| (q.name.clone(), q.clone()))
                .collect(),
        }
    }

    #[test]
    fn pin_sorts_and_dedups_features() {
        let image = Image {
            image_id: "uimage-1".into(),
            features: vec![
                "IPv6".into(),
                "CloudInit".into(),
                "IPv6".into(),
                "HotPlug".into(),
            ],
            ..Image::default()
        };
        assert_eq!(Pin::from(&image).features, ["CloudInit", "HotPlug", "IPv6"]);
    }

    #[test]
    fn staleness_finds_missing_changed_and_extra() {
        let web = query("web", &["cn-bj2"]);
        let db = query("db", &["cn-bj2", "hk"]);
        let api = query("api", &["hk"]);
        let mut lock = Lockfile::default();
        lock.images.insert("web".into(), locked(&web));
        lock.images.insert("db".into(), locked(&db));
        lock.images
            .insert("old".into(), locked(&query("old", &["hk"])));
        lock.images
            .insert("zzz".into(), locked(&query("zzz", &["hk"])));
        assert!(!lock.staleness(&spec(&[web.clone(), db.clone()])).is_fresh());

        let mut web_changed = web.clone();
        web_changed.filters.os_type = Some(OsType::Linux);
        let staleness = lock.staleness(&spec(&[web_changed, db.clone(), api]));
        assert_eq!(staleness.missing, ["api"]);
        assert_eq!(staleness.changed, ["web"]);
        assert_eq!(staleness.extra, ["old", "zzz"]);
    }

    #[test]
    fn staleness_finds_hand_edited_entries_and_denied_pins() {
        let web = query("web", &["cn-bj2", "hk"]);
        let db = query("db", &["cn-bj2"]);
        let mut lock = Lockfile::default();
        let mut sealed = locked(&web);
        sealed.seal();
        let mut edited = sealed.clone();
        edited.pins.get_mut("hk").unwrap().image_id = "uimage-2".into();
        lock.images.insert("web".into(), edited.clone());
        lock.images.insert("db".into(), locked(&db));
        let mut the_spec = spec(&[web.clone(), db.clone()]);
        the_spec
            .deny
            .insert("uimage-1".into(), "CVE-2026-0001".into());
        let staleness = lock.staleness(&the_spec);
        assert_eq!(staleness.hand_edited, ["web"]);
        assert!(
            staleness.changed.is_empty(),
            "hand-edited is not also changed"
        );
        let denied = |entry: &str, region: &str| DeniedPin {
            entry: entry.into(),
            region: region.into(),
            image_id: "uimage-1".into(),
            reason: "CVE-2026-0001".into(),
        };
        assert_eq!(
            staleness.denied,
            [denied("db", "cn-bj2"), denied("web", "cn-bj2")]
        );
        assert!(!staleness.is_fresh());

        // Without the deny list and with the edit undone, the lock is fresh again.
        the_spec.deny.clear();
        lock.images.insert("web".into(), sealed);
        assert!(lock.staleness(&the_spec).is_fresh());
        // A hand edit alone makes it stale.
        lock.images.insert("web".into(), edited);
        let staleness = lock.staleness(&the_spec);
        assert_eq!(staleness.hand_edited, ["web"]);
        assert!(!staleness.is_fresh());
    }

    #[test]
    fn fresh_lock_is_fresh() {
        let web = query("web", &["cn-bj2", "hk"]);
        let mut lock = Lockfile::default();
        lock.images.insert("web".into(), locked(&web));
        assert!(lock.staleness(&spec(&[web])).is_fresh());
    }

    #[test]
    fn a_missing_or_extra_region_pin_is_a_change() {
        let web = query("web", &["cn-bj2", "hk"]);
        let mut lock = Lockfile::default();
        let mut entry = locked(&web);
        entry.pins.remove("hk");
        lock.images.insert("web".into(), entry.clone());
        assert_eq!(
            lock.staleness(&spec(std::slice::from_ref(&web))).changed,
            ["web"]
        );

        entry.pins.insert("hk".into(), pin("uimage-1"));
        entry.pins.insert("cn-sh2".into(), pin("uimage-1"));
        lock.images.insert("web".into(), entry);
        assert_eq!(lock.staleness(&spec(&[web])).changed, ["web"]);
    }
}
