//! Hostile and broken input, table-driven: every case runs the real binary against the simulator
//! and must exit with the right code, say where the problem is (file:line:col for the spec, the
//! file name for lockfiles and credential files), never panic, print no data on stdout, and leave
//! the lockfile byte for byte as it was.
//!
//! The inputs are files under `tests/bad_input/` (`spec/`, `lock/`, `credentials/`), plus a few
//! generated here because they are too big to commit.

mod common;

use std::path::{Path, PathBuf};

use common::{Project, output_of};

const EXAMPLE_SPEC: &str = include_str!("../examples/imagelock.yaml");
const EXAMPLE_LOCK: &str = include_str!("../examples/imagelock.lock");

/// Where a case's bytes come from.
#[derive(Clone, Copy)]
enum Input {
    /// A file under `tests/bad_input/`.
    File(&'static str),
    /// Built by the test (too big to commit).
    Made(fn() -> Vec<u8>),
    /// The example spec or lockfile, which are valid and agree with each other.
    Example,
    /// The example spec plus one entry, so `lock` must call the API (and needs credentials).
    ExampleNeedingApi,
}

struct Case {
    name: &'static str,
    spec: Input,
    lock: Input,
    /// `UCLOUD_SHARED_CREDENTIAL_FILE` (under `tests/bad_input/credentials/`), replacing the
    /// demo keys in the environment.
    credentials: Option<&'static str>,
    /// `UCLOUD_SHARED_CONFIG_FILE`, likewise.
    config: Option<&'static str>,
    args: &'static [&'static str],
    exit: i32,
    /// Each must appear in stderr.
    expect: &'static [&'static str],
}

impl Case {
    /// A broken spec under `spec/`, run through `lock` (which validates before anything else).
    const fn spec(name: &'static str, expect: &'static [&'static str]) -> Self {
        Case {
            name,
            spec: Input::File(name),
            lock: Input::Example,
            credentials: None,
            config: None,
            args: &["lock"],
            exit: 2,
            expect,
        }
    }

    /// A broken lockfile under `lock/` next to the (valid) example spec.
    const fn lock(
        name: &'static str,
        args: &'static [&'static str],
        expect: &'static [&'static str],
    ) -> Self {
        Case {
            name,
            spec: Input::Example,
            lock: Input::File(name),
            credentials: None,
            config: None,
            args,
            exit: 2,
            expect,
        }
    }

    /// A broken credential file, for a `lock` that has to call the API.
    const fn credentials(name: &'static str, expect: &'static [&'static str]) -> Self {
        Case {
            name,
            spec: Input::ExampleNeedingApi,
            lock: Input::Example,
            credentials: Some(name),
            config: None,
            args: &["lock"],
            exit: 2,
            expect,
        }
    }

    /// Bad command-line values, with a valid spec and lockfile.
    const fn flags(
        name: &'static str,
        args: &'static [&'static str],
        expect: &'static [&'static str],
    ) -> Self {
        Case {
            name,
            spec: Input::ExampleNeedingApi,
            lock: Input::Example,
            credentials: None,
            config: None,
            args,
            exit: 2,
            expect,
        }
    }

    const fn made(mut self, make: fn() -> Vec<u8>) -> Self {
        if matches!(self.lock, Input::File(_)) {
            self.lock = Input::Made(make);
        } else {
            self.spec = Input::Made(make);
        }
        self
    }
}

const CASES: &[Case] = &[
    // --- YAML syntax ---
    Case::spec(
        "syntax_unclosed_flow.yaml",
        &["imagelock.yaml:4:1", "invalid YAML"],
    ),
    Case::spec(
        "syntax_tab_indent.yaml",
        &["imagelock.yaml:3:1", "invalid YAML"],
    ),
    Case::spec(
        "syntax_bad_mapping.yaml",
        &["imagelock.yaml:5:4", "invalid YAML"],
    ),
    Case::spec(
        "syntax_unclosed_quote.yaml",
        // At the opening quote, which is what needs closing.
        &["imagelock.yaml:4:13", "quoted scalar"],
    ),
    Case::spec(
        "two_documents.yaml",
        &["imagelock.yaml:4:1", "single YAML document"],
    ),
    Case::spec(
        "alias_bomb.yaml",
        // At the alias that crosses the limit.
        &[
            "imagelock.yaml:9:26",
            "expected aliases to repeat a few nodes",
        ],
    ),
    Case::spec(
        "undefined_alias.yaml",
        &["imagelock.yaml:4:13", "no anchor `&nowhere`"],
    ),
    Case::spec(
        "duplicate_entry.yaml",
        &["imagelock.yaml:5:3", "found \"web\" again"],
    ),
    Case::spec(
        "duplicate_filter_key.yaml",
        &["imagelock.yaml:7:7", "found \"name\" again"],
    ),
    Case::spec(
        "yaml_tags.yaml",
        &["imagelock.yaml:4:13", "YAML tag `!custom`"],
    ),
    Case::spec(
        "merge_key.yaml",
        &[
            "imagelock.yaml:2:1",
            "imagelock.yaml:6:5",
            "found a YAML merge key `<<`",
        ],
    ),
    // --- document shape ---
    Case::spec(
        "empty.yaml",
        &["imagelock.yaml:1:1", "expected a mapping, found nothing"],
    ),
    Case::spec(
        "only_comments.yaml",
        &["imagelock.yaml:1:1", "found nothing"],
    ),
    Case::spec(
        "top_level_list.yaml",
        &["imagelock.yaml:1:1", "expected a mapping, found a list"],
    ),
    Case::spec(
        "scalar_document.yaml",
        &["imagelock.yaml:1:1", "found \"imagelock please\""],
    ),
    Case::spec(
        "version_2.yaml",
        &["imagelock.yaml:1:10", "version: expected 1, found 2"],
    ),
    Case::spec(
        "version_string.yaml",
        &[
            "1 problem",
            "imagelock.yaml:1:10",
            "expected the number 1, found the string \"1\"",
        ],
    ),
    Case::spec(
        "missing_images.yaml",
        &["imagelock.yaml:1:1", "missing required key \"images\""],
    ),
    Case::spec(
        "empty_images.yaml",
        &["imagelock.yaml:2:9", "at least one entry"],
    ),
    // --- unknown keys and wrong types ---
    Case::spec(
        "unknown_top_key.yaml",
        &["imagelock.yaml:2:1", "did you mean \"images\"?"],
    ),
    Case::spec(
        "unknown_entry_key.yaml",
        &[
            "imagelock.yaml:5:5",
            "images.web.fitlers",
            "did you mean \"filters\"?",
        ],
    ),
    Case::spec(
        "unknown_filter_key.yaml",
        &["imagelock.yaml:6:7", "did you mean \"os_type\"?"],
    ),
    Case::spec(
        "wrong_enum.yaml",
        &[
            "imagelock.yaml:6:16",
            "images.web.filters.os_type",
            "did you mean \"Linux\"?",
        ],
    ),
    Case::spec(
        "filters_is_a_list.yaml",
        &["imagelock.yaml:5:14", "expected a mapping, found a list"],
    ),
    Case::spec(
        "state_is_a_number.yaml",
        &["imagelock.yaml:6:14", "images.web.filters.state"],
    ),
    Case::spec(
        "not_eol_string.yaml",
        &["imagelock.yaml:6:16", "expected true or false"],
    ),
    Case::spec(
        "features_bad_shape.yaml",
        &["imagelock.yaml:6:18", "unknown key \"some\""],
    ),
    Case::spec(
        "select_unknown.yaml",
        &["imagelock.yaml:5:13", "found \"latest\""],
    ),
    Case::spec(
        "bad_entry_name.yaml",
        &["imagelock.yaml:3:3", "expected an entry name"],
    ),
    Case::spec(
        "bad_region_name.yaml",
        &["imagelock.yaml:4:13", "expected a region name"],
    ),
    // --- values: regexes, version requirements, dates, durations ---
    Case::spec("bad_regex.yaml", &["imagelock.yaml:6:13", "unclosed group"]),
    Case::spec(
        "regex_lookahead.yaml",
        &["imagelock.yaml:6:16", "look-around"],
    ),
    Case::spec(
        "bad_version_requirement.yaml",
        &["imagelock.yaml:6:16", "images.web.filters.version"],
    ),
    Case::spec(
        "bad_date.yaml",
        &["imagelock.yaml:6:22", "images.web.filters.created_after"],
    ),
    Case::spec(
        "bad_duration.yaml",
        &["imagelock.yaml:6:16", "images.web.filters.max_age"],
    ),
    // --- regions and zones ---
    Case::spec(
        "region_and_regions.yaml",
        &["imagelock.yaml:5:5", "found both"],
    ),
    Case::spec("no_region.yaml", &["imagelock.yaml:3:3", "found neither"]),
    Case::spec(
        "zone_not_in_region.yaml",
        &["imagelock.yaml:5:11", "starting with \"cn-bj2-\""],
    ),
    Case::spec(
        "zone_with_regions.yaml",
        &["imagelock.yaml:5:11", "which has 2 regions"],
    ),
    Case::spec(
        "duplicate_regions.yaml",
        &["imagelock.yaml:4:27", "expected distinct items"],
    ),
    Case::spec(
        "empty_regions.yaml",
        &["imagelock.yaml:4:14", "found an empty list"],
    ),
    // --- several problems, bytes, sizes ---
    Case::spec(
        "several_errors.yaml",
        &[
            "3 problems",
            "imagelock.yaml:7:16",
            "imagelock.yaml:8:13",
            "imagelock.yaml:10:13",
        ],
    ),
    Case::spec(
        "bom_then_error.yaml",
        &["imagelock.yaml:6:16", "found \"Solaris\""],
    ),
    Case::spec(
        "non_utf8.yaml",
        &["spec imagelock.yaml is not UTF-8 text (invalid byte at offset 78)"],
    ),
    Case::spec("huge_spec", &["spec imagelock.yaml is larger than 4 MiB"]).made(huge_spec),
    Case::spec(
        "deep_nesting",
        &[
            "imagelock.yaml:6:",
            "expected at most 100 levels of nesting",
        ],
    )
    .made(deep_nesting),
    Case::spec(
        "thousands_of_problems",
        &[
            "imagelock.yaml:3:43",
            "5000 problems",
            "and 4950 more problems",
        ],
    )
    .made(thousands_of_problems),
    // --- lockfiles: never replaced, always named ---
    Case::lock(
        "garbage.lock",
        &["lock"],
        &["imagelock.lock: is not valid YAML"],
    ),
    Case::lock(
        "merge_conflict.lock",
        &["lock"],
        &["imagelock.lock: unresolved merge conflict markers at line 8"],
    ),
    Case::lock(
        "merge_conflict.lock",
        &["check"],
        &["imagelock.lock: unresolved merge conflict markers"],
    ),
    Case::lock(
        "wrong_version.lock",
        &["lock"],
        &["imagelock.lock: lockfile version 2 is not supported"],
    ),
    Case::lock(
        "missing_version.lock",
        &["check"],
        &["imagelock.lock: has no `version`"],
    ),
    Case::lock(
        "truncated.lock",
        &["lock"],
        &["imagelock.lock: is not valid YAML", "line 23"],
    ),
    Case::lock(
        "non_utf8.lock",
        &["lock"],
        &["imagelock.lock: is not UTF-8 text"],
    ),
    Case::lock("empty.lock", &["lock"], &["imagelock.lock: is empty"]),
    Case::lock(
        "unknown_pin_key.lock",
        &["lock"],
        &["imagelock.lock:", "unknown field `arch`"],
    ),
    Case::lock(
        "bad_digest.lock",
        &["check"],
        &["imagelock.lock: images.base-ipv6.digest"],
    ),
    Case::lock(
        "create_time_text.lock",
        &["get", "web", "--region", "hk"],
        &["imagelock.lock:", "create_time"],
    ),
    Case::lock(
        "pins_is_a_list.lock",
        &["lock"],
        &["imagelock.lock:", "images.web.pins"],
    ),
    Case::lock(
        "json_instead.lock",
        &["check"],
        &["imagelock.lock:", "missing field `pins`"],
    ),
    Case::lock(
        "deep_lock",
        &["check"],
        &["imagelock.lock: is not a lockfile: nested too deeply"],
    )
    .made(deep_lock),
    Case::lock(
        "huge_lock",
        &["lock"],
        &["imagelock.lock: is 16777217 bytes"],
    )
    .made(huge_lock),
    // --- credential and config files ---
    Case::credentials(
        "not_json.json",
        &["not_json.json: not a valid UCloud CLI file"],
    ),
    Case::credentials(
        "object_not_list.json",
        &[
            "object_not_list.json: not a valid UCloud CLI file",
            "expected a JSON list",
        ],
    ),
    Case::credentials(
        "wrong_field_type.json",
        &["wrong_field_type.json: not a valid UCloud CLI file"],
    ),
    Case::credentials(
        "truncated.json",
        &["truncated.json: not a valid UCloud CLI file"],
    ),
    Case::credentials("non_utf8.json", &["non_utf8.json: cannot read"]),
    Case {
        config: Some("bad_config.json"),
        ..Case::credentials(
            "good.json",
            &["bad_config.json: not a valid UCloud CLI file"],
        )
    },
    Case {
        args: &["--profile", "nope", "lock"],
        ..Case::credentials(
            "good.json",
            &[
                "profile \"nope\" is not in",
                "good.json",
                "known profiles: default",
            ],
        )
    },
    // --- endpoints and flags ---
    Case::flags(
        "http_non_loopback",
        &["--endpoint", "http://api.ucloud.cn", "lock"],
        &["plain http:// to a non-loopback host"],
    ),
    Case::flags(
        "http_lookalike_host",
        &["--endpoint", "http://localhost.evil.example", "lock"],
        &["plain http:// to a non-loopback host"],
    ),
    Case::flags(
        "ftp_endpoint",
        &["--endpoint", "ftp://127.0.0.1/", "lock"],
        &["has scheme \"ftp\""],
    ),
    Case::flags(
        "endpoint_not_a_url",
        &["--endpoint", "not a url", "lock"],
        &["is not a URL"],
    ),
    Case::flags(
        "endpoint_bad_port",
        &["--endpoint", "http://127.0.0.1:99999", "lock"],
        &["invalid port number"],
    ),
    Case::flags(
        "timeout_words",
        &["--timeout", "soon", "lock"],
        &["invalid value 'soon' for '--timeout"],
    ),
    Case::flags(
        "timeout_zero",
        &["--timeout", "0s", "lock"],
        &["`0s` must be longer than zero"],
    ),
    Case::flags(
        "retry_budget_negative",
        &["--retry-budget=-1s", "lock"],
        &["must not be negative"],
    ),
    Case::flags(
        "max_attempts_zero",
        &["--max-attempts", "0", "lock"],
        &["0 is not in 1..=100"],
    ),
    Case::flags(
        "concurrency_huge",
        &["--concurrency", "100000", "lock"],
        &["--concurrency"],
    ),
    Case::flags(
        "page_size_zero",
        &["--page-size", "0", "lock"],
        &["0 is not in 1..=10000"],
    ),
    Case::flags(
        "unknown_command",
        &["frobnicate"],
        &["unrecognized subcommand 'frobnicate'"],
    ),
    Case::flags(
        "get_unknown_entry",
        &["get", "nope"],
        &["no entry `nope` in imagelock.yaml"],
    ),
    Case::flags("get_without_region", &["get", "web"], &["pass --region"]),
];

/// Just over the 4 MiB limit, and otherwise a valid spec: the size alone must stop it.
fn huge_spec() -> Vec<u8> {
    let mut text = String::from("version: 1\nimages:\n");
    let mut i = 0;
    while text.len() <= 4 * 1024 * 1024 {
        text.push_str(&format!("  e{i}:\n    region: cn-bj2\n"));
        i += 1;
    }
    text.into_bytes()
}

/// Nested flow lists far past any sane depth: a recursive parser would overflow its stack, and
/// libyaml's scanner alone would take hours over a few megabytes of them.
fn deep_nesting() -> Vec<u8> {
    let depth = 1_000_000;
    format!(
        "version: 1\nimages:\n  web:\n    region: cn-bj2\n    filters:\n      name: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    )
    .into_bytes()
}

/// The same mistake in 5000 entries: all found, the first 50 shown, quickly.
fn thousands_of_problems() -> Vec<u8> {
    let mut text = String::from("version: 1\nimages:\n");
    for i in 0..5000 {
        text.push_str(&format!(
            "  e{i}: {{region: cn-bj2, filters: {{os_type: linux}}}}\n"
        ));
    }
    text.into_bytes()
}

/// Megabytes of `[`: rejected at once, not after hours in the YAML scanner.
fn deep_lock() -> Vec<u8> {
    format!("version: 1\nimages: {}\n", "[".repeat(8 * 1024 * 1024)).into_bytes()
}

/// One byte over the lockfile limit, of harmless YAML.
fn huge_lock() -> Vec<u8> {
    let mut bytes = EXAMPLE_LOCK.as_bytes().to_vec();
    let limit = usize::try_from(imagelock::lockfile::MAX_LOCKFILE_BYTES).expect("fits");
    while bytes.len() < limit + 1 {
        bytes.extend_from_slice(b"# padding padding padding padding padding padding padding\n");
    }
    bytes.truncate(limit + 1);
    bytes
}

fn corpus(dir: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/bad_input")
        .join(dir)
        .join(name)
}

fn bytes_of(input: Input, dir: &str, example: &str) -> Vec<u8> {
    match input {
        Input::File(name) => std::fs::read(corpus(dir, name)).expect("corpus file"),
        Input::Made(make) => make(),
        Input::Example => example.as_bytes().to_vec(),
        Input::ExampleNeedingApi => {
            format!("{EXAMPLE_SPEC}\n  extra:\n    region: hk\n").into_bytes()
        }
    }
}

/// Runs one case; returns what went wrong, if anything.
fn check(case: &Case) -> Vec<String> {
    let project = Project::new(EXAMPLE_SPEC);
    std::fs::write(
        project.spec_path(),
        bytes_of(case.spec, "spec", EXAMPLE_SPEC),
    )
    .expect("write spec");
    std::fs::write(
        project.lock_path(),
        bytes_of(case.lock, "lock", EXAMPLE_LOCK),
    )
    .expect("write lock");
    let before = project.lock_bytes();

    let sets_budgets = case
        .args
        .iter()
        .any(|arg| arg.starts_with("--timeout") || arg.starts_with("--retry-budget"));
    let cmd = match case.credentials {
        None if sets_budgets => project.cmd_with_default_budgets(case.args),
        None => project.cmd(case.args),
        Some(file) => {
            let mut cmd = project.bare_cmd(case.args);
            cmd.env("UCLOUD_BASE_URL", project.sim.url())
                .env("UCLOUD_SHARED_CREDENTIAL_FILE", corpus("credentials", file));
            if let Some(config) = case.config {
                cmd.env("UCLOUD_SHARED_CONFIG_FILE", corpus("credentials", config));
            }
            cmd
        }
    };
    let (code, stdout, stderr) = output_of(cmd);

    let mut wrong = Vec::new();
    if code != case.exit {
        wrong.push(format!("exit {code}, expected {}", case.exit));
    }
    for expected in case.expect {
        if !stderr.contains(expected) {
            wrong.push(format!("stderr lacks {expected:?}"));
        }
    }
    for bug in [
        "internal error",
        "panicked",
        "RUST_BACKTRACE",
        "stack overflow",
    ] {
        if stderr.contains(bug) {
            wrong.push(format!("stderr shows a bug ({bug:?})"));
        }
    }
    if !stdout.is_empty() {
        wrong.push(format!("stdout is not empty: {stdout:?}"));
    }
    if project.lock_bytes() != before {
        wrong.push("the lockfile changed".to_string());
    }
    if project.requests() != 0 {
        wrong.push(format!("{} API requests were made", project.requests()));
    }
    if wrong.is_empty() {
        Vec::new()
    } else {
        let shown: String = stderr.chars().take(1500).collect();
        vec![format!(
            "{} {:?}: {}\n--- stderr:\n{shown}",
            case.name,
            case.args,
            wrong.join("; ")
        )]
    }
}

#[test]
fn every_bad_input_fails_cleanly_and_leaves_the_lockfile() {
    assert!(
        CASES.len() >= 40,
        "the corpus shrank to {} cases",
        CASES.len()
    );
    let failures: Vec<String> = CASES.iter().flat_map(check).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n\n")
    );
}

/// Every file in the corpus is used by some case, so nothing rots unnoticed.
#[test]
fn every_corpus_file_has_a_case() {
    for dir in ["spec", "lock", "credentials"] {
        for entry in std::fs::read_dir(corpus(dir, "")).expect("corpus dir") {
            let name = entry
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned();
            let used = CASES.iter().any(|case| {
                matches!(case.spec, Input::File(n) if n == name)
                    || matches!(case.lock, Input::File(n) if n == name)
                    || case.credentials == Some(name.as_str())
                    || case.config == Some(name.as_str())
            });
            assert!(used, "tests/bad_input/{dir}/{name} is not used by any case");
        }
    }
}

/// The other side of `bom_then_error.yaml`: a byte-order mark before a valid spec is fine.
#[test]
fn a_byte_order_mark_before_a_valid_spec_locks() {
    let project = Project::new(&format!("\u{feff}{EXAMPLE_SPEC}"));
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(project.lock_text(), EXAMPLE_LOCK);
}
