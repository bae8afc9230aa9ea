//! Builds still cooling under `min_age`: images that pass every other filter of an entry (and
//! are not denied), would rank above a given pin, and are only too young to be picked yet.
//! `outdated` lists them with the date each becomes eligible, so a cool-down is visible rather
//! than silent, and they never count as a pin that would move.

use std::cmp::Ordering;

use jiff::Timestamp;

use super::filter::min_age_cutoff;
use super::{Context, compare, filter};
use crate::lockfile::Pin;
use crate::spec::{Filters, ImageQuery, Selection};
use crate::ucloud::Image;
use crate::version::image_version;

/// One image held back only by `min_age`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cooling {
    pub image: Image,
    /// When it becomes eligible: its CreateTime plus `min_age`.
    pub eligible: Timestamp,
}

/// For one entry and one region's listing: the images that fail only `min_age` and would rank
/// above `pinned` under the entry's rule, best first, each with the date it becomes eligible.
/// Empty when the entry has no `min_age`.
///
/// For an `agree: version` entry the version ranks first (highest, or lowest under `oldest`),
/// then the entry's rule, as `choose_agreed` picks; whether the other regions offer that version
/// too is not asked here.
pub fn cooling(query: &ImageQuery, images: &[Image], ctx: &Context, pinned: &Pin) -> Vec<Cooling> {
    let Some(min_age) = &query.filters.min_age else {
        return Vec::new();
    };
    let without_min_age = Filters {
        min_age: None,
        ..query.filters.clone()
    };
    let (passing, _) = filter(&without_min_age, images, ctx);
    let cutoff = min_age_cutoff(min_age, ctx);
    let pin = Image {
        image_id: pinned.image_id.clone(),
        image_name: pinned.image_name.clone(),
        os_name: pinned.os_name.clone(),
        create_time: pinned.create_time,
        ..Image::default()
    };
    let needs_version = query.agree.is_some() || query.select == Selection::HighestVersion;
    let mut cooling: Vec<&Image> = passing
        .into_iter()
        .filter(|image| i128::from(image.create_time) * 1_000_000_000 > cutoff)
        .filter(|image| {
            !needs_version || image_version(&image.os_name, &image.image_name).is_some()
        })
        .filter(|image| image.image_id != pin.image_id)
        .filter(|image| ranks(query, image, &pin) == Ordering::Less)
        .collect();
    cooling.sort_by(|a, b| ranks(query, a, b));
    cooling
        .into_iter()
        .map(|image| Cooling {
            image: image.clone(),
            eligible: Timestamp::from_second(image.create_time.saturating_add(min_age.seconds))
                .unwrap_or(Timestamp::MAX),
        })
        .collect()
}

/// How two images rank for this entry: `Less` when `a` ranks before `b`.
fn ranks(query: &ImageQuery, a: &Image, b: &Image) -> Ordering {
    if query.agree.is_none() {
        return compare(query.select, a, b);
    }
    let va = image_version(&a.os_name, &a.image_name);
    let vb = image_version(&b.os_name, &b.image_name);
    let by_version = match (va, vb) {
        (Some(va), Some(vb)) if query.select == Selection::Oldest => va.cmp(&vb),
        (Some(va), Some(vb)) => vb.cmp(&va),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    let rule = match query.select {
        Selection::HighestVersion => Selection::Newest,
        other => other,
    };
    by_version.then_with(|| compare(rule, a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::test_support::image;
    use crate::spec::{Agreement, MaxAge};

    const DAY: i64 = 86_400;

    fn now() -> i64 {
        ctx().now.as_second()
    }

    fn ctx() -> Context {
        Context::at("2025-06-01T00:00:00Z".parse().unwrap())
    }

    fn query(select: Selection, min_age: Option<i64>) -> ImageQuery {
        ImageQuery {
            name: "web".into(),
            regions: vec!["cn-bj2".into()],
            zone: None,
            project_id: None,
            filters: Filters {
                min_age: min_age.map(|days| MaxAge {
                    source: format!("{days}d"),
                    seconds: days * DAY,
                }),
                ..Filters::default()
            },
            select,
            agree: None,
            hold: None,
        }
    }

    fn listing() -> Vec<Image> {
        let mut unavailable = image("uimage-broken", "Ubuntu 24.04", now() - DAY);
        unavailable.state = "Unavailable".into();
        vec![
            image("uimage-pinned", "Ubuntu 22.04", now() - 30 * DAY),
            image("uimage-older", "Ubuntu 22.04", now() - 60 * DAY),
            image("uimage-soaked", "Ubuntu 22.04", now() - 10 * DAY),
            image("uimage-2day", "Ubuntu 22.04", now() - 2 * DAY),
            image("uimage-today", "Ubuntu 24.04", now() - 3_600),
            image("uimage-custom", "my-app", now() - DAY),
            unavailable,
        ]
    }

    fn ids(cooling: &[Cooling]) -> Vec<&str> {
        cooling.iter().map(|c| c.image.image_id.as_str()).collect()
    }

    fn pinned(images: &[Image], id: &str) -> Pin {
        Pin::from(images.iter().find(|i| i.image_id == id).unwrap())
    }

    #[test]
    fn lists_only_what_min_age_alone_holds_back_above_the_pin_best_first() {
        let images = listing();
        let pin = pinned(&images, "uimage-pinned");
        let got = cooling(&query(Selection::Newest, Some(7)), &images, &ctx(), &pin);
        // uimage-soaked passes min_age (it is what would move the pin, not a cooling build);
        // uimage-broken fails `state` too.
        assert_eq!(ids(&got), ["uimage-today", "uimage-custom", "uimage-2day"]);
        let eligible: Vec<String> = got.iter().map(|c| c.eligible.to_string()).collect();
        assert_eq!(
            eligible,
            [
                "2025-06-07T23:00:00Z",
                "2025-06-07T00:00:00Z",
                "2025-06-06T00:00:00Z"
            ]
        );
    }

    #[test]
    fn nothing_without_min_age_or_when_nothing_is_younger() {
        let images = listing();
        let pin = pinned(&images, "uimage-pinned");
        assert!(cooling(&query(Selection::Newest, None), &images, &ctx(), &pin).is_empty());
        let pin = pinned(&images, "uimage-today");
        assert!(cooling(&query(Selection::Newest, Some(7)), &images, &ctx(), &pin).is_empty());
    }

    #[test]
    fn ranks_by_the_entrys_rule() {
        let images = listing();
        let pin = pinned(&images, "uimage-pinned");
        // highest_version: 24.04 ranks above a 22.04 pin; 22.04 builds newer than it do too;
        // the versionless custom image is no candidate.
        let got = cooling(
            &query(Selection::HighestVersion, Some(7)),
            &images,
            &ctx(),
            &pin,
        );
        assert_eq!(ids(&got), ["uimage-today", "uimage-2day"]);
        // oldest: nothing younger ranks above an older pin.
        let got = cooling(&query(Selection::Oldest, Some(7)), &images, &ctx(), &pin);
        assert!(got.is_empty());
    }

    #[test]
    fn agree_entries_rank_by_version_first() {
        let images = listing();
        let pin = pinned(&images, "uimage-soaked");
        let mut agreed = query(Selection::Newest, Some(7));
        agreed.agree = Some(Agreement::Version);
        let got = cooling(&agreed, &images, &ctx(), &pin);
        assert_eq!(ids(&got), ["uimage-today", "uimage-2day"]);
    }

    #[test]
    fn denied_builds_are_not_cooling() {
        let images = listing();
        let pin = pinned(&images, "uimage-pinned");
        let deny = [("uimage-today".to_owned(), "bad".to_owned())].into();
        let got = cooling(
            &query(Selection::Newest, Some(7)),
            &images,
            &ctx().with_deny(&deny),
            &pin,
        );
        assert_eq!(ids(&got), ["uimage-custom", "uimage-2day"]);
    }
}
