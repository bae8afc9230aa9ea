//! The general lockfile reader: any YAML spelling of a lockfile (other quoting, key order,
//! comments, flow or block style, CRLF), read with saphyr-parser, with every problem reported at
//! its line and column and the path of the value (`images.web.pins.hk.create_time`).
//!
//! Lockfiles that are byte for byte what imagelock writes take a faster route (`canonical.rs`);
//! this reader decides everything else, and the tests hold the two to the same answers.
//!
//! Only the YAML a lockfile needs is accepted: one document of mappings, lists and scalars. Tags,
//! anchors and aliases, repeated keys, unknown keys and nesting deeper than a lockfile's are
//! errors, so a hostile file cannot expand into something large or mean two things.

use std::collections::BTreeMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::{LOCKFILE_VERSION, LockedImage, Lockfile, Pin};
use crate::spec::{Agreement, Selection};

/// A lockfile nests five levels; anything much deeper is not one.
const MAX_DEPTH: usize = 16;

/// A problem, with the line and column (1-based) it was found at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Problem {
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// Whether `message` already says what to do.
    pub advised: bool,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {} column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Where a node starts.
#[derive(Debug, Clone, Copy)]
struct At {
    line: usize,
    column: usize,
}

impl At {
    fn of(span: &Span) -> Self {
        Self {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }

    fn problem(self, message: String) -> Problem {
        Problem {
            line: self.line,
            column: self.column,
            message,
            advised: false,
        }
    }
}

#[derive(Debug)]
enum Node {
    Scalar {
        value: String,
        plain: bool,
        at: At,
    },
    List {
        items: Vec<Node>,
        at: At,
    },
    Map {
        entries: Vec<(String, At, Node)>,
        at: At,
    },
}

impl Node {
    fn at(&self) -> At {
        match self {
            Node::Scalar { at, .. } | Node::List { at, .. } | Node::Map { at, .. } => *at,
        }
    }

    fn kind(&self) -> String {
        match self {
            Node::Scalar {
                plain: true, value, ..
            } if is_null(value) => "null".into(),
            Node::Scalar { value, .. } => format!("`{}`", super::format::shorten(value)),
            Node::List { .. } => "a list".into(),
            Node::Map { .. } => "a mapping".into(),
        }
    }
}

/// YAML 1.2 core schema nulls.
fn is_null(plain: &str) -> bool {
    matches!(plain, "" | "~" | "null" | "Null" | "NULL")
}

/// Reads `text` (without a byte-order mark) as a lockfile; `Ok(None)` for an empty document.
pub(super) fn read(text: &str) -> Result<Option<Lockfile>, Problem> {
    let Some(root) = tree(text)? else {
        return Ok(None);
    };
    document(root).map(Some)
}

/// The single document of `text` as a tree, `None` when it has no content.
fn tree(text: &str) -> Result<Option<Node>, Problem> {
    enum Open {
        List(Vec<Node>, At),
        Map(Vec<(String, At, Node)>, Option<(String, At)>, At),
    }
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut root = None;
    let mut documents = 0;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|err| Problem {
            line: err.marker().line(),
            column: err.marker().col() + 1,
            message: format!("is not valid YAML: {}", err.info()),
            advised: false,
        })?;
        let at = At::of(&span);
        let node = match event {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => continue,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(
                        at.problem("holds several YAML documents; a lockfile is one".into())
                    );
                }
                continue;
            }
            Event::Alias(_) => {
                return Err(at.problem("uses a YAML alias (`*name`); lockfiles have none".into()));
            }
            Event::Scalar(value, style, anchor, tag) => {
                refuse_anchor_and_tag(anchor, tag.is_some(), at)?;
                Node::Scalar {
                    plain: matches!(style, ScalarStyle::Plain),
                    value: value.into_owned(),
                    at,
                }
            }
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                refuse_anchor_and_tag(anchor, tag.is_some(), at)?;
                if stack.len() >= MAX_DEPTH {
                    return Err(at.problem(format!(
                        "is not a lockfile: nested more than {MAX_DEPTH} levels deep"
                    )));
                }
                if let Some(Open::Map(_, None, _)) = stack.last() {
                    return Err(at.problem(
                        "has a list or mapping as a key; lockfile keys are names".into(),
                    ));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Open::List(Vec::new(), at)
                } else {
                    Open::Map(Vec::new(), None, at)
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Open::List(items, at)) => Node::List { items, at },
                _ => unreachable!("the parser balances sequences"),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map(entries, _, at)) => Node::Map { entries, at },
                _ => unreachable!("the parser balances mappings"),
            },
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Open::List(items, _)) => items.push(node),
            Some(Open::Map(entries, key, _)) => match key.take() {
                Some((key, key_at)) => {
                    if let Some((_, first, _)) = entries.iter().find(|(k, _, _)| *k == key) {
                        return Err(key_at.problem(format!(
                            "key `{}` appears twice (first at line {})",
                            super::format::shorten(&key),
                            first.line
                        )));
                    }
                    entries.push((key, key_at, node));
                }
                None => match node {
                    Node::Scalar { value, plain, at } => {
                        if plain && is_null(&value) {
                            return Err(at.problem("has an empty (null) key".into()));
                        }
                        *key = Some((value, at));
                    }
                    _ => unreachable!("collection keys are refused when they start"),
                },
            },
        }
    }
    Ok(root.filter(
        |node| !matches!(node, Node::Scalar { plain: true, value, .. } if value.is_empty()),
    ))
}

fn refuse_anchor_and_tag(anchor: usize, tagged: bool, at: At) -> Result<(), Problem> {
    if anchor != 0 {
        return Err(at.problem("uses a YAML anchor (`&name`); lockfiles have none".into()));
    }
    if tagged {
        return Err(at.problem("uses a YAML tag (`!name`); lockfiles have none".into()));
    }
    Ok(())
}

/// The keys of a mapping, each at most once, checked against the known ones.
struct Fields {
    path: String,
    at: At,
    entries: Vec<(String, At, Node)>,
}

impl Fields {
    fn of(node: Node, path: &str, known: &[&str]) -> Result<Self, Problem> {
        let Node::Map { entries, at } = node else {
            return Err(node.at().problem(format!(
                "{}expected a mapping, found {}",
                prefix(path),
                node.kind()
            )));
        };
        if let Some((key, key_at, _)) = entries
            .iter()
            .find(|(k, _, _)| !known.contains(&k.as_str()))
        {
            return Err(key_at.problem(format!(
                "{}unknown key `{}` (expected {})",
                prefix(path),
                super::format::shorten(key),
                known.join(", ")
            )));
        }
        Ok(Self {
            path: path.to_string(),
            at,
            entries,
        })
    }

    fn take(&mut self, key: &str) -> Option<(Node, String)> {
        let index = self.entries.iter().position(|(k, _, _)| k == key)?;
        let (_, _, node) = self.entries.swap_remove(index);
        Some((node, self.child(key)))
    }

    fn required(&mut self, key: &str) -> Result<(Node, String), Problem> {
        let at = self.at;
        let path = self.path.clone();
        self.take(key)
            .ok_or_else(|| at.problem(format!("{}missing key `{key}`", prefix(&path))))
    }

    fn child(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }
}

/// `path: ` before a message about the value at `path`, nothing at the top level.
fn prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

fn document(root: Node) -> Result<Lockfile, Problem> {
    if !matches!(root, Node::Map { .. }) {
        return Err(root.at().problem(format!(
            "is not a lockfile (expected `version: {LOCKFILE_VERSION}` and `images:` at the top level, found {})",
            root.kind()
        )));
    }
    let mut top = Fields::of(root, "", &["version", "images"])?;
    let at = top.at;
    let Some((version, _)) = top.take("version") else {
        return Err(at.problem(format!(
            "has no `version` (expected `version: {LOCKFILE_VERSION}`)"
        )));
    };
    let number = match &version {
        Node::Scalar {
            value, plain: true, ..
        } => value.parse::<u64>().ok(),
        _ => None,
    };
    let shown = match &version {
        Node::Scalar {
            value, plain: true, ..
        } => super::format::shorten(value),
        Node::Scalar { value, .. } => format!("'{}'", super::format::shorten(value)),
        other => other.kind(),
    };
    super::format::check_version(number, || shown).map_err(|message| Problem {
        advised: true,
        ..version.at().problem(message)
    })?;
    let (images, path) = top.required("images")?;
    let Node::Map { entries, .. } = images else {
        return Err(images.at().problem(format!(
            "{path}: expected a mapping of entries, found {}",
            images.kind()
        )));
    };
    let mut lock = Lockfile::default();
    for (name, _, node) in entries {
        let entry = entry(node, &format!("images.{}", super::format::shorten(&name)))?;
        lock.images.insert(name, entry);
    }
    Ok(lock)
}

fn entry(node: Node, path: &str) -> Result<LockedImage, Problem> {
    let mut fields = Fields::of(
        node,
        path,
        &["digest", "select", "agree", "checksum", "pins"],
    )?;
    let digest = string(fields.required("digest")?)?;
    let select = match fields.take("select") {
        Some(found) => optional(found, |node, path| {
            word(
                node,
                &path,
                &["newest", "oldest", "highest_version", "only"],
            )
            .map(|w| match w {
                "newest" => Selection::Newest,
                "oldest" => Selection::Oldest,
                "highest_version" => Selection::HighestVersion,
                _ => Selection::Only,
            })
        })?,
        None => None,
    };
    let agree = match fields.take("agree") {
        Some(found) => optional(found, |node, path| {
            word(node, &path, &["version"]).map(|_| Agreement::Version)
        })?,
        None => None,
    };
    let checksum = match fields.take("checksum") {
        Some(found) => optional(found, |node, path| string((node, path)))?,
        None => None,
    };
    let (pins_node, pins_path) = fields.required("pins")?;
    let Node::Map { entries, .. } = pins_node else {
        return Err(pins_node.at().problem(format!(
            "{pins_path}: expected a mapping of regions to pins, found {}",
            pins_node.kind()
        )));
    };
    let mut pins = BTreeMap::new();
    for (region, _, node) in entries {
        let pin = pin(
            node,
            &format!("{pins_path}.{}", super::format::shorten(&region)),
        )?;
        pins.insert(region, pin);
    }
    Ok(LockedImage {
        digest,
        select,
        agree,
        checksum,
        pins,
    })
}

const PIN_KEYS: &[&str] = &[
    "image_id",
    "image_name",
    "os_name",
    "os_type",
    "image_type",
    "create_time",
    "features",
    "maintain_eol",
    "project_id",
];

fn pin(node: Node, path: &str) -> Result<Pin, Problem> {
    let mut fields = Fields::of(node, path, PIN_KEYS)?;
    let image_id = string(fields.required("image_id")?)?;
    let image_name = string(fields.required("image_name")?)?;
    let os_name = string(fields.required("os_name")?)?;
    let os_type = string(fields.required("os_type")?)?;
    let image_type = string(fields.required("image_type")?)?;
    let create_time = integer(fields.required("create_time")?)?;
    let (features_node, features_path) = fields.required("features")?;
    let Node::List { items, .. } = features_node else {
        return Err(features_node.at().problem(format!(
            "{features_path}: expected a list of names, found {}",
            features_node.kind()
        )));
    };
    let features = items
        .into_iter()
        .enumerate()
        .map(|(n, item)| string((item, format!("{features_path}[{n}]"))))
        .collect::<Result<_, _>>()?;
    let maintain_eol = match fields.take("maintain_eol") {
        Some(found) => optional(found, |node, path| string((node, path)))?,
        None => None,
    };
    let project_id = match fields.take("project_id") {
        Some(found) => optional(found, |node, path| string((node, path)))?,
        None => None,
    };
    Ok(Pin {
        image_id,
        image_name,
        os_name,
        os_type,
        image_type,
        create_time,
        features,
        maintain_eol,
        project_id,
    })
}

/// An optional key written as null is the same as an absent one.
fn optional<T>(
    (node, path): (Node, String),
    read: impl FnOnce(Node, String) -> Result<T, Problem>,
) -> Result<Option<T>, Problem> {
    match &node {
        Node::Scalar {
            value, plain: true, ..
        } if is_null(value) => Ok(None),
        _ => read(node, path).map(Some),
    }
}

/// Any scalar but a null, as its text: `image_name: 2024` is the name "2024".
fn string((node, path): (Node, String)) -> Result<String, Problem> {
    match node {
        Node::Scalar { value, plain, .. } if !(plain && is_null(&value)) => Ok(value),
        other => Err(other
            .at()
            .problem(format!("{path}: expected a string, found {}", other.kind()))),
    }
}

fn integer((node, path): (Node, String)) -> Result<i64, Problem> {
    if let Node::Scalar {
        value, plain: true, ..
    } = &node
        && let Ok(number) = value.parse::<i64>()
    {
        return Ok(number);
    }
    Err(node.at().problem(format!(
        "{path}: expected a whole number (seconds since 1970-01-01), found {}",
        node.kind()
    )))
}

fn word<'a>(node: Node, path: &str, words: &[&'a str]) -> Result<&'a str, Problem> {
    if let Node::Scalar { value, .. } = &node
        && let Some(word) = words.iter().find(|w| **w == value.as_str())
    {
        return Ok(word);
    }
    Err(node.at().problem(format!(
        "{path}: expected one of {}, found {}",
        words.join(", "),
        node.kind()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(id: &str, name: &str, time: i64, features: &[&str]) -> Pin {
        Pin {
            image_id: id.into(),
            image_name: name.into(),
            os_name: name.into(),
            os_type: "Linux".into(),
            image_type: "Base".into(),
            create_time: time,
            features: features.iter().map(|f| f.to_string()).collect(),
            maintain_eol: None,
            project_id: None,
        }
    }

    /// What the fixtures below mean, built by hand rather than by any reader or renderer.
    fn expected() -> Lockfile {
        let mut web_pins = BTreeMap::new();
        let mut bj = pin(
            "uimage-rez4c3an",
            "Ubuntu 22.04 64位",
            1_669_199_665,
            &["IPv6", "CloudInit"],
        );
        bj.maintain_eol = Some("2027-04-30".into());
        web_pins.insert("cn-bj2".to_string(), bj);
        let mut hk = pin("uimage-hk22", "yes", 1_700_000_000, &[]);
        hk.project_id = Some("org-a".into());
        hk.os_name = "22.04".into();
        web_pins.insert("hk".to_string(), hk);
        let mut lock = Lockfile::default();
        lock.images.insert(
            "web".into(),
            LockedImage {
                digest: format!("sha256:{}", "5".repeat(64)),
                select: Some(Selection::HighestVersion),
                agree: Some(Agreement::Version),
                checksum: Some(format!("sha256:{}", "c".repeat(64))),
                pins: web_pins,
            },
        );
        lock.images.insert(
            "123".into(),
            LockedImage {
                digest: format!("sha256:{}", "a".repeat(64)),
                select: None,
                agree: None,
                checksum: None,
                pins: [(
                    "sg".to_string(),
                    pin("uimage-sg", "a: b #c", -5, &["a, b", "it's"]),
                )]
                .into_iter()
                .collect(),
            },
        );
        lock
    }

    /// The same lockfile in block style with comments, other quoting and key order.
    const BLOCK: &str = r#"# written by a person, in another order
images:
  # the web tier
  web:
    pins:
      hk:
        features: []
        project_id: "org-a"
        create_time: 1700000000
        image_type: Base
        os_type: "Linux"
        os_name: '22.04'
        image_name: "yes"   # a string, not a boolean
        image_id: uimage-hk22
      cn-bj2:
        image_id: 'uimage-rez4c3an'
        image_name: "Ubuntu 22.04 64\u4f4d"
        os_name: Ubuntu 22.04 64位
        os_type: Linux
        image_type: Base
        create_time: 1669199665
        features:
          - IPv6
          - "CloudInit"
        maintain_eol: 2027-04-30
    checksum: "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
    agree: version
    select: 'highest_version'
    digest: sha256:5555555555555555555555555555555555555555555555555555555555555555
  '123':
    digest: "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    select: ~
    pins: {sg: {image_id: uimage-sg, image_name: 'a: b #c', os_name: "a: b #c", os_type: Linux,
                image_type: Base, create_time: -5, features: ['a, b', "it's"], maintain_eol: null}}
version: 2
"#;

    /// The same again in flow style, Windows line endings.
    fn flow() -> String {
        let text = format!(
            "{{version: 2, images: {{123: {{pins: {{sg: {{image_id: uimage-sg, image_name: \"a: b #c\", \
             os_name: 'a: b #c', os_type: Linux, image_type: Base, create_time: -5, features: [\"a, b\", 'it''s']}}}}, \
             digest: 'sha256:{a}'}}, web: {{digest: sha256:{five}, select: highest_version, agree: version, \
             checksum: sha256:{c}, pins: {{cn-bj2: {{image_id: uimage-rez4c3an, image_name: Ubuntu 22.04 64位, \
             os_name: Ubuntu 22.04 64位, os_type: Linux, image_type: Base, create_time: 1669199665, \
             features: [IPv6, CloudInit], maintain_eol: '2027-04-30'}},\n hk: {{image_id: uimage-hk22, image_name: 'yes', \
             os_name: \"22.04\", os_type: Linux, image_type: Base, create_time: 1700000000, features: [], \
             project_id: org-a}}}}}}}}}}\n",
            a = "a".repeat(64),
            five = "5".repeat(64),
            c = "c".repeat(64),
        );
        text.replace('\n', "\r\n")
    }

    #[test]
    fn reads_any_spelling_of_the_same_lockfile() {
        assert_eq!(read(BLOCK).unwrap(), Some(expected()));
        assert_eq!(read(&flow()).unwrap(), Some(expected()));
    }

    #[test]
    fn agrees_with_the_fast_path_on_what_imagelock_writes() {
        let mut lock = expected();
        for entry in lock.images.values_mut() {
            entry.seal();
        }
        let text = super::super::format::render(&lock);
        let fast = super::super::canonical::read(&text).expect("the fast path takes rendered text");
        assert_eq!(read(&text).unwrap(), Some(fast.clone()));
        // Features come back sorted, as rendered; everything else as it was.
        for entry in lock.images.values_mut() {
            for pin in entry.pins.values_mut() {
                pin.features.sort();
            }
        }
        assert_eq!(fast, lock);
    }

    #[test]
    fn version_1_has_none_of_the_new_keys() {
        let text = "version: 1\nimages:\n  web:\n    digest: sha256:5555555555555555555555555555555555555555555555555555555555555555\n    pins: {}\n";
        let lock = read(text).unwrap().unwrap();
        let web = &lock.images["web"];
        assert_eq!(
            (web.select, web.agree, web.checksum.as_deref()),
            (None, None, None)
        );
    }

    #[test]
    fn refuses_aliases_and_deep_nesting() {
        let alias = "version: 2\nimages:\n  a: &x {digest: d, pins: {}}\n  b: *x\n";
        assert!(read(alias).unwrap_err().message.contains("anchor"));
        let alias_only = "version: 2\nimages:\n  b: *x\n";
        assert!(read(alias_only).is_err());
        let deep = format!("version: 2\nimages: {}{}\n", "[".repeat(40), "]".repeat(40));
        let err = read(&deep).unwrap_err();
        assert!(err.message.contains("nested more than 16 levels"), "{err}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// On any rendered lockfile, the fast path and this reader give the same lockfile.
        #[test]
        fn the_fast_path_never_disagrees(
            name in proptest::prelude::any::<String>(),
            feature in "\\PC{0,12}",
            region in "[a-z0-9-]{1,12}",
            entry_name in "\\PC{1,12}",
            eol in proptest::option::of("20[0-9]{2}-0[1-9]-[12][0-9]"),
        ) {
            let mut p = pin("uimage-x", &name, 1, &[&feature, "IPv6"]);
            p.maintain_eol = eol;
            let mut entry = LockedImage {
                digest: format!("sha256:{}", "c".repeat(64)),
                select: Some(Selection::Oldest),
                agree: None,
                checksum: None,
                pins: [(region, p)].into_iter().collect(),
            };
            entry.seal();
            let mut lock = Lockfile::default();
            lock.images.insert(entry_name, entry);
            let text = super::super::format::render(&lock);
            let general = read(&text).map_err(|e| e.to_string());
            proptest::prop_assert_eq!(general.clone().map(Option::unwrap), super::super::canonical::read(&text).ok_or("fast path refused".to_string()), "{}", text);
        }
    }
}
