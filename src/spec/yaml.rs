//! YAML text → JSON value, the form the schema and the semantic checks work on.
//!
//! [`to_json`] runs the one reader ([`super::events`]) and words what saphyr-parser refuses:
//! tabs get an explanation, libyaml-style word order is kept for the usual messages, an alias to
//! an unknown anchor names it. Scalars are resolved here by the YAML 1.2 core schema, through
//! the `saphyr` crate's own resolver rather than rules of ours.

use std::borrow::Cow;

use saphyr::Scalar;
use saphyr_parser::{ScalarStyle, ScanError, Tag};
use serde_json::{Number, Value as Json};

use super::diagnostic::{Problem, shorten};
use super::events::{Reader, Stop};

/// Deeper than any spec needs; bounds the reader's stack.
const MAX_DEPTH: usize = 100;

/// How many times a `key:<TAB>value` is retried with spaces (see [`to_json`]).
const MAX_TAB_RETRIES: usize = 64;

/// Parses `text` into JSON with the problems that did not stop the reading (each with its
/// place; the value then lacks what they are about), or, when the reading stopped (a syntax
/// error, say), every problem found up to there.
pub(crate) fn to_json(text: &str) -> Result<(Json, Vec<Problem>), Vec<Problem>> {
    let mut patched = Cow::Borrowed(text);
    let mut retries = 0;
    loop {
        let mut reader = Reader::new(&patched, MAX_DEPTH);
        let error = match reader.read() {
            Ok(json) => return Ok((json, reader.problems)),
            Err(Stop::Reported) => return Err(reader.problems),
            Err(Stop::Syntax(error)) => error,
        };
        let at = reader
            .byte_span(saphyr_parser::Span::empty(*error.marker()))
            .0;
        // YAML allows a tab to separate `key:` from its value, but saphyr-parser 0.3 refuses
        // tabs alone there when a letter, digit or `-` follows (`fetch_value` in its
        // `scanner.rs`). Those tabs are only separation, so they become spaces of the same
        // byte length (every position stays valid) and the text is read again.
        if error.info() == "':' must be followed by a valid YAML whitespace"
            && retries < MAX_TAB_RETRIES
            && let Some(tabs) = tabs_before(&patched, at)
        {
            let mut owned = patched.into_owned();
            owned.replace_range(tabs.clone(), &" ".repeat(tabs.len()));
            patched = Cow::Owned(owned);
            retries += 1;
            continue;
        }
        let mut problems = reader.problems;
        problems.push(syntax_problem(text, &error, at));
        return Err(problems);
    }
}

/// The run of tabs (and spaces) that ends at byte `at`, if it holds a tab.
fn tabs_before(text: &str, at: usize) -> Option<std::ops::Range<usize>> {
    let before = text.get(..at)?;
    let start = before.trim_end_matches([' ', '\t']).len();
    before[start..].contains('\t').then_some(start..at)
}

/// One syntax error in words, at byte `at` of `text`.
fn syntax_problem(text: &str, error: &ScanError, at: usize) -> Problem {
    let info = error.info();
    if (info.contains("tab") || info.ends_with("must be followed by a valid YAML whitespace"))
        && let Some(tab) = nearest_tab(text, at)
    {
        let line_start = text[..tab].rfind('\n').map_or(0, |i| i + 1);
        let indentation = text[line_start..tab]
            .bytes()
            .all(|b| b == b' ' || b == b'\t');
        let message = if indentation {
            "invalid YAML: found a tab in the indentation; YAML allows only spaces there"
        } else {
            "invalid YAML: found a tab where YAML needs a space"
        };
        return Problem::value(&[], message)
            .with_help(Some(
                "replace the tab with spaces (the snippet shows each tab as →)".to_owned(),
            ))
            .at((tab, 1));
    }
    let message = if info == "recursion limit exceeded" {
        format!("expected at most {MAX_DEPTH} levels of nesting, found more")
    } else if info.ends_with("found unknown anchor") {
        let alias = alias_at(text, at);
        let name = alias.trim_start_matches('*');
        return Problem::value(
            &[],
            format!(
                "invalid YAML: found the alias `{}` but no anchor `&{}` before it",
                shorten(alias),
                shorten(name)
            ),
        )
        .with_help(Some(
            "an alias repeats a node marked earlier in the file with `&name`".to_owned(),
        ))
        .at((at, alias.len()));
    } else {
        format!("invalid YAML: {}", libyaml_order(info))
    };
    let len = text[at.min(text.len())..]
        .chars()
        .next()
        .map_or(0, char::len_utf8);
    Problem::value(&[], message).at((at, len))
}

/// saphyr words errors "while parsing a flow mapping, did not find expected ',' or '}'"; libyaml
/// (and so the messages users of other YAML tools know) puts what went wrong first.
fn libyaml_order(info: &str) -> Cow<'_, str> {
    match info
        .strip_prefix("while ")
        .and_then(|rest| rest.split_once(", "))
    {
        Some((context, what)) => Cow::Owned(format!("{what}, while {context}")),
        None => Cow::Borrowed(info),
    }
}

/// The tab on the line of byte `at` that the error is about: the last one before `at`, else the
/// first one after it.
fn nearest_tab(text: &str, at: usize) -> Option<usize> {
    let at = at.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    text[line_start..at]
        .rfind('\t')
        .map(|i| line_start + i)
        .or_else(|| text[at..line_end].find('\t').map(|i| at + i))
}

/// The alias written at byte `at` (`*name`).
fn alias_at(text: &str, at: usize) -> &str {
    let rest = text.get(at..).unwrap_or("");
    let end = rest
        .char_indices()
        .skip(1)
        .find(|(_, c)| c.is_whitespace() || matches!(c, ',' | '[' | ']' | '{' | '}'))
        .map_or(rest.len(), |(i, _)| i);
    &rest[..end]
}

/// Why a scalar has no JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ScalarProblem {
    /// A tag outside the core schema (`!custom`).
    Tag(String),
    /// A core-schema tag its value does not fit (`!!int x`).
    NotOfTag(String),
    /// `.inf`, `-.inf`, `.nan`, or a number too large for a 64-bit float.
    NotFinite,
}

/// A scalar as the YAML 1.2 core schema reads it: quoted scalars are strings; plain ones are
/// null (`~`, `null`, empty), booleans (`true`, `false`), integers (decimal, `0x`, `0o`),
/// floats, or else strings. `saphyr::Scalar` implements the schema; this only maps its answer
/// to JSON.
pub(super) fn scalar(
    text: Cow<'_, str>,
    style: ScalarStyle,
    tag: Option<&Cow<'_, Tag>>,
) -> Result<Json, ScalarProblem> {
    match tag {
        Some(tag) if !tag.is_yaml_core_schema() => return Err(ScalarProblem::Tag(tag_text(tag))),
        // Every plain scalar the core schema reads as something other than a string starts with
        // one of these characters (`~`, `null`, `true`, `false`, digits, signs, `.5`, `.inf`,
        // `.nan`, in their capitalisations), so most strings skip the resolver.
        None if style != ScalarStyle::Plain
            || !text.is_empty()
                && !text.starts_with(|c: char| {
                    c.is_ascii_digit()
                        || matches!(c, '+' | '-' | '.' | '~' | 'n' | 'N' | 't' | 'T' | 'f' | 'F')
                }) =>
        {
            return Ok(Json::String(text.into_owned()));
        }
        _ => {}
    }
    match Scalar::parse_from_cow_and_metadata(text, style, tag) {
        None => Err(ScalarProblem::NotOfTag(
            tag.map(|tag| tag_text(tag)).unwrap_or_default(),
        )),
        Some(Scalar::Null) => Ok(Json::Null),
        Some(Scalar::Boolean(value)) => Ok(Json::Bool(value)),
        Some(Scalar::Integer(value)) => Ok(Json::from(value)),
        Some(Scalar::FloatingPoint(value)) => Number::from_f64(value.into_inner())
            .map(Json::Number)
            .ok_or(ScalarProblem::NotFinite),
        Some(Scalar::String(value)) => Ok(Json::String(value.into_owned())),
    }
}

/// A tag as it is usually written: `!!str`, `!custom`.
pub(super) fn tag_text(tag: &Tag) -> String {
    if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

/// Where `text` first nests collections more than `max` deep (1-based line and column), if it
/// does. The lockfile reader runs it before its own pass, so `[[[[…` a few megabytes long is
/// refused at the first level too deep, at little cost on any input. Syntax
/// errors are left to the caller's parser.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &str) -> Result<Json, ScalarProblem> {
        scalar(Cow::Borrowed(text), ScalarStyle::Plain, None)
    }

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        use serde_json::json;
        for (text, expected) in [
            ("", json!(null)),
            ("~", json!(null)),
            ("null", json!(null)),
            ("NULL", json!(null)),
            ("true", json!(true)),
            ("False", json!(false)),
            ("0", json!(0)),
            ("-17", json!(-17)),
            ("+1", json!(1)),
            ("0x1F", json!(31)),
            ("0o17", json!(15)),
            ("1e3", json!(1000.0)),
            ("-2.5E-3", json!(-0.0025)),
            (".5", json!(0.5)),
            ("22.04", json!(22.04)),
            // Not core-schema numbers or words: strings.
            ("yes", json!("yes")),
            ("on", json!("on")),
            ("0b101", json!("0b101")),
            ("1_000", json!("1_000")),
            ("-0x1F", json!("-0x1F")),
            ("1.2.3", json!("1.2.3")),
            ("inf", json!("inf")),
            ("NaN", json!("NaN")),
            ("cn-bj2", json!("cn-bj2")),
        ] {
            assert_eq!(plain(text), Ok(expected), "{text:?}");
        }
        for text in [".inf", "-.Inf", ".NaN", "1e400"] {
            assert_eq!(plain(text), Err(ScalarProblem::NotFinite), "{text:?}");
        }
    }

    #[test]
    fn strings_that_skip_the_resolver_are_strings_to_it_too() {
        let words = [
            "Linux",
            "cn-bj2",
            "hk",
            "Available",
            "^Ubuntu 22",
            "IPv6",
            "A100",
            "e5",
            "E5",
            "inf",
            "Infinity",
            "NaN",
            "nan1",
            "x1",
            "yes",
            "Off",
            "@",
            "é1",
            "_1",
        ];
        for word in words {
            assert_eq!(
                Scalar::parse_from_cow(Cow::Borrowed(word)),
                Scalar::String(Cow::Borrowed(word)),
                "{word:?}"
            );
            assert_eq!(plain(word), Ok(Json::String(word.to_owned())), "{word:?}");
        }
    }

    #[test]
    fn quoted_scalars_are_strings() {
        for style in [ScalarStyle::SingleQuoted, ScalarStyle::DoubleQuoted] {
            assert_eq!(
                scalar(Cow::Borrowed("1"), style, None),
                Ok(Json::String("1".to_owned()))
            );
        }
    }

    fn problems(text: &str) -> Vec<(String, String, Option<String>)> {
        match to_json(text) {
            Ok((json, problems)) if problems.is_empty() => {
                panic!("expected problems, got {json}")
            }
            Ok((_, problems)) | Err(problems) => problems
                .into_iter()
                .map(|p| {
                    let (offset, len) = p.at.unwrap_or_default();
                    (text[offset..offset + len].to_owned(), p.message, p.help)
                })
                .collect(),
        }
    }

    #[test]
    fn tabs_in_the_indentation_are_explained_and_pointed_at() {
        for text in [
            "a:\n\tb: 1\n",
            "a:\n  b: 1\n  c:\n  \td: 1\n",
            "a:\n  b:\n  \t c: 1\n",
        ] {
            let found = problems(text);
            assert_eq!(found.len(), 1, "{text:?}: {found:?}");
            assert_eq!(
                found[0],
                (
                    "\t".to_owned(),
                    "invalid YAML: found a tab in the indentation; YAML allows only spaces there"
                        .to_owned(),
                    Some(
                        "replace the tab with spaces (the snippet shows each tab as →)".to_owned()
                    )
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_tab_after_a_colon_is_separation() {
        use serde_json::json;
        assert_eq!(
            to_json("a:\t1\nb:\t\tx\nc: {d:\ty}\nq: \"x:\tz\"\n"),
            Ok((
                json!({"a": 1, "b": "x", "c": {"d": "y"}, "q": "x:\tz"}),
                Vec::new()
            ))
        );
        // Past the retry budget the tab is reported, not read again forever.
        let many: String = (0..MAX_TAB_RETRIES + 1)
            .map(|i| format!("k{i}:\tv\n"))
            .collect();
        let found = problems(&many);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].1,
            "invalid YAML: found a tab where YAML needs a space"
        );
    }

    #[test]
    fn syntax_errors_read_like_libyaml() {
        let found = problems("a: { b: 1\nc: 2\n");
        assert_eq!(found.len(), 1);
        assert!(
            found[0].1.starts_with(
                "invalid YAML: did not find expected ',' or '}', while parsing a flow mapping"
            ),
            "{found:?}"
        );
        assert_eq!(
            problems("a: [x, *nowhere]\n"),
            [(
                "*nowhere".to_owned(),
                "invalid YAML: found the alias `*nowhere` but no anchor `&nowhere` before it"
                    .to_owned(),
                Some("an alias repeats a node marked earlier in the file with `&name`".to_owned())
            )]
        );
    }

    #[test]
    fn nesting_past_the_scanner_limit_is_a_depth_problem() {
        let text = format!("a: {}{}\n", "[".repeat(300), "]".repeat(300));
        let found = problems(&text);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].1,
            "expected at most 100 levels of nesting, found more"
        );
    }

    #[test]
    fn problems_before_a_syntax_error_are_kept() {
        let found = problems("a: 1\na: 2\nb: [\n");
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].1.contains("each key once"));
        assert!(found[1].1.starts_with("invalid YAML: "));
    }
}
