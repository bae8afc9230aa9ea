//! A three-way merge of lockfiles, for git's merge driver (`imagelock merge-driver`,
//! docs/merge-driver.md): two branches that pinned different entries merge cleanly, and what both
//! changed differently is left out for `lock` to pin again, rather than becoming a conflict.
//!
//! Per entry: changed on one side only, that side (an addition or a removal included); changed
//! identically on both, either; both sides with the same digest, merged region by region the same
//! way; otherwise (different digests, or removed on one side and changed on the other) the entry
//! is left out. A region changed differently on both sides is left out of its entry; an entry left
//! with no pins is left out. The merge reads nothing but the three lockfiles.
//!
//! "Changed" compares values, not bytes or checksums: an entry that one side merely upgraded from
//! format version 1 (a checksum added, nothing else) is unchanged.

use std::collections::{BTreeMap, BTreeSet};

use super::{LockedImage, Lockfile, Pin};

/// The merged lockfile and what was left out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOutcome {
    /// Deterministic: the same three inputs give the same lockfile. Entries taken whole from one
    /// side keep that side's checksum; entries merged region by region are sealed afresh.
    pub merged: Lockfile,
    /// Sorted by entry, then region (a whole entry first).
    pub left_out: Vec<LeftOut>,
}

/// An entry, or one region of an entry, that the merge could not decide and left out.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LeftOut {
    pub entry: String,
    /// `None`: the whole entry.
    pub region: Option<String>,
    /// Why, in words, e.g. "changed differently on both sides".
    pub why: String,
}

/// Merges `ours` and `theirs`, both descended from `base` (empty when both branches added the
/// lockfile).
pub fn merge(base: &Lockfile, ours: &Lockfile, theirs: &Lockfile) -> MergeOutcome {
    let names: BTreeSet<&String> = base
        .images
        .keys()
        .chain(ours.images.keys())
        .chain(theirs.images.keys())
        .collect();
    let mut merged = Lockfile::default();
    let mut left_out = Vec::new();
    for name in names {
        let (b, o, t) = (
            base.images.get(name),
            ours.images.get(name),
            theirs.images.get(name),
        );
        let leave_out = |why: &str, left_out: &mut Vec<LeftOut>| {
            left_out.push(LeftOut {
                entry: name.clone(),
                region: None,
                why: why.to_string(),
            });
        };
        let chosen = if same_entry(o, b) {
            t.cloned()
        } else if same_entry(t, b) || same_entry(o, t) {
            o.cloned()
        } else {
            match (o, t) {
                (Some(o), Some(t)) if o.digest == t.digest => {
                    if o.is_hand_edited() || t.is_hand_edited() {
                        leave_out(
                            "changed on both sides, and edited by hand on one",
                            &mut left_out,
                        );
                        None
                    } else {
                        let mut regions = Vec::new();
                        let entry = merge_regions(b, o, t, &mut regions);
                        left_out.extend(regions.into_iter().map(|(region, why)| LeftOut {
                            entry: name.clone(),
                            region: Some(region),
                            why,
                        }));
                        if entry.pins.is_empty() {
                            leave_out("no region's pin could be merged", &mut left_out);
                            None
                        } else {
                            Some(entry)
                        }
                    }
                }
                (Some(_), Some(_)) => {
                    leave_out(
                        "changed on both sides, for different queries",
                        &mut left_out,
                    );
                    None
                }
                _ => {
                    leave_out(
                        "removed on one side and changed on the other",
                        &mut left_out,
                    );
                    None
                }
            }
        };
        if let Some(entry) = chosen {
            merged.images.insert(name.clone(), entry);
        }
    }
    left_out.sort();
    MergeOutcome { merged, left_out }
}

/// Both sides changed an entry, to the same digest: the pins merged region by region.
fn merge_regions(
    base: Option<&LockedImage>,
    ours: &LockedImage,
    theirs: &LockedImage,
    left_out: &mut Vec<(String, String)>,
) -> LockedImage {
    let empty = BTreeMap::new();
    let base_pins = base.map_or(&empty, |b| &b.pins);
    let regions: BTreeSet<&String> = base_pins
        .keys()
        .chain(ours.pins.keys())
        .chain(theirs.pins.keys())
        .collect();
    let mut pins = BTreeMap::new();
    for region in regions {
        let (b, o, t) = (
            base_pins.get(region),
            ours.pins.get(region),
            theirs.pins.get(region),
        );
        let chosen = if same_pin(o, b) {
            t
        } else if same_pin(t, b) || same_pin(o, t) {
            o
        } else {
            let why = if o.is_some() && t.is_some() {
                "changed differently on both sides"
            } else {
                "removed on one side and changed on the other"
            };
            left_out.push((region.clone(), why.to_string()));
            None
        };
        if let Some(pin) = chosen {
            pins.insert(region.clone(), pin.clone());
        }
    }
    // The digest is the same on both sides, and `select` and `agree` are part of it; a side that
    // records them (format 2) knows more than one that does not (format 1).
    let mut entry = LockedImage {
        digest: ours.digest.clone(),
        select: ours.select.or(theirs.select),
        agree: ours.agree.or(theirs.agree),
        checksum: None,
        pins,
    };
    entry.seal();
    entry
}

/// Whether two (possibly absent) entries hold the same values; the checksum is not a value.
fn same_entry(a: Option<&LockedImage>, b: Option<&LockedImage>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.digest == b.digest
                && a.select == b.select
                && a.agree == b.agree
                && a.pins.len() == b.pins.len()
                && a.pins
                    .iter()
                    .zip(&b.pins)
                    .all(|((ra, pa), (rb, pb))| ra == rb && same_pin(Some(pa), Some(pb)))
        }
        _ => false,
    }
}

fn same_pin(a: Option<&Pin>, b: Option<&Pin>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let features =
                |pin: &Pin| -> BTreeSet<String> { pin.features.iter().cloned().collect() };
            a.image_id == b.image_id
                && a.image_name == b.image_name
                && a.os_name == b.os_name
                && a.os_type == b.os_type
                && a.image_type == b.image_type
                && a.create_time == b.create_time
                && a.maintain_eol == b.maintain_eol
                && a.project_id == b.project_id
                && features(a) == features(b)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(id: &str) -> Pin {
        Pin {
            image_id: id.into(),
            image_name: "Ubuntu".into(),
            os_name: "Ubuntu".into(),
            os_type: "Linux".into(),
            image_type: "Base".into(),
            create_time: 1,
            features: vec![],
            maintain_eol: None,
            project_id: None,
        }
    }

    fn entry(digest: char, pins: &[(&str, &str)]) -> LockedImage {
        let mut entry = LockedImage {
            digest: format!("sha256:{}", digest.to_string().repeat(64)),
            select: None,
            agree: None,
            checksum: None,
            pins: pins
                .iter()
                .map(|(region, id)| (region.to_string(), pin(id)))
                .collect(),
        };
        entry.seal();
        entry
    }

    fn lock(entries: &[(&str, LockedImage)]) -> Lockfile {
        Lockfile {
            images: entries
                .iter()
                .map(|(name, entry)| (name.to_string(), entry.clone()))
                .collect(),
        }
    }

    fn left(entry: &str, region: Option<&str>, why: &str) -> LeftOut {
        LeftOut {
            entry: entry.into(),
            region: region.map(String::from),
            why: why.into(),
        }
    }

    #[test]
    fn one_sided_changes_are_taken() {
        let web = entry('a', &[("hk", "uimage-1")]);
        let web2 = entry('a', &[("hk", "uimage-2")]);
        let db = entry('b', &[("hk", "uimage-3")]);
        let api = entry('c', &[("sg", "uimage-4")]);
        let base = lock(&[("web", web.clone()), ("db", db.clone())]);
        // Ours moves web; theirs removes db and adds api.
        let ours = lock(&[("web", web2.clone()), ("db", db.clone())]);
        let theirs = lock(&[("web", web.clone()), ("api", api.clone())]);
        let outcome = merge(&base, &ours, &theirs);
        assert_eq!(outcome.merged, lock(&[("web", web2), ("api", api)]));
        assert!(outcome.left_out.is_empty());
        // Symmetric.
        assert_eq!(merge(&base, &theirs, &ours).merged, outcome.merged);
    }

    #[test]
    fn identical_changes_are_taken_once() {
        let web = entry('a', &[("hk", "uimage-1")]);
        let web2 = entry('b', &[("hk", "uimage-2")]);
        let base = lock(&[("web", web)]);
        let both = lock(&[("web", web2)]);
        let outcome = merge(&base, &both, &both);
        assert_eq!(outcome.merged, both);
        assert!(outcome.left_out.is_empty());
        // Both removed it.
        let outcome = merge(&base, &Lockfile::default(), &Lockfile::default());
        assert_eq!(outcome.merged, Lockfile::default());
        assert!(outcome.left_out.is_empty());
    }

    #[test]
    fn different_queries_on_both_sides_are_left_out() {
        let base = lock(&[("web", entry('a', &[("hk", "uimage-1")]))]);
        let ours = lock(&[("web", entry('b', &[("hk", "uimage-2")]))]);
        let theirs = lock(&[("web", entry('c', &[("hk", "uimage-3")]))]);
        let outcome = merge(&base, &ours, &theirs);
        assert_eq!(outcome.merged, Lockfile::default());
        assert_eq!(
            outcome.left_out,
            [left(
                "web",
                None,
                "changed on both sides, for different queries"
            )]
        );
        // Both added it, differently, with no base.
        let outcome = merge(&Lockfile::default(), &ours, &theirs);
        assert_eq!(outcome.left_out.len(), 1);
    }

    #[test]
    fn removed_on_one_side_and_changed_on_the_other_is_left_out() {
        let base = lock(&[("web", entry('a', &[("hk", "uimage-1")]))]);
        let changed = lock(&[("web", entry('a', &[("hk", "uimage-2")]))]);
        for (ours, theirs) in [
            (&changed, &Lockfile::default()),
            (&Lockfile::default(), &changed),
        ] {
            let outcome = merge(&base, ours, theirs);
            assert_eq!(outcome.merged, Lockfile::default());
            assert_eq!(
                outcome.left_out,
                [left(
                    "web",
                    None,
                    "removed on one side and changed on the other"
                )]
            );
        }
    }

    #[test]
    fn same_digest_merges_region_by_region() {
        let base = lock(&[(
            "web",
            entry(
                'a',
                &[("hk", "uimage-1"), ("sg", "uimage-2"), ("bj", "uimage-3")],
            ),
        )]);
        // Ours moves hk and sg; theirs moves sg differently, removes bj and adds gd.
        let ours = lock(&[(
            "web",
            entry(
                'a',
                &[("hk", "uimage-10"), ("sg", "uimage-20"), ("bj", "uimage-3")],
            ),
        )]);
        let theirs = lock(&[(
            "web",
            entry(
                'a',
                &[("hk", "uimage-1"), ("sg", "uimage-21"), ("gd", "uimage-4")],
            ),
        )]);
        let outcome = merge(&base, &ours, &theirs);
        let expected = entry('a', &[("hk", "uimage-10"), ("gd", "uimage-4")]);
        assert_eq!(outcome.merged, lock(&[("web", expected)]));
        assert!(!outcome.merged.images["web"].is_hand_edited());
        assert_eq!(
            outcome.left_out,
            [left("web", Some("sg"), "changed differently on both sides")]
        );
    }

    #[test]
    fn an_entry_left_with_no_pins_is_left_out() {
        let base = lock(&[("web", entry('a', &[("hk", "uimage-1")]))]);
        let ours = lock(&[("web", entry('a', &[("hk", "uimage-2")]))]);
        let theirs = lock(&[("web", entry('a', &[("hk", "uimage-3")]))]);
        let outcome = merge(&base, &ours, &theirs);
        assert_eq!(outcome.merged, Lockfile::default());
        assert_eq!(
            outcome.left_out,
            [
                left("web", None, "no region's pin could be merged"),
                left("web", Some("hk"), "changed differently on both sides"),
            ]
        );
    }

    #[test]
    fn a_format_upgrade_alone_is_no_change() {
        let mut v1 = entry('a', &[("hk", "uimage-1")]);
        v1.checksum = None;
        let base = lock(&[("web", v1.clone())]);
        let ours = lock(&[("web", entry('a', &[("hk", "uimage-1")]))]);
        let theirs = lock(&[("web", entry('a', &[("hk", "uimage-2")]))]);
        let outcome = merge(&base, &ours, &theirs);
        assert_eq!(outcome.merged, theirs);
        assert!(outcome.left_out.is_empty());
    }

    #[test]
    fn a_hand_edit_is_never_laundered_into_a_fresh_checksum() {
        let base = lock(&[("web", entry('a', &[("hk", "uimage-1"), ("sg", "uimage-2")]))]);
        let mut edited = entry('a', &[("hk", "uimage-9"), ("sg", "uimage-2")]);
        edited.checksum = base.images["web"].checksum.clone();
        assert!(edited.is_hand_edited());
        let ours = lock(&[("web", edited.clone())]);
        // Taken whole from one side, it keeps its wrong checksum...
        let outcome = merge(&base, &ours, &base);
        assert!(outcome.merged.images["web"].is_hand_edited());
        // ...and merging it region by region would hide the edit, so it is left out.
        let theirs = lock(&[("web", entry('a', &[("hk", "uimage-1"), ("sg", "uimage-3")]))]);
        let outcome = merge(&base, &ours, &theirs);
        assert_eq!(outcome.merged, Lockfile::default());
        assert_eq!(
            outcome.left_out[0].why,
            "changed on both sides, and edited by hand on one"
        );
    }
}
