//! Safe upgrades end to end: `min_age`, `deny`, `agree: version` and `hold` through the real
//! binary against the simulator over HTTP. Image dates are fixed and `min_age` is long (715
//! weeks, about 13.7 years), so a build from 2024 is still cooling and one from 2010 has soaked
//! whatever day the tests run (until 2037), and every snapshot is stable.

mod common;

use common::{Project, image};
use imagelock::lockfile::Lockfile;
use serde_json::Value;
use ucloud_sim::Catalog;

/// 2001-01-01, 2010-06-01, 2010-07-01 and 2024-01-01, 00:00 UTC.
const Y2001: i64 = 978_307_200;
const Y2010: i64 = 1_275_350_400;
const Y2010_JULY: i64 = 1_277_942_400;
const Y2024: i64 = 1_704_067_200;

fn catalog(regions: &[(&str, Vec<Value>)]) -> Catalog {
    let mut catalog = Catalog::new();
    for (region, images) in regions {
        for image in images {
            catalog.push(region, image.clone());
        }
    }
    catalog
}

/// cn-bj2: a fresh Ubuntu 24.04 build from 2024 and two soaked 22.04 builds.
fn bj_images() -> Vec<Value> {
    vec![
        image("uimage-u2404-fresh", "Ubuntu 24.04 64位", Y2024),
        image("uimage-u2204-b", "Ubuntu 22.04 64位", Y2010),
        image("uimage-u2204-a", "Ubuntu 22.04 64位", Y2001),
    ]
}

/// hk has not got 24.04 yet.
fn hk_images() -> Vec<Value> {
    vec![
        image("uimage-hk-2204", "Ubuntu 22.04 64位", Y2010_JULY),
        image("uimage-hk-2004", "Ubuntu 20.04 64位", Y2001),
    ]
}

fn project(spec: &str) -> Project {
    Project::with_catalog(
        spec,
        catalog(&[("cn-bj2", bj_images()), ("hk", hk_images())]),
    )
}

/// The whole output of a run, with the scratch directory's path replaced so it is stable.
fn run(project: &Project, args: &[&str]) -> String {
    let (code, stdout, stderr) = project.run(args);
    let dir = project.dir.path().display().to_string();
    format!("exit {code}\n--- stdout ---\n{stdout}--- stderr ---\n{stderr}").replace(&dir, "[dir]")
}

fn pin(project: &Project, entry: &str, region: &str) -> String {
    let lock = Lockfile::parse(&project.lock_text(), &project.lock_path()).expect("lockfile");
    lock.images[entry].pins[region].image_id.clone()
}

const MIN_AGE_SPEC: &str = "\
version: 1
defaults:
  region: cn-bj2
  filters: { image_type: Base }
images:
  cooled:
    filters: { min_age: 5005d }
  eager: {}
";

#[test]
fn min_age_pins_the_newest_build_that_has_soaked() {
    let project = project(MIN_AGE_SPEC);
    insta::assert_snapshot!(run(&project, &["lock"]));
    assert_eq!(pin(&project, "cooled", "cn-bj2"), "uimage-u2204-b");
    assert_eq!(pin(&project, "eager", "cn-bj2"), "uimage-u2404-fresh");
}

#[test]
fn min_age_is_in_the_digest_as_a_duration_never_a_date() {
    let project = project(MIN_AGE_SPEC);
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    let locked = project.lock_text();
    let requests = project.requests();

    // 5005 days are 715 weeks: the same query, so nothing is stale and nothing is asked.
    project.write_spec(&MIN_AGE_SPEC.replace("5005d", "715w"));
    let (code, _, stderr) = project.run(&["check"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(project.requests(), requests);
    assert_eq!(project.lock_text(), locked);
    assert!(
        !locked.contains("min_age") && !locked.contains("2013-"),
        "no computed date in the lockfile:\n{locked}"
    );

    // Another duration is another query.
    project.write_spec(&MIN_AGE_SPEC.replace("5005d", "5004d"));
    let (code, _, stderr) = project.run(&["check"]);
    assert_eq!(code, 3, "{stderr}");
}

#[test]
fn explain_shows_the_min_age_step() {
    let project = project(MIN_AGE_SPEC);
    insta::assert_snapshot!(run(&project, &["explain", "cooled"]));
}

const DENY_SPEC: &str = "\
version: 1
deny:
  uimage-u2404-fresh: \"kernel panic on boot, INC-42\"
defaults:
  region: cn-bj2
  filters: { image_type: Base }
images:
  web: {}
";

#[test]
fn denied_images_are_never_picked() {
    let project = project(DENY_SPEC);
    insta::assert_snapshot!(run(&project, &["lock"]));
    assert_eq!(pin(&project, "web", "cn-bj2"), "uimage-u2204-b");
}

#[test]
fn explain_shows_the_deny_step() {
    let project = project(DENY_SPEC);
    insta::assert_snapshot!(run(&project, &["explain", "web"]));
}

#[test]
fn an_entry_asking_only_for_a_denied_image_fails_and_writes_nothing() {
    let spec = DENY_SPEC.replace(
        "  web: {}",
        "  web: {}\n  exact:\n    filters: { image_id: uimage-u2404-fresh }",
    );
    let project = project(&spec);
    insta::assert_snapshot!(run(&project, &["lock"]));
    assert!(
        project.lock_bytes().is_none(),
        "one failing entry fails the run"
    );
}

#[test]
fn deny_and_hold_are_policy_and_leave_the_lock_fresh() {
    let spec = "\
version: 1
defaults:
  region: cn-bj2
  filters: { image_type: Base }
images:
  web: {}
";
    let project = project(spec);
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    let locked = project.lock_text();
    let requests = project.requests();

    let with_policy = spec.replace(
        "images:\n  web: {}",
        "deny:\n  uimage-u2204-a: CVE-2024-0001\nimages:\n  web:\n    hold: waiting for the 24.04 migration, OPS-311",
    );
    assert_ne!(with_policy, spec);
    project.write_spec(&with_policy);
    let (code, _, stderr) = project.run(&["check"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(project.requests(), requests, "nothing to resolve");
    assert_eq!(project.lock_text(), locked);
}

const AGREE_SPEC: &str = "\
version: 1
defaults:
  regions: [cn-bj2, hk]
  filters: { image_type: Base }
images:
  agreed:
    agree: version
  apart: {}
";

#[test]
fn agree_gives_every_region_the_same_version() {
    let project = project(AGREE_SPEC);
    insta::assert_snapshot!(run(&project, &["lock"]));
    // hk lags: it has no 24.04, so both regions get the newest 22.04 build they have.
    assert_eq!(pin(&project, "agreed", "cn-bj2"), "uimage-u2204-b");
    assert_eq!(pin(&project, "agreed", "hk"), "uimage-hk-2204");
    // Without agree, each region picks on its own.
    assert_eq!(pin(&project, "apart", "cn-bj2"), "uimage-u2404-fresh");
    assert_eq!(pin(&project, "apart", "hk"), "uimage-hk-2204");
}

#[test]
fn agree_oldest_gets_the_lowest_common_version() {
    let project =
        project(&AGREE_SPEC.replace("agree: version", "agree: version\n    select: oldest"));
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    // cn-bj2 has no 20.04, so the lowest version both offer is 22.04.
    assert_eq!(pin(&project, "agreed", "cn-bj2"), "uimage-u2204-a");
    assert_eq!(pin(&project, "agreed", "hk"), "uimage-hk-2204");
}

#[test]
fn agree_without_a_common_version_fails_listing_each_regions_versions() {
    let project = Project::with_catalog(
        AGREE_SPEC,
        catalog(&[
            ("cn-bj2", bj_images()),
            (
                "hk",
                vec![image("uimage-hk-2004", "Ubuntu 20.04 64位", Y2001)],
            ),
        ]),
    );
    insta::assert_snapshot!(run(&project, &["lock"]));
    assert!(project.lock_bytes().is_none());
}

#[test]
fn agree_with_select_only_is_invalid() {
    let project =
        project(&AGREE_SPEC.replace("agree: version", "agree: version\n    select: only"));
    insta::assert_snapshot!(run(&project, &["validate"]));
    assert_eq!(project.requests(), 0);
}

#[test]
fn a_deny_key_that_is_no_image_id_is_invalid() {
    let project =
        project(&DENY_SPEC.replace("uimage-u2404-fresh:", "\"uimage-u2404-fresh; reboot\":"));
    insta::assert_snapshot!(run(&project, &["lock"]));
    assert_eq!(project.requests(), 0);
    assert!(project.lock_bytes().is_none());
}

#[test]
fn imagelock_now_fixes_the_clock_min_age_reads() {
    let spec = MIN_AGE_SPEC.replace("5005d", "7d");
    let lock_at = |now: &str| {
        let project = project(&spec);
        let mut cmd = project.cmd(&["lock"]);
        cmd.env("IMAGELOCK_NOW", now);
        let (code, _, stderr) = common::output_of(cmd);
        assert_eq!(code, 0, "{stderr}");
        project
    };
    // Four days after the 2024-01-01 build: still cooling, the 2010 build is pinned.
    let early = lock_at("2024-01-05T00:00:00Z");
    assert_eq!(pin(&early, "cooled", "cn-bj2"), "uimage-u2204-b");
    // Exactly seven days after: eligible (the bound is inclusive).
    let later = lock_at("2024-01-08T08:00:00+08:00");
    assert_eq!(pin(&later, "cooled", "cn-bj2"), "uimage-u2404-fresh");
    // Not a time: invalid usage, before any request.
    let requests = later.requests();
    let mut cmd = later.cmd(&["update"]);
    cmd.env("IMAGELOCK_NOW", "next tuesday");
    let (code, _, stderr) = common::output_of(cmd);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("IMAGELOCK_NOW must be an RFC 3339 time"),
        "{stderr}"
    );
    assert_eq!(later.requests(), requests);
}

#[test]
fn explain_shows_the_agreement_and_the_lagging_region() {
    let project = project(AGREE_SPEC);
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!(run(&project, &["explain", "agreed"]));
    // One region shown, still explained against the version both regions agree on.
    let (code, stdout, stderr) =
        project.run(&["explain", "agreed", "--region", "cn-bj2", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(doc["agree"]["version"], "22.4.0");
    assert_eq!(doc["agree"]["best"]["cn-bj2"], "24.4.0");
    assert_eq!(doc["agree"]["lagging"], serde_json::json!(["hk"]));
    assert_eq!(doc["regions"].as_array().map(Vec::len), Some(1));
    assert_eq!(doc["regions"][0]["pick"], "uimage-u2204-b");
}

#[test]
fn explain_without_a_common_version_shows_what_each_region_offers() {
    let project = Project::with_catalog(
        AGREE_SPEC,
        catalog(&[
            ("cn-bj2", bj_images()),
            (
                "hk",
                vec![image("uimage-hk-2004", "Ubuntu 20.04 64位", Y2001)],
            ),
        ]),
    );
    insta::assert_snapshot!(run(&project, &["explain", "agreed"]));
}
