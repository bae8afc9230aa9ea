//! How spec errors read: each case is a small broken spec, rendered without colour and
//! compared with a reviewed snapshot (tests/snapshots/). Also pins the plain one-line form.

use std::path::Path;

use imagelock::Error;
use imagelock::spec::{self, SpecError};

/// Parses `text` as `imagelock.yaml` and returns its error, failing the test if it parses.
fn spec_error(text: &str) -> Box<SpecError> {
    match spec::parse(text, Path::new("imagelock.yaml")) {
        Err(Error::Spec(error)) => error,
        Err(other) => panic!("expected a spec error, got: {other}"),
        Ok(spec) => panic!("expected a spec error, got a valid spec: {spec:?}"),
    }
}

/// The rendered report followed by the plain lines, so both forms are reviewed together.
fn report(text: &str) -> String {
    let error = spec_error(text);
    format!("{}\n--- plain ---\n{error}\n", error.render(false))
}

#[test]
fn typo_in_a_key() {
    insta::assert_snapshot!(report(
        "version: 1\nimages:\n  web:\n    region: cn-bj2\n    fitlers:\n      os_type: Linux\n"
    ));
}

#[test]
fn wrong_enum_value() {
    insta::assert_snapshot!(report(
        "version: 1\nimages:\n  web:\n    region: cn-bj2\n    filters:\n      os_type: linux\n"
    ));
}

#[test]
fn bad_regex() {
    insta::assert_snapshot!(report(
        "version: 1\nimages:\n  web:\n    region: cn-bj2\n    filters:\n      name: \"^Ubuntu (22\\\\.04\"\n"
    ));
}

#[test]
fn bad_version_requirement() {
    insta::assert_snapshot!(report(
        "version: 1\nimages:\n  web:\n    region: cn-bj2\n    filters:\n      version: \">=22.04 <24\"\n"
    ));
}

#[test]
fn region_and_regions_together() {
    insta::assert_snapshot!(report(
        "version: 1\nimages:\n  web:\n    region: cn-bj2\n    regions: [cn-bj2, hk]\n"
    ));
}

#[test]
fn zone_outside_its_region() {
    insta::assert_snapshot!(report(
        "version: 1\nimages:\n  web:\n    region: cn-bj2\n    zone: hk-02\n"
    ));
}

#[test]
fn several_errors_in_one_file() {
    let text = "\
version: 2
defaults:
  regoin: cn-bj2
  filters: { state: available }
images:
  Web:
    region: hk
    filters:
      features: { all: [IPv6], nope: [x] }
      max_age: 3 days
      created_after: 2024-06-01
      created_before: 2024-01-01
  db:
    regions: [hk, cn-bj2, hk]
    zone: hk-01
    select: latest
";
    let error = spec_error(text);
    let lines: Vec<usize> = error.problems.iter().map(|p| p.line).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted, "problems are sorted by position");
    insta::assert_snapshot!(report(text));
}

#[test]
fn yaml_syntax_error() {
    insta::assert_snapshot!(report(
        "version: 1\nimages:\n  web:\n    region: cn-bj2\n    filters: { os_type: Linux\n  db:\n    region: hk\n"
    ));
}

#[test]
fn duplicate_key() {
    insta::assert_snapshot!(report(
        "version: 1\nimages:\n  web:\n    region: cn-bj2\n  web:\n    region: hk\n"
    ));
}

#[test]
fn plain_form_names_file_line_column_path_and_expectation() {
    let error = spec_error(
        "version: 1\nimages:\n  web:\n    region: cn-bj2\n    filters:\n      os_type: linux\n",
    );
    assert_eq!(
        error.to_string(),
        "imagelock.yaml:6:16: images.web.filters.os_type: expected one of Linux, Windows, found \"linux\" (did you mean \"Linux\"?)"
    );
    assert_eq!(Error::Spec(error).exit(), imagelock::Exit::Invalid);
}

#[test]
fn agree_with_select_only() {
    insta::assert_snapshot!(report(
        "version: 1\nimages:\n  db:\n    regions: [cn-bj2, hk]\n    agree: version\n    select: only\n"
    ));
}

#[test]
fn deny_key_that_is_not_an_image_id() {
    insta::assert_snapshot!(report(
        "version: 1\ndeny:\n  uimage-bad1: \"kernel panic on boot, INC-42\"\n  \"uimage-$(reboot)\": hostile\n  uimage-bad2: 42\nimages:\n  web:\n    region: cn-bj2\n    filters:\n      image_type: Base\n      image_id: \"uimage rez4c3an\"\n"
    ));
}

#[test]
fn misspelt_safe_upgrade_keys() {
    insta::assert_snapshot!(report(
        "version: 1\ndenny: {}\nimages:\n  web:\n    regions: [cn-bj2, hk]\n    agre: version\n    hodl: reason\n    filters:\n      min_ag: 7d\n"
    ));
}

#[test]
fn bad_min_age_agree_and_hold_values() {
    insta::assert_snapshot!(report(
        "version: 1\nimages:\n  web:\n    regions: [cn-bj2, hk]\n    agree: versions\n    hold: \"\"\n    filters:\n      min_age: 3 days\n"
    ));
}
