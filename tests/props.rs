//! Property tests: the two parsers of committed files never panic, whatever they are given.
//! Random bytes find crashes in the byte handling; YAML-ish documents built from the spec's and
//! the lockfile's own vocabulary get past the YAML layer and reach the schema, semantic and
//! lockfile checks. Case counts stay modest so CI stays fast; `fuzz/` goes further.

use std::path::Path;

use imagelock::lockfile::Lockfile;
use proptest::prelude::*;

/// Words that make a document look like a spec or a lockfile to the checks behind the parser.
const WORDS: &[&str] = &[
    "version",
    "images",
    "defaults",
    "region",
    "regions",
    "zone",
    "project_id",
    "filters",
    "select",
    "os_type",
    "image_type",
    "func_type",
    "image_id",
    "state",
    "name",
    "os_name",
    "vendor",
    "features",
    "all",
    "any",
    "none",
    "scene_categories",
    "supported_gpu_types",
    "created_after",
    "created_before",
    "max_age",
    "not_eol",
    "newest",
    "oldest",
    "highest_version",
    "only",
    "Linux",
    "Windows",
    "Base",
    "Custom",
    "gpu",
    "Available",
    "web",
    "cn-bj2",
    "hk",
    "cn-bj2-04",
    "1",
    "2",
    "0",
    "-1",
    "true",
    "null",
    "~",
    "90d",
    ">=22.04, <24",
    "2024-01-01",
    "^Ubuntu",
    "(",
    "[a-",
    "IPv6",
    "digest",
    "pins",
    "sha256:",
    "image_name",
    "create_time",
    "uimage-abc",
    "<<",
    "&a",
    "*a",
    "!tag",
    "\"",
    "'",
    "\u{feff}",
    "é",
    "位",
];

const PUNCTUATION: &[&str] = &[
    ": ", ":", "\n", "\n  ", "\n    ", "\n      ", "- ", "[", "]", "{", "}", ", ", "# ", " ",
    "---\n", "|\n  ", "? ",
];

/// A document stitched from spec words and YAML punctuation: mostly well-formed enough to parse.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        3 => proptest::sample::select(WORDS).prop_map(str::to_owned),
        2 => proptest::sample::select(PUNCTUATION).prop_map(str::to_owned),
        1 => "[ -~]{0,12}",
    ];
    proptest::collection::vec(token, 0..80).prop_map(|tokens| tokens.concat())
}

/// A structurally valid spec with random values in every slot.
fn spec_shaped() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        proptest::sample::select(WORDS).prop_map(str::to_owned),
        "[ -~]{0,16}".prop_map(|s| format!("{s:?}")),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
    ];
    (
        proptest::sample::select(WORDS),
        proptest::collection::vec((proptest::sample::select(WORDS), value.clone()), 0..8),
        value,
    )
        .prop_map(|(entry, filters, region)| {
            let mut text = format!("version: 1\nimages:\n  {entry}:\n    region: {region}\n");
            if !filters.is_empty() {
                text.push_str("    filters:\n");
                for (key, value) in filters {
                    text.push_str(&format!("      {key}: {value}\n"));
                }
            }
            text
        })
}

/// A lockfile with one random line changed: the common damage from hand edits and bad merges.
fn damaged_lockfile() -> impl Strategy<Value = String> {
    let example = include_str!("../examples/imagelock.lock");
    let lines: Vec<String> = example.lines().map(str::to_owned).collect();
    let count = lines.len();
    (0..count, yamlish()).prop_map(move |(at, replacement)| {
        let mut lines = lines.clone();
        lines[at] = replacement;
        lines.join("\n")
    })
}

fn spec(text: &str) {
    let _ = imagelock::spec::parse(text, Path::new("imagelock.yaml"));
}

fn lockfile(text: &str) {
    let path = Path::new("imagelock.lock");
    if let Ok(lock) = Lockfile::parse(text, path) {
        // Whatever parses renders to canonical text that parses and renders to itself (rendering
        // sorts and dedupes hand-edited feature lists, so the value itself may change once).
        let rendered = lock.render();
        let again = Lockfile::parse(&rendered, path).expect("a rendered lockfile parses");
        assert_eq!(again.render(), rendered);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn spec_parse_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        spec(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn spec_parse_never_panics_on_yamlish_text(text in yamlish()) {
        spec(&text);
    }

    #[test]
    fn spec_parse_never_panics_on_spec_shaped_text(text in spec_shaped()) {
        spec(&text);
    }

    #[test]
    fn lockfile_parse_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        lockfile(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn lockfile_parse_never_panics_on_yamlish_text(text in yamlish()) {
        lockfile(&text);
    }

    #[test]
    fn lockfile_parse_never_panics_on_a_damaged_lockfile(text in damaged_lockfile()) {
        lockfile(&text);
    }
}

/// Not random, but the same promise: the example spec and lockfile parse, so the strategies
/// above start from real documents.
#[test]
fn the_examples_parse() {
    imagelock::spec::parse(
        include_str!("../examples/imagelock.yaml"),
        Path::new("x.yaml"),
    )
    .expect("example spec");
    Lockfile::parse(
        include_str!("../examples/imagelock.lock"),
        Path::new("x.lock"),
    )
    .expect("example lockfile");
}
