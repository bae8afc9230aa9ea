//! Where each key and value of a YAML document sits in the source.
//!
//! The checks after the YAML reader (schema, semantic) name problems by path, and the JSON value
//! they check keeps no positions, so a failing spec is read a second time with `saphyr-parser`,
//! whose events carry spans, to build an index from paths (`images.web.filters.os_type`) to the
//! byte spans of keys and values. Only failing specs pay for it.

use std::collections::HashMap;
use std::fmt::Write as _;

use saphyr_parser::{Event, Parser, Span};

use super::diagnostic::Part;

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(key: &str) -> Self {
        Seg::Key(key.to_owned())
    }
}

/// `images.web.filters.os_type`, `images.gpu.regions[1]`; a long key is shortened as values are
/// in messages.
pub fn dotted(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&super::diagnostic::shorten(key));
            }
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

/// A byte offset and length.
pub type ByteSpan = (usize, usize);

#[derive(Debug, Clone, Copy, Default)]
struct NodeSpans {
    key: Option<ByteSpan>,
    value: Option<ByteSpan>,
}

/// Paths → spans of one document.
#[derive(Debug, Default)]
pub struct Index {
    nodes: HashMap<Vec<Seg>, NodeSpans>,
    /// Where the document's content starts, for problems about the document as a whole.
    document_start: usize,
}

impl Index {
    /// Indexes the first document of `text`. A syntax error ends indexing early; what was seen
    /// before it stays usable.
    pub fn build(text: &str) -> Self {
        let offsets = CharOffsets::new(text);
        let mut walker = Walker {
            index: Index::default(),
            stack: Vec::new(),
            offsets,
            done: false,
        };
        let mut parser = Parser::new_from_str(text);
        while !walker.done {
            match parser.next_event() {
                Some(Ok((event, span))) => walker.on_event(event, span),
                Some(Err(_)) | None => break,
            }
        }
        walker.index
    }

    /// The span of a key or value; a path that is not in the document (a missing key, a value
    /// inside an alias) falls back to its nearest ancestor that is.
    pub fn span_of(&self, path: &[Seg], part: Part) -> ByteSpan {
        for len in (0..=path.len()).rev() {
            let Some(node) = self.nodes.get(&path[..len]) else {
                continue;
            };
            let exact = len == path.len();
            let span = match (part, exact) {
                (Part::Key, true) => node.key.or(node.value),
                // An ancestor stands in for a missing node: point at its key, which is on one line.
                (_, false) => node.key.or(node.value),
                (Part::Value, true) => node.value.or(node.key),
            };
            if let Some(span) = span {
                return span;
            }
        }
        (self.document_start, 0)
    }

    /// Whether the document has this path.
    #[cfg(test)]
    pub fn contains(&self, path: &[Seg]) -> bool {
        self.nodes.contains_key(path)
    }
}

enum Frame {
    Map {
        path: Vec<Seg>,
        pending_key: Option<Seg>,
    },
    Seq {
        path: Vec<Seg>,
        next: usize,
    },
}

/// What a node is to its parent.
enum Role {
    Key,
    Value(Vec<Seg>),
}

struct Walker {
    index: Index,
    stack: Vec<Frame>,
    offsets: CharOffsets,
    done: bool,
}

impl Walker {
    fn on_event(&mut self, event: Event<'_>, span: Span) {
        let bytes = self.byte_span(span);
        match event {
            Event::Scalar(text, ..) => match self.role() {
                Role::Key => self.on_key(&text, bytes),
                Role::Value(path) => self.on_value(path, bytes),
            },
            Event::Alias(_) => match self.role() {
                Role::Key => self.on_key("*alias", bytes),
                Role::Value(path) => self.on_value(path, bytes),
            },
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let path = match self.role() {
                    Role::Key => {
                        // A mapping or list used as a key: the reader reports it; keep walking.
                        self.on_key("<complex key>", bytes);
                        vec![Seg::from("<complex key>")]
                    }
                    Role::Value(path) => {
                        self.on_value(path.clone(), (bytes.0, 0));
                        path
                    }
                };
                let frame = if matches!(event, Event::MappingStart(..)) {
                    Frame::Map {
                        path,
                        pending_key: None,
                    }
                } else {
                    Frame::Seq { path, next: 0 }
                };
                self.stack.push(frame);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                if self.stack.is_empty() {
                    self.done = true;
                }
            }
            Event::DocumentEnd | Event::StreamEnd => self.done = true,
            Event::StreamStart | Event::DocumentStart(_) | Event::Nothing => {}
        }
    }

    fn role(&mut self) -> Role {
        match self.stack.last_mut() {
            None => Role::Value(Vec::new()),
            Some(Frame::Map {
                path, pending_key, ..
            }) => match pending_key.take() {
                None => Role::Key,
                Some(key) => {
                    let mut child = path.clone();
                    child.push(key);
                    Role::Value(child)
                }
            },
            Some(Frame::Seq { path, next }) => {
                let mut child = path.clone();
                child.push(Seg::Index(*next));
                *next += 1;
                Role::Value(child)
            }
        }
    }

    fn on_key(&mut self, key: &str, bytes: ByteSpan) {
        let Some(Frame::Map { path, pending_key }) = self.stack.last_mut() else {
            return;
        };
        let mut child = path.clone();
        child.push(Seg::from(key));
        *pending_key = Some(Seg::from(key));
        // A repeated key (which the reader reports) keeps the span of its first occurrence.
        let node = self.index.nodes.entry(child).or_default();
        if node.key.is_none() {
            node.key = Some(bytes);
        }
    }

    fn on_value(&mut self, path: Vec<Seg>, bytes: ByteSpan) {
        if path.is_empty() {
            self.index.document_start = bytes.0;
        }
        let node = self.index.nodes.entry(path).or_default();
        // The first occurrence of a duplicated key keeps its value's span.
        if node.value.is_none() {
            node.value = Some(bytes);
        }
    }

    fn byte_span(&self, span: Span) -> ByteSpan {
        let start = self.offsets.byte(span.start.index());
        let end = self.offsets.byte(span.end.index()).max(start);
        (start, end - start)
    }
}

/// saphyr counts in characters; miette and slicing need bytes.
pub(super) struct CharOffsets {
    /// Byte offset of every character, plus the end; empty when the text is ASCII.
    table: Vec<usize>,
    len: usize,
}

impl CharOffsets {
    pub(super) fn new(text: &str) -> Self {
        let table = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(text.len()))
                .collect()
        };
        Self {
            table,
            len: text.len(),
        }
    }

    pub(super) fn byte(&self, char_index: usize) -> usize {
        if self.table.is_empty() {
            char_index.min(self.len)
        } else {
            self.table.get(char_index).copied().unwrap_or(self.len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> Vec<Seg> {
        text.split('.')
            .filter(|s| !s.is_empty())
            .map(|s| match s.parse::<usize>() {
                Ok(i) => Seg::Index(i),
                Err(_) => Seg::from(s),
            })
            .collect()
    }

    fn text_at(doc: &str, span: ByteSpan) -> &str {
        &doc[span.0..span.0 + span.1]
    }

    const DOC: &str = "version: 1\nimages:\n  web:\n    regions: [cn-bj2, \"hk\"]\n    filters:\n      os_type: linux # comment\n";

    #[test]
    fn finds_keys_and_values() {
        let index = Index::build(DOC);
        let os = path("images.web.filters.os_type");
        assert_eq!(text_at(DOC, index.span_of(&os, Part::Key)), "os_type");
        assert_eq!(text_at(DOC, index.span_of(&os, Part::Value)), "linux");
        let hk = path("images.web.regions.1");
        assert_eq!(text_at(DOC, index.span_of(&hk, Part::Value)), "\"hk\"");
        assert_eq!(
            text_at(DOC, index.span_of(&path("version"), Part::Value)),
            "1"
        );
    }

    #[test]
    fn missing_paths_fall_back_to_the_nearest_ancestor_key() {
        let index = Index::build(DOC);
        let missing = path("images.web.filters.name");
        assert_eq!(
            text_at(DOC, index.span_of(&missing, Part::Value)),
            "filters"
        );
        assert!(!index.contains(&missing));
    }

    #[test]
    fn offsets_are_bytes_even_after_multibyte_text() {
        let doc = "# 镜像\nimages:\n  web: { name: \"Ubuntu 64位\", os_type: x }\n";
        let index = Index::build(doc);
        let span = index.span_of(&path("images.web.os_type"), Part::Value);
        assert_eq!(text_at(doc, span), "x");
    }

    #[test]
    fn a_repeated_key_keeps_its_first_place() {
        let doc = "a: 1\nb:\n  c: 1\n  c: 2\n";
        let index = Index::build(doc);
        let span = index.span_of(&path("b.c"), Part::Key);
        assert_eq!(span.0, doc.find("c").unwrap_or_default());
        assert_eq!(text_at(doc, index.span_of(&path("b.c"), Part::Value)), "1");
    }

    #[test]
    fn dotted_paths() {
        assert_eq!(
            dotted(&path("images.gpu.regions.1")),
            "images.gpu.regions[1]"
        );
        assert_eq!(dotted(&[]), "");
        let long = [Seg::from("images"), Seg::Key("k".repeat(1000))];
        assert_eq!(
            dotted(&long),
            format!("images.{}… (940 more characters)", "k".repeat(60))
        );
    }

    #[test]
    fn broken_documents_keep_what_was_read() {
        let doc = "version: 1\nimages: [\n";
        let index = Index::build(doc);
        assert_eq!(
            text_at(doc, index.span_of(&path("version"), Part::Value)),
            "1"
        );
    }
}
