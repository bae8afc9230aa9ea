//! From the schema-checked JSON document to typed, effective [`ImageQuery`]s.
//!
//! Applies `defaults` (docs/spec.md, "Defaults") and checks what a schema cannot
//! say: regexes compile, version requirements, dates and durations parse, exactly one of
//! `region`/`regions`, zones inside their region, `created_after` before `created_before`,
//! ImageIds the user writes (`image_id`, `deny` keys) have an ImageId's shape, `agree` is not
//! combined with `select: only`. It runs even when the schema found problems, so one run reports
//! everything; values of the wrong type are skipped here because the schema has already
//! reported them.
//!
//! [`policy`] then reads what a valid spec says beside its queries: the `deny` map, and the
//! warnings that do not make a spec invalid (the trust warning, feature names UCloud does not
//! document).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value as Json};

use super::diagnostic::Problem;
use super::locate::Seg;
use super::schema::did_you_mean;
use super::{
    Agreement, FuncType, ImageQuery, ImageState, ImageType, MaxAge, OsType, Pattern, PointInTime,
    Selection, SetMatch,
};
use crate::spec::Filters;
use crate::ucloud::is_valid_image_id;
use crate::version::VersionRequirement;

/// Compiled size limit for user regexes: generous for real patterns, bounded for hostile ones.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// The longest `max_age` accepted: ten thousand years keeps `now - max_age` representable.
const MAX_AGE_LIMIT_SECONDS: i64 = 10_000 * 366 * 86_400;

type Object = Map<String, Json>;

/// Builds every entry's effective query, adding what is wrong to `problems`. `unknown_key_maps`
/// are mappings where the schema found an unknown key; checks for a *missing* key are skipped
/// there, since the key is most likely the misspelt one.
pub(crate) fn build(
    doc: &Json,
    unknown_key_maps: &HashSet<Vec<Seg>>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, ImageQuery> {
    let mut builder = Builder {
        problems,
        regexes: HashMap::new(),
    };
    let defaults_path = vec![Seg::from("defaults")];
    let empty = Object::new();
    let defaults = doc
        .get("defaults")
        .and_then(Json::as_object)
        .unwrap_or(&empty);
    builder.check_region_conflict(defaults, &defaults_path);

    check_deny(doc, builder.problems);

    let mut queries = BTreeMap::new();
    let Some(images) = doc.get("images").and_then(Json::as_object) else {
        return queries;
    };
    for (name, entry) in images {
        let Some(entry) = entry.as_object() else {
            continue;
        };
        let entry_path = vec![Seg::from("images"), Seg::Key(name.clone())];
        builder.check_region_conflict(entry, &entry_path);
        let missing_ok =
            unknown_key_maps.contains(&entry_path) || unknown_key_maps.contains(&defaults_path);
        let layers = Layers {
            defaults,
            defaults_path: &defaults_path,
            entry,
            entry_path: &entry_path,
        };
        queries.insert(name.clone(), builder.entry(name, &layers, missing_ok));
    }
    queries
}

/// An entry and the defaults under it, each with its path for messages.
struct Layers<'a> {
    defaults: &'a Object,
    defaults_path: &'a [Seg],
    entry: &'a Object,
    entry_path: &'a [Seg],
}

impl<'a> Layers<'a> {
    /// The entry's value for `key`, else the default's, with where it came from.
    fn get(&self, key: &str) -> Option<(&'a Json, Vec<Seg>)> {
        let (object, path) = if self.entry.contains_key(key) {
            (self.entry, self.entry_path)
        } else {
            (self.defaults, self.defaults_path)
        };
        object.get(key).map(|value| (value, child(path, key)))
    }

    /// Filters merged key by key, the entry's winning.
    fn filters(&self) -> BTreeMap<&'a str, (&'a Json, Vec<Seg>)> {
        let mut merged = BTreeMap::new();
        for (object, path) in [
            (self.defaults, self.defaults_path),
            (self.entry, self.entry_path),
        ] {
            let Some(filters) = object.get("filters").and_then(Json::as_object) else {
                continue;
            };
            let filters_path = child(path, "filters");
            for (key, value) in filters {
                merged.insert(key.as_str(), (value, child(&filters_path, key)));
            }
        }
        merged
    }
}

struct Builder<'p> {
    problems: &'p mut Vec<Problem>,
    /// One compiled regex per distinct source, so defaults are compiled once per run.
    regexes: HashMap<String, Result<Arc<Regex>, String>>,
}

impl Builder<'_> {
    fn check_region_conflict(&mut self, mapping: &Object, path: &[Seg]) {
        if mapping.contains_key("region") && mapping.contains_key("regions") {
            self.problems.push(
                Problem::key(
                    &child(path, "regions"),
                    "expected either `region` or `regions`, found both",
                )
                .with_help(Some(
                    "keep `regions: [...]` for several regions, or `region` for one".to_owned(),
                )),
            );
        }
    }

    fn entry(&mut self, name: &str, layers: &Layers<'_>, missing_ok: bool) -> ImageQuery {
        let regions = self.regions(layers, missing_ok);
        let zone = self.zone(name, layers, &regions);
        let project_id = layers
            .get("project_id")
            .and_then(|(v, _)| v.as_str())
            .map(str::to_owned);
        let select = layers
            .get("select")
            .and_then(|(v, _)| v.as_str())
            .and_then(|s| serde_json::from_value(Json::String(s.to_owned())).ok())
            .unwrap_or(Selection::Newest);
        let filters = self.filters(&layers.filters());
        let agree = self.agree(name, layers, select);
        let hold = layers
            .get("hold")
            .and_then(|(v, _)| v.as_str())
            .map(str::to_owned);
        ImageQuery {
            name: name.to_owned(),
            regions,
            zone,
            project_id,
            filters,
            select,
            agree,
            hold,
        }
    }

    /// `agree: version`; with `select: only` there is nothing to agree on, so that is an error.
    fn agree(&mut self, name: &str, layers: &Layers<'_>, select: Selection) -> Option<Agreement> {
        let (value, path) = layers.get("agree")?;
        let agreement = match value.as_str()? {
            "version" => Agreement::Version,
            // Other values are the schema's to report.
            _ => return None,
        };
        if select == Selection::Only {
            self.problems.push(
                Problem::value(
                    &path,
                    format!(
                        "expected no `agree` on entry {name}, which selects `only`: its single candidate per region has no version to agree on"
                    ),
                )
                .with_help(Some(
                    "drop `agree`, or pick with `select: newest`, `oldest` or `highest_version`"
                        .to_owned(),
                )),
            );
        }
        Some(agreement)
    }

    fn regions(&mut self, layers: &Layers<'_>, missing_ok: bool) -> Vec<String> {
        let own = layers.entry.contains_key("region") || layers.entry.contains_key("regions");
        let source = if own { layers.entry } else { layers.defaults };
        let mut regions: Vec<String> = match (source.get("region"), source.get("regions")) {
            (Some(Json::String(region)), _) => vec![region.clone()],
            (_, Some(Json::Array(items))) => items
                .iter()
                .filter_map(Json::as_str)
                .map(str::to_owned)
                .collect(),
            (None, None) if !missing_ok => {
                self.problems.push(Problem::key(
                    layers.entry_path,
                    "expected `region` or `regions` in the entry or in `defaults`, found neither",
                ));
                Vec::new()
            }
            _ => Vec::new(),
        };
        regions.sort();
        regions.dedup();
        regions
    }

    fn zone(&mut self, name: &str, layers: &Layers<'_>, regions: &[String]) -> Option<String> {
        let (value, path) = layers.get("zone")?;
        let zone = value.as_str()?;
        match regions {
            [] => {}
            [region] => {
                if !zone.starts_with(&format!("{region}-")) {
                    self.problems.push(
                        Problem::value(
                            &path,
                            format!(
                                "expected a zone of region {region} (starting with \"{region}-\") for entry {name}, found \"{zone}\""
                            ),
                        ),
                    );
                }
            }
            several => self.problems.push(Problem::value(
                &path,
                format!(
                    "expected no zone for entry {name}, which has {} regions ({}); a zone needs a single region",
                    several.len(),
                    several.join(", ")
                ),
            )),
        }
        Some(zone.to_owned())
    }

    fn filters(&mut self, merged: &BTreeMap<&str, (&Json, Vec<Seg>)>) -> Filters {
        let mut filters = Filters::default();
        for (&key, (value, path)) in merged {
            match key {
                "os_type" => filters.os_type = value.as_str().and_then(OsType::parse),
                "image_type" => filters.image_type = value.as_str().and_then(ImageType::parse),
                "func_type" => filters.func_type = value.as_str().and_then(FuncType::parse),
                "image_id" => filters.image_id = self.image_id(value, path),
                "state" => {
                    if let Some(state) = states(value) {
                        filters.state = state;
                    }
                }
                "name" => filters.name = self.pattern(value, path),
                "os_name" => filters.os_name = self.pattern(value, path),
                "vendor" => filters.vendor = self.pattern(value, path),
                "features" => filters.features = self.set_match(value, path),
                "scene_categories" => filters.scene_categories = self.set_match(value, path),
                "supported_gpu_types" => filters.supported_gpu_types = self.set_match(value, path),
                "version" => filters.version = self.version(value, path),
                "created_after" => filters.created_after = self.point_in_time(value, path),
                "created_before" => filters.created_before = self.point_in_time(value, path),
                "max_age" => filters.max_age = self.max_age(value, path),
                "min_age" => filters.min_age = self.max_age(value, path),
                "not_eol" => filters.not_eol = value.as_bool().unwrap_or(false),
                // Unknown keys are the schema's to report.
                _ => {}
            }
        }
        if let (Some(after), Some(before)) = (&filters.created_after, &filters.created_before)
            && after.at >= before.at
            && let Some((_, path)) = merged.get("created_before")
        {
            self.problems.push(Problem::value(
                path,
                format!(
                    "expected a time after created_after ({}), found \"{}\"; no image could match",
                    after.source, before.source
                ),
            ));
        }
        filters
    }

    fn image_id(&mut self, value: &Json, path: &[Seg]) -> Option<String> {
        let id = value.as_str()?;
        // An empty one is the schema's to report (`minLength`), once.
        if !id.is_empty() && !is_valid_image_id(id) {
            self.problems
                .push(Problem::value(path, not_an_image_id(id)));
            return None;
        }
        Some(id.to_owned())
    }

    fn pattern(&mut self, value: &Json, path: &[Seg]) -> Option<Pattern> {
        let source = value.as_str()?;
        let compiled = self
            .regexes
            .entry(source.to_owned())
            .or_insert_with(|| compile_regex(source).map(Arc::new));
        match compiled {
            Ok(regex) => Some(Pattern {
                source: source.to_owned(),
                regex: regex.clone(),
            }),
            Err(reason) => {
                let message = format!("expected a valid regex, found \"{source}\": {reason}");
                self.problems.push(Problem::value(path, message));
                None
            }
        }
    }

    fn set_match(&mut self, value: &Json, path: &[Seg]) -> Option<SetMatch> {
        match value {
            Json::Array(_) => Some(SetMatch {
                all: strings(value),
                ..SetMatch::default()
            }),
            Json::Object(object) => {
                let get = |key: &str| object.get(key).map(strings).unwrap_or_default();
                let set = SetMatch {
                    all: get("all"),
                    any: get("any"),
                    none: get("none"),
                };
                if object
                    .get("any")
                    .and_then(Json::as_array)
                    .is_some_and(Vec::is_empty)
                {
                    self.problems.push(Problem::value(
                        &child(path, "any"),
                        "expected at least one item, found an empty `any` list, which no image can match",
                    ));
                }
                Some(set)
            }
            _ => None,
        }
    }

    fn version(&mut self, value: &Json, path: &[Seg]) -> Option<VersionRequirement> {
        let source = value.as_str()?;
        match VersionRequirement::parse(source) {
            Ok(requirement) => Some(requirement),
            Err(reason) => {
                // version.rs explains in a sentence of its own; keep only the parser's detail.
                let detail = reason
                    .split_once(" is not a version requirement (")
                    .and_then(|(_, rest)| rest.rsplit_once("); expected"))
                    .map_or(reason.as_str(), |(detail, _)| detail);
                self.problems.push(Problem::value(
                    path,
                    format!(
                        "expected a version requirement such as \">=22.04, <24\", \"~11\" or \"=2019\", found \"{source}\": {detail}"
                    ),
                ));
                None
            }
        }
    }

    fn point_in_time(&mut self, value: &Json, path: &[Seg]) -> Option<PointInTime> {
        let source = value.as_str()?;
        match parse_point_in_time(source) {
            Some(at) => Some(PointInTime {
                source: source.to_owned(),
                at,
            }),
            None => {
                self.problems.push(Problem::value(
                    path,
                    format!(
                        "expected a date YYYY-MM-DD or an RFC 3339 time such as 2024-05-01T12:00:00Z, found \"{source}\""
                    ),
                ));
                None
            }
        }
    }

    fn max_age(&mut self, value: &Json, path: &[Seg]) -> Option<MaxAge> {
        let source = value.as_str()?;
        match parse_max_age(source) {
            Ok(max_age) => Some(max_age),
            // The schema's pattern has reported the malformed ones.
            Err(DurationError::Malformed) => None,
            Err(DurationError::TooLarge) => {
                self.problems.push(Problem::value(
                    path,
                    format!("expected a duration of at most 10000 years, found \"{source}\""),
                ));
                None
            }
        }
    }
}

/// `Features` values UCloud documents for `UHostImageSet` (UCloudDoc-Team/api,
/// `uhost-api/describe_image.md`), spelt as documented: `NetEnhnced` is UCloud's spelling.
pub(crate) const DOCUMENTED_FEATURES: &[&str] = &[
    "NetEnhnced",
    "NetEnhanced_Ultra",
    "NetEnhanced_Extreme",
    "HotPlug",
    "GPU",
    "CloudInit",
    "IPv6",
    "RssdAttachable",
    "Vgpu_AMD",
    "Vgpu_NVIDIA",
    "Aarch64_Type",
];

/// `SceneCategories` values UCloud documents (same file as [`DOCUMENTED_FEATURES`]).
pub(crate) const DOCUMENTED_SCENE_CATEGORIES: &[&str] = &[
    "Featured",
    "PreInstalledDrivers",
    "AIPainting",
    "AIModels",
    "HPC",
];

/// What a valid spec says beside its queries: the `deny` map (ImageId → reason) and the warnings
/// every command that reads the spec shows. `file` names the spec in the warnings.
pub(crate) fn policy(
    doc: &Json,
    queries: &BTreeMap<String, ImageQuery>,
    file: &std::path::Path,
) -> (BTreeMap<String, String>, Vec<String>) {
    let deny = doc
        .get("deny")
        .and_then(Json::as_object)
        .map(|deny| {
            deny.iter()
                .filter_map(|(id, reason)| Some((id.clone(), reason.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();

    let mut warnings = Vec::new();
    let file = file.display();
    // The parsed queries answer "is any name unknown?" cheaply; only then is the document walked
    // for where each one is written.
    let undocumented = |set: &Option<SetMatch>, documented: &[&str]| {
        set.as_ref().is_some_and(|set| {
            [&set.all, &set.any, &set.none]
                .into_iter()
                .flatten()
                .any(|name| !documented.contains(&name.as_str()))
        })
    };
    let any_unknown = queries.values().any(|query| {
        undocumented(&query.filters.features, DOCUMENTED_FEATURES)
            || undocumented(&query.filters.scene_categories, DOCUMENTED_SCENE_CATEGORIES)
    });
    if any_unknown {
        for (path, message) in unknown_names(doc) {
            warnings.push(format!("{file}: {path}: {message}"));
        }
    }
    for query in queries.values() {
        if let Some(message) = trust_warning(query) {
            warnings.push(format!("{file}: images.{}: {message}", query.name));
        }
    }
    (deny, warnings)
}

/// An entry that picks by a rule (not `only`) and restricts none of `image_type`, `image_id`,
/// `vendor` can pick whatever anyone publishes into the listing: a marketplace image or another
/// user's shared custom image. Terraform's AWS provider refuses such `most_recent` lookups for the
/// same reason; here it is a warning, since a marketplace image may be exactly what is wanted.
fn trust_warning(query: &ImageQuery) -> Option<String> {
    let filters = &query.filters;
    if query.select == Selection::Only
        || filters.image_type.is_some()
        || filters.image_id.is_some()
        || filters.vendor.is_some()
    {
        return None;
    }
    Some(format!(
        "picks by {} but restricts none of image_type, image_id or vendor, so a marketplace or custom image could win; add `image_type: Base` (or a `vendor` or `image_id`) to its filters or to defaults",
        query.select.as_str()
    ))
}

/// `features` and `scene_categories` values outside UCloud's documented lists, with where they
/// are written and a "did you mean". Unknown values stay allowed: UCloud adds them over time.
/// Paths are only built for what is reported: specs have thousands of entries.
fn unknown_names(doc: &Json) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let defaults = doc.pointer("/defaults/filters").and_then(Json::as_object);
    let entries = doc
        .get("images")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, entry)| {
            let filters = entry.get("filters")?.as_object()?;
            Some((Some(name.as_str()), filters))
        });
    for (entry, filters) in defaults.map(|f| (None, f)).into_iter().chain(entries) {
        for (key, documented, what) in [
            ("features", DOCUMENTED_FEATURES, "feature"),
            (
                "scene_categories",
                DOCUMENTED_SCENE_CATEGORIES,
                "scene category",
            ),
        ] {
            let Some(value) = filters.get(key) else {
                continue;
            };
            let lists: [(Option<&str>, Option<&Json>); 3] = match value {
                Json::Object(parts) => {
                    ["all", "any", "none"].map(|part| (Some(part), parts.get(part)))
                }
                list => [(None, Some(list)), (None, None), (None, None)],
            };
            for (part, list) in lists {
                let Some(items) = list.and_then(Json::as_array) else {
                    continue;
                };
                for (i, item) in items.iter().enumerate() {
                    let Some(name) = item.as_str() else {
                        continue;
                    };
                    if documented.contains(&name) {
                        continue;
                    }
                    let candidates: Vec<String> =
                        documented.iter().map(|s| (*s).to_owned()).collect();
                    let hint = did_you_mean(name, &candidates)
                        .map(|h| format!(" ({h})"))
                        .unwrap_or_default();
                    let mut path = match entry {
                        Some(entry) => format!("images.{entry}.filters.{key}"),
                        None => format!("defaults.filters.{key}"),
                    };
                    if let Some(part) = part {
                        path = format!("{path}.{part}");
                    }
                    found.push((
                        format!("{path}[{i}]"),
                        format!(
                            "{} is not a {what} UCloud documents{hint}; kept, since UCloud adds new ones over time",
                            quoted(name)
                        ),
                    ));
                }
            }
        }
    }
    found
}

/// Every key of the top-level `deny` map must be an ImageId (reasons are the schema's to check).
fn check_deny(doc: &Json, problems: &mut Vec<Problem>) {
    let Some(deny) = doc.get("deny").and_then(Json::as_object) else {
        return;
    };
    for id in deny.keys() {
        if !is_valid_image_id(id) {
            let path = [Seg::from("deny"), Seg::Key(id.clone())];
            problems.push(Problem::key(&path, not_an_image_id(id)));
        }
    }
}

/// The message for a user-written ImageId that cannot be one.
fn not_an_image_id(found: &str) -> String {
    format!(
        "expected an ImageId such as uimage-rez4c3an (letters, digits, `_`, `.` and `-`, starting with a letter or digit, at most 128 characters), found {}",
        quoted(found)
    )
}

/// A value as messages show it: quoted, control characters escaped, long ones shortened.
fn quoted(text: &str) -> String {
    const SHOWN: usize = 60;
    let escaped: String = text.escape_debug().collect();
    if escaped.chars().count() <= SHOWN {
        format!("\"{escaped}\"")
    } else {
        let head: String = escaped.chars().take(SHOWN - 1).collect();
        format!("\"{head}…\"")
    }
}

fn child(path: &[Seg], key: &str) -> Vec<Seg> {
    let mut out = path.to_vec();
    out.push(Seg::from(key));
    out
}

/// Sorted, distinct strings of a list (non-strings are the schema's to report).
fn strings(value: &Json) -> Vec<String> {
    let mut out: Vec<String> = value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(Json::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.dedup();
    out
}

/// `Available` or `[Available, Making]`, sorted and distinct; `None` when nothing valid is there.
fn states(value: &Json) -> Option<Vec<ImageState>> {
    let mut out: Vec<ImageState> = match value {
        Json::String(s) => ImageState::parse(s).into_iter().collect(),
        Json::Array(items) => items
            .iter()
            .filter_map(Json::as_str)
            .filter_map(ImageState::parse)
            .collect(),
        _ => Vec::new(),
    };
    out.sort();
    out.dedup();
    (!out.is_empty()).then_some(out)
}

fn compile_regex(source: &str) -> Result<Regex, String> {
    RegexBuilder::new(source)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|error| match error {
            regex::Error::Syntax(text) => {
                // The text repeats the pattern with a caret; the last line says what is wrong.
                let last = text
                    .lines()
                    .rev()
                    .find(|line| !line.trim().is_empty())
                    .unwrap_or("");
                last.trim().trim_start_matches("error: ").to_owned()
            }
            regex::Error::CompiledTooBig(limit) => {
                format!("it is too large once compiled (limit {limit} bytes)")
            }
            other => other.to_string(),
        })
}

/// `YYYY-MM-DD` (00:00 UTC) or RFC 3339.
pub(crate) fn parse_point_in_time(source: &str) -> Option<Timestamp> {
    let text = source.trim();
    if text.len() == 10 {
        let date: Date = text.parse().ok()?;
        return date
            .to_zoned(TimeZone::UTC)
            .ok()
            .map(|zoned| zoned.timestamp());
    }
    // jiff also accepts a few non-RFC 3339 forms; insist on the `T`/space separator and an offset.
    if text.len() < 20 {
        return None;
    }
    text.parse::<Timestamp>().ok()
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DurationError {
    Malformed,
    TooLarge,
}

/// `90d`: a decimal integer and one of s, m, h, d, w.
pub(crate) fn parse_max_age(source: &str) -> Result<MaxAge, DurationError> {
    let mut chars = source.chars();
    let unit = chars.next_back().ok_or(DurationError::Malformed)?;
    let digits = chars.as_str();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DurationError::Malformed);
    }
    let unit_seconds: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return Err(DurationError::Malformed),
    };
    let count: i64 = digits.parse().map_err(|_| DurationError::TooLarge)?;
    let seconds = count
        .checked_mul(unit_seconds)
        .ok_or(DurationError::TooLarge)?;
    if seconds > MAX_AGE_LIMIT_SECONDS {
        return Err(DurationError::TooLarge);
    }
    Ok(MaxAge {
        source: source.to_owned(),
        seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build_ok(doc: Json) -> BTreeMap<String, ImageQuery> {
        let mut problems = Vec::new();
        let queries = build(&doc, &HashSet::new(), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        queries
    }

    fn problems_of(doc: Json) -> Vec<String> {
        let mut problems = Vec::new();
        build(&doc, &HashSet::new(), &mut problems);
        problems
            .into_iter()
            .map(|p| format!("{}: {}", super::super::locate::dotted(&p.path), p.message))
            .collect()
    }

    #[test]
    fn defaults_merge_per_spec() {
        let queries = build_ok(json!({
            "version": 1,
            "defaults": {
                "regions": ["hk", "cn-bj2"], "project_id": "org-a", "select": "oldest",
                "filters": {"os_type": "Linux", "name": "^Ubuntu", "state": ["Making", "Available", "Making"]}
            },
            "images": {
                "web": {"region": "cn-bj2", "zone": "cn-bj2-04", "filters": {"name": "^Debian", "features": ["IPv6", "CloudInit", "IPv6"]}},
                "db": {"select": "only", "project_id": "org-b"}
            }
        }));
        let web = &queries["web"];
        assert_eq!(web.regions, ["cn-bj2"]);
        assert_eq!(web.zone.as_deref(), Some("cn-bj2-04"));
        assert_eq!(web.project_id.as_deref(), Some("org-a"));
        assert_eq!(web.select, Selection::Oldest);
        assert_eq!(web.filters.os_type, Some(OsType::Linux));
        assert_eq!(
            web.filters.name.as_ref().map(|p| p.source.as_str()),
            Some("^Debian")
        );
        assert_eq!(
            web.filters.state,
            [ImageState::Available, ImageState::Making]
        );
        let features = web.filters.features.as_ref().map(|f| f.all.clone());
        assert_eq!(
            features,
            Some(vec!["CloudInit".to_owned(), "IPv6".to_owned()])
        );

        let db = &queries["db"];
        assert_eq!(db.regions, ["cn-bj2", "hk"]);
        assert_eq!(db.select, Selection::Only);
        assert_eq!(db.project_id.as_deref(), Some("org-b"));
        assert_eq!(
            db.filters.name.as_ref().map(|p| p.source.as_str()),
            Some("^Ubuntu")
        );
    }

    #[test]
    fn state_defaults_to_available_and_select_to_newest() {
        let queries = build_ok(json!({"images": {"web": {"region": "hk"}}}));
        assert_eq!(queries["web"].filters.state, [ImageState::Available]);
        assert_eq!(queries["web"].select, Selection::Newest);
        assert!(!queries["web"].filters.not_eol);
    }

    #[test]
    fn set_match_mapping_is_sorted() {
        let queries = build_ok(json!({"images": {"w": {"region": "hk",
            "filters": {"supported_gpu_types": {"any": ["H100", "A100"], "none": ["T4"]}, "not_eol": true}}}}));
        let set = queries["w"].filters.supported_gpu_types.clone();
        assert_eq!(
            set,
            Some(SetMatch {
                all: vec![],
                any: vec!["A100".into(), "H100".into()],
                none: vec!["T4".into()]
            })
        );
        assert!(queries["w"].filters.not_eol);
    }

    #[test]
    fn region_and_regions_conflict() {
        let problems = problems_of(json!({"images": {"w": {"region": "hk", "regions": ["hk"]}}}));
        assert_eq!(
            problems,
            ["images.w.regions: expected either `region` or `regions`, found both"]
        );
    }

    #[test]
    fn entry_region_replaces_default_regions() {
        let queries = build_ok(
            json!({"defaults": {"regions": ["hk", "cn-bj2"]}, "images": {"w": {"region": "hk", "zone": "hk-02"}}}),
        );
        assert_eq!(queries["w"].regions, ["hk"]);
    }

    #[test]
    fn missing_region() {
        let problems = problems_of(json!({"images": {"w": {}}}));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("images.w: expected `region` or `regions`"));
        let mut quiet = Vec::new();
        let unknown: HashSet<Vec<Seg>> = [vec![Seg::from("images"), Seg::from("w")]].into();
        build(&json!({"images": {"w": {}}}), &unknown, &mut quiet);
        assert!(quiet.is_empty());
    }

    #[test]
    fn zone_checks() {
        let outside = problems_of(json!({"images": {"w": {"region": "cn-bj2", "zone": "hk-02"}}}));
        assert_eq!(outside.len(), 1);
        assert!(
            outside[0].starts_with("images.w.zone: expected a zone of region cn-bj2"),
            "{outside:?}"
        );
        let prefix_only =
            problems_of(json!({"images": {"w": {"region": "cn-bj2", "zone": "cn-bj20-01"}}}));
        assert_eq!(prefix_only.len(), 1);
        let several = problems_of(
            json!({"defaults": {"zone": "hk-01"}, "images": {"w": {"regions": ["hk", "cn-bj2"]}}}),
        );
        assert_eq!(several.len(), 1);
        assert!(
            several[0].starts_with("defaults.zone: expected no zone for entry w"),
            "{several:?}"
        );
    }

    #[test]
    fn bad_regex_version_dates() {
        let problems = problems_of(json!({"images": {"w": {"region": "hk", "filters": {
            "name": "(", "version": ">=x", "created_after": "2024-13-01", "max_age": "99999999999999999999d"
        }}}}));
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(
            problems.iter().any(
                |p| p.starts_with("images.w.filters.name: expected a valid regex, found \"(\"")
            )
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("images.w.filters.version: expected a version requirement"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("images.w.filters.created_after: expected a date"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("images.w.filters.max_age: expected a duration of at most"))
        );
    }

    #[test]
    fn created_after_must_precede_created_before() {
        let problems = problems_of(json!({"images": {"w": {"region": "hk", "filters": {
            "created_after": "2024-05-01", "created_before": "2024-05-01T00:00:00Z"
        }}}}));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("images.w.filters.created_before: expected a time after"));
    }

    #[test]
    fn empty_any_is_rejected() {
        let problems = problems_of(
            json!({"images": {"w": {"region": "hk", "filters": {"features": {"any": []}}}}}),
        );
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn dates() {
        let midnight = parse_point_in_time("2024-05-01").map(|t| t.as_second());
        assert_eq!(midnight, Some(1_714_521_600));
        let rfc = parse_point_in_time("2024-05-01T08:00:00+08:00").map(|t| t.as_second());
        assert_eq!(rfc, Some(1_714_521_600));
        assert_eq!(parse_point_in_time("2024-5-1"), None);
        assert_eq!(parse_point_in_time("2024-05-01T00:00:00"), None);
        assert_eq!(parse_point_in_time("yesterday"), None);
    }

    #[test]
    fn durations() {
        let seconds = |s: &str| parse_max_age(s).map(|m| m.seconds);
        assert_eq!(seconds("90d"), Ok(90 * 86_400));
        assert_eq!(seconds("2w"), Ok(14 * 86_400));
        assert_eq!(seconds("15s"), Ok(15));
        assert_eq!(seconds("3m"), Ok(180));
        assert_eq!(seconds("1h"), Ok(3_600));
        assert_eq!(seconds("d"), Err(DurationError::Malformed));
        assert_eq!(seconds(""), Err(DurationError::Malformed));
        assert_eq!(seconds("-1d"), Err(DurationError::Malformed));
        assert_eq!(seconds("1y"), Err(DurationError::Malformed));
        assert_eq!(seconds("1é"), Err(DurationError::Malformed));
        assert_eq!(
            seconds("9223372036854775807w"),
            Err(DurationError::TooLarge)
        );
        assert_eq!(
            seconds("99999999999999999999999s"),
            Err(DurationError::TooLarge)
        );
    }

    #[test]
    fn min_age_is_a_duration_like_max_age() {
        let queries = build_ok(json!({"images": {
            "a": {"region": "hk", "filters": {"min_age": "7d"}},
            "b": {"region": "hk", "filters": {"min_age": "1w", "max_age": "90d"}}
        }}));
        let seconds = |name: &str| queries[name].filters.min_age.as_ref().map(|m| m.seconds);
        assert_eq!(seconds("a"), Some(604_800));
        assert_eq!(seconds("a"), seconds("b"));
        assert_eq!(
            queries["b"].filters.max_age.as_ref().map(|m| m.seconds),
            Some(90 * 86_400)
        );
        let problems = problems_of(
            json!({"images": {"w": {"region": "hk", "filters": {"min_age": "99999999999999999999d"}}}}),
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("images.w.filters.min_age: expected a duration of at most")
        );
    }

    #[test]
    fn agree_and_hold_come_from_defaults_or_the_entry() {
        let queries = build_ok(json!({
            "defaults": {"regions": ["hk", "cn-bj2"], "agree": "version", "hold": "freeze for the audit"},
            "images": {
                "web": {},
                "db": {"hold": "waiting for 24.04, OPS-311"},
                "one": {"region": "hk"}
            }
        }));
        assert_eq!(queries["web"].agree, Some(Agreement::Version));
        assert_eq!(queries["web"].hold.as_deref(), Some("freeze for the audit"));
        assert_eq!(
            queries["db"].hold.as_deref(),
            Some("waiting for 24.04, OPS-311")
        );
        assert_eq!(queries["one"].agree, Some(Agreement::Version));
        let plain = build_ok(json!({"images": {"w": {"region": "hk"}}}));
        assert_eq!((plain["w"].agree, plain["w"].hold.clone()), (None, None));
    }

    #[test]
    fn agree_with_select_only_is_an_error_wherever_it_is_written() {
        let problems = problems_of(
            json!({"images": {"w": {"regions": ["hk", "cn-bj2"], "agree": "version", "select": "only"}}}),
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with(
                "images.w.agree: expected no `agree` on entry w, which selects `only`"
            ),
            "{problems:?}"
        );
        // From defaults: one problem per entry that selects `only`, at the default's `agree`.
        let problems = problems_of(json!({
            "defaults": {"regions": ["hk", "cn-bj2"], "agree": "version"},
            "images": {"a": {"select": "only"}, "b": {}, "c": {"select": "only"}}
        }));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().all(|p| p.starts_with("defaults.agree: ")));
        assert!(problems[0].contains("entry a") && problems[1].contains("entry c"));
    }

    #[test]
    fn user_written_image_ids_must_have_an_image_id_shape() {
        let problems = problems_of(json!({
            "deny": {"uimage-ok": "fine", "uimage-$(reboot)": "x", "-dash": "y"},
            "images": {"w": {"region": "hk", "filters": {"image_id": "uimage rez4c3an"}}}
        }));
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.contains(&format!(
            "images.w.filters.image_id: {}",
            not_an_image_id("uimage rez4c3an")
        )));
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("deny.uimage-$(reboot): expected an ImageId"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("deny.-dash: expected an ImageId"))
        );
        let queries = build_ok(
            json!({"images": {"w": {"region": "hk", "filters": {"image_id": "uimage-rez4c3an"}}}}),
        );
        assert_eq!(
            queries["w"].filters.image_id.as_deref(),
            Some("uimage-rez4c3an")
        );
    }

    #[test]
    fn long_or_control_values_are_shortened_and_escaped_in_messages() {
        assert_eq!(quoted("uimage-\n"), "\"uimage-\\n\"");
        let long = quoted(&"a".repeat(500));
        assert_eq!(long.chars().count(), 62);
        assert!(long.ends_with("…\""));
    }

    fn policy_of(doc: Json) -> (BTreeMap<String, String>, Vec<String>) {
        let queries = build_ok(doc.clone());
        policy(&doc, &queries, std::path::Path::new("imagelock.yaml"))
    }

    #[test]
    fn policy_reads_the_deny_map() {
        let (deny, _) = policy_of(json!({
            "deny": {"uimage-bad": "kernel panic on boot, INC-42", "uimage-old": "CVE-2024-1234"},
            "images": {"w": {"region": "hk", "filters": {"image_type": "Base"}}}
        }));
        assert_eq!(deny.len(), 2);
        assert_eq!(deny["uimage-bad"], "kernel panic on boot, INC-42");
        let (deny, warnings) = policy_of(
            json!({"images": {"w": {"region": "hk", "filters": {"image_type": "Base"}}}}),
        );
        assert!(deny.is_empty() && warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn trust_warning_for_rule_picks_that_restrict_no_publisher() {
        let (_, warnings) = policy_of(json!({
            "defaults": {"region": "hk"},
            "images": {
                "open": {"filters": {"os_type": "Linux"}},
                "oldest": {"select": "oldest"},
                "typed": {"filters": {"image_type": "Base"}},
                "vendor": {"filters": {"vendor": "^Canonical$"}, "select": "highest_version"},
                "exact": {"filters": {"image_id": "uimage-1"}},
                "only": {"select": "only"}
            }
        }));
        assert_eq!(
            warnings,
            [
                "imagelock.yaml: images.oldest: picks by oldest but restricts none of image_type, image_id or vendor, so a marketplace or custom image could win; add `image_type: Base` (or a `vendor` or `image_id`) to its filters or to defaults",
                "imagelock.yaml: images.open: picks by newest but restricts none of image_type, image_id or vendor, so a marketplace or custom image could win; add `image_type: Base` (or a `vendor` or `image_id`) to its filters or to defaults",
            ]
        );
        // A default restriction counts for every entry.
        let (_, warnings) = policy_of(json!({
            "defaults": {"region": "hk", "filters": {"image_type": "Base"}},
            "images": {"a": {}, "b": {"select": "highest_version"}}
        }));
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn undocumented_feature_names_warn_with_a_suggestion() {
        let (_, warnings) = policy_of(json!({
            "defaults": {"region": "hk", "filters": {"image_type": "Base", "features": ["NetEnhanced"]}},
            "images": {
                "a": {"filters": {"features": {"all": ["IPv6", "ipv6"], "none": ["Aarch64_Type", "SomethingNew"]}}},
                "b": {"filters": {"scene_categories": {"any": ["AIModel", "HPC"]}, "features": ["NetEnhnced", "CloudInit"]}}
            }
        }));
        assert_eq!(
            warnings,
            [
                "imagelock.yaml: defaults.filters.features[0]: \"NetEnhanced\" is not a feature UCloud documents (did you mean \"NetEnhnced\"?); kept, since UCloud adds new ones over time",
                "imagelock.yaml: images.a.filters.features.all[1]: \"ipv6\" is not a feature UCloud documents (did you mean \"IPv6\"?); kept, since UCloud adds new ones over time",
                "imagelock.yaml: images.a.filters.features.none[1]: \"SomethingNew\" is not a feature UCloud documents; kept, since UCloud adds new ones over time",
                "imagelock.yaml: images.b.filters.scene_categories.any[0]: \"AIModel\" is not a scene category UCloud documents (did you mean \"AIModels\"?); kept, since UCloud adds new ones over time",
            ]
        );
    }

    #[test]
    fn regex_errors_are_one_line() {
        let reason = compile_regex("^Ubuntu (22").err().unwrap_or_default();
        assert_eq!(reason, "unclosed group");
        assert!(compile_regex("\\w{1000}{1000}").is_err());
    }
}
