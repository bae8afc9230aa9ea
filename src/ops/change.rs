//! [`PinChange`]: one pin that appears, moves, stays while its query changed, or goes. `lock`,
//! `update` and `outdated` all describe their work as a list of these, and every renderer (text,
//! JSON, Markdown) reads the same type.

use crate::lockfile::{Behind, Pin};
use crate::version::{Downgrade, HasVersion};

/// Why a pin moves (or would).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// Same query; a different image wins today (usually a newer build).
    Newer,
    /// The entry, or this region of it, has no pin yet.
    Missing,
    /// The entry's query changed since it was locked.
    QueryChanged,
    /// The lockfile's pins of this entry were edited by hand.
    HandEdited,
    /// The pinned image is on the spec's deny list.
    Denied,
    /// The spec no longer names this entry, or this region of it.
    Removed,
}

impl Reason {
    /// The reason a pin of an entry that is behind its spec moves.
    pub fn from_behind(behind: Behind) -> Self {
        match behind {
            Behind::Missing => Reason::Missing,
            Behind::HandEdited => Reason::HandEdited,
            Behind::Changed => Reason::QueryChanged,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Newer => "newer",
            Reason::Missing => "missing",
            Reason::QueryChanged => "query_changed",
            Reason::HandEdited => "hand_edited",
            Reason::Denied => "denied",
            Reason::Removed => "removed",
        }
    }
}

/// One (entry, region): the pin before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinChange {
    pub entry: String,
    pub region: String,
    /// `None`: not pinned before.
    pub old: Option<Pin>,
    /// `None`: removed.
    pub new: Option<Pin>,
    pub reason: Reason,
}

impl PinChange {
    /// Whether the pinned ImageId differs before and after.
    pub fn moves(&self) -> bool {
        self.old.as_ref().map(|p| &p.image_id) != self.new.as_ref().map(|p| &p.image_id)
    }

    /// The move goes down a version line ([`crate::version::downgrade`]): `newest` by
    /// CreateTime happily picks a fresh rebuild of an older OS line, and this is where the
    /// downgrade guard looks.
    pub fn downgrade(&self) -> Option<Downgrade> {
        match (&self.old, &self.new) {
            (Some(old), Some(new)) => crate::version::downgrade(old, new),
            _ => None,
        }
    }

    pub fn is_downgrade(&self) -> bool {
        self.downgrade().is_some()
    }

    /// `24.4.0 → 26.4.0`, when both sides have a version and they differ.
    pub fn version_change(&self) -> Option<(String, String)> {
        let old = self.old.as_ref()?.version()?;
        let new = self.new.as_ref()?.version()?;
        (old != new).then(|| (old.to_string(), new.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(id: &str, name: &str) -> Pin {
        Pin {
            image_id: id.into(),
            image_name: name.into(),
            os_name: name.into(),
            os_type: "Linux".into(),
            image_type: "Base".into(),
            create_time: 1,
            features: vec![],
            maintain_eol: None,
            project_id: None,
        }
    }

    fn change(old: Pin, new: Pin) -> PinChange {
        PinChange {
            entry: "web".into(),
            region: "cn-bj2".into(),
            old: Some(old),
            new: Some(new),
            reason: Reason::Newer,
        }
    }

    #[test]
    fn downgrades_are_lower_versions_or_lost_versions() {
        let down = change(pin("a", "Ubuntu 24.04"), pin("b", "Ubuntu 22.04"));
        assert!(down.is_downgrade());
        assert_eq!(
            down.version_change(),
            Some(("24.4.0".into(), "22.4.0".into()))
        );
        assert!(!change(pin("a", "Ubuntu 22.04"), pin("b", "Ubuntu 24.04")).is_downgrade());
        assert!(!change(pin("a", "Ubuntu 22.04"), pin("b", "Ubuntu 22.04 rebuilt")).is_downgrade());
        assert!(change(pin("a", "Ubuntu 22.04"), pin("b", "custom")).is_downgrade());
        assert!(!change(pin("a", "custom"), pin("b", "other")).is_downgrade());
    }

    #[test]
    fn moves_compare_image_ids() {
        assert!(!change(pin("a", "x"), pin("a", "y")).moves());
        assert!(change(pin("a", "x"), pin("b", "x")).moves());
    }
}
