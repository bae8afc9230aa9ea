//! Whether a pin still holds when `lock` re-resolves an entry whose query changed: relocking
//! keeps what still holds (as cargo and uv treat the old lock as preferences), so respelling a
//! filter or adding a region moves nothing that needs no moving.

use semver::Version;

use super::{Context, filter};
use crate::lockfile::Pin;
use crate::spec::{Filters, ImageQuery, Selection};
use crate::ucloud::Image;
use crate::version::image_version;

/// Whether `pin` may stay when its entry is re-resolved against `images` (its region's listing
/// today): the pinned image is still listed, still passes the entry's filters and is not denied,
/// and the rule still accepts it (`only`: it is still the sole candidate; `agree: version`: it
/// has `agreed`, the version chosen today for the entry, from [`super::agreement`]).
///
/// `min_age` is left aside: it governs new picks and never evicts a pin. Whether the recorded
/// `select` is unchanged is the caller's to check (it is in the lockfile, not here).
pub fn still_holds(
    query: &ImageQuery,
    images: &[Image],
    ctx: &Context,
    pin: &Pin,
    agreed: Option<&Version>,
) -> bool {
    let without_min_age = Filters {
        min_age: None,
        ..query.filters.clone()
    };
    let (candidates, _) = filter(&without_min_age, images, ctx);
    let Some(image) = candidates.iter().find(|i| i.image_id == pin.image_id) else {
        return false;
    };
    if query.agree.is_some() {
        let version = image_version(&image.os_name, &image.image_name);
        if agreed.is_none() || version.as_ref() != agreed {
            return false;
        }
    }
    match query.select {
        Selection::Only => candidates.len() == 1,
        Selection::HighestVersion if query.agree.is_none() => {
            image_version(&image.os_name, &image.image_name).is_some()
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::test_support::image;
    use crate::spec::{Agreement, ImageState, MaxAge};

    const DAY: i64 = 86_400;

    fn ctx() -> Context {
        Context::at("2025-06-01T00:00:00Z".parse().unwrap())
    }

    fn query(select: Selection) -> ImageQuery {
        ImageQuery {
            name: "web".into(),
            regions: vec!["cn-bj2".into()],
            zone: None,
            project_id: None,
            filters: Filters::default(),
            select,
            agree: None,
            hold: None,
        }
    }

    fn listing() -> Vec<Image> {
        let now = ctx().now.as_second();
        vec![
            image("uimage-2204", "Ubuntu 22.04", now - 30 * DAY),
            image("uimage-2404", "Ubuntu 24.04", now - DAY),
            image("uimage-custom", "my-app", now - 2 * DAY),
        ]
    }

    fn pin(id: &str) -> Pin {
        Pin::from(listing().iter().find(|i| i.image_id == id).unwrap())
    }

    #[test]
    fn a_listed_passing_pin_holds_even_when_a_newer_image_wins() {
        let images = listing();
        assert!(still_holds(
            &query(Selection::Newest),
            &images,
            &ctx(),
            &pin("uimage-2204"),
            None
        ));
    }

    #[test]
    fn gone_filtered_out_or_denied_pins_do_not_hold() {
        let images = listing();
        let gone: Vec<Image> = images
            .iter()
            .filter(|i| i.image_id != "uimage-2204")
            .cloned()
            .collect();
        assert!(!still_holds(
            &query(Selection::Newest),
            &gone,
            &ctx(),
            &pin("uimage-2204"),
            None
        ));

        let mut making = query(Selection::Newest);
        making.filters.state = vec![ImageState::Making];
        assert!(!still_holds(
            &making,
            &images,
            &ctx(),
            &pin("uimage-2204"),
            None
        ));

        let deny = [("uimage-2204".to_owned(), "bad".to_owned())].into();
        let denying = ctx().with_deny(&deny);
        assert!(!still_holds(
            &query(Selection::Newest),
            &images,
            &denying,
            &pin("uimage-2204"),
            None
        ));
    }

    #[test]
    fn min_age_never_evicts_a_pin() {
        let mut cooled = query(Selection::Newest);
        cooled.filters.min_age = Some(MaxAge {
            source: "7d".into(),
            seconds: 7 * DAY,
        });
        // Pinned yesterday's build before min_age was added: it stays.
        assert!(still_holds(
            &cooled,
            &listing(),
            &ctx(),
            &pin("uimage-2404"),
            None
        ));
    }

    #[test]
    fn only_holds_while_the_pin_is_the_sole_candidate() {
        let images = listing();
        assert!(!still_holds(
            &query(Selection::Only),
            &images,
            &ctx(),
            &pin("uimage-2204"),
            None
        ));
        let alone = &images[..1];
        assert!(still_holds(
            &query(Selection::Only),
            alone,
            &ctx(),
            &pin("uimage-2204"),
            None
        ));
    }

    #[test]
    fn highest_version_needs_a_version() {
        let images = listing();
        let q = query(Selection::HighestVersion);
        assert!(!still_holds(
            &q,
            &images,
            &ctx(),
            &pin("uimage-custom"),
            None
        ));
        assert!(still_holds(&q, &images, &ctx(), &pin("uimage-2204"), None));
    }

    #[test]
    fn agree_holds_only_on_the_agreed_version() {
        let images = listing();
        let mut q = query(Selection::Newest);
        q.agree = Some(Agreement::Version);
        let v2204 = Version::new(22, 4, 0);
        assert!(still_holds(
            &q,
            &images,
            &ctx(),
            &pin("uimage-2204"),
            Some(&v2204)
        ));
        assert!(!still_holds(
            &q,
            &images,
            &ctx(),
            &pin("uimage-2404"),
            Some(&v2204)
        ));
        assert!(!still_holds(&q, &images, &ctx(), &pin("uimage-2204"), None));
    }
}
