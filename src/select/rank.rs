//! Ranking candidates best first by an entry's `select` rule (docs/spec.md, "Selection").

use std::cmp::Ordering;

use crate::spec::Selection;
use crate::ucloud::Image;
use crate::version::image_version;

/// Sorts candidates best first by the rule (ties as docs/spec.md, "Selection", says); `highest_version` drops
/// images without a version. `only` ranks as `newest`, so an ambiguity lists the newest first.
pub fn rank(selection: Selection, candidates: &mut Vec<&Image>) {
    match selection {
        Selection::Newest | Selection::Only => candidates.sort_by(|a, b| newest_first(a, b)),
        Selection::Oldest => candidates.sort_by(|a, b| oldest_first(a, b)),
        Selection::HighestVersion => {
            let mut versioned: Vec<_> = candidates
                .drain(..)
                .filter_map(|image| {
                    image_version(&image.os_name, &image.image_name).map(|v| (v, image))
                })
                .collect();
            versioned.sort_by(|(va, a), (vb, b)| vb.cmp(va).then_with(|| newest_first(a, b)));
            candidates.extend(versioned.into_iter().map(|(_, image)| image));
        }
    }
}

/// How two images rank under a rule: `Less` when `a` ranks before `b`. Under `highest_version` an
/// image with a version ranks before one without (which `rank` drops); `only` ranks as `newest`.
pub fn compare(selection: Selection, a: &Image, b: &Image) -> Ordering {
    match selection {
        Selection::Newest | Selection::Only => newest_first(a, b),
        Selection::Oldest => oldest_first(a, b),
        Selection::HighestVersion => {
            let va = image_version(&a.os_name, &a.image_name);
            let vb = image_version(&b.os_name, &b.image_name);
            // `Option` orders `None` first, so comparing b with a puts versions first, highest first.
            vb.cmp(&va).then_with(|| newest_first(a, b))
        }
    }
}

/// Lowest CreateTime first; ties → smallest ImageId in byte order.
pub(super) fn oldest_first(a: &Image, b: &Image) -> Ordering {
    a.create_time
        .cmp(&b.create_time)
        .then_with(|| a.image_id.as_bytes().cmp(b.image_id.as_bytes()))
}

/// Highest CreateTime first; ties → smallest ImageId in byte order.
pub(super) fn newest_first(a: &Image, b: &Image) -> Ordering {
    b.create_time
        .cmp(&a.create_time)
        .then_with(|| a.image_id.as_bytes().cmp(b.image_id.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::test_support::image;

    fn ranked(selection: Selection, images: &[Image]) -> Vec<String> {
        let mut candidates: Vec<&Image> = images.iter().collect();
        rank(selection, &mut candidates);
        candidates.iter().map(|i| i.image_id.clone()).collect()
    }

    fn sample() -> Vec<Image> {
        vec![
            image("uimage-c", "Ubuntu 20.04", 300),
            image("uimage-b", "Ubuntu 22.04", 300),
            image("uimage-a", "Ubuntu 18.04", 100),
            image("uimage-d", "Ubuntu 22.04", 200),
            image("uimage-x", "custom", 400),
        ]
    }

    #[test]
    fn newest_breaks_ties_by_smallest_id() {
        assert_eq!(
            ranked(Selection::Newest, &sample()),
            ["uimage-x", "uimage-b", "uimage-c", "uimage-d", "uimage-a"]
        );
    }

    #[test]
    fn only_ranks_as_newest() {
        assert_eq!(
            ranked(Selection::Only, &sample()),
            ranked(Selection::Newest, &sample())
        );
    }

    #[test]
    fn oldest_breaks_ties_by_smallest_id() {
        let mut images = sample();
        images.push(image("uimage-0", "Ubuntu 16.04", 100));
        assert_eq!(
            ranked(Selection::Oldest, &images),
            [
                "uimage-0", "uimage-a", "uimage-d", "uimage-b", "uimage-c", "uimage-x"
            ]
        );
    }

    #[test]
    fn highest_version_drops_versionless_and_ties_as_newest() {
        // 22.04 twice: uimage-b (300) beats uimage-d (200).
        assert_eq!(
            ranked(Selection::HighestVersion, &sample()),
            ["uimage-b", "uimage-d", "uimage-c", "uimage-a"]
        );
        let mut same_time = sample();
        same_time.push(image("uimage-a2", "Ubuntu 22.04", 300));
        assert_eq!(
            ranked(Selection::HighestVersion, &same_time)[..2],
            ["uimage-a2", "uimage-b"]
        );
    }

    #[test]
    fn highest_version_with_no_versions_is_empty() {
        let images = [image("uimage-x", "custom", 1), image("uimage-y", "mine", 2)];
        assert!(ranked(Selection::HighestVersion, &images).is_empty());
    }

    #[test]
    fn compare_agrees_with_rank_for_every_rule() {
        for selection in [
            Selection::Newest,
            Selection::Oldest,
            Selection::HighestVersion,
            Selection::Only,
        ] {
            let mut by_compare: Vec<Image> = sample();
            by_compare.sort_by(|a, b| compare(selection, a, b));
            let mut ids: Vec<String> = by_compare.iter().map(|i| i.image_id.clone()).collect();
            if selection == Selection::HighestVersion {
                // Versionless images sort last under compare; rank drops them.
                assert_eq!(ids.pop().as_deref(), Some("uimage-x"));
            }
            assert_eq!(ids, ranked(selection, &sample()), "{selection:?}");
        }
    }

    #[test]
    fn byte_order_not_locale_order() {
        let images = [image("uimage-b", "x", 1), image("uimage-B", "x", 1)];
        assert_eq!(ranked(Selection::Newest, &images), ["uimage-B", "uimage-b"]);
    }
}
