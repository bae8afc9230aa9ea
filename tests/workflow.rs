//! The team workflow in week two, over real HTTP against the simulator with the real binary: the
//! spec found from a subdirectory, hand edits caught offline, a missing lockfile told apart,
//! relocking that keeps what still holds, removed pins reported, `outdated` that reports
//! everything, `update --region` and `--precise`. Each session's whole output (exit code, stdout,
//! stderr) is snapshotted.

mod common;

use common::{Project, image, output_of};
use insta::assert_snapshot;

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
      version: ">=9"
    select: highest_version
"#;

/// Today, as far as every rule that reads the clock is concerned.
const NOW: &str = "2026-11-28T12:00:00Z";

fn locked() -> Project {
    Project::locked(SPEC)
}

/// A newer Ubuntu 22.04 build in cn-bj2 than anything in examples/catalog.json.
fn publish_newer_web(project: &Project) {
    project.sim.update_catalog(|c| {
        c.push(
            "cn-bj2",
            image("uimage-newweb01", "Ubuntu 22.04 64位", 1_780_000_000),
        );
    });
}

#[test]
fn the_spec_is_found_from_a_subdirectory_and_a_missing_one_names_where_the_search_began() {
    let project = locked();
    let deep = project.path("infra/tf");
    std::fs::create_dir_all(&deep).unwrap();
    let mut cmd = project.cmd(&["check"]);
    cmd.current_dir(&deep);
    assert_snapshot!(project.snapshot_of(cmd), @"
    exit: 0
    ----- stdout -----
    ----- stderr -----
    ../../imagelock.lock satisfies ../../imagelock.yaml (2 entries)
    ");

    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = project.cmd(&["check"]);
    cmd.current_dir(elsewhere.path());
    let (code, stdout, stderr) = output_of(cmd);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert_eq!(
        stderr,
        format!(
            "error: no imagelock.yaml in {} or any parent directory; pass -f PATH, or run \
             `imagelock init` where the spec should live\n",
            elsewhere.path().display()
        )
    );
}

#[test]
fn a_missing_lockfile_is_not_an_out_of_date_one() {
    let project = Project::new(SPEC);
    assert_snapshot!(project.snapshot(&["check"]), @"
    exit: 3
    ----- stdout -----
    ----- stderr -----
    error: no lockfile at imagelock.lock; run `imagelock lock` to create it (or pass --lock PATH)
    ");
    assert_snapshot!(project.snapshot(&["--lock", "nope.lock", "get", "rocky"]), @r"
    exit: 3
    ----- stdout -----
    ----- stderr -----
    error: no lockfile at nope.lock; run `imagelock lock` to create it (or pass --lock PATH)
    ");
    assert_snapshot!(project.snapshot(&["export", "--format", "env"]), @"
    exit: 3
    ----- stdout -----
    ----- stderr -----
    error: no lockfile at imagelock.lock; run `imagelock lock` to create it (or pass --lock PATH)
    ");
}

#[test]
fn a_hand_edited_pin_is_caught_offline_refused_and_relocked_from_scratch() {
    let project = locked();
    let text = project.lock_text();
    let edited = text.replacen("uimage-bkhn0zvc", "uimage-bkhn0zvX", 1);
    assert_ne!(text, edited, "the rocky pin is uimage-bkhn0zvc");
    std::fs::write(project.lock_path(), &edited).unwrap();

    assert_snapshot!(project.snapshot(&["check"]), @"
    exit: 3
    ----- stdout -----
    ----- stderr -----
    imagelock.lock is out of date with imagelock.yaml:
      hand-edited  rocky (its pins were edited by hand since they were locked)
    run `imagelock lock` to update it
    ");
    assert_snapshot!(project.snapshot(&["get", "rocky"]), @r"
    exit: 3
    ----- stdout -----
    ----- stderr -----
    error: the pins of `rocky` were edited by hand; run `imagelock lock` to re-resolve them (or `imagelock update rocky --precise ID` to choose one)
    ");
    let (code, stdout, _) = project.run(&["export", "--format", "env"]);
    assert_eq!((code, stdout.as_str()), (3, ""));

    assert_snapshot!(project.snapshot(&["lock"]), @"
    exit: 0
    ----- stdout -----
    ----- stderr -----
      changed  rocky cn-bj2: uimage-bkhn0zvX (Rocky Linux 9.3 64位, 2024-01-01) → uimage-bkhn0zvc (Rocky Linux 9.3 64位, 2024-01-01)  [edited by hand]
    Locked 1 entry (0 pins removed) in imagelock.lock
    ");
    assert_eq!(
        project.lock_text(),
        text,
        "relocking restores the original pin"
    );
}

#[test]
fn reformatting_the_lockfile_is_not_a_hand_edit() {
    let project = locked();
    let text = project.lock_text();
    // Quoting and a comment change the bytes, not the values.
    let reformatted = text
        .replacen(
            "image_id: uimage-bkhn0zvc",
            "image_id: \"uimage-bkhn0zvc\"",
            1,
        )
        .replacen("images:\n", "images: # reviewed\n", 1);
    std::fs::write(project.lock_path(), &reformatted).unwrap();
    let (code, _, stderr) = project.run(&["check"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn adding_a_region_pins_the_new_region_only() {
    let project = locked();
    let before = project.lock_text();
    publish_newer_web(&project);
    project.write_spec(&SPEC.replace("regions: [cn-bj2, hk]", "regions: [cn-bj2, hk, cn-sh2]"));
    assert_snapshot!(project.snapshot(&["lock"]), @"
    exit: 0
    ----- stdout -----
    ----- stderr -----
      kept     web cn-bj2: uimage-iohu4mmd (Ubuntu 22.04 64位, 2025-03-01) (still matches the changed query)
      added    web cn-sh2: uimage-2uw0g9k4 (Ubuntu 22.04 64位, 2024-08-01)
      kept     web hk: uimage-u6krglfs (Ubuntu 22.04 64位, 2025-03-01) (still matches the changed query)
    Locked 1 entry (0 pins removed) in imagelock.lock
    ");
    assert!(before.contains("uimage-iohu4mmd"));
    assert!(!project.lock_text().contains("uimage-newweb01"));
}

#[test]
fn respelling_a_requirement_moves_nothing_and_dropping_a_region_reports_it() {
    let project = locked();
    publish_newer_web(&project);
    project.write_spec(&SPEC.replace("version: \">=9\"", "version: \">= 9.0\""));
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("kept     rocky cn-bj2: uimage-bkhn0zvc"),
        "{stderr}"
    );

    project.write_spec(&SPEC.replace("regions: [cn-bj2, hk]", "regions: [cn-bj2]"));
    assert_snapshot!(project.snapshot(&["lock"]), @"
    exit: 0
    ----- stdout -----
    ----- stderr -----
      kept     rocky cn-bj2: uimage-bkhn0zvc (Rocky Linux 9.3 64位, 2024-01-01) (still matches the changed query)
      kept     web cn-bj2: uimage-iohu4mmd (Ubuntu 22.04 64位, 2025-03-01) (still matches the changed query)
      removed  web hk: uimage-u6krglfs (Ubuntu 22.04 64位, 2025-03-01)
    Locked 2 entries (1 pin removed) in imagelock.lock
    ");
}

#[test]
fn outdated_reports_every_move_even_when_another_entry_fails() {
    let project = locked();
    publish_newer_web(&project);
    // rocky's pinned image vanishes and nothing else matches it any more.
    project.sim.update_catalog(|c| {
        for id in ["uimage-u507mk3e", "uimage-bkhn0zvc"] {
            assert!(c.remove(id));
        }
    });
    let mut cmd = project.cmd(&["outdated"]);
    cmd.env("IMAGELOCK_NOW", NOW);
    assert_snapshot!(project.snapshot_of(cmd), @"
    exit: 4
    ----- stdout -----
    ----- stderr -----
    1 pin would move:
      web cn-bj2: uimage-iohu4mmd (Ubuntu 22.04 64位, 2025-03-01) → uimage-newweb01 (Ubuntu 22.04 64位, 2026-05-28)
    1 pin could not be resolved:
      rocky in cn-bj2: no image matches
        16 images in the listing
          → kept 16  os_type = Linux
          → kept 16  image_type = Base
          → kept 14  state in [Available]
          → kept  2  os_name ~ ^Rocky Linux
          → kept  0  version >=9   ← emptied the list
          → kept  0  select highest_version (has a version)
    run `imagelock update [NAME…]` to move them (`imagelock lock` for entries behind the spec)
    ");

    let mut cmd = project.cmd(&["outdated", "--json"]);
    cmd.env("IMAGELOCK_NOW", NOW);
    let (code, stdout, _) = output_of(cmd);
    assert_eq!(code, 4);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["moves"][0]["name"], "web");
    assert_eq!(doc["moves"][0]["reason"], "newer");
    assert_eq!(doc["moves"][0]["latest"]["image_id"], "uimage-newweb01");
    assert_eq!(doc["failures"][0]["name"], "rocky");
    assert_eq!(doc["failures"][0]["kind"], "resolution");
}

#[test]
fn outdated_reports_an_entry_dropped_from_the_spec_even_when_quiet() {
    let project = locked();
    project.write_spec(
        "version: 1\ndefaults:\n  region: cn-bj2\n  filters:\n    os_type: Linux\nimages:\n  web:\n    regions: [cn-bj2, hk]\n    filters:\n      image_type: Base\n      name: \"^Ubuntu 22\\\\.04\"\n",
    );
    let mut cmd = project.cmd(&["-q", "outdated"]);
    cmd.env("IMAGELOCK_NOW", NOW);
    assert_snapshot!(project.snapshot_of(cmd), @r"
    exit: 3
    ----- stdout -----
    ----- stderr -----
    1 pin would move:
      rocky cn-bj2: uimage-bkhn0zvc (Rocky Linux 9.3 64位, 2024-01-01) → (removed)  [no longer in the spec]
    run `imagelock update [NAME…]` to move them (`imagelock lock` for entries behind the spec)
    ");
}

#[test]
fn update_moves_one_region_or_exactly_the_image_asked_for() {
    let project = locked();
    publish_newer_web(&project);
    project.sim.update_catalog(|c| {
        c.push(
            "hk",
            image("uimage-newwebhk", "Ubuntu 22.04 64位", 1_780_000_000),
        );
    });
    assert_snapshot!(project.snapshot(&["update", "web", "--region", "cn-bj2"]), @"
    exit: 0
    ----- stdout -----
    ----- stderr -----
    web cn-bj2: uimage-iohu4mmd (Ubuntu 22.04 64位, 2025-03-01) → uimage-newweb01 (Ubuntu 22.04 64位, 2026-05-28)
    Moved 1 of 1 pin in imagelock.lock
    ");
    let text = project.lock_text();
    assert!(text.contains("uimage-u6krglfs"), "hk stays: {text}");

    // Roll cn-bj2 back by hand to an older build that still passes the filters.
    assert_snapshot!(project.snapshot(&["update", "web", "--region", "cn-bj2", "--precise", "uimage-trlwgfd7"]), @"
    exit: 0
    ----- stdout -----
    ----- stderr -----
    web cn-bj2: uimage-newweb01 (Ubuntu 22.04 64位, 2026-05-28) → uimage-trlwgfd7 (Ubuntu 22.04 64位, 2023-08-01)
    Moved 1 of 1 pin in imagelock.lock
    ");
    // An image the filters reject: exit 4 with the funnel, nothing written.
    let before = project.lock_text();
    assert_snapshot!(project.snapshot(&["update", "web", "--region", "cn-bj2", "--precise", "uimage-idk5st0f"]), @r"
    exit: 4
    ----- stdout -----
    ----- stderr -----
    error: could not resolve 1 pin; nothing was written

    web in cn-bj2: no image matches
    1 image in the listing
      → kept 1  os_type = Linux
      → kept 1  image_type = Base
      → kept 1  state in [Available]
      → kept 0  name ~ ^Ubuntu 22\.04   ← emptied the list
    ");
    assert_eq!(project.lock_text(), before);
    // --precise on a multi-region entry needs --region.
    assert_snapshot!(project.snapshot(&["update", "web", "--precise", "uimage-trlwgfd7"]), @r"
    exit: 2
    ----- stdout -----
    ----- stderr -----
    error: `web` is pinned in several regions (cn-bj2, hk); --precise needs --region
    ");
}

#[test]
fn get_suggests_a_close_entry_name() {
    let project = locked();
    assert_snapshot!(project.snapshot(&["get", "wbe"]), @r"
    exit: 2
    ----- stdout -----
    ----- stderr -----
    error: no entry `wbe` in the spec; did you mean `web`?
    ");
}

#[test]
fn explain_names_an_unused_region_as_such() {
    let project = locked();
    assert_snapshot!(project.snapshot(&["explain", "web", "--region", "sg"]), @r"
    exit: 2
    ----- stdout -----
    ----- stderr -----
    error: `web` does not use region `sg`; its regions: cn-bj2, hk
    ");
}

/// Runs `script` in bash with `$IMAGELOCK` set to the binary, in the project, against the sim.
fn bash(project: &Project, script: &str) -> (i32, String, String) {
    let bin = assert_cmd::cargo::cargo_bin("imagelock");
    let mut cmd = assert_cmd::Command::new("bash");
    cmd.current_dir(project.dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", project.dir.path())
        .env("NO_COLOR", "1")
        .env("IMAGELOCK", bin)
        .env("UCLOUD_PUBLIC_KEY", common::PUBLIC_KEY)
        .env("UCLOUD_PRIVATE_KEY", common::PRIVATE_KEY)
        .env("UCLOUD_BASE_URL", project.sim.url())
        .args(["-c", script]);
    output_of(cmd)
}

#[test]
fn output_never_crashes() {
    let project = locked();
    project.write_spec(&SPEC.replace("  rocky:", "  rocky2:"));
    // A closed reader on stderr or stdout ends quietly with the exit code the command would
    // have had: 3 for a stale lock, 0 for a schema.
    let (_, out, _) = bash(
        &project,
        r#""$IMAGELOCK" check 2>&1 | true; echo "check:${PIPESTATUS[0]}"
           "$IMAGELOCK" schema | true; echo "schema:${PIPESTATUS[0]}"
           "$IMAGELOCK" check 2>/dev/full; echo "full-stderr:$?"
           "$IMAGELOCK" schema >/dev/full 2>/dev/null; echo "full-stdout:$?"
           "$IMAGELOCK" get web --region hk >&- 2>/dev/null; echo "closed-stdout:$?""#,
    );
    assert_eq!(
        out,
        "check:3\nschema:0\nfull-stderr:3\nfull-stdout:2\nclosed-stdout:2\n"
    );
    let (code, _, stderr) = bash(&project, r#""$IMAGELOCK" schema >/dev/full"#);
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: cannot write to stdout: No space left on device (os error 28)\n"
        )
    );
}

#[test]
fn control_characters_from_the_api_are_escaped() {
    let project = Project::new(
        "version: 1\nimages:\n  evil:\n    region: cn-bj2\n    filters:\n      image_id: uimage-evil\n",
    );
    project.sim.update_catalog(|c| {
        c.push(
            "cn-bj2",
            image(
                "uimage-evil",
                "Ubuntu\u{1b}[31m 22.04\nforged line",
                1_700_000_000,
            ),
        );
    });
    assert_snapshot!(project.snapshot(&["lock"]), @r"
    exit: 0
    ----- stdout -----
    ----- stderr -----
      added    evil cn-bj2: uimage-evil (Ubuntu\u{1b}[31m 22.04\nforged line, 2023-11-14)
    Locked 1 entry (0 pins removed) in imagelock.lock
    ");
}

#[test]
fn help_lists_a_command_s_own_options_apart_from_global_ones() {
    let project = Project::new(SPEC);
    let (code, stdout, _) = project.run(&["images", "--help"]);
    assert_eq!(code, 0);
    assert!(!stdout.contains("--lock"), "{stdout}");
    assert!(stdout.contains("Global options:"), "{stdout}");
    let own = stdout.split("Global options:").next().unwrap();
    for option in ["--region", "--os-type", "--image-type", "--func-type"] {
        let line = own
            .lines()
            .find(|l| l.trim_start().starts_with(option))
            .unwrap_or_else(|| panic!("{option} in {own}"));
        assert!(
            line.trim().len() > option.len() + 12,
            "{option} is described: {line}"
        );
    }
    let (code, _, stderr) = project.run(&["--timeout", "1d", "check"]);
    assert_eq!(code, 2);
    assert!(!stderr.contains("jiff"), "{stderr}");
}

#[test]
fn a_misspelt_region_is_named_as_the_likely_cause() {
    let project = Project::new(
        "version: 1\nimages:\n  web:\n    region: cn-bj3\n    filters: { image_type: Base }\n",
    );
    assert_snapshot!(project.snapshot(&["lock"]), @"
    exit: 4
    ----- stdout -----
    ----- stderr -----
    error: could not resolve 1 pin; nothing was written

    web in cn-bj3: no image matches
    0 images in the listing
      → kept 0  image_type = Base
      → kept 0  state in [Available]
    hint: no images at all in region cn-bj3: is the name right?
    ");
    assert!(project.lock_bytes().is_none(), "nothing is written");
}
