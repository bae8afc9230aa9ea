//! What `imagelock validate` says about YAML a spec must not use: each case writes a broken spec,
//! runs the real binary on it and snapshots the whole outcome (exit code, stdout, stderr).

mod common;

use std::time::{Duration, Instant};

use common::{Project, output_of};

/// A valid entry to put around the broken part, so each case has one problem only.
const HEAD: &str = "version: 1\ndefaults:\n  region: cn-bj2\nimages:\n";

/// `imagelock validate -f imagelock.yaml` on `spec`, as one reviewable text.
fn validate(spec: &str) -> String {
    let project = Project::new(spec);
    let (code, stdout, stderr) = output_of(project.bare_cmd(&["validate", "-f", "imagelock.yaml"]));
    format!("exit: {code}\n--- stdout ---\n{stdout}--- stderr ---\n{stderr}")
}

#[test]
fn tab_indentation() {
    insta::assert_snapshot!(validate(&format!(
        "{HEAD}  web:\n\tfilters:\n      os_type: Linux\n"
    )));
}

#[test]
fn tab_after_spaces_in_the_indentation() {
    insta::assert_snapshot!(validate(&format!(
        "{HEAD}  web:\n    filters:\n    \tos_type: Linux\n"
    )));
}

#[test]
fn tab_after_a_colon_is_fine() {
    insta::assert_snapshot!(validate(&format!(
        "{HEAD}  web:\n    select:\tnewest\n    filters: {{ os_type:\tLinux }}\n"
    )));
}

#[test]
fn merge_key() {
    insta::assert_snapshot!(validate(
        "version: 1\nshared: &shared\n  region: cn-bj2\n  filters: { os_type: Linux }\nimages:\n  web:\n    <<: *shared\n    select: newest\n"
    ));
}

#[test]
fn long_regex() {
    // A 3 MB regex: the message and the snippet show its start and count the rest.
    let regex = format!("^(Ubuntu {}", "x".repeat(3 * 1024 * 1024));
    let started = Instant::now();
    let output = validate(&format!(
        "{HEAD}  web:\n    filters:\n      name: \"{regex}\"\n"
    ));
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(output.len() < 2_000, "{} bytes of output", output.len());
    insta::assert_snapshot!(output);
}

#[test]
fn duplicate_key() {
    insta::assert_snapshot!(validate(&format!(
        "{HEAD}  web:\n    select: newest\n    filters: {{ os_type: Linux }}\n    select: oldest\n  db: {{}}\n  web: {{}}\n"
    )));
}

#[test]
fn alias_bomb() {
    let mut spec =
        format!("{HEAD}  web: {{}}\nlol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        spec.push_str(&format!(
            "lol{i}: &lol{i} [*lol{p}, *lol{p}, *lol{p}, *lol{p}, *lol{p}, *lol{p}, *lol{p}, *lol{p}, *lol{p}]\n"
        ));
    }
    let started = Instant::now();
    let output = validate(&spec);
    assert!(started.elapsed() < Duration::from_secs(30));
    insta::assert_snapshot!(output);
}

#[test]
fn several_documents() {
    insta::assert_snapshot!(validate(&format!(
        "{HEAD}  web: {{}}\n---\nversion: 1\nimages:\n  db: {{}}\n"
    )));
}

#[test]
fn tag() {
    insta::assert_snapshot!(validate(&format!(
        "{HEAD}  web:\n    filters:\n      name: !regex \"^Ubuntu\"\n"
    )));
}

#[test]
fn non_string_key() {
    insta::assert_snapshot!(validate(&format!(
        "{HEAD}  2204: {{ filters: {{ name: \"^Ubuntu 22\" }} }}\n  web: {{}}\n"
    )));
}

#[test]
fn thousands_of_problems_render_quickly_and_briefly() {
    // 5,000 entries with the same typo: all are counted, the first 50 are shown.
    let mut spec = String::from(HEAD);
    for i in 0..5000 {
        spec.push_str(&format!("  e{i}: {{ selct: newest }}\n"));
    }
    let project = Project::new(&spec);
    let started = Instant::now();
    let (code, stdout, stderr) = output_of(project.bare_cmd(&["validate", "-f", "imagelock.yaml"]));
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    assert_eq!((code, stdout.as_str()), (2, ""));
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines[0], "invalid spec imagelock.yaml: 5000 problems");
    assert_eq!(
        lines[lines.len() - 1],
        "... and 4950 more problems; fix these and run again to see the rest"
    );
    assert!(stderr.len() < 100_000, "{} bytes on stderr", stderr.len());
}
