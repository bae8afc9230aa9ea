//! `lock`, `check` and `get` end to end: the real binary against the simulator over HTTP.
//! Covers every filter, every selection rule with its tie-break, multi-region entries, paging
//! under a small server cap, failures (no match, ambiguous `only`), incremental re-locking and
//! staleness.

mod common;

use std::collections::BTreeMap;

use common::{Project, image};
use imagelock::lockfile::Lockfile;
use serde_json::{Value, json};
use ucloud_sim::{Catalog, SimConfig};

const EXAMPLE_SPEC: &str = include_str!("../examples/imagelock.yaml");
const EXAMPLE_LOCK: &str = include_str!("../examples/imagelock.lock");

fn with(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            base.insert(key.clone(), value.clone());
        }
    }
    base
}

/// The pinned ImageId of every (entry, region) in the project's lockfile.
fn pins(project: &Project) -> BTreeMap<(String, String), String> {
    let lock =
        Lockfile::parse(&project.lock_text(), &project.lock_path()).expect("lockfile parses");
    lock.images
        .into_iter()
        .flat_map(|(entry, locked)| {
            locked
                .pins
                .into_iter()
                .map(move |(region, pin)| ((entry.clone(), region), pin.image_id))
        })
        .collect()
}

fn pin_of(project: &Project, entry: &str, region: &str) -> String {
    pins(project)
        .remove(&(entry.to_string(), region.to_string()))
        .unwrap_or_else(|| panic!("no pin for {entry} in {region}"))
}

#[test]
fn locks_the_example_spec_exactly_as_committed_then_makes_no_more_requests() {
    let project = Project::new(EXAMPLE_SPEC);
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(project.lock_text(), EXAMPLE_LOCK);
    assert!(stderr.contains("added    web hk: uimage-"), "{stderr}");
    // Two regions, one listing each.
    assert_eq!(project.requests(), 2);

    // Every write replaces the file (a new inode); an untouched file keeps its inode.
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(project.lock_path()).unwrap().ino();
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("is up to date"), "{stderr}");
    assert_eq!(project.requests(), 2, "a fresh lock makes no request");
    assert_eq!(project.lock_text(), EXAMPLE_LOCK);
    let again = std::fs::metadata(project.lock_path()).unwrap().ino();
    assert_eq!(inode, again, "an unchanged lockfile is not rewritten");
}

#[test]
fn a_fresh_lock_needs_no_credentials() {
    let project = Project::new(EXAMPLE_SPEC);
    std::fs::write(project.lock_path(), EXAMPLE_LOCK).unwrap();
    let (code, _, stderr) = common::output_of(project.bare_cmd(&["lock"]));
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = common::output_of(project.bare_cmd(&["check"]));
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, _) = common::output_of(project.bare_cmd(&["get", "rocky"]));
    assert_eq!(code, 0);
    assert_eq!(stdout, "uimage-bkhn0zvc\n");
}

#[test]
fn missing_credentials_are_exit_2_when_a_request_is_needed() {
    let project = Project::new(EXAMPLE_SPEC);
    let (code, _, stderr) = common::output_of(project.bare_cmd(&["lock"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("UCLOUD_PUBLIC_KEY") && stderr.contains("UCLOUD_PRIVATE_KEY"));
    assert!(project.lock_bytes().is_none());
}

/// A catalog where each filter of docs/spec.md ("Filters") changes the answer.
fn filter_catalog(now: i64) -> Catalog {
    let linux = |id: &str, name: &str, t: i64| image(id, name, t);
    let images = vec![
        linux("img-linux-new", "Ubuntu 22.04 64位", 1_700_000_900),
        with(
            linux(
                "img-windows",
                "Windows Server 2022 数据中心版 64位中文版",
                1_700_000_950,
            ),
            json!({"OsType": "Windows", "Features": ["HotPlug"]}),
        ),
        with(
            linux("img-gpu", "Ubuntu 22.04 CUDA 12.4", 1_700_000_800),
            json!({"ImageType": "Business", "FuncType": "gpu", "Vendor": "NVIDIA",
                   "Features": ["CloudInit", "GPU"], "SupportedGPUTypes": ["A100"],
                   "SceneCategories": ["AIModels"]}),
        ),
        with(
            linux("img-custom", "my-app 1.2", 1_700_000_700),
            json!({"ImageType": "Custom", "OsName": "Custom"}),
        ),
        with(
            linux("img-making", "Ubuntu 24.04 64位", 1_700_001_000),
            json!({"State": "Making"}),
        ),
        with(
            linux("img-centos", "CentOS 7.9 64位", 1_600_000_000),
            json!({"MaintainEol": "2024/06/30", "Features": ["CloudInit"]}),
        ),
        with(
            linux("img-arm", "Ubuntu 22.04 64位 ARM", 1_700_000_600),
            json!({"Features": ["CloudInit", "IPv6", "Aarch64_Type"]}),
        ),
        linux("img-rocky8", "Rocky Linux 8.9 64位", 1_700_000_500),
        linux("img-rocky9", "Rocky Linux 9.3 64位", 1_700_000_400),
        with(
            linux("img-fresh", "Debian 12.5 64位", now - 86_400),
            json!({"State": "Copying"}),
        ),
        with(
            linux("img-copying-old", "Debian 12.1 64位", 1_650_000_000),
            json!({"State": "Copying"}),
        ),
    ];
    let mut catalog = Catalog::new();
    for image in images {
        catalog.push("cn-bj2", image);
    }
    catalog
}

#[test]
fn every_filter_narrows_the_listing_over_http() {
    let now = jiff::Timestamp::now().as_second();
    let spec = r#"
version: 1
defaults:
  region: cn-bj2
images:
  any: {}
  os-type: { filters: { os_type: Linux } }
  image-type: { filters: { image_type: Business } }
  func-type: { filters: { func_type: gpu } }
  image-id: { filters: { image_id: img-rocky8 } }
  state-one: { filters: { state: Making } }
  state-list: { filters: { state: [Copying, Unavailable] } }
  name: { filters: { name: "^CentOS" } }
  os-name: { filters: { os_name: "Rocky" } }
  vendor: { filters: { vendor: "^NVIDIA$" } }
  features-list: { filters: { features: [IPv6] } }
  features-all-none: { filters: { features: { all: [IPv6], none: [Aarch64_Type] } } }
  features-any: { filters: { features: { any: [Aarch64_Type, Vgpu_AMD] } } }
  scene: { filters: { scene_categories: [AIModels] } }
  gpu-types: { filters: { supported_gpu_types: { any: [A100, H100] } } }
  version: { filters: { version: ">=9, <10" } }
  created-before: { filters: { created_before: "2023-01-01" } }
  created-after: { filters: { created_after: "2023-11-14T22:15:00Z" }, select: oldest }
  max-age: { filters: { state: Copying, max_age: 7d }, select: oldest }
  not-eol: { filters: { name: "CentOS|Rocky", not_eol: true }, select: oldest }
"#;
    let project = Project::with_catalog(spec, filter_catalog(now));
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    let expected = [
        ("any", "img-windows"),
        ("os-type", "img-linux-new"),
        ("image-type", "img-gpu"),
        ("func-type", "img-gpu"),
        ("image-id", "img-rocky8"),
        ("state-one", "img-making"),
        ("state-list", "img-fresh"),
        ("name", "img-centos"),
        ("os-name", "img-rocky8"),
        ("vendor", "img-gpu"),
        ("features-list", "img-linux-new"),
        ("features-all-none", "img-linux-new"),
        ("features-any", "img-arm"),
        ("scene", "img-gpu"),
        ("gpu-types", "img-gpu"),
        ("version", "img-rocky9"),
        ("created-before", "img-centos"),
        ("created-after", "img-rocky9"),
        ("max-age", "img-fresh"),
        ("not-eol", "img-rocky9"),
    ];
    for (entry, image_id) in expected {
        assert_eq!(pin_of(&project, entry, "cn-bj2"), image_id, "entry {entry}");
    }
    // Twenty entries, one region: one listing.
    assert_eq!(project.requests(), 1);
}

fn tie_catalog() -> Catalog {
    let mut catalog = Catalog::new();
    for (id, name, t) in [
        ("uimage-b", "Debian 12 64位", 200),
        ("uimage-a", "Debian 11 64位", 200),
        ("uimage-d", "Debian 13 64位", 60),
        ("uimage-c", "Debian 13 64位", 50),
        ("uimage-f", "Debian 9 64位", 50),
        ("uimage-e", "custom-app", 150),
    ] {
        catalog.push("hk", image(id, name, t));
    }
    catalog
}

#[test]
fn selection_rules_and_their_tie_breaks() {
    let spec = r#"
version: 1
defaults: { region: hk }
images:
  newest: { select: newest }
  oldest: { select: oldest }
  highest: { select: highest_version }
  only-one: { filters: { name: "^Debian 12" }, select: only }
"#;
    let project = Project::with_catalog(spec, tie_catalog());
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    // newest: a and b share the newest CreateTime → smallest ImageId.
    assert_eq!(pin_of(&project, "newest", "hk"), "uimage-a");
    // oldest: c and f share the oldest → smallest ImageId.
    assert_eq!(pin_of(&project, "oldest", "hk"), "uimage-c");
    // highest_version: c and d are both 13 → the newer one, though its id is larger.
    assert_eq!(pin_of(&project, "highest", "hk"), "uimage-d");
    assert_eq!(pin_of(&project, "only-one", "hk"), "uimage-b");

    // Byte order, not case-insensitive order: "uimage-Z" < "uimage-a".
    project
        .sim
        .update_catalog(|c| c.push("hk", image("uimage-Z", "Debian 11 64位", 200)));
    let (code, _, stderr) = project.run(&["update"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(pin_of(&project, "newest", "hk"), "uimage-Z");
}

#[test]
fn only_with_two_candidates_fails_with_exit_4_and_writes_nothing() {
    let spec = r#"
version: 1
images:
  fine: { region: hk }
  ambiguous: { region: hk, filters: { name: "^Debian 13" }, select: only }
"#;
    let project = Project::with_catalog(spec, tie_catalog());
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("ambiguous in hk"), "{stderr}");
    assert!(stderr.contains("`only` matched 2 images"), "{stderr}");
    assert!(
        stderr.contains("uimage-c") && stderr.contains("uimage-d"),
        "{stderr}"
    );
    assert!(
        project.lock_bytes().is_none(),
        "one failing entry fails the run"
    );
}

#[test]
fn no_match_shows_the_funnel_and_leaves_the_lockfile_alone() {
    let project = Project::new(EXAMPLE_SPEC);
    std::fs::write(project.lock_path(), EXAMPLE_LOCK).unwrap();
    let broken = EXAMPLE_SPEC.replace("os_name: \"^Rocky Linux\"", "os_name: \"^Fedora\"");
    assert_ne!(broken, EXAMPLE_SPEC);
    project.write_spec(&broken);
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 4, "{stderr}");
    assert_eq!(
        project.lock_text(),
        EXAMPLE_LOCK,
        "a failed run leaves the old bytes"
    );
    let report = stderr.trim_start_matches("error: ").trim_end();
    insta::assert_snapshot!("no_match_funnel", report);
}

#[test]
fn paging_under_a_page_cap_of_7_loses_nothing() {
    let spec = r#"
version: 1
defaults:
  regions: [cn-bj2, hk, cn-sh2]
images:
  newest-linux: { filters: { os_type: Linux } }
  oldest-any: { select: oldest }
  rocky: { filters: { os_name: "^Rocky" }, select: highest_version }
"#;
    let catalog = common::example_catalog();
    let uncapped = Project::with_catalog(spec, catalog.clone());
    let capped = Project::with_config(
        spec,
        SimConfig {
            page_cap: 7,
            ..SimConfig::new(catalog.clone())
        },
    );
    for project in [&uncapped, &capped] {
        let (code, _, stderr) = project.run(&["lock"]);
        assert_eq!(code, 0, "{stderr}");
    }
    assert_eq!(capped.lock_text(), uncapped.lock_text());

    // Every page exactly once: ceil(n / 7) requests per region's listing.
    let expected: u64 = ["cn-bj2", "hk", "cn-sh2"]
        .iter()
        .map(|region| {
            // The simulator's own count: images of other projects are hidden.
            let (total, _) = catalog.query(&ucloud_sim::Query::region(region), 7);
            total.div_ceil(7) as u64
        })
        .sum();
    assert_eq!(capped.requests(), expected);
    let keys: Vec<String> = capped
        .sim
        .requests()
        .iter()
        .map(|r| r.listing_key())
        .collect();
    let mut distinct = keys.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(keys.len(), distinct.len(), "a page was fetched twice");
}

#[test]
fn an_edited_entry_is_re_resolved_alone() {
    let project = Project::new(EXAMPLE_SPEC);
    std::fs::write(project.lock_path(), EXAMPLE_LOCK).unwrap();
    let edited = EXAMPLE_SPEC.replace("version: \"9\"", "version: \"8\"");
    assert_ne!(edited, EXAMPLE_SPEC);
    project.write_spec(&edited);

    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(project.requests(), 1, "only rocky's region is listed");
    let before = Lockfile::parse(EXAMPLE_LOCK, &project.lock_path()).unwrap();
    let after = Lockfile::parse(&project.lock_text(), &project.lock_path()).unwrap();
    for (name, entry) in &before.images {
        if name == "rocky" {
            assert_ne!(after.images[name], *entry);
        } else {
            assert_eq!(after.images[name], *entry, "{name} must be untouched");
        }
    }
    assert!(stderr.contains("changed  rocky cn-bj2"), "{stderr}");
    assert!(pin_of(&project, "rocky", "cn-bj2") != "uimage-bkhn0zvc");
}

#[test]
fn check_reports_missing_changed_and_extra_entries() {
    let project = Project::new(EXAMPLE_SPEC);
    std::fs::write(project.lock_path(), EXAMPLE_LOCK).unwrap();
    let (code, _, _) = project.run(&["check"]);
    assert_eq!(code, 0);

    let edited = EXAMPLE_SPEC
        .replace(
            "  windows:\n    region: hk",
            "  windows-2019:\n    region: hk",
        )
        .replace("version: \"9\"", "version: \"8\"");
    project.write_spec(&edited);
    let (code, _, stderr) = project.run(&["check"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("  missing      windows-2019 "), "{stderr}");
    assert!(stderr.contains("  changed      rocky "), "{stderr}");
    assert!(stderr.contains("  extra        windows "), "{stderr}");

    let (code, stdout, _) = project.run(&["check", "--json"]);
    assert_eq!(code, 3);
    let report: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(report["fresh"], false);
    assert_eq!(report["missing"], json!(["windows-2019"]));
    assert_eq!(report["changed"], json!(["rocky"]));
    assert_eq!(report["extra"], json!(["windows"]));
    assert_eq!(project.requests(), 0, "check never touches the network");
}

#[test]
fn get_prints_the_pin_and_refuses_a_stale_one() {
    let project = Project::new(EXAMPLE_SPEC);
    std::fs::write(project.lock_path(), EXAMPLE_LOCK).unwrap();

    let (code, stdout, _) = project.run(&["get", "web", "--region", "hk"]);
    assert_eq!((code, stdout.as_str()), (0, "uimage-w0sy5glq\n"));

    let (code, stdout, stderr) = project.run(&["get", "web"]);
    assert_eq!(code, 2, "several regions need --region");
    assert!(stdout.is_empty());
    assert!(stderr.contains("--region"), "{stderr}");

    let (code, _, stderr) = project.run(&["get", "nope"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no entry `nope`"), "{stderr}");

    project.write_spec(&EXAMPLE_SPEC.replace("version: \"9\"", "version: \"8\""));
    let (code, stdout, stderr) = project.run(&["get", "rocky"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stdout.is_empty(),
        "a stale pin must not reach $(imagelock get)"
    );
    assert!(stderr.contains("stale"), "{stderr}");
    // Other entries are still fine.
    let (code, stdout, _) = project.run(&["get", "windows"]);
    assert_eq!((code, stdout.as_str()), (0, "uimage-vc8gbv5f\n"));
    assert_eq!(project.requests(), 0);
}

#[test]
fn removed_entries_are_dropped_by_lock() {
    let project = Project::new(EXAMPLE_SPEC);
    std::fs::write(project.lock_path(), EXAMPLE_LOCK).unwrap();
    let start = EXAMPLE_SPEC.find("  # Windows overrides").unwrap();
    project.write_spec(&EXAMPLE_SPEC[..start]);
    let (code, stdout, stderr) = project.run(&["lock", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    // Removed pins are reported per entry and region, with the pin that went.
    let removed = report["removed"].as_array().expect("a list");
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(removed[0]["name"], "windows");
    assert_eq!(removed[0]["region"], "hk");
    assert_eq!(removed[0]["reason"], "removed");
    assert_eq!(removed[0]["old"]["image_id"], "uimage-vc8gbv5f");
    assert_eq!(report["written"], true);
    assert!(!project.lock_text().contains("windows:"));
    assert_eq!(project.requests(), 0, "dropping an entry needs no request");
}

#[test]
fn validate_and_schema() {
    let project = Project::new(EXAMPLE_SPEC);
    let (code, _, stderr) = project.run(&["validate"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("is valid: 5 entries, 7 pins"), "{stderr}");
    let (code, stdout, _) = project.run(&["schema"]);
    assert_eq!(code, 0);
    let schema: Value = serde_json::from_str(&stdout).expect("schema is JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
}
