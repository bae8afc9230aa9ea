//! The spec's YAML reader: one pass over saphyr-parser's events, straight to a JSON value.
//!
//! This is the only way a spec's YAML is read. It builds the JSON value the schema and the
//! semantic checks work on, and it is also where everything YAML can say but a spec must not is
//! caught, with the place it happens: syntax errors, several documents, tags, keys that are not
//! strings, repeated keys, merge keys (`<<:`), aliases that would expand without bound ("billion
//! laughs"), nesting past the limit and numbers JSON cannot hold. Plain scalars are resolved by
//! the YAML 1.2 core schema as the `saphyr` crate implements it (see [`super::yaml::scalar`]).
//!
//! A syntax error, a second document, nesting too deep or too many alias expansions end the
//! reading; the other problems are collected so that one run reports all of them.

use std::cell::OnceCell;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScanError, Span};
use serde_json::map::Entry;
use serde_json::{Map, Value as Json};

use super::diagnostic::{Problem, shorten};
use super::locate::{ByteSpan, CharOffsets, Seg};
use super::yaml::{self, ScalarProblem};

/// Aliases may expand to this many nodes per event read so far before the document counts as an
/// alias bomb: the proportion serde_yaml 0.9, which read specs before, used (its `de.rs` allows
/// 100 alias jumps per event of the document), counted in nodes, which is what costs memory.
const EXPANSION_PER_EVENT: usize = 100;

/// Whatever the proportion allows, aliases never expand to more nodes than this in one document:
/// it bounds the memory a hostile spec can make the reader use (a few hundred MB at most).
const MAX_EXPANDED_NODES: usize = 1_000_000;

/// Why the reading stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Stop {
    /// saphyr-parser's scanner or parser refused the text.
    Syntax(ScanError),
    /// Anything else that ends the reading; the problem is already in the list.
    Reported,
}

/// A JSON value and how many nodes it has, which is what an alias to it costs to expand.
struct Anchored {
    value: Json,
    nodes: usize,
}

/// An open collection.
struct Frame {
    /// Its anchor id (0 for none).
    anchor: usize,
    /// Nodes so far, itself included.
    nodes: usize,
    /// It is a mapping or list used as a mapping key (already reported); it is read and dropped.
    as_key: bool,
    kind: Kind,
}

enum Kind {
    Seq(Vec<Json>),
    Map(Map<String, Json>, Pending),
}

/// What a mapping is waiting for.
enum Pending {
    /// A key.
    Key,
    /// The value of this key, which was at this span.
    Value(String, Span),
    /// The value of a key that was reported (not a string, repeated, `<<`); it is read and dropped.
    Skip,
}

/// The reader's state over one document.
pub(super) struct Reader<'t> {
    text: &'t str,
    /// Char index → byte offset, built on the first problem (saphyr counts in characters).
    offsets: OnceCell<CharOffsets>,
    max_depth: usize,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    documents: usize,
    events: usize,
    expanded: usize,
    pub(super) problems: Vec<Problem>,
}

impl<'t> Reader<'t> {
    pub(super) fn new(text: &'t str, max_depth: usize) -> Self {
        Self {
            text,
            offsets: OnceCell::new(),
            max_depth,
            stack: Vec::new(),
            anchors: HashMap::new(),
            documents: 0,
            events: 0,
            expanded: 0,
            problems: Vec::new(),
        }
    }

    /// Reads the whole text. `Ok` holds the document (`Null` when there is none); problems that
    /// did not stop the reading are in `self.problems` either way.
    pub(super) fn read(&mut self) -> Result<Json, Stop> {
        let mut parser = Parser::new_from_str(self.text);
        let mut root = Json::Null;
        while let Some(next) = parser.next_event() {
            let (event, span) = next.map_err(Stop::Syntax)?;
            self.events += 1;
            let (value, nodes, anchor) = match event {
                Event::StreamStart | Event::Nothing | Event::DocumentEnd => continue,
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {
                    self.documents += 1;
                    if self.documents > 1 {
                        let problem = Problem::value(
                            &[],
                            "expected a single YAML document, found a second one (`---`)",
                        )
                        .with_help(Some(
                            "a spec is one document: remove the `---` line and what follows, or \
                             merge it into the first"
                                .to_owned(),
                        ));
                        self.report(problem, span);
                        return Err(Stop::Reported);
                    }
                    continue;
                }
                Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                    let is_map = matches!(event, Event::MappingStart(..));
                    if self.stack.len() >= self.max_depth {
                        // No path: it would be a hundred segments long; the place says it all.
                        let problem = Problem::value(
                            &[],
                            format!(
                                "expected at most {} levels of nesting, found more",
                                self.max_depth
                            ),
                        );
                        self.report(problem, Span::empty(span.start));
                        return Err(Stop::Reported);
                    }
                    if let Some(tag) = tag {
                        let fits = tag.is_yaml_core_schema()
                            && tag.suffix == if is_map { "map" } else { "seq" };
                        if !fits {
                            let problem = Problem::value(
                                &self.path(),
                                format!(
                                    "expected a plain value, found a YAML tag `{}`",
                                    yaml::tag_text(tag)
                                ),
                            )
                            .with_help(Some("remove the tag; a spec uses no tags".to_owned()));
                            self.report(problem, Span::empty(span.start));
                        }
                    }
                    let as_key = self.expects_key();
                    if as_key {
                        let problem = Problem::value(
                            &self.path(),
                            "expected string keys, found a list or mapping used as a key",
                        );
                        self.report(problem, Span::empty(span.start));
                    }
                    let kind = if is_map {
                        Kind::Map(Map::new(), Pending::Key)
                    } else {
                        Kind::Seq(Vec::new())
                    };
                    self.stack.push(Frame {
                        anchor,
                        nodes: 1,
                        as_key,
                        kind,
                    });
                    continue;
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    // The parser pairs starts and ends; an end without a start is its bug, and
                    // reads as the end of the document.
                    let Some(frame) = self.stack.pop() else {
                        break;
                    };
                    if frame.as_key {
                        self.set_pending(Pending::Skip);
                        continue;
                    }
                    let value = match frame.kind {
                        Kind::Seq(items) => Json::Array(items),
                        Kind::Map(map, _) => Json::Object(map),
                    };
                    (value, frame.nodes, frame.anchor)
                }
                Event::Scalar(text, style, anchor, tag) => {
                    if self.expects_key() {
                        self.on_key(yaml::scalar(text, style, tag.as_ref()), span, anchor);
                        continue;
                    }
                    let value = match yaml::scalar(text, style, tag.as_ref()) {
                        Ok(value) => value,
                        Err(problem) => {
                            let problem = self.scalar_problem(problem, &self.path(), span);
                            self.report(problem, span);
                            Json::Null
                        }
                    };
                    (value, 1, anchor)
                }
                Event::Alias(id) => {
                    let Some(target) = self.anchors.get(&id) else {
                        // saphyr-parser refuses aliases to anchors it has not seen, so this is an
                        // alias inside the very node it names (`&a [*a]`), which never ends.
                        let name = self.source_of(span);
                        let problem = Problem::value(
                            &self.path(),
                            format!(
                                "expected an alias to a finished node, found `{name}` inside the node it names, which would repeat forever"
                            ),
                        );
                        self.report(problem, span);
                        return Err(Stop::Reported);
                    };
                    let (value, nodes) = (target.value.clone(), target.nodes);
                    self.expanded = self.expanded.saturating_add(nodes);
                    if self.expanded > self.events.saturating_mul(EXPANSION_PER_EVENT)
                        || self.expanded > MAX_EXPANDED_NODES
                    {
                        let name = self.source_of(span);
                        let problem = Problem::value(
                            &self.path(),
                            format!(
                                "expected aliases to repeat a few nodes, found `{name}` making the document expand to over {} nodes",
                                self.expanded
                            ),
                        )
                        .with_help(Some(
                            "aliases that nest other aliases grow exponentially; write the \
                             values out, or share settings through `defaults:`"
                                .to_owned(),
                        ));
                        self.report(problem, span);
                        return Err(Stop::Reported);
                    }
                    if self.expects_key() {
                        self.on_key(Ok(value), span, 0);
                        continue;
                    }
                    (value, nodes, 0)
                }
            };
            if anchor != 0 {
                self.anchors.insert(
                    anchor,
                    Anchored {
                        value: value.clone(),
                        nodes,
                    },
                );
            }
            match self.stack.last_mut() {
                None => root = value,
                Some(frame) => {
                    frame.nodes = frame.nodes.saturating_add(nodes);
                    match &mut frame.kind {
                        Kind::Seq(items) => items.push(value),
                        Kind::Map(map, pending) => {
                            match std::mem::replace(pending, Pending::Key) {
                                Pending::Value(key, key_span) => match map.entry(key) {
                                    Entry::Vacant(entry) => {
                                        entry.insert(value);
                                    }
                                    // The first value stays; the repeated key is reported.
                                    Entry::Occupied(entry) => {
                                        let key = entry.key().clone();
                                        self.duplicate(key, key_span);
                                    }
                                },
                                Pending::Skip | Pending::Key => {}
                            }
                        }
                    }
                }
            }
        }
        Ok(root)
    }

    /// A mapping key, resolved as a scalar; only strings are keys in a spec.
    fn on_key(&mut self, key: Result<Json, ScalarProblem>, span: Span, anchor: usize) {
        let pending = match key {
            Ok(Json::String(key)) => {
                if anchor != 0 {
                    self.anchors.insert(
                        anchor,
                        Anchored {
                            value: Json::String(key.clone()),
                            nodes: 1,
                        },
                    );
                }
                // A repeated key is found when its value is stored (one map lookup per key).
                if key == "<<" && self.source_of(span) == "<<" {
                    let mut path = self.path();
                    path.push(Seg::Key(key));
                    let problem = Problem::key(
                        &path,
                        "expected a key, found a YAML merge key `<<`, which a spec does not support",
                    )
                    .with_help(Some(
                        "write the keys out in each entry, or put what entries share under \
                         `defaults:`"
                            .to_owned(),
                    ));
                    self.report(problem, span);
                    Pending::Skip
                } else {
                    Pending::Value(key, span)
                }
            }
            Ok(other) => {
                let shown = match &other {
                    Json::Null => "null".to_owned(),
                    Json::Array(_) => "a list".to_owned(),
                    Json::Object(_) => "a mapping".to_owned(),
                    scalar => scalar.to_string(),
                };
                let written = self.source_of(span);
                let mut path = self.path();
                path.push(Seg::Key(written.clone()));
                let problem = match other {
                    Json::Array(_) | Json::Object(_) => Problem::key(
                        &path,
                        format!("expected a string key, found {shown} (through an alias)"),
                    ),
                    _ => Problem::key(&path, format!("expected a string key, found {shown}"))
                        .with_help(Some(format!("quote it: \"{}\"", shorten(&written)))),
                };
                self.report(problem, span);
                Pending::Skip
            }
            Err(problem) => {
                let mut path = self.path();
                path.push(Seg::Key(self.source_of(span)));
                let problem = self.scalar_problem(problem, &path, span);
                self.report(problem, span);
                Pending::Skip
            }
        };
        self.set_pending(pending);
    }

    fn duplicate(&mut self, key: String, span: Span) {
        let mut path = self.path();
        path.push(Seg::Key(key.clone()));
        let problem = Problem::key(
            &path,
            format!("expected each key once, found \"{}\" again", shorten(&key)),
        )
        .with_help(Some("remove or merge the repeated key".to_owned()));
        self.report(problem, span);
    }

    fn scalar_problem(&self, problem: ScalarProblem, path: &[Seg], span: Span) -> Problem {
        let written = shorten(&self.source_of(span)).into_owned();
        match problem {
            ScalarProblem::Tag(tag) => Problem::value(
                path,
                format!("expected a plain value, found a YAML tag `{tag}`"),
            )
            .with_help(Some("remove the tag; a spec uses no tags".to_owned())),
            ScalarProblem::NotOfTag(tag) => Problem::value(
                path,
                format!("expected a value of YAML type `{tag}`, found `{written}`"),
            ),
            ScalarProblem::NotFinite => {
                Problem::value(path, format!("expected a finite number, found {written}"))
            }
        }
    }

    fn expects_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame {
                kind: Kind::Map(_, Pending::Key),
                ..
            })
        )
    }

    fn set_pending(&mut self, next: Pending) {
        if let Some(Frame {
            kind: Kind::Map(_, pending),
            ..
        }) = self.stack.last_mut()
        {
            *pending = next;
        }
    }

    /// The path of the node being read (computed only for problems: the clean path never pays).
    fn path(&self) -> Vec<Seg> {
        let mut path = Vec::new();
        for frame in &self.stack {
            match &frame.kind {
                Kind::Seq(items) => path.push(Seg::Index(items.len())),
                Kind::Map(_, Pending::Value(key, _)) => path.push(Seg::Key(key.clone())),
                Kind::Map(..) => {}
            }
        }
        // The innermost frame's segment is the node being read only if it is a value already
        // named; a mapping waiting for a key adds nothing.
        path
    }

    fn offsets(&self) -> &CharOffsets {
        self.offsets.get_or_init(|| CharOffsets::new(self.text))
    }

    /// The bytes of a saphyr span.
    pub(super) fn byte_span(&self, span: Span) -> ByteSpan {
        let offsets = self.offsets();
        let start = offsets.byte(span.start.index());
        let end = offsets.byte(span.end.index()).max(start);
        (start, end - start)
    }

    /// The text a span covers, as written.
    fn source_of(&self, span: Span) -> String {
        let (start, len) = self.byte_span(span);
        self.text[start..start + len].to_owned()
    }

    fn report(&mut self, problem: Problem, span: Span) {
        let at = self.byte_span(span);
        self.problems.push(problem.at(at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Result<Json, Stop>, Vec<String>) {
        let mut reader = Reader::new(text, 100);
        let result = reader.read();
        let problems = reader
            .problems
            .iter()
            .map(|p| {
                let (offset, len) = p.at.unwrap_or_default();
                format!(
                    "{}@{}: {}",
                    super::super::locate::dotted(&p.path),
                    &text[offset..offset + len],
                    p.message
                )
            })
            .collect();
        (result, problems)
    }

    #[track_caller]
    fn clean(text: &str, expected: Json) {
        let (result, problems) = read(text);
        assert_eq!(problems, Vec::<String>::new(), "{text:?}");
        assert_eq!(result, Ok(expected), "{text:?}");
    }

    #[track_caller]
    fn problems(text: &str) -> Vec<String> {
        let (_, problems) = read(text);
        assert!(!problems.is_empty(), "no problem found in {text:?}");
        problems
    }

    #[test]
    fn reads_documents_as_json() {
        use serde_json::json;
        clean(
            "a: [1, x, true, 2.5]\nb: ~\n",
            json!({"a": [1, "x", true, 2.5], "b": null}),
        );
        clean(
            "- 1\n- [2, [3, {a: b}]]\n- {}\n- []\n",
            json!([1, [2, [3, {"a": "b"}]], {}, []]),
        );
        clean("---\na: 1\n...\n", json!({"a": 1}));
        clean("plain multi\n  line\n", json!("plain multi line"));
        clean("", Json::Null);
        clean("# only a comment\n", Json::Null);
        clean(
            "s: |\n  one\n  two\n\nf: >-\n  folded\n  text\n\nq: \"a\\tb\\u00e9\"\nr: 'it''s'\n",
            json!({"s": "one\ntwo\n", "f": "folded text", "q": "a\tbé", "r": "it's"}),
        );
        clean(
            "k:\n  a: \n  'true': 1\n  \"1\": 2\n  \"null\": 3\n  \"<<\": 4\n",
            json!({"k": {"a": null, "true": 1, "1": 2, "null": 3, "<<": 4}}),
        );
        // Core-schema tags are the types they name; `!!str 1` is the string "1". saphyr lets
        // quotes win over a tag (`!!int "7"` is the string "7").
        clean(
            "a: !!str 1\nb: !!int \"7\"\nc: !!map {x: 1}\nd: !!seq [1]\n",
            json!({"a": "1", "b": "7", "c": {"x": 1}, "d": [1]}),
        );
        // Tabs are fine as separation inside a line.
        clean(
            "a: 1\t# note\nb: [x,\ty]\n",
            json!({"a": 1, "b": ["x", "y"]}),
        );
    }

    #[test]
    fn aliases_repeat_their_anchor() {
        use serde_json::json;
        clean(
            "base: &b {os_type: Linux, features: [A, B]}\nx: *b\ny: [*b, *b]\n",
            json!({
                "base": {"os_type": "Linux", "features": ["A", "B"]},
                "x": {"os_type": "Linux", "features": ["A", "B"]},
                "y": [{"os_type": "Linux", "features": ["A", "B"]}, {"os_type": "Linux", "features": ["A", "B"]}],
            }),
        );
        clean("a: &s plain\nb: *s\n", json!({"a": "plain", "b": "plain"}));
        clean("&k key: 1\nother: *k\n", json!({"key": 1, "other": "key"}));
    }

    #[test]
    fn reports_every_repeated_key_at_its_second_occurrence() {
        assert_eq!(
            problems("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n"),
            [
                "b.c@c: expected each key once, found \"c\" again",
                "a@a: expected each key once, found \"a\" again",
            ]
        );
    }

    #[test]
    fn reports_keys_that_are_not_strings() {
        assert_eq!(
            problems("images:\n  1: {}\n  true: x\n  ~: y\n  ? [a]\n  : z\n  web: ok\n"),
            [
                "images.1@1: expected a string key, found 1",
                "images.true@true: expected a string key, found true",
                "images.~@~: expected a string key, found null",
                "images@: expected string keys, found a list or mapping used as a key",
            ]
        );
    }

    #[test]
    fn reports_tags_merge_keys_and_non_finite_numbers() {
        assert_eq!(
            problems(
                "a: !custom x\nb: !!int x\nc: !thing [1]\nd: .inf\ne: [-.Inf, .nan]\nf:\n  <<: {x: 1}\n"
            ),
            [
                "a@!custom x: expected a plain value, found a YAML tag `!custom`",
                "b@!!int x: expected a value of YAML type `!!int`, found `!!int x`",
                "c@: expected a plain value, found a YAML tag `!thing`",
                "d@.inf: expected a finite number, found .inf",
                "e[0]@-.Inf: expected a finite number, found -.Inf",
                "e[1]@.nan: expected a finite number, found .nan",
                "f.<<@<<: expected a key, found a YAML merge key `<<`, which a spec does not support",
            ]
        );
    }

    #[test]
    fn stops_at_a_second_document() {
        let (result, found) = read("a: 1\n---\nb: 2\n");
        assert_eq!(result, Err(Stop::Reported));
        assert_eq!(
            found,
            ["@---: expected a single YAML document, found a second one (`---`)"]
        );
    }

    #[test]
    fn stops_past_the_depth_limit() {
        let (result, _) = {
            let text = format!("{}{}", "[".repeat(5), "]".repeat(5));
            let mut reader = Reader::new(&text, 5);
            (reader.read(), reader.problems)
        };
        assert!(result.is_ok());
        let text = format!("{}{}", "[".repeat(6), "]".repeat(6));
        let mut reader = Reader::new(&text, 5);
        assert_eq!(reader.read(), Err(Stop::Reported));
        assert_eq!(reader.problems.len(), 1);
        assert_eq!(reader.problems[0].at, Some((5, 0)));
    }

    #[test]
    fn stops_alias_bombs_quickly() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let started = std::time::Instant::now();
        let (result, found) = read(&doc);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(result, Err(Stop::Reported));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("a3[3]@*a2: expected aliases to repeat a few nodes"),
            "{found:?}"
        );
    }

    #[test]
    fn stops_at_an_alias_inside_its_own_anchor() {
        let (result, found) = read("a: &x [1, *x]\n");
        assert_eq!(result, Err(Stop::Reported));
        assert_eq!(
            found,
            [
                "a[1]@*x: expected an alias to a finished node, found `*x` inside the node it names, which would repeat forever"
            ]
        );
    }

    #[test]
    fn syntax_errors_stop_with_the_scanner_error() {
        let mut reader = Reader::new("a: [1, 2\nb: 3\n", 100);
        assert!(matches!(reader.read(), Err(Stop::Syntax(_))));
        let mut reader = Reader::new("a: *nowhere\n", 100);
        assert!(matches!(reader.read(), Err(Stop::Syntax(_))));
    }

    #[test]
    fn spans_are_bytes_after_multibyte_text() {
        let text = "# 镜像\na: 1\na: 2\n";
        let (_, found) = read(text);
        assert_eq!(found, ["a@a: expected each key once, found \"a\" again"]);
    }
}
