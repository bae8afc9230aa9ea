//! The fast path from YAML text to JSON: one pass over saphyr-parser's events, for clean specs.
//!
//! Going through serde_yaml (libyaml, then a `serde_yaml::Value`, then a `serde_json::Value`)
//! costs several times what the event pass alone does on a large spec. This builds the JSON value
//! straight from the events, resolving plain scalars exactly as serde_yaml does (YAML 1.2 core
//! schema: the same words for null and booleans, the same integer and float rules), so a spec
//! reads the same either way.
//!
//! It only handles what needs no judgement. Anything that would end in a message — a syntax
//! error, several documents, a tag, a non-string or repeated key, an alias used too much, a
//! non-finite number, nesting past the limit — makes it give up (`None`), and the caller takes the
//! serde_yaml path, whose messages and positions the rest of the crate and its tests know. Failing
//! specs pay for both passes; they are the rare case and the first pass stops at the problem.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Number, Value as Json};

/// A JSON value and how many nodes it has, which is what an alias to it costs to expand.
struct Sized {
    value: Json,
    nodes: usize,
}

/// An open collection: its anchor (0 for none), its nodes so far, and what it holds.
struct Frame {
    anchor: usize,
    nodes: usize,
    kind: Kind,
}

enum Kind {
    Seq(Vec<Json>),
    /// The key waiting for its value, if one was read.
    Map(Map<String, Json>, Option<String>),
}

/// Aliases may expand to this many nodes per event in the text before the fast path leaves the
/// decision (and the message) to serde_yaml, which bounds expansion the same way.
const EXPANSION_PER_EVENT: usize = 100;

/// `text` as JSON, or `None` when the serde_yaml path must decide (see the module docs).
/// `max_depth` is the nesting limit the caller enforces.
pub(super) fn to_json(text: &str, max_depth: usize) -> Option<Json> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Sized> = HashMap::new();
    let mut root: Option<Json> = None;
    let mut documents = 0usize;
    let mut events = 0usize;
    let mut expanded = 0usize;
    while let Some(next) = parser.next_event() {
        let (event, _span) = next.ok()?;
        events += 1;
        let done = match event {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => continue,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return None;
                }
                continue;
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                if tag.is_some() || stack.len() >= max_depth || expects_key(&stack) {
                    return None;
                }
                let kind = if matches!(event, Event::SequenceStart(..)) {
                    Kind::Seq(Vec::new())
                } else {
                    Kind::Map(Map::new(), None)
                };
                stack.push(Frame {
                    anchor,
                    nodes: 1,
                    kind,
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = stack.pop()?;
                let value = match frame.kind {
                    Kind::Seq(items) => Json::Array(items),
                    Kind::Map(map, None) => Json::Object(map),
                    Kind::Map(_, Some(_)) => return None,
                };
                (value, frame.nodes, frame.anchor)
            }
            Event::Scalar(text, style, anchor, tag) => {
                if tag.is_some() {
                    return None;
                }
                let value = if expects_key(&stack) {
                    // A key must read as a string; `1:` or `true:` gets its message from the
                    // other path.
                    if style == ScalarStyle::Plain && !matches!(plain(&text)?, Json::String(_)) {
                        return None;
                    }
                    Json::String(text.into_owned())
                } else if style == ScalarStyle::Plain {
                    plain(&text)?
                } else {
                    Json::String(text.into_owned())
                };
                (value, 1, anchor)
            }
            Event::Alias(id) => {
                if expects_key(&stack) {
                    return None;
                }
                let target = anchors.get(&id)?;
                expanded = expanded.saturating_add(target.nodes);
                if expanded > events.saturating_mul(EXPANSION_PER_EVENT) {
                    return None;
                }
                (target.value.clone(), target.nodes, 0)
            }
        };
        let (value, nodes, anchor) = done;
        if anchor != 0 {
            anchors.insert(
                anchor,
                Sized {
                    value: value.clone(),
                    nodes,
                },
            );
        }
        match stack.last_mut() {
            None => {
                if root.is_some() {
                    return None;
                }
                root = Some(value);
            }
            Some(frame) => {
                frame.nodes = frame.nodes.saturating_add(nodes);
                match &mut frame.kind {
                    Kind::Seq(items) => items.push(value),
                    Kind::Map(map, pending) => match pending.take() {
                        None => match value {
                            Json::String(key) => *pending = Some(key),
                            _ => return None,
                        },
                        Some(key) => {
                            if map.insert(key, value).is_some() {
                                return None;
                            }
                        }
                    },
                }
            }
        }
    }
    // A stream with no document (empty, or only comments) is for the other path to describe.
    if !stack.is_empty() {
        return None;
    }
    root
}

/// Whether the next node is a mapping key.
fn expects_key(stack: &[Frame]) -> bool {
    matches!(
        stack.last(),
        Some(Frame {
            kind: Kind::Map(_, None),
            ..
        })
    )
}

/// A plain scalar resolved as serde_yaml resolves it, or `None` for a value that has no JSON form
/// (`.inf`, `.nan`) or that serde_yaml rejects (integers beyond 64 bits).
fn plain(text: &str) -> Option<Json> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Json::Null),
        "true" | "True" | "TRUE" => return Some(Json::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Json::Bool(false)),
        _ => {}
    }
    // Every number starts with a digit, a sign or a dot; most strings do not, and skip the rest.
    if !text.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
        return Some(Json::String(text.to_owned()));
    }
    if let Some(int) = unsigned(text, u64::from_str_radix) {
        return Some(Json::from(int));
    }
    if let Some(int) = negative(text, i64::from_str_radix) {
        return Some(Json::from(int));
    }
    if unsigned(text, u128::from_str_radix).is_some()
        || negative(text, i128::from_str_radix).is_some()
    {
        return None;
    }
    if !digits_but_not_number(text)
        && let Some(float) = float(text)
    {
        return Number::from_f64(float).map(Json::Number);
    }
    Some(Json::String(text.to_owned()))
}

// The three functions below follow serde_yaml 0.9's `de.rs` rule for rule, so that a plain
// scalar means the same thing on both paths.

fn unsigned<T>(
    text: &str,
    radix: fn(&str, u32) -> Result<T, std::num::ParseIntError>,
) -> Option<T> {
    let unpositive = text.strip_prefix('+').unwrap_or(text);
    for (prefix, base) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = unpositive.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(int) = radix(rest, base) {
                return Some(int);
            }
        }
    }
    if unpositive.starts_with(['+', '-']) || digits_but_not_number(text) {
        return None;
    }
    radix(unpositive, 10).ok()
}

fn negative<T>(
    text: &str,
    radix: fn(&str, u32) -> Result<T, std::num::ParseIntError>,
) -> Option<T> {
    for (prefix, base) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(rest) = text.strip_prefix(prefix)
            && let Ok(int) = radix(&format!("-{rest}"), base)
        {
            return Some(int);
        }
    }
    if digits_but_not_number(text) {
        return None;
    }
    radix(text, 10).ok()
}

fn float(text: &str) -> Option<f64> {
    let unpositive = match text.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return None,
        Some(rest) => rest,
        None => text,
    };
    match (unpositive, text) {
        (".inf" | ".Inf" | ".INF", _) => return Some(f64::INFINITY),
        (_, "-.inf" | "-.Inf" | "-.INF") => return Some(f64::NEG_INFINITY),
        (_, ".nan" | ".NaN" | ".NAN") => return Some(f64::NAN),
        _ => {}
    }
    unpositive.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Leading zeros followed by digits is a string in YAML 1.2 (`0755`).
fn digits_but_not_number(text: &str) -> bool {
    let text = text.strip_prefix(['-', '+']).unwrap_or(text);
    text.len() > 1 && text.starts_with('0') && text[1..].bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slow path's answer: serde_yaml, then the same conversion the loader uses.
    fn reference(text: &str) -> Option<Json> {
        let mut problems = Vec::new();
        let json = super::super::yaml::slow_to_json(text, &mut problems).ok()?;
        problems.is_empty().then_some(json)
    }

    #[track_caller]
    fn same(text: &str) {
        let fast = to_json(text, 100);
        assert!(fast.is_some(), "fast path gave up on {text:?}");
        assert_eq!(fast, reference(text), "{text:?}");
    }

    #[test]
    fn agrees_with_serde_yaml_on_clean_documents() {
        same(include_str!("../../examples/imagelock.yaml"));
        same("a: [1, x, true, 2.5]\nb: ~\n");
        same(
            "n: [0, -0, +1, 0x1F, -0x1F, 0o17, 0b101, 0755, -0755, 1e3, -2.5E-3, .5, +.5, 1_000]\n",
        );
        same("n: [18446744073709551615, -9223372036854775808, 9223372036854775808, 1.]\n");
        same("w: [null, Null, NULL, ~, '', True, TRUE, yes, no, on, off, nil, NaN, inf]\n");
        same("w: [+, ., '-1', \"2\", 0x, 0xZZ, 1.2.3, 22.04, v1, \"~\", '']\n");
        same("w:\n  - -\n  - a:b\n  - 1:2\n");
        same("k:\n  a: \n  b:\n  'true': 1\n  \"1\": 2\n  \"null\": 3\n  <<: 4\n");
        same("s: |\n  one\n  two\n\nf: >-\n  folded\n  text\n\nq: \"a\\tb\\u00e9\"\nr: 'it''s'\n");
        same("base: &b {os_type: Linux, features: [A, B]}\nx: *b\ny: [*b, *b]\n");
        same("a: &s plain\nb: *s\n");
        same("- 1\n- [2, [3, {a: b}]]\n- {}\n- []\n");
        same("---\na: 1\n...\n");
        same("plain multi\n  line\n");
    }

    #[test]
    fn gives_up_on_what_needs_a_message() {
        for text in [
            "a: 1\na: 2\n",
            "1: x\n",
            "true: x\n",
            "~: x\n",
            "? [a]\n: x\n",
            "a: !custom x\n",
            "a: !!str 1\n",
            "a: .inf\n",
            "a: -.Inf\n",
            "a: .nan\n",
            "a: 340282366920938463463374607431768211455\n",
            "a: 1\n---\nb: 2\n",
            "",
            "# only a comment\n",
            "a: [1, 2\nb: 3\n",
            "a: *nowhere\n",
            "a: &x [*x]\n",
        ] {
            assert_eq!(to_json(text, 100), None, "{text:?}");
        }
    }

    #[test]
    fn gives_up_past_the_depth_limit() {
        assert!(to_json(&format!("{}{}", "[".repeat(5), "]".repeat(5)), 5).is_some());
        assert_eq!(
            to_json(&format!("{}{}", "[".repeat(6), "]".repeat(6)), 5),
            None
        );
    }

    #[test]
    fn gives_up_on_alias_bombs_quickly() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert_eq!(to_json(&doc, 100), None);
    }
}
