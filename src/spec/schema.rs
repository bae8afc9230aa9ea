//! The embedded JSON Schema and the translation of its errors into human [`Problem`]s.
//!
//! The schema is compiled once per process. jsonschema's own messages quote schema internals
//! (`"linux" is not one of ["Linux","Windows"]`, `anyOf`); users get "expected one of Linux,
//! Windows, found "linux"" with a "did you mean" instead.

use std::collections::HashSet;
use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::{Location, LocationSegment};
use jsonschema::{ValidationError, Validator};
use serde_json::Value as Json;

use super::diagnostic::Problem;
use super::locate::Seg;
use crate::Error;

/// `schemas/imagelock.schema.json`, as printed by `imagelock schema`.
pub const SCHEMA: &str = include_str!("../../schemas/imagelock.schema.json");

struct Compiled {
    document: Json,
    validator: Validator,
}

static COMPILED: LazyLock<Result<Compiled, String>> = LazyLock::new(|| {
    let document: Json =
        serde_json::from_str(SCHEMA).map_err(|e| format!("embedded schema is not JSON: {e}"))?;
    let validator = jsonschema::draft202012::new(&document)
        .map_err(|e| format!("embedded schema does not compile: {e}"))?;
    Ok(Compiled {
        document,
        validator,
    })
});

/// Checks `doc` against the schema. Mappings holding an unknown key go to `unknown_key_maps`.
pub(crate) fn check(
    doc: &Json,
    problems: &mut Vec<Problem>,
    unknown_key_maps: &mut HashSet<Vec<Seg>>,
) -> Result<(), Error> {
    let compiled = COMPILED.as_ref().map_err(|e| Error::Internal(e.clone()))?;
    let translator = Translator {
        schema: &compiled.document,
    };
    let errors: Vec<ValidationError<'_>> = compiled.validator.iter_errors(doc).collect();
    // `"version": "1"` breaks both `type` and `const`; the `const` problem, which names the one
    // allowed value, says everything, so the `type` one at the same place is not repeated.
    let constant_paths: HashSet<Vec<Seg>> = errors
        .iter()
        .filter(|e| matches!(e.kind(), ValidationErrorKind::Constant { .. }))
        .map(|e| segments(e.instance_path()))
        .collect();
    for error in &errors {
        if matches!(error.kind(), ValidationErrorKind::Type { .. })
            && constant_paths.contains(&segments(error.instance_path()))
        {
            continue;
        }
        translator.translate(error, problems, unknown_key_maps);
    }
    Ok(())
}

struct Translator<'s> {
    schema: &'s Json,
}

impl Translator<'_> {
    fn translate(
        &self,
        error: &ValidationError<'_>,
        problems: &mut Vec<Problem>,
        unknown_key_maps: &mut HashSet<Vec<Seg>>,
    ) {
        let path = segments(error.instance_path());
        let instance: &Json = error.instance();
        let schema_path = error.schema_path().as_str();
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let allowed = self.allowed_keys(schema_path);
                unknown_key_maps.insert(path.clone());
                for key in unexpected {
                    let mut key_path = path.clone();
                    key_path.push(Seg::Key(key.clone()));
                    let message = format!(
                        "unknown key \"{key}\", expected one of {}",
                        allowed.join(", ")
                    );
                    problems.push(
                        Problem::key(&key_path, message).with_help(did_you_mean(key, &allowed)),
                    );
                }
            }
            ValidationErrorKind::Enum { options } => {
                let options: Vec<String> = options
                    .as_array()
                    .map(|o| {
                        o.iter()
                            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let message = format!(
                    "expected one of {}, found {}",
                    options.join(", "),
                    describe(instance)
                );
                let help = instance
                    .as_str()
                    .and_then(|found| did_you_mean(found, &options));
                problems.push(Problem::value(&path, message).with_help(help));
            }
            ValidationErrorKind::Constant { expected_value } => {
                problems.push(constant_problem(&path, expected_value, instance));
            }
            ValidationErrorKind::Type { kind } => {
                let expected = match kind {
                    TypeKind::Single(t) => type_name(&t.to_string()).to_owned(),
                    TypeKind::Multiple(set) => set
                        .iter()
                        .map(|t| type_name(&t.to_string()))
                        .collect::<Vec<_>>()
                        .join(" or "),
                };
                let help = (expected == "a string"
                    && (instance.is_number() || instance.is_boolean()))
                .then(|| "quote the value so YAML keeps it as written".to_owned());
                let message = format!("expected {expected}, found {}", describe(instance));
                problems.push(Problem::value(&path, message).with_help(help));
            }
            ValidationErrorKind::Required { property } => {
                let name = property
                    .as_str()
                    .map_or_else(|| property.to_string(), str::to_owned);
                problems.push(Problem::value(
                    &path,
                    format!("missing required key \"{name}\""),
                ));
            }
            ValidationErrorKind::MinProperties { .. } if path == [Seg::from("images")] => {
                problems.push(Problem::value(
                    &path,
                    "expected at least one entry, found none",
                ));
            }
            ValidationErrorKind::MinProperties { limit } => {
                problems.push(Problem::value(
                    &path,
                    format!("expected at least {limit} key(s), found none"),
                ));
            }
            ValidationErrorKind::MinItems { limit } => {
                problems.push(Problem::value(
                    &path,
                    format!("expected at least {limit} item(s), found an empty list"),
                ));
            }
            ValidationErrorKind::MinLength { .. } => {
                problems.push(Problem::value(
                    &path,
                    "expected a non-empty string, found \"\"",
                ));
            }
            ValidationErrorKind::Pattern { .. } => {
                let message = format!(
                    "expected {}, found {}",
                    pattern_meaning(schema_path),
                    describe(instance)
                );
                problems.push(Problem::value(&path, message));
            }
            ValidationErrorKind::PropertyNames { error: inner } => {
                let name = inner.instance().as_str().unwrap_or_default().to_owned();
                let mut key_path = path.clone();
                key_path.push(Seg::Key(name.clone()));
                let message = format!(
                    "expected {}, found \"{name}\"",
                    pattern_meaning(inner.schema_path().as_str())
                );
                problems.push(Problem::key(&key_path, message));
            }
            ValidationErrorKind::UniqueItems => {
                let items = instance.as_array().map(Vec::as_slice).unwrap_or_default();
                for (i, item) in items.iter().enumerate() {
                    if items[..i].contains(item) {
                        let mut item_path = path.clone();
                        item_path.push(Seg::Index(i));
                        let message =
                            format!("expected distinct items, found {} again", describe(item));
                        problems.push(Problem::value(&item_path, message));
                    }
                }
            }
            ValidationErrorKind::AnyOf { context }
            | ValidationErrorKind::OneOfNotValid { context } => {
                self.alternatives(&path, instance, context, problems, unknown_key_maps);
            }
            _ => problems.push(Problem::value(&path, error.to_string())),
        }
    }

    /// An `anyOf` failed. When the value has the type of one alternative (a state string that is
    /// misspelt), that alternative's errors are the useful ones; otherwise say which types would do.
    fn alternatives(
        &self,
        path: &[Seg],
        instance: &Json,
        context: &[Vec<ValidationError<'static>>],
        problems: &mut Vec<Problem>,
        unknown_key_maps: &mut HashSet<Vec<Seg>>,
    ) {
        let mut expected_types = Vec::new();
        for branch in context {
            let mismatch = branch.iter().find_map(|error| match error.kind() {
                ValidationErrorKind::Type { kind } if segments(error.instance_path()) == path => {
                    Some(match kind {
                        TypeKind::Single(t) => type_name(&t.to_string()).to_owned(),
                        TypeKind::Multiple(set) => set
                            .iter()
                            .map(|t| type_name(&t.to_string()))
                            .collect::<Vec<_>>()
                            .join(" or "),
                    })
                }
                _ => None,
            });
            match mismatch {
                Some(expected) => expected_types.push(expected),
                None => {
                    for error in branch {
                        self.translate(error, problems, unknown_key_maps);
                    }
                    return;
                }
            }
        }
        expected_types.dedup();
        let message = format!(
            "expected {}, found {}",
            expected_types.join(" or "),
            describe(instance)
        );
        problems.push(Problem::value(path, message));
    }

    /// The keys an object schema allows, from the `properties` beside its `additionalProperties`.
    fn allowed_keys(&self, schema_path: &str) -> Vec<String> {
        let parent = schema_path
            .strip_suffix("/additionalProperties")
            .unwrap_or(schema_path);
        self.schema
            .pointer(&format!("{parent}/properties"))
            .and_then(Json::as_object)
            .map(|properties| properties.keys().cloned().collect())
            .unwrap_or_default()
    }
}

fn segments(location: &Location) -> Vec<Seg> {
    location
        .segments()
        .map(|segment| match segment {
            LocationSegment::Property(key) => Seg::Key(key.into_owned()),
            LocationSegment::Index(i) => Seg::Index(i),
        })
        .collect()
}

/// What a `pattern` in the schema means, by where it sits.
fn pattern_meaning(schema_path: &str) -> &'static str {
    if schema_path.contains("entry_name") {
        "an entry name (lowercase letters, digits, `_` and `-`, starting with a letter or digit, at most 63 characters)"
    } else if schema_path.contains("zone") {
        "a zone name (lowercase letters, digits and `-`, like cn-bj2-04)"
    } else if schema_path.contains("region") {
        "a region name (lowercase letters, digits and `-`, like cn-bj2)"
    } else if schema_path.contains("max_age") || schema_path.contains("min_age") {
        "a duration: an integer and a unit s, m, h, d or w (like 90d)"
    } else {
        "a value of the documented form"
    }
}

/// The value is not the one allowed. When the type differs too (`version: "1"`), both are said
/// with their types, since `expected 1, found "1"` reads like a contradiction.
fn constant_problem(path: &[Seg], expected: &Json, found: &Json) -> Problem {
    let same_type = std::mem::discriminant(expected) == std::mem::discriminant(found);
    if same_type {
        let message = format!("expected {expected}, found {}", describe(found));
        return Problem::value(path, message);
    }
    let expected_text = match expected {
        Json::Number(n) => format!("the number {n}"),
        other => describe(other),
    };
    let found_text = match found {
        Json::String(s) => format!("the string \"{s}\""),
        other => describe(other),
    };
    let help = match (found, path.last()) {
        (Json::String(s), Some(Seg::Key(key)))
            if serde_json::from_str::<Json>(s).is_ok_and(|v| v == *expected) =>
        {
            Some(format!("write `{key}: {expected}`, without quotes"))
        }
        _ => None,
    };
    Problem::value(
        path,
        format!("expected {expected_text}, found {found_text}"),
    )
    .with_help(help)
}

fn type_name(json_type: &str) -> &'static str {
    match json_type {
        "object" => "a mapping",
        "array" => "a list",
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "true or false",
        "null" => "nothing",
        _ => "a value",
    }
}

/// How a found value is shown: strings quoted, collections by kind.
fn describe(value: &Json) -> String {
    match value {
        Json::Null => "nothing".to_owned(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => format!("\"{s}\""),
        Json::Array(_) => "a list".to_owned(),
        Json::Object(_) => "a mapping".to_owned(),
    }
}

/// The help line for a misspelling, from the program's one "did you mean" ([`crate::text`]).
pub(crate) fn did_you_mean(found: &str, candidates: &[String]) -> Option<String> {
    crate::text::did_you_mean(found, candidates.iter().map(String::as_str))
        .map(|best| format!("did you mean \"{best}\"?"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems_of(doc: Json) -> Vec<String> {
        let mut problems = Vec::new();
        let mut unknown = HashSet::new();
        if let Err(e) = check(&doc, &mut problems, &mut unknown) {
            panic!("{e}");
        }
        problems
            .into_iter()
            .map(|p| {
                let help = p.help.map(|h| format!(" ({h})")).unwrap_or_default();
                format!(
                    "{}: {}{help}",
                    super::super::locate::dotted(&p.path),
                    p.message
                )
            })
            .collect()
    }

    #[test]
    fn valid_spec_passes() {
        let problems = problems_of(json!({
            "version": 1,
            "defaults": {"region": "cn-bj2", "filters": {"os_type": "Linux"}},
            "images": {"web": {"filters": {"state": ["Available", "Making"], "features": {"all": ["IPv6"]},
                "max_age": "90d", "not_eol": true, "version": ">=22.04"}, "select": "highest_version"}}
        }));
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn unknown_keys_suggest() {
        let problems = problems_of(json!({"version": 1, "images": {"web": {"fitlers": {}}}}));
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("images.web.fitlers: unknown key \"fitlers\", expected one of"),
            "{problems:?}"
        );
        assert!(
            problems[0].ends_with("(did you mean \"filters\"?)"),
            "{problems:?}"
        );
    }

    #[test]
    fn enum_values_suggest() {
        let problems = problems_of(
            json!({"version": 1, "images": {"web": {"filters": {"os_type": "linux"}}}}),
        );
        assert_eq!(
            problems,
            [
                "images.web.filters.os_type: expected one of Linux, Windows, found \"linux\" (did you mean \"Linux\"?)"
            ]
        );
    }

    #[test]
    fn alternatives_pick_the_branch_of_the_right_type() {
        let problems = problems_of(
            json!({"version": 1, "images": {"w": {"filters": {"state": "available", "features": 3}}}}),
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("state: expected one of Available")
                    && p.contains("did you mean \"Available\""))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("features: expected a list or a mapping, found 3"))
        );
    }

    #[test]
    fn a_quoted_version_is_one_problem() {
        let problems = problems_of(json!({"version": "1", "images": {"w": {"region": "hk"}}}));
        assert_eq!(
            problems,
            [
                "version: expected the number 1, found the string \"1\" (write `version: 1`, without quotes)"
            ],
        );
        let problems = problems_of(json!({"version": true, "images": {"w": {"region": "hk"}}}));
        assert_eq!(problems, ["version: expected the number 1, found true"]);
    }

    #[test]
    fn required_version_and_types() {
        let problems = problems_of(json!({"version": 2, "images": {}}));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.contains(&"version: expected 1, found 2".to_owned()));
        assert!(problems.contains(&"images: expected at least one entry, found none".to_owned()));
        let missing = problems_of(json!({}));
        assert_eq!(missing.len(), 2, "{missing:?}");
    }

    #[test]
    fn bad_names_and_duplicates() {
        let problems = problems_of(
            json!({"version": 1, "images": {"Web": {"regions": ["hk", "HK", "hk"], "filters": {"max_age": "3 days"}}}}),
        );
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("images.Web: expected an entry name"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("images.Web.regions[1]: expected a region name"))
        );
        assert!(problems.iter().any(|p| {
            p.starts_with("images.Web.regions[2]: expected distinct items, found \"hk\" again")
        }));
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("images.Web.filters.max_age: expected a duration"))
        );
    }

    #[test]
    fn numbers_where_strings_belong_get_a_quoting_hint() {
        let problems =
            problems_of(json!({"version": 1, "images": {"w": {"filters": {"version": 22.1}}}}));
        assert_eq!(
            problems,
            [
                "images.w.filters.version: expected a string, found 22.1 (quote the value so YAML keeps it as written)"
            ]
        );
    }

    #[test]
    fn suggestions() {
        let keys: Vec<String> = ["region", "regions", "filters", "select"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            did_you_mean("regoin", &keys).as_deref(),
            Some("did you mean \"region\"?")
        );
        assert_eq!(
            did_you_mean("FILTERS", &keys).as_deref(),
            Some("did you mean \"filters\"?")
        );
        assert_eq!(did_you_mean("banana", &keys), None);
    }

    #[test]
    fn schema_is_embedded_and_compiles() {
        assert!(COMPILED.is_ok());
        assert!(SCHEMA.contains("2020-12"));
    }
}
