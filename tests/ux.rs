//! What users and their scripts see: the `--json` shapes of every command that has one (documented
//! in the README), `init`, `images`, shell completions, and quiet, plain output off a terminal.

mod common;

use common::{Project, output_of};
use serde_json::Value;

const EXAMPLE_SPEC: &str = include_str!("../examples/imagelock.yaml");
const SCHEMA: &str = include_str!("../schemas/imagelock.schema.json");

const WEB_SPEC: &str = "version: 1\nimages:\n  web:\n    regions: [cn-bj2, hk]\n    filters:\n      name: \"^Ubuntu 22\\\\.04\"\n      features: [IPv6]\n";

fn json_of(project: &Project, args: &[&str]) -> (i32, Value) {
    let (code, stdout, stderr) = project.run(args);
    let value = serde_json::from_str(&stdout)
        .unwrap_or_else(|err| panic!("{args:?}: stdout is not JSON ({err}): {stdout}\n{stderr}"));
    (code, value)
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

const PIN_KEYS: [&str; 9] = [
    "create_time",
    "features",
    "image_id",
    "image_name",
    "image_type",
    "maintain_eol",
    "os_name",
    "os_type",
    "project_id",
];

/// Every pin change in a JSON document has this shape.
const CHANGE_KEYS: [&str; 7] = [
    "downgrade",
    "moved",
    "name",
    "new",
    "old",
    "reason",
    "region",
];

#[test]
fn lock_json_lists_added_changed_and_removed() {
    let project = Project::new(WEB_SPEC);
    let (code, first) = json_of(&project, &["--json", "lock"]);
    assert_eq!(code, 0);
    assert_eq!(
        keys(&first),
        [
            "added", "changed", "kept", "lockfile", "removed", "warnings", "written"
        ]
    );
    assert_eq!(first["written"], true);
    let added = first["added"].as_array().expect("added is a list");
    assert_eq!(added.len(), 2);
    assert_eq!(keys(&added[0]), CHANGE_KEYS);
    assert_eq!(added[0]["reason"], "missing");
    assert_eq!(added[0]["name"], "web");
    assert_eq!(added[0]["region"], "cn-bj2");
    assert_eq!(added[0]["old"], Value::Null);
    assert_eq!(keys(&added[0]["new"]), PIN_KEYS);

    // The query changes (one region, no feature) and a new entry appears: base is added; web
    // keeps its hk pin, which still matches, and its cn-bj2 pin goes.
    project.write_spec(
        "version: 1\nimages:\n  web:\n    region: hk\n    filters:\n      name: \"^Ubuntu 22\\\\.04\"\n  base:\n    region: hk\n",
    );
    let (code, second) = json_of(&project, &["--json", "lock"]);
    assert_eq!(code, 0);
    assert_eq!(second["added"][0]["name"], "base");
    assert_eq!(second["changed"], serde_json::json!([]));
    let kept = second["kept"].as_array().expect("kept is a list");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["region"], "hk");
    assert_eq!(kept[0]["reason"], "query_changed");
    assert_eq!(kept[0]["old"], kept[0]["new"]);
    assert_eq!(keys(&kept[0]["old"]), PIN_KEYS);
    assert_eq!(second["removed"][0]["region"], "cn-bj2");

    project.write_spec("version: 1\nimages:\n  base:\n    region: hk\n");
    let (code, third) = json_of(&project, &["--json", "lock"]);
    assert_eq!(code, 0);
    assert_eq!(third["removed"][0]["name"], "web");
    assert_eq!(third["removed"][0]["region"], "hk");
    assert_eq!(third["removed"][0]["new"], Value::Null);
    assert_eq!(third["removed"].as_array().map(Vec::len), Some(1));
    assert_eq!(third["added"], serde_json::json!([]));

    let (code, fourth) = json_of(&project, &["--json", "lock"]);
    assert_eq!(code, 0);
    assert_eq!(fourth["written"], false);
}

#[test]
fn check_json_reports_fresh_missing_changed_and_extra() {
    let project = Project::new(WEB_SPEC);
    // No lockfile at all is not an out-of-date one: an error document, exit 3.
    let (code, missing) = json_of(&project, &["--json", "check"]);
    assert_eq!(code, 3);
    assert_eq!(keys(&missing), ["error"]);
    assert_eq!(keys(&missing["error"]), ["exit_code", "kind", "message"]);
    assert_eq!(missing["error"]["exit_code"], 3);

    assert_eq!(project.run(&["lock"]).0, 0);
    let (code, after) = json_of(&project, &["--json", "check"]);
    assert_eq!(code, 0);
    assert_eq!(
        keys(&after),
        [
            "changed",
            "denied",
            "eol",
            "eol_unknown",
            "extra",
            "fresh",
            "hand_edited",
            "lockfile",
            "missing",
            "warnings"
        ]
    );
    assert_eq!(after["fresh"], true);

    project.write_spec(&format!("{WEB_SPEC}  base:\n    region: hk\n"));
    let (code, before) = json_of(&project, &["--json", "check"]);
    assert_eq!(code, 3);
    assert_eq!(before["fresh"], false);
    assert_eq!(before["missing"], serde_json::json!(["base"]));
    assert_eq!(project.requests(), 2, "check never calls the API");
}

#[test]
fn outdated_verify_and_explain_json_shapes() {
    let project = Project::new(WEB_SPEC);
    assert_eq!(project.run(&["lock"]).0, 0);

    let (code, outdated) = json_of(&project, &["--json", "outdated"]);
    assert_eq!(code, 0);
    assert_eq!(
        keys(&outdated),
        ["cooling", "eol", "failures", "held", "moves", "warnings"]
    );
    assert_eq!(outdated["moves"], serde_json::json!([]));

    // A newer matching image appears upstream: outdated lists the move, exit 3.
    project.sim.update_catalog(|catalog| {
        let mut newer = common::image("uimage-newer", "Ubuntu 22.04 64位", 1_900_000_000);
        newer["Features"] = serde_json::json!(["IPv6"]);
        catalog.push("hk", newer);
    });
    let (code, outdated) = json_of(&project, &["--json", "outdated"]);
    assert_eq!(code, 3);
    let moves = outdated["moves"].as_array().expect("a list");
    assert_eq!(moves.len(), 1, "{outdated}");
    assert_eq!(
        keys(&moves[0]),
        ["current", "downgrade", "latest", "name", "reason", "region"]
    );
    assert_eq!(moves[0]["latest"]["image_id"], "uimage-newer");

    let (code, verify) = json_of(&project, &["--json", "verify"]);
    assert_eq!(code, 0);
    assert_eq!(
        keys(&verify),
        ["lockfile", "pins", "problems", "regions", "warnings"]
    );
    assert_eq!(verify["pins"], 2);
    assert_eq!(verify["problems"], serde_json::json!([]));

    let (code, explain) = json_of(&project, &["--json", "explain", "web", "--region", "hk"]);
    assert_eq!(code, 0);
    assert_eq!(
        keys(&explain),
        ["agree", "held", "name", "regions", "select", "warnings"]
    );
    let region = &explain["regions"][0];
    assert_eq!(region["region"], "hk");
    assert!(
        region["funnel"]["steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(region["candidates"][0]["pick"].as_bool().unwrap_or(false));
    assert_eq!(region["candidates"][0]["image_id"], "uimage-newer");
}

#[test]
fn init_writes_a_spec_that_validates_and_refuses_to_overwrite() {
    let project = Project::new("");
    std::fs::remove_file(project.spec_path()).expect("start without a spec");
    let (code, _, stderr) = output_of(project.bare_cmd(&["init", "--region", "hk"]));
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(project.spec_path()).expect("init wrote a spec");
    assert!(
        text.starts_with("# yaml-language-server: $schema="),
        "{text}"
    );
    assert!(text.contains("  region: hk\n"), "{text}");

    // The imagelock rules and the published JSON Schema both accept it.
    let (code, _, stderr) = output_of(project.bare_cmd(&["validate"]));
    assert_eq!(code, 0, "{stderr}");
    let schema: Value = serde_json::from_str(SCHEMA).expect("schema is JSON");
    let validator = jsonschema::draft202012::new(&schema).expect("schema compiles");
    let instance: Value = imagelock::spec::document(&text).expect("init output is YAML");
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");

    // And it locks against the simulator as written.
    assert_eq!(project.run(&["lock"]).0, 0);

    // A second init refuses (exit 2) and leaves the file alone; --force replaces it.
    std::fs::write(project.spec_path(), "mine").expect("write");
    let (code, _, stderr) = output_of(project.bare_cmd(&["init"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(project.spec_path()).expect("read"),
        "mine"
    );
    let (code, _, stderr) = output_of(project.bare_cmd(&["init", "--force"]));
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(project.spec_path()).expect("read");
    assert!(text.contains("  region: cn-bj2\n"), "{text}");
}

#[test]
fn init_takes_the_region_of_the_active_profile() {
    let project = Project::new("");
    std::fs::remove_file(project.spec_path()).expect("start without a spec");
    let dir = project.path(".ucloud");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("config.json"),
        r#"[{"profile": "default", "active": true, "region": "us-ca"}]"#,
    )
    .expect("write config");
    let (code, _, stderr) = output_of(project.bare_cmd(&["init"]));
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(project.spec_path()).expect("read");
    assert!(text.contains("  region: us-ca\n"), "{text}");
}

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    let project = Project::new(WEB_SPEC);
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let (code, stdout, stderr) = output_of(project.bare_cmd(&["completions", shell]));
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(stdout.contains("imagelock"), "{shell}");
        // Names that are not part of "imagelock", so each check can fail on its own.
        for subcommand in [
            "check",
            "images",
            "init",
            "completions",
            "outdated",
            "verify",
        ] {
            assert!(stdout.contains(subcommand), "{shell} lacks {subcommand}");
        }
    }
    let (code, _, stderr) = output_of(project.bare_cmd(&["completions", "tcsh"]));
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn images_table_is_newest_first_with_the_spec_filters() {
    let project = Project::new(WEB_SPEC);
    let (code, stdout, stderr) = project.run(&[
        "images",
        "--region",
        "hk",
        "--name",
        "^Ubuntu",
        "--features",
        "IPv6,CloudInit",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("IMAGE ID"), "{stdout}");
    assert!(lines.len() > 2, "{stdout}");
    let dates: Vec<&str> = lines[1..]
        .iter()
        .map(|line| line.split_whitespace().nth(1).expect("a date column"))
        .collect();
    let mut sorted = dates.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(dates, sorted, "newest first");
    for line in &lines[1..] {
        assert!(line.contains("Ubuntu"), "{line}");
        assert!(
            line.contains("IPv6") && line.contains("CloudInit"),
            "{line}"
        );
        assert!(line.contains("Available"), "{line}");
    }
    assert!(stderr.contains("matching images shown"), "{stderr}");
    assert_eq!(project.requests(), 1);
}

#[test]
fn images_json_pushes_down_types_and_honors_limit_and_state() {
    let project = Project::new(WEB_SPEC);
    let (code, all) = json_of(
        &project,
        &[
            "--json",
            "images",
            "--region",
            "cn-bj2",
            "--os-type",
            "Linux",
            "--state",
            "Available,Making,Unavailable,Copying",
        ],
    );
    assert_eq!(code, 0);
    let all = all.as_array().expect("a list");
    assert!(all.iter().all(|i| i["os_type"] == "Linux"));
    assert!(
        all.iter().any(|i| i["state"] != "Available"),
        "--state widens the default"
    );
    let request = &project.sim.requests()[0];
    assert!(
        request.listing_key().contains("Linux"),
        "os_type is pushed down: {}",
        request.listing_key()
    );

    let (code, limited) = json_of(
        &project,
        &["--json", "images", "--region", "cn-bj2", "--limit", "2"],
    );
    assert_eq!(code, 0);
    let limited = limited.as_array().expect("a list");
    assert_eq!(limited.len(), 2);
    assert!(limited[0]["create_time"].as_i64() >= limited[1]["create_time"].as_i64());
    assert!(limited.iter().all(|i| i["state"] == "Available"));
    assert_eq!(
        keys(&limited[0]),
        [
            "create_time",
            "created",
            "features",
            "func_type",
            "image_id",
            "image_name",
            "image_type",
            "maintain_eol",
            "os_name",
            "os_type",
            "state",
            "zone"
        ]
    );
}

#[test]
fn images_needs_a_region_and_valid_filters_before_any_request() {
    let project = Project::new(WEB_SPEC);
    let (code, _, stderr) = project.run(&["images"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--region"), "{stderr}");
    let (code, _, stderr) = project.run(&["images", "--region", "hk", "--os-type", "linux"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("Linux"), "{stderr}");
    let (code, _, stderr) = project.run(&["images", "--region", "hk", "--name", "(Ubuntu"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("regex"), "{stderr}");
    assert_eq!(project.requests(), 0);
}

#[test]
fn quiet_lock_prints_nothing_and_plain_runs_have_no_progress_or_colors() {
    let project = Project::new(EXAMPLE_SPEC);
    let (code, stdout, stderr) = project.run(&["-q", "lock"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty() && stderr.is_empty(), "{stdout}{stderr}");

    std::fs::remove_file(project.lock_path()).expect("remove lock");
    // Even with colors allowed, a pipe gets neither a spinner nor escape codes.
    let mut cmd = project.cmd(&["lock"]);
    cmd.env_remove("NO_COLOR");
    let (code, _, stderr) = output_of(cmd);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("added"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(!stderr.contains("Fetching images"), "{stderr}");
}

#[test]
fn images_table_lists_features_sorted() {
    // The catalog gives `uimage-vpu601wv` its features in API order (NetEnhnced first); the table
    // sorts them, byte order like the lockfile, so two rows are easy to compare by eye.
    let project = Project::new(WEB_SPEC);
    let (code, stdout, stderr) = project.run(&[
        "images",
        "--region",
        "cn-bj2",
        "--name",
        "^Ubuntu",
        "--features",
        "CloudInit",
        "--limit",
        "3",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let rows: Vec<(&str, &str)> = stdout
        .lines()
        .skip(1)
        .filter_map(|line| {
            let id = line.split_whitespace().next()?;
            let features = line.split_whitespace().last()?;
            Some((id, features))
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "uimage-vpu601wv",
                "CloudInit,HotPlug,IPv6,NetEnhanced_Ultra,NetEnhnced,RssdAttachable"
            ),
            ("uimage-iohu4mmd", "CloudInit,HotPlug,NetEnhnced"),
            ("uimage-vbgj9ef6", "Aarch64_Type,CloudInit,IPv6,NetEnhnced"),
        ],
        "{stdout}"
    );
}
