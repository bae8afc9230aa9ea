//! The digest of an entry's effective query: SHA-256 over a canonical compact JSON form.
//!
//! The canonical form is built by hand (keys sorted explicitly, sets sorted, dates as UTC
//! instants, durations in seconds) so it depends on what the query *means*, never on how the spec
//! was written or on a serializer's map ordering. Changing this form changes every digest and
//! makes every lockfile stale, so treat it as part of the file format: keys added later
//! (`min_age`, `agree`) appear only when set, so the digests of entries that do not use them
//! stay what they were.
//!
//! `hold` and the spec's `deny` list are policy, not query: they say whether a pin may move, not
//! which image the query means, so they are left out and changing them leaves every entry fresh.

use std::borrow::Cow;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::spec::{Filters, ImageQuery, SetMatch};

/// `sha256:<hex>` over the canonical form of the effective query.
pub fn digest(query: &ImageQuery) -> String {
    let canonical = canonical_json(query);
    let hash = Sha256::digest(canonical.as_bytes());
    let mut out = String::with_capacity(7 + 64);
    let _ = write!(out, "sha256:{hash:x}");
    out
}

/// A JSON value whose objects are written with keys in byte order, whatever order they were built in.
/// Strings borrow from the query where they can: thousands of entries are hashed per `check`.
enum Canon<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Str(Cow<'a, str>),
    List(Vec<Canon<'a>>),
    Object(Vec<(&'static str, Canon<'a>)>),
}

impl<'a> Canon<'a> {
    fn str(text: &'a str) -> Self {
        Canon::Str(Cow::Borrowed(text))
    }

    /// A set: sorted and distinct, so `[b, a, a]` and `[a, b]` are the same query.
    fn set(items: impl IntoIterator<Item = &'a str>) -> Self {
        let mut items: Vec<&str> = items.into_iter().collect();
        items.sort_unstable();
        items.dedup();
        Canon::List(items.into_iter().map(Canon::str).collect())
    }

    fn write(&self, out: &mut String) {
        match self {
            Canon::Null => out.push_str("null"),
            Canon::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
            Canon::Int(value) => {
                let _ = write!(out, "{value}");
            }
            Canon::Str(text) => write_json_string(text, out),
            Canon::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Canon::Object(fields) => {
                let mut fields: Vec<&(&str, Canon)> = fields.iter().collect();
                fields.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
                out.push('{');
                for (i, (key, value)) in fields.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// A JSON string literal; escapes only what JSON requires, so the form is stable and obvious.
fn write_json_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn canonical_json(query: &ImageQuery) -> String {
    fn optional(value: &Option<String>) -> Canon<'_> {
        match value {
            Some(text) => Canon::str(text),
            None => Canon::Null,
        }
    }
    let mut fields = vec![
        ("filters", canonical_filters(&query.filters)),
        ("project_id", optional(&query.project_id)),
        (
            "regions",
            Canon::set(query.regions.iter().map(String::as_str)),
        ),
        ("select", Canon::str(query.select.as_str())),
        ("zone", optional(&query.zone)),
    ];
    if let Some(agree) = query.agree {
        fields.push(("agree", Canon::str(agree.as_str())));
    }
    let form = Canon::Object(fields);
    let mut out = String::new();
    form.write(&mut out);
    out
}

/// Only the filters that are set, plus `state`, which always is (it defaults to `[Available]`).
fn canonical_filters(filters: &Filters) -> Canon<'_> {
    let mut fields: Vec<(&'static str, Canon)> = Vec::new();
    if let Some(os_type) = filters.os_type {
        fields.push(("os_type", Canon::str(os_type.as_str())));
    }
    if let Some(image_type) = filters.image_type {
        fields.push(("image_type", Canon::str(image_type.as_str())));
    }
    if let Some(func_type) = filters.func_type {
        fields.push(("func_type", Canon::str(func_type.as_str())));
    }
    if let Some(image_id) = &filters.image_id {
        fields.push(("image_id", Canon::str(image_id)));
    }
    fields.push((
        "state",
        Canon::set(filters.state.iter().map(|state| state.as_str())),
    ));
    for (key, pattern) in [
        ("name", &filters.name),
        ("os_name", &filters.os_name),
        ("vendor", &filters.vendor),
    ] {
        if let Some(pattern) = pattern {
            fields.push((key, Canon::str(&pattern.source)));
        }
    }
    for (key, set) in [
        ("features", &filters.features),
        ("scene_categories", &filters.scene_categories),
        ("supported_gpu_types", &filters.supported_gpu_types),
    ] {
        if let Some(set) = set {
            fields.push((key, canonical_set_match(set)));
        }
    }
    if let Some(version) = &filters.version {
        fields.push(("version", Canon::str(version.source())));
    }
    // Instants, not the text: `2024-01-01` and `2024-01-01T08:00:00+08:00` are the same bound.
    if let Some(after) = &filters.created_after {
        fields.push((
            "created_after",
            Canon::Str(Cow::Owned(after.at.to_string())),
        ));
    }
    if let Some(before) = &filters.created_before {
        fields.push((
            "created_before",
            Canon::Str(Cow::Owned(before.at.to_string())),
        ));
    }
    // Seconds, not the text: `7d` and `1w` are the same age.
    if let Some(max_age) = &filters.max_age {
        fields.push(("max_age", Canon::Int(max_age.seconds)));
    }
    // In seconds like `max_age`, never as a computed date: a date would change every day and make
    // `check` fail on an unchanged spec.
    if let Some(min_age) = &filters.min_age {
        fields.push(("min_age", Canon::Int(min_age.seconds)));
    }
    if filters.not_eol {
        fields.push(("not_eol", Canon::Bool(true)));
    }
    Canon::Object(fields)
}

/// `[a, b]` is parsed as `{all: [a, b]}`; empty parts are left out so both spellings agree.
fn canonical_set_match(set: &SetMatch) -> Canon<'_> {
    let mut parts: Vec<(&'static str, Canon)> = Vec::new();
    for (key, values) in [("all", &set.all), ("any", &set.any), ("none", &set.none)] {
        if !values.is_empty() {
            parts.push((key, Canon::set(values.iter().map(String::as_str))));
        }
    }
    Canon::Object(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{
        Agreement, FuncType, ImageState, ImageType, MaxAge, OsType, Pattern, PointInTime, Selection,
    };
    use crate::version::VersionRequirement;
    use regex::Regex;

    fn base() -> ImageQuery {
        ImageQuery {
            agree: None,
            hold: None,
            name: "web".into(),
            regions: vec!["cn-bj2".into()],
            zone: None,
            project_id: None,
            filters: Filters::default(),
            select: Selection::Newest,
        }
    }

    fn pattern(source: &str) -> Pattern {
        Pattern {
            source: source.into(),
            regex: std::sync::Arc::new(Regex::new(source).unwrap()),
        }
    }

    fn at(source: &str) -> PointInTime {
        PointInTime {
            source: source.into(),
            at: source.parse().unwrap(),
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn canonical_form_is_sorted_compact_json() {
        let mut query = base();
        query.regions = strings(&["hk", "cn-bj2"]);
        query.zone = Some("hk-02".into());
        query.filters.features = Some(SetMatch {
            all: strings(&["IPv6", "CloudInit"]),
            any: vec![],
            none: strings(&["Aarch64_Type"]),
        });
        query.filters.max_age = Some(MaxAge {
            source: "1w".into(),
            seconds: 604_800,
        });
        query.filters.created_after = Some(at("2024-01-01T08:00:00+08:00"));
        query.filters.name = Some(pattern(r#"^Ubuntu "22\.04""#));
        assert_eq!(
            canonical_json(&query),
            r#"{"filters":{"created_after":"2024-01-01T00:00:00Z","features":{"all":["CloudInit","IPv6"],"none":["Aarch64_Type"]},"max_age":604800,"name":"^Ubuntu \"22\\.04\"","state":["Available"]},"project_id":null,"regions":["cn-bj2","hk"],"select":"newest","zone":"hk-02"}"#
        );
        let digest = digest(&query);
        assert!(digest.starts_with("sha256:"));
        assert_eq!(digest.len(), 7 + 64);
        assert!(
            digest[7..]
                .chars()
                .all(|c| matches!(c, '0'..='9' | 'a'..='f'))
        );
    }

    #[test]
    fn known_digest_of_the_default_query_is_stable() {
        // Pinned so an accidental change of the canonical form (which would make every lockfile
        // stale) fails here first.
        assert_eq!(
            canonical_json(&base()),
            r#"{"filters":{"state":["Available"]},"project_id":null,"regions":["cn-bj2"],"select":"newest","zone":null}"#
        );
        let expected = {
            let hash = Sha256::digest(canonical_json(&base()).as_bytes());
            format!(
                "sha256:{}",
                hash.iter().map(|b| format!("{b:02x}")).collect::<String>()
            )
        };
        assert_eq!(digest(&base()), expected);
    }

    #[test]
    fn spelling_does_not_change_the_digest() {
        let reference = digest(&base());

        let mut other = base();
        other.name = "another-name".into();
        assert_eq!(
            digest(&other),
            reference,
            "the entry's name is not part of its query"
        );

        let mut a = base();
        a.regions = strings(&["hk", "cn-bj2"]);
        let mut b = base();
        b.regions = strings(&["cn-bj2", "hk", "hk"]);
        assert_eq!(digest(&a), digest(&b));

        let mut a = base();
        a.filters.state = vec![ImageState::Making, ImageState::Available];
        let mut b = base();
        b.filters.state = vec![ImageState::Available, ImageState::Making];
        assert_eq!(digest(&a), digest(&b));

        // `features: [IPv6]` is `{all: [IPv6]}`; an explicitly empty `any` is no `any`.
        let mut list = base();
        list.filters.features = Some(SetMatch {
            all: strings(&["IPv6", "CloudInit"]),
            ..SetMatch::default()
        });
        let mut map = base();
        map.filters.features = Some(SetMatch {
            all: strings(&["CloudInit", "IPv6"]),
            any: vec![],
            none: vec![],
        });
        assert_eq!(digest(&list), digest(&map));

        let mut date = base();
        date.filters.created_before = Some(at("2024-01-01T00:00:00Z"));
        let mut offset = base();
        offset.filters.created_before = Some(at("2023-12-31T19:00:00-05:00"));
        assert_eq!(digest(&date), digest(&offset));

        let mut days = base();
        days.filters.max_age = Some(MaxAge {
            source: "7d".into(),
            seconds: 604_800,
        });
        let mut weeks = base();
        weeks.filters.max_age = Some(MaxAge {
            source: "1w".into(),
            seconds: 604_800,
        });
        assert_eq!(digest(&days), digest(&weeks));
    }

    #[test]
    fn every_field_changes_the_digest() {
        type Change = fn(&mut ImageQuery);
        let changes: Vec<(&str, Change)> = vec![
            ("regions", |q| q.regions.push("hk".into())),
            ("zone", |q| q.zone = Some("cn-bj2-04".into())),
            ("project_id", |q| q.project_id = Some("org-abc".into())),
            ("select oldest", |q| q.select = Selection::Oldest),
            ("select highest_version", |q| {
                q.select = Selection::HighestVersion
            }),
            ("select only", |q| q.select = Selection::Only),
            ("os_type", |q| q.filters.os_type = Some(OsType::Linux)),
            ("image_type", |q| {
                q.filters.image_type = Some(ImageType::Base)
            }),
            ("func_type", |q| q.filters.func_type = Some(FuncType::Gpu)),
            ("image_id", |q| q.filters.image_id = Some("uimage-1".into())),
            ("state", |q| q.filters.state = vec![ImageState::Making]),
            ("name", |q| q.filters.name = Some(pattern("Ubuntu"))),
            ("os_name", |q| q.filters.os_name = Some(pattern("Ubuntu"))),
            ("vendor", |q| q.filters.vendor = Some(pattern("Ubuntu"))),
            ("features", |q| {
                q.filters.features = Some(SetMatch {
                    all: strings(&["IPv6"]),
                    ..SetMatch::default()
                })
            }),
            ("features any", |q| {
                q.filters.features = Some(SetMatch {
                    any: strings(&["IPv6"]),
                    ..SetMatch::default()
                })
            }),
            ("features none", |q| {
                q.filters.features = Some(SetMatch {
                    none: strings(&["IPv6"]),
                    ..SetMatch::default()
                })
            }),
            ("scene_categories", |q| {
                q.filters.scene_categories = Some(SetMatch {
                    all: strings(&["IPv6"]),
                    ..SetMatch::default()
                })
            }),
            ("supported_gpu_types", |q| {
                q.filters.supported_gpu_types = Some(SetMatch {
                    all: strings(&["IPv6"]),
                    ..SetMatch::default()
                })
            }),
            ("version", |q| {
                q.filters.version = Some(VersionRequirement::parse(">=22").unwrap())
            }),
            ("created_after", |q| {
                q.filters.created_after = Some(at("2024-01-01T00:00:00Z"))
            }),
            ("created_before", |q| {
                q.filters.created_before = Some(at("2024-01-01T00:00:00Z"))
            }),
            ("max_age", |q| {
                q.filters.max_age = Some(MaxAge {
                    source: "1d".into(),
                    seconds: 86_400,
                })
            }),
            ("not_eol", |q| q.filters.not_eol = true),
            ("min_age", |q| {
                q.filters.min_age = Some(MaxAge {
                    source: "1d".into(),
                    seconds: 86_400,
                })
            }),
            ("agree", |q| q.agree = Some(Agreement::Version)),
        ];
        let reference = digest(&base());
        let mut seen = std::collections::BTreeMap::new();
        for (label, change) in changes {
            let mut query = base();
            change(&mut query);
            let changed = digest(&query);
            assert_ne!(
                changed, reference,
                "changing {label} must change the digest"
            );
            if let Some(previous) = seen.insert(changed, label) {
                panic!("{label} and {previous} give the same digest");
            }
        }
    }

    #[test]
    fn min_age_is_in_seconds_like_max_age() {
        let age = |source: &str, seconds: i64| {
            Some(MaxAge {
                source: source.into(),
                seconds,
            })
        };
        let mut days = base();
        days.filters.min_age = age("7d", 604_800);
        let mut weeks = base();
        weeks.filters.min_age = age("1w", 604_800);
        assert_eq!(digest(&days), digest(&weeks));
        assert!(canonical_json(&days).contains(r#""min_age":604800"#));
        // The same duration as max_age and as min_age are different queries.
        let mut max = base();
        max.filters.max_age = age("7d", 604_800);
        assert_ne!(digest(&days), digest(&max));
    }

    #[test]
    fn agree_is_part_of_the_query() {
        let mut agreed = base();
        agreed.regions = strings(&["cn-bj2", "hk"]);
        agreed.agree = Some(Agreement::Version);
        assert_eq!(
            canonical_json(&agreed),
            r#"{"agree":"version","filters":{"state":["Available"]},"project_id":null,"regions":["cn-bj2","hk"],"select":"newest","zone":null}"#
        );
        let mut plain = agreed.clone();
        plain.agree = None;
        assert_ne!(digest(&agreed), digest(&plain));
    }

    #[test]
    fn hold_is_policy_and_changes_no_digest() {
        let reference = digest(&base());
        let mut held = base();
        held.hold = Some("waiting for the 24.04 migration, OPS-311".into());
        assert_eq!(digest(&held), reference);
        let mut other_reason = base();
        other_reason.hold = Some("another reason".into());
        assert_eq!(digest(&other_reason), reference);
    }

    #[test]
    fn deny_is_policy_and_changes_no_digest() {
        // The digest of an entry read from a spec is the same with and without a `deny` list.
        let spec_text = |deny: &str| {
            format!(
                "version: 1\n{deny}images:\n  web:\n    regions: [cn-bj2, hk]\n    filters: {{ image_type: Base, min_age: 7d }}\n    agree: version\n"
            )
        };
        let digest_of = |text: &str| {
            let spec = crate::spec::parse(text, std::path::Path::new("imagelock.yaml"))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                spec.images["web"]
                    .filters
                    .min_age
                    .as_ref()
                    .map(|m| m.seconds),
                Some(604_800)
            );
            digest(&spec.images["web"])
        };
        let without = digest_of(&spec_text(""));
        let with = digest_of(&spec_text(
            "deny:\n  uimage-bad: \"kernel panic, INC-42\"\n",
        ));
        assert_eq!(with, without);
    }

    #[test]
    fn entries_without_the_new_keys_keep_their_committed_digests() {
        // Digests from examples/imagelock.lock, written before min_age and agree existed: the
        // lockfiles users have committed must stay fresh.
        let spec = crate::spec::parse(
            include_str!("../../examples/imagelock.yaml"),
            std::path::Path::new("imagelock.yaml"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let lock = crate::lockfile::Lockfile::parse(
            include_str!("../../examples/imagelock.lock"),
            std::path::Path::new("imagelock.lock"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lock.images.len(), spec.images.len());
        for (name, query) in &spec.images {
            assert_eq!(
                digest(query),
                lock.images[name].digest,
                "the digest of {name} changed"
            );
        }
    }

    #[test]
    fn same_value_under_different_filter_keys_differs() {
        let mut name = base();
        name.filters.name = Some(pattern("x"));
        let mut vendor = base();
        vendor.filters.vendor = Some(pattern("x"));
        assert_ne!(digest(&name), digest(&vendor));
    }
}
