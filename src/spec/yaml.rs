//! YAML text → JSON value, the form the schema and the semantic checks work on.
//!
//! A clean spec goes through the one-pass event reader in [`super::events`]; anything it will
//! not decide on comes here. serde_yaml does the parsing: it rejects duplicate keys and bounds alias expansion ("billion
//! laughs") and nesting depth. What JSON cannot say (non-string keys, tags, NaN) becomes a
//! [`Problem`] at that path rather than being coerced silently.

use serde_json::{Map, Number, Value as Json};
use serde_yaml::Value as Yaml;

use super::diagnostic::Problem;
use super::locate::Seg;

/// Why the text is not a YAML document at all.
#[derive(Debug)]
pub(crate) enum SyntaxError {
    /// serde_yaml saw a duplicate key; the locate index knows where every one is.
    DuplicateKey(String),
    /// Any other syntax error, with the 1-based line and column when serde_yaml knows them.
    Other {
        message: String,
        line_col: Option<(usize, usize)>,
    },
}

/// Parses `text` and converts it; problems found while converting go to `problems`.
pub(crate) fn to_json(text: &str, problems: &mut Vec<Problem>) -> Result<Json, SyntaxError> {
    match super::events::to_json(text, MAX_DEPTH) {
        Some(json) => Ok(json),
        None => slow_to_json(text, problems),
    }
}

/// The serde_yaml path: slower, but it words every syntax error and knows where it is. Clean
/// specs never get here (see [`super::events`]); both paths read a clean spec the same way.
pub(super) fn slow_to_json(text: &str, problems: &mut Vec<Problem>) -> Result<Json, SyntaxError> {
    check_depth(text)?;
    let yaml: Yaml = serde_yaml::from_str(text).map_err(|error| {
        let message = strip_positions(&error.to_string());
        if message.contains("duplicate entry") {
            return SyntaxError::DuplicateKey(message);
        }
        let line_col = error.location().map(|l| (l.line(), l.column()));
        SyntaxError::Other {
            message: friendly(&message),
            line_col,
        }
    })?;
    let mut path = Vec::new();
    Ok(convert(&yaml, &mut path, problems))
}

/// Deeper than any spec needs, and within serde_yaml's own limit.
const MAX_DEPTH: usize = 100;

fn check_depth(text: &str) -> Result<(), SyntaxError> {
    match nesting_deeper_than(text, MAX_DEPTH) {
        None => Ok(()),
        Some(line_col) => Err(SyntaxError::Other {
            message: format!("the document is nested more than {MAX_DEPTH} levels deep"),
            line_col: Some(line_col),
        }),
    }
}

/// Where `text` first nests collections more than `max` deep (1-based line and column), if it
/// does. Run before serde_yaml: libyaml's scanner does work proportional to the depth for every
/// token, so `[[[[…` a few megabytes long would take hours to reject. The event parser stops at
/// the first level too deep, so this costs little on any input. Syntax errors are left to
/// serde_yaml, whose messages the callers know.
pub(crate) fn nesting_deeper_than(text: &str, max: usize) -> Option<(usize, usize)> {
    use saphyr_parser::{Event, Parser};
    let mut depth = 0usize;
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = match next {
            Ok(next) => next,
            // The scanner's own limit (255 open flow collections) can come before any event.
            Err(err) if err.info().contains("recursion limit") => {
                return Some((err.marker().line(), err.marker().col() + 1));
            }
            Err(_) => return None,
        };
        match event {
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                if depth > max {
                    return Some((span.start.line(), span.start.col() + 1));
                }
            }
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            Event::StreamEnd => return None,
            _ => {}
        }
    }
    None
}

/// serde_yaml appends ` at line L column C` (sometimes twice); the report shows positions itself.
fn strip_positions(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(" at line ") {
        out.push_str(&rest[..at]);
        let tail = &rest[at + " at line ".len()..];
        let after_line = tail.trim_start_matches(|c: char| c.is_ascii_digit());
        match after_line.strip_prefix(" column ") {
            Some(column) => rest = column.trim_start_matches(|c: char| c.is_ascii_digit()),
            None => {
                out.push_str(" at line ");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Some serde_yaml messages read better with a word of explanation.
fn friendly(message: &str) -> String {
    if message.contains("repetition limit exceeded") {
        format!("{message}: too many alias expansions (`*name`) in the document")
    } else if message.contains("recursion limit exceeded") {
        format!("{message}: the document is nested too deeply")
    } else if message.contains("more than one document") {
        "expected a single YAML document, found several (`---`)".to_owned()
    } else {
        message.to_owned()
    }
}

fn convert(value: &Yaml, path: &mut Vec<Seg>, problems: &mut Vec<Problem>) -> Json {
    match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Json::from(i)
            } else if let Some(u) = n.as_u64() {
                Json::from(u)
            } else {
                match n.as_f64().and_then(Number::from_f64) {
                    Some(number) => Json::Number(number),
                    None => {
                        problems.push(Problem::value(
                            path,
                            format!("expected a finite number, found {n}"),
                        ));
                        Json::Null
                    }
                }
            }
        }
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => Json::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    path.push(Seg::Index(i));
                    let json = convert(item, path, problems);
                    path.pop();
                    json
                })
                .collect(),
        ),
        Yaml::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, item) in mapping {
                let key = match key {
                    Yaml::String(s) => s.clone(),
                    Yaml::Number(_) | Yaml::Bool(_) | Yaml::Null => {
                        let text = scalar_text(key);
                        path.push(Seg::Key(text.clone()));
                        problems.push(
                            Problem::key(path, format!("expected a string key, found {text}"))
                                .with_help(Some(format!("quote it: \"{text}\""))),
                        );
                        path.pop();
                        continue;
                    }
                    _ => {
                        problems.push(Problem::value(
                            path,
                            "expected string keys, found a list or mapping used as a key",
                        ));
                        continue;
                    }
                };
                path.push(Seg::Key(key.clone()));
                let json = convert(item, path, problems);
                path.pop();
                object.insert(key, json);
            }
            Json::Object(object)
        }
        Yaml::Tagged(tagged) => {
            problems.push(Problem::value(
                path,
                format!("expected a plain value, found a YAML tag `{}`", tagged.tag),
            ));
            Json::Null
        }
    }
}

/// How a non-string scalar key is written, as the locate index names it.
fn scalar_text(key: &Yaml) -> String {
    match key {
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        _ => "null".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert_ok(text: &str) -> (Json, Vec<Problem>) {
        let mut problems = Vec::new();
        match to_json(text, &mut problems) {
            Ok(json) => (json, problems),
            Err(e) => panic!("unexpected syntax error {e:?}"),
        }
    }

    #[test]
    fn converts_plain_documents() {
        let (json, problems) = convert_ok("a: [1, x, true, 2.5]\nb: ~\n");
        assert!(problems.is_empty());
        assert_eq!(
            json,
            serde_json::json!({"a": [1, "x", true, 2.5], "b": null})
        );
    }

    #[test]
    fn rejects_non_string_keys_and_tags() {
        let (_, problems) = convert_ok("images:\n  1: {}\n  web: !custom x\n");
        let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("string key, found 1"));
        assert!(messages[1].contains("YAML tag"));
    }

    #[test]
    fn duplicate_keys_are_syntax_errors() {
        let mut problems = Vec::new();
        let result = to_json("a: 1\na: 2\n", &mut problems);
        assert!(
            matches!(result, Err(SyntaxError::DuplicateKey(_))),
            "{result:?}"
        );
    }

    #[test]
    fn alias_bombs_fail_quickly() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let started = std::time::Instant::now();
        let mut problems = Vec::new();
        let result = to_json(&doc, &mut problems);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        match result {
            Err(SyntaxError::Other { message, .. }) => {
                assert!(message.contains("alias"), "{message}")
            }
            other => panic!("expected an alias limit error, got {other:?}"),
        }
    }

    #[test]
    fn positions_are_stripped_from_messages() {
        assert_eq!(
            strip_positions(
                "did not find ',' at line 6 column 5, while parsing at line 5 column 14"
            ),
            "did not find ',', while parsing"
        );
        assert_eq!(strip_positions("at line x"), "at line x");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let mut problems = Vec::new();
        match to_json("a: [1, 2\nb: 3\n", &mut problems) {
            Err(SyntaxError::Other {
                line_col: Some((line, _)),
                ..
            }) => assert!(line >= 1),
            other => panic!("expected a located syntax error, got {other:?}"),
        }
    }
}
