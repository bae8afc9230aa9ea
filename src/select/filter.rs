//! The filters of an entry, applied in the order of the README's filter table, each one recorded
//! in the [`Funnel`]; then `min_age`, `not_eol` and the spec's `deny` list.

use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::{Context, Funnel, FunnelStep};
use crate::spec::{Filters, MaxAge, Pattern, SetMatch};
use crate::ucloud::Image;
use crate::version::image_version;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// Applies every filter that is set, in the README's order, recording the funnel. The spec's
/// `deny` list comes last (a `deny` step whenever the list is not empty), so the funnel shows
/// when the images an entry asks for are denied ones.
///
/// Filters that may have been pushed down to the API (`os_type`, `image_type`, `func_type`,
/// `image_id`) are checked here too, so a broader listing shared by several entries gives the
/// same result as a narrow one.
pub fn filter<'a>(
    filters: &Filters,
    images: &'a [Image],
    ctx: &Context,
) -> (Vec<&'a Image>, Funnel) {
    let mut kept: Vec<&Image> = images.iter().collect();
    let mut funnel = Funnel {
        total: images.len(),
        steps: Vec::new(),
    };
    let mut step = |label: String, keep: &dyn Fn(&Image) -> bool| {
        kept.retain(|image| keep(image));
        funnel.steps.push(FunnelStep {
            filter: label,
            kept: kept.len(),
        });
    };

    if let Some(os_type) = filters.os_type {
        step(format!("os_type = {os_type}"), &|i| {
            i.os_type == os_type.as_str()
        });
    }
    if let Some(image_type) = filters.image_type {
        step(format!("image_type = {image_type}"), &|i| {
            i.image_type == image_type.as_str()
        });
    }
    if let Some(func_type) = filters.func_type {
        step(format!("func_type = {func_type}"), &|i| {
            i.func_type == func_type.as_str()
        });
    }
    if let Some(image_id) = &filters.image_id {
        step(format!("image_id = {image_id}"), &|i| {
            &i.image_id == image_id
        });
    }
    let states: Vec<&str> = filters.state.iter().map(|s| s.as_str()).collect();
    step(format!("state in [{}]", states.join(", ")), &|i| {
        states.contains(&i.state.as_str())
    });
    if let Some(pattern) = &filters.name {
        step(pattern_label("name", pattern), &|i| {
            pattern.regex.is_match(&i.image_name)
        });
    }
    if let Some(pattern) = &filters.os_name {
        step(pattern_label("os_name", pattern), &|i| {
            pattern.regex.is_match(&i.os_name)
        });
    }
    if let Some(pattern) = &filters.vendor {
        // A missing Vendor arrives as the empty string, so `^$` selects images without one.
        step(pattern_label("vendor", pattern), &|i| {
            pattern.regex.is_match(&i.vendor)
        });
    }
    if let Some(set) = &filters.features {
        step(set_label("features", set), &|i| {
            set_matches(set, &i.features)
        });
    }
    if let Some(set) = &filters.scene_categories {
        step(set_label("scene_categories", set), &|i| {
            set_matches(set, &i.scene_categories)
        });
    }
    if let Some(set) = &filters.supported_gpu_types {
        step(set_label("supported_gpu_types", set), &|i| {
            set_matches(set, &i.supported_gpu_types)
        });
    }
    if let Some(requirement) = &filters.version {
        step(format!("version {}", requirement.source()), &|i| {
            image_version(&i.os_name, &i.image_name).is_some_and(|v| requirement.matches(&v))
        });
    }
    if let Some(after) = &filters.created_after {
        let bound = after.at.as_nanosecond();
        step(format!("created_after {}", after.source), &|i| {
            created_nanos(i) >= bound
        });
    }
    if let Some(before) = &filters.created_before {
        let bound = before.at.as_nanosecond();
        step(format!("created_before {}", before.source), &|i| {
            created_nanos(i) < bound
        });
    }
    if let Some(max_age) = &filters.max_age {
        let cutoff = ctx.now.as_nanosecond() - i128::from(max_age.seconds) * NANOS_PER_SECOND;
        step(format!("max_age {}", max_age.source), &|i| {
            created_nanos(i) >= cutoff
        });
    }
    if let Some(min_age) = &filters.min_age {
        let cutoff = min_age_cutoff(min_age, ctx);
        step(format!("min_age {}", min_age.source), &|i| {
            created_nanos(i) <= cutoff
        });
    }
    if filters.not_eol {
        let today = ctx.now.to_zoned(TimeZone::UTC).date();
        step("not_eol".to_string(), &|i| {
            !past_eol(&i.maintain_eol, today)
        });
    }
    if !ctx.deny.is_empty() {
        let count = ctx.deny.len();
        let noun = if count == 1 { "ImageId" } else { "ImageIds" };
        step(format!("deny ({count} {noun} denied)"), &|i| {
            ctx.denied(&i.image_id).is_none()
        });
    }
    (kept, funnel)
}

fn pattern_label(key: &str, pattern: &Pattern) -> String {
    format!("{key} ~ {}", pattern.source)
}

/// `features: all [IPv6], none [Aarch64_Type]`: only the parts that are set.
fn set_label(key: &str, set: &SetMatch) -> String {
    let parts: Vec<String> = [("all", &set.all), ("any", &set.any), ("none", &set.none)]
        .into_iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(kind, values)| format!("{kind} [{}]", values.join(", ")))
        .collect();
    if parts.is_empty() {
        format!("{key}: all []")
    } else {
        format!("{key}: {}", parts.join(", "))
    }
}

/// All of `all`, at least one of `any` (when `any` is given), none of `none`; exact strings.
fn set_matches(set: &SetMatch, values: &[String]) -> bool {
    let has = |wanted: &String| values.contains(wanted);
    set.all.iter().all(has)
        && (set.any.is_empty() || set.any.iter().any(has))
        && !set.none.iter().any(has)
}

/// `min_age`: the latest CreateTime (in nanoseconds) an image may have to be picked now.
pub(super) fn min_age_cutoff(min_age: &MaxAge, ctx: &Context) -> i128 {
    ctx.now.as_nanosecond() - i128::from(min_age.seconds) * NANOS_PER_SECOND
}

/// CreateTime in nanoseconds, so it compares exactly with RFC 3339 bounds that carry fractions.
fn created_nanos(image: &Image) -> i128 {
    i128::from(image.create_time) * NANOS_PER_SECOND
}

/// Whether the image's MaintainEol (`YYYY/MM/DD`) is `today` or earlier.
///
/// Images without a MaintainEol are kept, as the README says. An unparseable MaintainEol is treated
/// the same way (kept): the field is informational, its format is UCloud's to change, and silently
/// dropping images over a date we cannot read would make a pin vanish for no visible reason.
fn past_eol(maintain_eol: &str, today: Date) -> bool {
    parse_eol(maintain_eol).is_some_and(|eol| eol <= today)
}

fn parse_eol(text: &str) -> Option<Date> {
    let mut parts = text.trim().split('/');
    let year = parts.next()?.parse().ok()?;
    let month = parts.next()?.parse().ok()?;
    let day = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    Date::new(year, month, day).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::test_support::image;
    use crate::spec::{FuncType, ImageState, ImageType, OsType, PointInTime};
    use crate::version::VersionRequirement;
    use regex::Regex;

    fn ctx() -> Context {
        Context::at("2025-06-01T12:00:00Z".parse().unwrap())
    }

    fn pattern(source: &str) -> Pattern {
        Pattern {
            source: source.into(),
            regex: std::sync::Arc::new(Regex::new(source).unwrap()),
        }
    }

    fn set(all: &[&str], any: &[&str], none: &[&str]) -> SetMatch {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        SetMatch {
            all: owned(all),
            any: owned(any),
            none: owned(none),
        }
    }

    fn at(text: &str) -> PointInTime {
        PointInTime {
            source: text.into(),
            at: text.parse().unwrap(),
        }
    }

    /// Ids of the images the filters keep, and the last funnel step's label.
    fn kept(filters: &Filters, images: &[Image]) -> (Vec<String>, String) {
        let (kept, funnel) = filter(filters, images, &ctx());
        let ids = kept.iter().map(|i| i.image_id.clone()).collect();
        let label = funnel
            .steps
            .last()
            .map(|s| s.filter.clone())
            .unwrap_or_default();
        (ids, label)
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn os_type_image_type_func_type_and_image_id_match_exactly() {
        let mut windows = image("uimage-w", "Windows Server 2019", 1);
        windows.os_type = "Windows".into();
        windows.image_type = "Custom".into();
        windows.func_type = "gpu".into();
        let linux = image("uimage-l", "Ubuntu 22.04", 1);
        let images = [windows, linux];

        let f = Filters {
            os_type: Some(OsType::Windows),
            ..Filters::default()
        };
        assert_eq!(kept(&f, &images).0, ids(&["uimage-w"]));
        let f = Filters {
            image_type: Some(ImageType::Base),
            ..Filters::default()
        };
        assert_eq!(kept(&f, &images).0, ids(&["uimage-l"]));
        let f = Filters {
            func_type: Some(FuncType::Gpu),
            ..Filters::default()
        };
        assert_eq!(kept(&f, &images).0, ids(&["uimage-w"]));
        let f = Filters {
            func_type: Some(FuncType::App),
            ..Filters::default()
        };
        assert_eq!(kept(&f, &images).0, Vec::<String>::new());
        let f = Filters {
            image_id: Some("uimage-l".into()),
            ..Filters::default()
        };
        assert_eq!(
            kept(&f, &images),
            (ids(&["uimage-l"]), "state in [Available]".into())
        );
        let f = Filters {
            image_id: Some("uimage-".into()),
            ..Filters::default()
        };
        assert!(
            kept(&f, &images).0.is_empty(),
            "image_id is not a prefix match"
        );
    }

    #[test]
    fn state_defaults_to_available_and_takes_a_set() {
        let mut making = image("uimage-m", "Ubuntu 22.04", 1);
        making.state = "Making".into();
        let images = [making, image("uimage-a", "Ubuntu 22.04", 1)];
        assert_eq!(kept(&Filters::default(), &images).0, ids(&["uimage-a"]));
        let f = Filters {
            state: vec![ImageState::Available, ImageState::Making],
            ..Filters::default()
        };
        let (got, label) = kept(&f, &images);
        assert_eq!(got, ids(&["uimage-m", "uimage-a"]));
        assert_eq!(label, "state in [Available, Making]");
    }

    #[test]
    fn regexes_search_unanchored() {
        let mut a = image("uimage-a", "Ubuntu 22.04 64位", 1);
        a.os_name = "Ubuntu 22.04 64位".into();
        a.vendor = "Canonical".into();
        let b = image("uimage-b", "CentOS 7.9", 1);
        let images = [a, b];

        let f = Filters {
            name: Some(pattern(r"22\.04")),
            ..Filters::default()
        };
        assert_eq!(
            kept(&f, &images),
            (ids(&["uimage-a"]), r"name ~ 22\.04".into())
        );
        let f = Filters {
            name: Some(pattern("^22")),
            ..Filters::default()
        };
        assert!(kept(&f, &images).0.is_empty());
        let f = Filters {
            os_name: Some(pattern("CentOS")),
            ..Filters::default()
        };
        assert_eq!(
            kept(&f, &images),
            (ids(&["uimage-b"]), "os_name ~ CentOS".into())
        );
        let f = Filters {
            vendor: Some(pattern("nonical")),
            ..Filters::default()
        };
        assert_eq!(
            kept(&f, &images),
            (ids(&["uimage-a"]), "vendor ~ nonical".into())
        );
        // Missing vendor is the empty string.
        let f = Filters {
            vendor: Some(pattern("^$")),
            ..Filters::default()
        };
        assert_eq!(kept(&f, &images).0, ids(&["uimage-b"]));
    }

    #[test]
    fn sets_match_all_any_none() {
        let mut a = image("uimage-a", "x", 1);
        a.features = vec!["IPv6".into(), "CloudInit".into()];
        a.scene_categories = vec!["HPC".into()];
        a.supported_gpu_types = vec!["A100".into()];
        let mut b = image("uimage-b", "x", 1);
        b.features = vec!["IPv6".into(), "Aarch64_Type".into()];
        b.supported_gpu_types = vec!["H100".into()];
        let images = [a, b];

        let f = Filters {
            features: Some(set(&["IPv6"], &[], &["Aarch64_Type"])),
            ..Filters::default()
        };
        assert_eq!(
            kept(&f, &images),
            (
                ids(&["uimage-a"]),
                "features: all [IPv6], none [Aarch64_Type]".into()
            )
        );
        let f = Filters {
            features: Some(set(&["IPv6", "CloudInit"], &[], &[])),
            ..Filters::default()
        };
        assert_eq!(kept(&f, &images).0, ids(&["uimage-a"]));
        let f = Filters {
            features: Some(set(&[], &["CloudInit", "Aarch64_Type"], &[])),
            ..Filters::default()
        };
        assert_eq!(kept(&f, &images).0, ids(&["uimage-a", "uimage-b"]));
        let f = Filters {
            features: Some(set(&["ipv6"], &[], &[])),
            ..Filters::default()
        };
        assert!(
            kept(&f, &images).0.is_empty(),
            "set members are exact strings"
        );
        let f = Filters {
            scene_categories: Some(set(&["HPC"], &[], &[])),
            ..Filters::default()
        };
        assert_eq!(
            kept(&f, &images),
            (ids(&["uimage-a"]), "scene_categories: all [HPC]".into())
        );
        let f = Filters {
            supported_gpu_types: Some(set(&[], &["H100", "V100"], &[])),
            ..Filters::default()
        };
        assert_eq!(
            kept(&f, &images),
            (
                ids(&["uimage-b"]),
                "supported_gpu_types: any [H100, V100]".into()
            )
        );
    }

    #[test]
    fn version_requirement_and_versionless_images() {
        let images = [
            image("uimage-20", "Ubuntu 20.04", 1),
            image("uimage-22", "Ubuntu 22.04", 1),
            image("uimage-none", "Custom build", 1),
        ];
        let f = Filters {
            version: Some(VersionRequirement::parse(">=22.04, <24").unwrap()),
            ..Filters::default()
        };
        assert_eq!(
            kept(&f, &images),
            (ids(&["uimage-22"]), "version >=22.04, <24".into())
        );
        let f = Filters {
            version: Some(VersionRequirement::parse(">=0").unwrap()),
            ..Filters::default()
        };
        assert_eq!(kept(&f, &images).0, ids(&["uimage-20", "uimage-22"]));
    }

    #[test]
    fn created_bounds_are_inclusive_after_and_exclusive_before() {
        let boundary = at("2024-01-01T00:00:00Z");
        let second = boundary.at.as_second();
        let images = [
            image("uimage-early", "x", second - 1),
            image("uimage-exact", "x", second),
        ];
        let f = Filters {
            created_after: Some(boundary.clone()),
            ..Filters::default()
        };
        assert_eq!(
            kept(&f, &images),
            (
                ids(&["uimage-exact"]),
                "created_after 2024-01-01T00:00:00Z".into()
            )
        );
        let f = Filters {
            created_before: Some(boundary),
            ..Filters::default()
        };
        assert_eq!(kept(&f, &images).0, ids(&["uimage-early"]));
        // A fractional bound: CreateTime == its whole second is before it.
        let f = Filters {
            created_after: Some(at("2024-01-01T00:00:00.5Z")),
            ..Filters::default()
        };
        assert!(kept(&f, &images).0.is_empty());
    }

    #[test]
    fn max_age_boundary_is_inclusive() {
        let now = ctx().now.as_second();
        let ninety_days = 90 * 86_400;
        let images = [
            image("uimage-exact", "x", now - ninety_days),
            image("uimage-older", "x", now - ninety_days - 1),
        ];
        let f = Filters {
            max_age: Some(MaxAge {
                source: "90d".into(),
                seconds: ninety_days,
            }),
            ..Filters::default()
        };
        assert_eq!(
            kept(&f, &images),
            (ids(&["uimage-exact"]), "max_age 90d".into())
        );
    }

    #[test]
    fn min_age_keeps_builds_at_least_that_old_boundary_inclusive() {
        let now = ctx().now.as_second();
        let week = 7 * 86_400;
        let images = [
            image("uimage-fresh", "x", now - 3_600),
            image("uimage-exact", "x", now - week),
            image("uimage-soaked", "x", now - week - 1),
            image("uimage-future", "x", now + 60),
        ];
        let f = Filters {
            min_age: Some(MaxAge {
                source: "1w".into(),
                seconds: week,
            }),
            ..Filters::default()
        };
        assert_eq!(
            kept(&f, &images),
            (ids(&["uimage-exact", "uimage-soaked"]), "min_age 1w".into())
        );
        // With max_age, a window: old enough to trust, young enough to be current.
        let f = Filters {
            max_age: Some(MaxAge {
                source: "8d".into(),
                seconds: 8 * 86_400,
            }),
            ..f
        };
        let (got, funnel) = filter(&f, &images, &ctx());
        let steps: Vec<(&str, usize)> = funnel
            .steps
            .iter()
            .map(|s| (s.filter.as_str(), s.kept))
            .collect();
        assert_eq!(
            steps,
            [
                ("state in [Available]", 4),
                ("max_age 8d", 4),
                ("min_age 1w", 2)
            ]
        );
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn denied_images_are_dropped_last_with_a_deny_step() {
        let images = [
            image("uimage-a", "Ubuntu 22.04", 1),
            image("uimage-bad", "Ubuntu 22.04", 2),
            image("uimage-c", "CentOS 7.9", 3),
        ];
        let deny: std::collections::BTreeMap<String, String> = [
            ("uimage-bad".to_owned(), "kernel panic, INC-42".to_owned()),
            ("uimage-elsewhere".to_owned(), "CVE".to_owned()),
        ]
        .into();
        let ctx = ctx().with_deny(&deny);
        let f = Filters {
            name: Some(pattern("Ubuntu")),
            ..Filters::default()
        };
        let (got, funnel) = filter(&f, &images, &ctx);
        let got: Vec<&str> = got.iter().map(|i| i.image_id.as_str()).collect();
        assert_eq!(got, ["uimage-a"]);
        let last = funnel.steps.last().unwrap();
        assert_eq!(
            (last.filter.as_str(), last.kept),
            ("deny (2 ImageIds denied)", 1)
        );
        assert_eq!(ctx.denied("uimage-bad"), Some("kernel panic, INC-42"));
        // No deny list, no step.
        let (_, funnel) = filter(&f, &images, &super::super::Context::at(ctx.now));
        assert!(funnel.steps.iter().all(|s| !s.filter.starts_with("deny")));
    }

    #[test]
    fn not_eol_drops_today_and_earlier_keeps_missing_and_unreadable() {
        // ctx().now is 2025-06-01T12:00Z.
        let eol = |id: &str, date: &str| {
            let mut i = image(id, "x", 1);
            i.maintain_eol = date.into();
            i
        };
        let images = [
            eol("uimage-yesterday", "2025/05/31"),
            eol("uimage-today", "2025/06/01"),
            eol("uimage-tomorrow", "2025/06/02"),
            eol("uimage-none", ""),
            eol("uimage-garbage", "soon"),
            eol("uimage-bad-day", "2025/02/30"),
        ];
        let f = Filters {
            not_eol: true,
            ..Filters::default()
        };
        assert_eq!(
            kept(&f, &images),
            (
                ids(&[
                    "uimage-tomorrow",
                    "uimage-none",
                    "uimage-garbage",
                    "uimage-bad-day"
                ]),
                "not_eol".into()
            )
        );
        let off = Filters::default();
        assert_eq!(kept(&off, &images).0.len(), 6);
    }

    #[test]
    fn funnel_counts_every_step_in_table_order() {
        let mut a = image("uimage-a", "Ubuntu 22.04", 100);
        a.features = vec!["IPv6".into()];
        let b = image("uimage-b", "Ubuntu 22.04", 100);
        let c = image("uimage-c", "CentOS 7.9", 100);
        let mut d = image("uimage-d", "Windows 2019", 100);
        d.os_type = "Windows".into();
        let images = [a, b, c, d];
        let f = Filters {
            os_type: Some(OsType::Linux),
            name: Some(pattern("Ubuntu")),
            features: Some(set(&["IPv6"], &[], &[])),
            not_eol: true,
            ..Filters::default()
        };
        let (kept, funnel) = filter(&f, &images, &ctx());
        assert_eq!(kept.len(), 1);
        assert_eq!(funnel.total, 4);
        let steps: Vec<(&str, usize)> = funnel
            .steps
            .iter()
            .map(|s| (s.filter.as_str(), s.kept))
            .collect();
        assert_eq!(
            steps,
            [
                ("os_type = Linux", 3),
                ("state in [Available]", 3),
                ("name ~ Ubuntu", 2),
                ("features: all [IPv6]", 1),
                ("not_eol", 1),
            ]
        );
    }

    #[test]
    fn set_label_with_nothing_set() {
        assert_eq!(
            set_label("features", &SetMatch::default()),
            "features: all []"
        );
    }
}
