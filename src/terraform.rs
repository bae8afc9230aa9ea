//! Terraform's `external` data source protocol: the program reads one JSON object of strings on
//! stdin and answers with one flat JSON object of strings on stdout (errors on stderr with a
//! non-zero exit). Terraform rejects anything else, so this module is strict on both sides.
//! See <https://registry.terraform.io/providers/hashicorp/external/latest/docs/data-sources/external>.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::error::Error;
use crate::lockfile::Pin;

/// The keys a query may carry.
pub const QUERY_KEYS: [&str; 4] = ["name", "region", "spec", "lock"];

/// What a `data "external"` block's `query` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub name: String,
    pub region: Option<String>,
    /// Overrides `--spec`; relative to Terraform's working directory.
    pub spec: Option<PathBuf>,
    /// Overrides `--lock`.
    pub lock: Option<PathBuf>,
}

/// Parses the query object, refusing non-string values and unknown keys (a typo such as `regoin`
/// would otherwise silently pick a default).
pub fn parse_query(text: &str) -> Result<Query, Error> {
    let invalid = |message: String| Error::Invalid(format!("terraform external query: {message}"));
    let value: Value = serde_json::from_str(text)
        .map_err(|err| invalid(format!("stdin is not a JSON object ({err})")))?;
    let Value::Object(map) = value else {
        return Err(invalid("stdin must be a JSON object of strings".into()));
    };
    let mut fields = BTreeMap::new();
    for (key, value) in map {
        if !QUERY_KEYS.contains(&key.as_str()) {
            let hint = match crate::text::did_you_mean(&key, QUERY_KEYS) {
                Some(close) => format!("; did you mean `{close}`?"),
                None => format!("; expected {}", QUERY_KEYS.join(", ")),
            };
            return Err(invalid(format!("unknown key `{key}`{hint}")));
        }
        let Value::String(text) = value else {
            return Err(invalid(format!(
                "`{key}` must be a string, got {value}; the external protocol passes strings only"
            )));
        };
        fields.insert(key, text);
    }
    let name = fields
        .remove("name")
        .filter(|name| !name.is_empty())
        .ok_or_else(|| invalid("`name` (the entry to read) is required".into()))?;
    let non_empty = |text: String| (!text.is_empty()).then_some(text);
    Ok(Query {
        name,
        region: fields.remove("region").and_then(non_empty),
        spec: fields.remove("spec").and_then(non_empty).map(PathBuf::from),
        lock: fields.remove("lock").and_then(non_empty).map(PathBuf::from),
    })
}

/// The result object: every value a string, as the protocol requires.
pub fn result(region: &str, pin: &Pin) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("image_id", pin.image_id.clone()),
        ("image_name", pin.image_name.clone()),
        ("os_name", pin.os_name.clone()),
        ("create_time", pin.create_time.to_string()),
        ("region", region.to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_strings_and_treats_empty_as_absent() {
        let query = parse_query(r#"{"name": "web", "region": "", "lock": "x.lock"}"#).unwrap();
        assert_eq!(
            query,
            Query {
                name: "web".into(),
                region: None,
                spec: None,
                lock: Some("x.lock".into()),
            }
        );
    }

    #[test]
    fn refuses_what_terraform_would_not_send() {
        for (input, expected) in [
            (r#"{"name": 1}"#, "must be a string"),
            (r#"{"name": "web", "region": null}"#, "must be a string"),
            (
                r#"{"name": "web", "regoin": "hk"}"#,
                "did you mean `region`?",
            ),
            (r#"{"region": "hk"}"#, "`name`"),
            (r#"["web"]"#, "JSON object"),
            ("web", "not a JSON object"),
        ] {
            let err = parse_query(input).unwrap_err().to_string();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }
}
