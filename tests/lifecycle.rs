//! The lockfile's lifecycle over real HTTP against the simulator: `update`, `outdated`, `verify`,
//! `explain`, `export` and the Terraform `external` program, driving the real binary.

mod common;

use std::collections::BTreeMap;

use common::{Project, image};
use imagelock::lockfile::Lockfile;
use serde_json::Value;
use ucloud_sim::{Catalog, SimConfig};

const SPEC: &str = r#"version: 1
defaults:
  region: cn-bj2
  filters:
    os_type: Linux
images:
  web:
    regions: [cn-bj2, hk]
    filters:
      image_type: Base
      name: "^Ubuntu 22\\.04"
  rocky:
    filters:
      image_type: Base
      os_name: "^Rocky Linux"
      version: "9"
    select: highest_version
"#;

/// An Ubuntu 22.04 build newer than anything in examples/catalog.json.
const NEWER_WEB: &str = "uimage-newweb01";

fn locked_project() -> Project {
    Project::locked(SPEC)
}

fn lockfile(project: &Project) -> Lockfile {
    Lockfile::parse(&project.lock_text(), &project.lock_path()).expect("lockfile parses")
}

fn pin_id(project: &Project, entry: &str, region: &str) -> String {
    lockfile(project).images[entry].pins[region]
        .image_id
        .clone()
}

/// The lines of one entry's block in the lockfile's text.
fn entry_block(text: &str, entry: &str) -> String {
    let header = format!("  {entry}:");
    text.lines()
        .skip_while(|line| *line != header)
        .enumerate()
        .take_while(|(i, line)| *i == 0 || line.starts_with("    "))
        .map(|(_, line)| format!("{line}\n"))
        .collect()
}

fn push_newer_web(project: &Project) {
    project.sim.update_catalog(|c| {
        c.push(
            "cn-bj2",
            image(NEWER_WEB, "Ubuntu 22.04 64位", 1_900_000_000),
        );
    });
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("not JSON ({err}): {text}"))
}

#[test]
fn a_newer_image_is_reported_by_outdated_and_moved_only_by_update() {
    let project = locked_project();
    let before = project.lock_text();
    let old_web = pin_id(&project, "web", "cn-bj2");
    push_newer_web(&project);

    // `lock` keeps pins that satisfy the spec and asks nothing.
    project.sim.reset_stats();
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(project.requests(), 0);
    assert_eq!(project.lock_text(), before);

    let (code, stdout, stderr) = project.run(&["outdated"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("1 pin would move"), "{stderr}");
    assert!(
        stderr.contains(&format!("web cn-bj2: {old_web}")) && stderr.contains(NEWER_WEB),
        "{stderr}"
    );
    assert_eq!(project.lock_text(), before, "outdated writes nothing");

    let (code, stdout, _) = project.run(&["outdated", "--json"]);
    assert_eq!(code, 3);
    let report = json(&stdout);
    let items = report["moves"].as_array().expect("a list of moves");
    assert_eq!(items.len(), 1, "{report}");
    assert_eq!(items[0]["downgrade"], false);
    for list in ["held", "cooling", "eol", "failures"] {
        assert_eq!(report[list], serde_json::json!([]), "{list} in {report}");
    }
    assert_eq!(items[0]["name"], "web");
    assert_eq!(items[0]["region"], "cn-bj2");
    assert_eq!(items[0]["reason"], "newer");
    assert_eq!(items[0]["current"]["image_id"], old_web.as_str());
    assert_eq!(items[0]["latest"]["image_id"], NEWER_WEB);
    assert_eq!(items[0]["latest"]["create_time"], 1_900_000_000);
    assert_eq!(items[0]["latest"]["image_name"], "Ubuntu 22.04 64位");

    let (code, _, stderr) = project.run(&["update", "web"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!("web cn-bj2: {old_web} ("))
            && stderr.contains(&format!("→ {NEWER_WEB} (Ubuntu 22.04 64位, 2030-03-17)")),
        "{stderr}"
    );
    assert!(
        stderr.contains("web hk: ") && stderr.contains(") unchanged"),
        "{stderr}"
    );
    let after = project.lock_text();
    assert_eq!(pin_id(&project, "web", "cn-bj2"), NEWER_WEB);
    assert_eq!(entry_block(&after, "rocky"), entry_block(&before, "rocky"));
    assert!(!entry_block(&before, "rocky").is_empty());
    // Only the one pin's lines changed.
    let changed: Vec<_> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert!(changed.len() <= 4, "{changed:?}");

    let (code, _, stderr) = project.run(&["outdated"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, _) = project.run(&["outdated", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(json(&stdout)["moves"], serde_json::json!([]));
}

#[test]
fn outdated_makes_one_listing_pass() {
    let project = locked_project();
    project.sim.reset_stats();
    let (code, _, _) = project.run(&["outdated"]);
    assert_eq!(code, 0);
    // Both entries share the cn-bj2 listing; web adds hk. The example catalog fits one page.
    assert_eq!(project.sim.stats().by_region.get("cn-bj2"), Some(&1));
    assert_eq!(project.sim.stats().by_region.get("hk"), Some(&1));
}

#[test]
fn outdated_reports_a_stale_lock() {
    let project = locked_project();
    project.write_spec(&SPEC.replace("select: highest_version", "select: oldest"));
    let (code, stdout, stderr) = project.run(&["outdated", "--json"]);
    assert_eq!(code, 3, "{stderr}");
    let items = &json(&stdout)["moves"];
    assert_eq!(items[0]["name"], "rocky");
    assert_eq!(items[0]["reason"], "query_changed");
}

#[test]
fn update_without_names_moves_everything_and_unknown_names_are_usage_errors() {
    let project = locked_project();
    let before = project.lock_bytes();
    let (code, _, stderr) = project.run(&["update", "wbe"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("no entry `wbe`") && stderr.contains("did you mean `web`?"),
        "{stderr}"
    );
    assert_eq!(project.lock_bytes(), before);

    push_newer_web(&project);
    let (code, stdout, stderr) = project.run(&["update", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let report = json(&stdout);
    assert_eq!(report["written"], true);
    let moved: Vec<_> = report["pins"]
        .as_array()
        .expect("pins")
        .iter()
        .filter(|p| p["moved"] == true)
        .map(|p| {
            (
                p["name"].as_str(),
                p["region"].as_str(),
                p["new"]["image_id"].as_str(),
            )
        })
        .collect();
    assert_eq!(moved, [(Some("web"), Some("cn-bj2"), Some(NEWER_WEB))]);
    assert_eq!(report["pins"].as_array().map(Vec::len), Some(3));
}

#[test]
fn a_failed_update_writes_nothing() {
    let project = locked_project();
    let before = project.lock_bytes();
    let rocky = pin_id(&project, "rocky", "cn-bj2");
    // Every Rocky 9 build retired: the entry no longer resolves.
    project.sim.update_catalog(|c| {
        let ids: Vec<String> = c
            .images("cn-bj2")
            .iter()
            .filter(|i| {
                i["OsName"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("Rocky Linux 9"))
            })
            .filter_map(|i| i["ImageId"].as_str().map(str::to_owned))
            .collect();
        for id in ids {
            c.set_state(&id, "Unavailable");
        }
    });
    push_newer_web(&project);
    let (code, _, stderr) = project.run(&["update"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("rocky in cn-bj2") && stderr.contains("emptied the list"),
        "{stderr}"
    );
    assert_eq!(project.lock_bytes(), before);

    // `explain` shows why, and where the pin went.
    let (code, stdout, stderr) = project.run(&["explain", "rocky"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("state in [Available]") && stdout.contains("← emptied the list"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pick today: none (no image matches)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("pinned: {rocky}")) && stdout.contains("listed (Unavailable)"),
        "{stdout}"
    );
}

#[test]
fn verify_names_deleted_and_unavailable_pins_and_leaves_the_lock_alone() {
    let project = locked_project();
    let before = project.lock_bytes();
    project.sim.reset_stats();
    let (code, _, stderr) = project.run(&["verify"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("all 3 pins"), "{stderr}");
    let stats = project.sim.stats();
    assert_eq!(
        stats.by_region,
        BTreeMap::from([("cn-bj2".into(), 1), ("hk".into(), 1)])
    );

    let deleted = pin_id(&project, "web", "hk");
    let retired = pin_id(&project, "rocky", "cn-bj2");
    project.sim.update_catalog(|c| {
        assert!(c.remove(&deleted));
        assert!(c.set_state(&retired, "Unavailable"));
    });
    let (code, stdout, stderr) = project.run(&["verify"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("2 of 3 pins"), "{stderr}");
    assert!(
        stderr.contains(&format!("web hk: {deleted}")) && stderr.contains("is missing"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("rocky cn-bj2: {retired}")) && stderr.contains("is Unavailable"),
        "{stderr}"
    );
    assert_eq!(project.lock_bytes(), before);

    let (code, stdout, _) = project.run(&["verify", "--json"]);
    assert_eq!(code, 4);
    let report = json(&stdout);
    let problems: Vec<_> = report["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            (
                p["name"].as_str(),
                p["image_id"].as_str(),
                p["state"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        problems,
        [
            (Some("rocky"), Some(retired.as_str()), Some("Unavailable")),
            (Some("web"), Some(deleted.as_str()), Some("missing")),
        ]
    );
    assert_eq!(project.lock_bytes(), before);
}

/// `count` Available images in cn-bj2, and a spec pinning each by `image_id`.
fn many_pins(count: usize) -> (String, Catalog) {
    let mut catalog = Catalog::new();
    let mut spec = String::from("version: 1\ndefaults:\n  region: cn-bj2\nimages:\n");
    for n in 0..count {
        let id = format!("uimage-{n:08}");
        catalog.push(
            "cn-bj2",
            image(&id, "Ubuntu 22.04 64位", 1_700_000_000 + n as i64),
        );
        spec.push_str(&format!("  e{n:03}:\n    filters:\n      image_id: {id}\n"));
    }
    (spec, catalog)
}

#[test]
fn verify_asks_once_per_region_per_hundred_pins() {
    for (pins, requests) in [(100, 1), (101, 2)] {
        let (spec, catalog) = many_pins(pins);
        let mut config = SimConfig::new(catalog);
        config.page_cap = 100;
        let project = Project::with_config(&spec, config);
        let (code, _, stderr) = project.run(&["lock"]);
        assert_eq!(code, 0, "{stderr}");
        project.sim.reset_stats();
        let (code, _, stderr) = project.run(&["verify"]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(project.requests(), requests, "{pins} pins");
    }
}

#[test]
fn verify_asks_for_a_project_s_pins_from_that_project() {
    // The example catalog's custom image belongs to org-demo: other projects cannot see it.
    let spec = r#"
version: 1
images:
  custom:
    region: cn-bj2
    project_id: org-demo
    filters: { image_type: Custom }
  base:
    region: cn-bj2
    filters: { image_type: Base }
"#;
    let project = Project::new(spec);
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    project.sim.reset_stats();
    let (code, _, stderr) = project.run(&["verify"]);
    assert_eq!(code, 0, "a project's image is not missing: {stderr}");
    let projects: Vec<Option<String>> = project
        .sim
        .requests()
        .iter()
        .map(|r| r.params.get("ProjectId").cloned())
        .collect();
    assert_eq!(projects.len(), 2, "one request per (region, project)");
    assert!(projects.contains(&Some("org-demo".to_string())));
    assert!(projects.contains(&None));
}

#[test]
fn explain_shows_the_funnel_and_marks_pin_and_pick() {
    let project = locked_project();
    let old_web = pin_id(&project, "web", "cn-bj2");
    push_newer_web(&project);
    let (code, stdout, stderr) =
        project.run(&["explain", "web", "--region", "cn-bj2", "--top", "3"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("web in cn-bj2 (select: newest)\n"),
        "{stdout}"
    );
    assert!(stdout.contains("images in the listing"), "{stdout}");
    assert!(
        stdout.contains("→ kept") && stdout.contains("name ~ ^Ubuntu 22\\.04"),
        "{stdout}"
    );
    let marked = |id: &str, mark: &str| {
        stdout
            .lines()
            .any(|line| line.contains(id) && line.ends_with(mark))
    };
    assert!(marked(NEWER_WEB, "← pick"), "{stdout}");
    assert!(marked(&old_web, "← pinned"), "{stdout}");
    assert!(stdout.contains("candidates, best first (3 of"), "{stdout}");
    assert!(!stdout.contains("web in hk"), "{stdout}");

    let (code, stdout, _) = project.run(&["explain", "web", "--json"]);
    assert_eq!(code, 0);
    let report = json(&stdout);
    let regions = report["regions"].as_array().expect("regions");
    assert_eq!(regions.len(), 2);
    assert_eq!(regions[0]["region"], "cn-bj2");
    assert_eq!(regions[0]["pick"], NEWER_WEB);
    assert_eq!(regions[0]["pinned"], old_web.as_str());
    assert_eq!(regions[0]["pinned_standing"]["candidate"], 2);
    assert_eq!(regions[0]["candidates"][0]["pick"], true);
    assert_eq!(regions[0]["candidates"][1]["pinned"], true);
    let steps = regions[0]["funnel"]["steps"].as_array().expect("steps");
    assert_eq!(steps[0]["filter"], "os_type = Linux");
    assert!(
        regions[0]["funnel"]["total"].as_u64() >= steps.last().and_then(|s| s["kept"].as_u64())
    );

    let (code, _, stderr) = project.run(&["explain", "web", "--region", "cn-sh2"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = project.run(&["explain", "rocy"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("did you mean `rocky`?"), "{stderr}");
}

#[test]
fn every_export_format_parses_back_to_the_lock_without_network() {
    let project = locked_project();
    let lock = lockfile(&project);
    let expected: BTreeMap<String, String> = lock
        .images
        .iter()
        .flat_map(|(entry, locked)| {
            locked
                .pins
                .iter()
                .map(move |(region, pin)| (format!("{entry} {region}"), pin.image_id.clone()))
        })
        .collect();
    assert_eq!(expected.len(), 3);
    project.sim.reset_stats();

    let export = |format: &str| {
        let (code, stdout, stderr) =
            common::output_of(project.bare_cmd(&["export", "--format", format]));
        assert_eq!(code, 0, "{format}: {stderr}");
        stdout
    };

    let env: BTreeMap<String, String> = export("env")
        .lines()
        .map(|line| {
            let (key, value) = line.split_once('=').expect("KEY=VALUE");
            (key.to_string(), value.to_string())
        })
        .collect();
    assert_eq!(env.len(), 3);
    assert_eq!(env["IMAGELOCK_WEB_CN_BJ2"], expected["web cn-bj2"]);
    assert_eq!(env["IMAGELOCK_WEB_HK"], expected["web hk"]);
    assert_eq!(env["IMAGELOCK_ROCKY_CN_BJ2"], expected["rocky cn-bj2"]);

    let all = json(&export("json"));
    for (key, id) in &expected {
        let (entry, region) = key.split_once(' ').expect("entry region");
        let pin = &all["images"][entry][region];
        assert_eq!(pin["image_id"], id.as_str());
        assert_eq!(
            pin["image_name"],
            lock.images[entry].pins[region].image_name.as_str()
        );
        assert!(pin["create_time"].is_i64());
    }

    let tfvars = json(&export("tfvars-json"));
    let map = tfvars["imagelock_images"]
        .as_object()
        .expect("the variable");
    assert_eq!(tfvars.as_object().map(|o| o.len()), Some(1));
    for (key, id) in &expected {
        let (entry, region) = key.split_once(' ').expect("entry region");
        assert_eq!(map[entry][region], id.as_str());
    }
    assert_eq!(project.requests(), 0);

    let (code, _, _) = common::output_of(project.bare_cmd(&["export", "--format", "yaml"]));
    assert_eq!(code, 2);
}

#[test]
fn export_refuses_a_stale_lock() {
    let project = locked_project();
    project.write_spec(&SPEC.replace("version: \"9\"", "version: \"8\""));
    for format in ["json", "env", "tfvars-json"] {
        let (code, stdout, stderr) =
            common::output_of(project.bare_cmd(&["export", "--format", format]));
        assert_eq!(code, 3, "{format}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(
            stderr.contains("the pin of `rocky` is stale: its query changed"),
            "{stderr}"
        );
    }
    // A missing lockfile is stale too.
    std::fs::remove_file(project.lock_path()).expect("remove lock");
    let (code, stdout, _) = common::output_of(project.bare_cmd(&["export", "--format", "env"]));
    assert_eq!((code, stdout.as_str()), (3, ""));
}

/// `imagelock terraform-external` with `query` on stdin, as Terraform runs it.
fn terraform(project: &Project, query: &str) -> (i32, String, String) {
    let mut cmd = project.bare_cmd(&["terraform-external"]);
    cmd.write_stdin(query);
    common::output_of(cmd)
}

#[test]
fn terraform_external_follows_the_protocol() {
    let project = locked_project();
    let lock = lockfile(&project);
    project.sim.reset_stats();

    let (code, stdout, stderr) = terraform(&project, r#"{"name": "web", "region": "hk"}"#);
    assert_eq!(code, 0, "{stderr}");
    let result = json(&stdout);
    let object = result.as_object().expect("an object");
    assert!(object.values().all(Value::is_string), "{result}");
    let pin = &lock.images["web"].pins["hk"];
    assert_eq!(result["image_id"], pin.image_id.as_str());
    assert_eq!(result["image_name"], pin.image_name.as_str());
    assert_eq!(result["os_name"], pin.os_name.as_str());
    assert_eq!(result["create_time"], pin.create_time.to_string().as_str());
    assert_eq!(result["region"], "hk");
    assert_eq!(object.len(), 5);

    // A single-region entry needs no region; paths may come in the query, from anywhere.
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let query = serde_json::json!({ "name": "rocky", "spec": project.spec_path() }).to_string();
    let mut cmd = project.bare_cmd(&["terraform-external"]);
    cmd.current_dir(elsewhere.path()).write_stdin(query);
    let (code, stdout, stderr) = common::output_of(cmd);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        json(&stdout)["image_id"],
        lock.images["rocky"].pins["cn-bj2"].image_id.as_str()
    );

    for (query, exit, message) in [
        (
            r#"{"name": "wbe", "region": "hk"}"#,
            2,
            "did you mean `web`?",
        ),
        (r#"{"name": "web"}"#, 2, "several regions"),
        (r#"{"name": "web", "region": 1}"#, 2, "must be a string"),
        (
            r#"{"name": "web", "regoin": "hk"}"#,
            2,
            "did you mean `region`?",
        ),
        ("not json", 2, "not a JSON object"),
    ] {
        let (code, stdout, stderr) = terraform(&project, query);
        assert_eq!(code, exit, "{query}: {stderr}");
        assert!(stdout.is_empty(), "{query}: {stdout}");
        assert!(stderr.contains(message), "{query}: {stderr}");
    }

    project.write_spec(&SPEC.replace("name: \"^Ubuntu 22\\\\.04\"", "name: \"^Ubuntu 24\\\\.04\""));
    let (code, stdout, stderr) = terraform(&project, r#"{"name": "web", "region": "hk"}"#);
    assert_eq!(code, 3, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("stale"), "{stderr}");
    assert_eq!(project.requests(), 0);
}

#[test]
fn the_terraform_example_holds_the_export_of_the_example_lock() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = Project::new(SPEC);
    let spec = root.join("examples/imagelock.yaml");
    let spec = spec.to_str().expect("UTF-8 path");
    let (code, stdout, stderr) =
        common::output_of(project.bare_cmd(&["-f", spec, "export", "--format", "tfvars-json"]));
    assert_eq!(code, 0, "{stderr}");
    let committed =
        std::fs::read_to_string(root.join("examples/terraform/tfvars/images.auto.tfvars.json"))
            .expect("the example's variable file");
    assert_eq!(
        committed, stdout,
        "regenerate examples/terraform/tfvars/images.auto.tfvars.json with `imagelock -f examples/imagelock.yaml export --format tfvars-json`"
    );
}
