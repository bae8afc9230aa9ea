//! Safe and reviewable upgrades through the operations, over real HTTP with the real binary:
//! `hold` in `update` and `outdated`, the downgrade guard and `--allow-downgrade`, cooling builds
//! in `outdated`, EOL horizons in `check --eol-within` and `outdated`, the Markdown reports, and
//! `update --dry-run`. Whole outputs are snapshotted.

mod common;

use common::{Project, image, output_of};
use insta::assert_snapshot;
use ucloud_sim::Catalog;

/// Fixed "today" for every rule that reads the clock.
const NOW: &str = "2026-11-28T12:00:00Z";

const DAY: i64 = 86_400;

/// 2026-11-28T12:00:00Z as unix seconds.
const NOW_SECONDS: i64 = 1_795_867_200;

fn catalog() -> Catalog {
    let mut catalog = Catalog::new();
    let with_eol = |mut value: serde_json::Value, eol: &str| {
        value["MaintainEol"] = eol.into();
        value
    };
    for (id, name, created, eol) in [
        // Ubuntu 24.04, pinned first.
        (
            "uimage-u2404",
            "Ubuntu 24.04 64位",
            1_750_000_000,
            "2029/04/30",
        ),
        // Rocky 9.3: its EOL is 10 days from NOW.
        (
            "uimage-r93",
            "Rocky Linux 9.3 64位",
            1_700_000_000,
            "2026/12/08",
        ),
        // Debian 11: EOL in the past.
        (
            "uimage-d11",
            "Debian 11.6 64位",
            1_650_000_000,
            "2026/06/30",
        ),
        // A custom image with no EOL at all.
        ("uimage-c1", "golden 1", 1_600_000_000, ""),
    ] {
        catalog.push("cn-bj2", with_eol(image(id, name, created), eol));
    }
    catalog
}

const SPEC: &str = "\
version: 1
defaults:
  region: cn-bj2
  filters: { image_type: Base }
images:
  web:
    filters: { name: \"^Ubuntu\" }
  rocky:
    filters: { name: \"^Rocky\" }
  debian:
    filters: { name: \"^Debian\" }
  golden:
    filters: { name: \"^golden\" }
";

fn cmd(project: &Project, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = project.cmd(args);
    cmd.env("IMAGELOCK_NOW", NOW);
    cmd
}

fn locked() -> Project {
    let project = Project::with_catalog(SPEC, catalog());
    let (code, _, stderr) = output_of(cmd(&project, &["lock"]));
    assert_eq!(code, 0, "{stderr}");
    project
}

/// A fresh rebuild of an older OS line: newest by CreateTime, lower by version.
fn publish_older_line(project: &Project) {
    project.sim.update_catalog(|c| {
        c.push(
            "cn-bj2",
            image(
                "uimage-u2204-new",
                "Ubuntu 22.04 64位",
                NOW_SECONDS - DAY * 30,
            ),
        );
    });
}

#[test]
fn check_eol_within_fails_pins_near_or_past_their_end_of_life() {
    let project = locked();
    assert_snapshot!(project.snapshot_of(cmd(&project, &["check", "--eol-within", "30d"])), @"
    exit: 3
    ----- stdout -----
    ----- stderr -----
    warning: 1 pin records no end-of-life date (the API gave none); --eol-within cannot judge it
    2 pins reach end of life within the horizon:
      debian cn-bj2: uimage-d11 reached end of life on 2026-06-30 (151 days ago)
      rocky cn-bj2: uimage-r93 reaches end of life on 2026-12-08 (in 10 days)
    run `imagelock update NAME` to move them to a supported image
    ");
    // A short horizon still fails the past one; a long one also catches web (2029).
    let (code, _, stderr) = output_of(cmd(&project, &["check", "--eol-within", "1d"]));
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr
            .contains("debian cn-bj2: uimage-d11 reached end of life on 2026-06-30 (151 days ago)"),
        "{stderr}"
    );
    assert!(!stderr.contains("rocky"), "{stderr}");
    let (_, _, stderr) = output_of(cmd(&project, &["check", "--eol-within", "200w"]));
    assert!(stderr.contains("web cn-bj2: uimage-u2404"), "{stderr}");
    // Without the flag, EOL is not check's business.
    let (code, _, _) = output_of(cmd(&project, &["check"]));
    assert_eq!(code, 0);
}

#[test]
fn the_lockfile_records_readable_eol_dates_only() {
    let project = locked();
    let text = project.lock_text();
    assert!(text.contains("maintain_eol: '2026-12-08'"), "{text}");
    let golden = &text[text.find("  golden:").unwrap()..text.find("  rocky:").unwrap()];
    assert!(!golden.contains("maintain_eol"), "{golden}");
}

#[test]
fn outdated_lists_eol_notices_and_flags_downgrades_without_moving_anything() {
    let project = locked();
    publish_older_line(&project);
    let before = project.lock_text();
    assert_snapshot!(project.snapshot_of(cmd(&project, &["outdated"])), @"
    exit: 3
    ----- stdout -----
    ----- stderr -----
    1 pin would move:
      web cn-bj2: uimage-u2404 (Ubuntu 24.04 64位, 2025-06-15) → uimage-u2204-new (Ubuntu 22.04 64位, 2026-10-29)  (downgrade 24.4.0 → 22.4.0)
    end of life within 30 days, or past:
      debian cn-bj2: uimage-d11 reached end of life on 2026-06-30 (151 days ago)
      rocky cn-bj2: uimage-r93 reaches end of life on 2026-12-08 (in 10 days)
    run `imagelock update [NAME…]` to move them (`imagelock lock` for entries behind the spec)
    ");
    assert_snapshot!(project.snapshot_of(cmd(&project, &["outdated", "--format", "markdown"])), @"
    exit: 3
    ----- stdout -----
    ## imagelock outdated

    | Entry | Region | From | To | Version | Flags |
    |---|---|---|---|---|---|
    | web | cn-bj2 | `uimage-u2404` Ubuntu 24.04 64位 (2025-06-15) | `uimage-u2204-new` Ubuntu 22.04 64位 (2026-10-29) | 24.4.0 → 22.4.0 | downgrade |

    ### End of life

    - debian cn-bj2: uimage-d11 reached end of life on 2026-06-30 (151 days ago)
    - rocky cn-bj2: uimage-r93 reaches end of life on 2026-12-08 (in 10 days)

    ----- stderr -----
    ");
    let (code, stdout, _) = output_of(cmd(&project, &["outdated", "--json"]));
    assert_eq!(code, 3);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["moves"][0]["downgrade"], true);
    assert_eq!(doc["eol"].as_array().map(Vec::len), Some(2), "{doc}");
    assert_eq!(project.lock_text(), before, "outdated writes nothing");
}

#[test]
fn update_refuses_downgrades_unless_allowed_and_dry_run_writes_nothing() {
    let project = locked();
    publish_older_line(&project);
    let before = project.lock_text();
    assert_snapshot!(project.snapshot_of(cmd(&project, &["update", "web", "--dry-run", "--allow-downgrade"])), @"
    exit: 0
    ----- stdout -----
    ----- stderr -----
    web cn-bj2: uimage-u2404 (Ubuntu 24.04 64位, 2025-06-15) → uimage-u2204-new (Ubuntu 22.04 64位, 2026-10-29)  (downgrade 24.4.0 → 22.4.0)
    Would move 1 of 1 pin in imagelock.lock (dry run: nothing was written)
    ");
    assert_eq!(project.lock_text(), before, "a dry run writes nothing");

    assert_snapshot!(project.snapshot_of(cmd(&project, &["update"])), @"
    exit: 3
    ----- stdout -----
    ----- stderr -----
    debian cn-bj2: uimage-d11 (Debian 11.6 64位, 2022-04-15) unchanged
    golden cn-bj2: uimage-c1 (golden 1, 2020-09-13) unchanged
    rocky cn-bj2: uimage-r93 (Rocky Linux 9.3 64位, 2023-11-14) unchanged
    refused 1 move (the downgrade guard; pass --allow-downgrade to move them anyway):
      web cn-bj2: uimage-u2404 (Ubuntu 24.04 64位, 2025-06-15) → uimage-u2204-new (Ubuntu 22.04 64位, 2026-10-29)  (downgrade 24.4.0 → 22.4.0)
    imagelock.lock is up to date
    ");
    assert_eq!(project.lock_text(), before, "the refused pin stays");

    assert_snapshot!(project.snapshot_of(cmd(&project, &["update", "web", "--allow-downgrade", "--format", "markdown"])), @"
    exit: 0
    ----- stdout -----
    ## imagelock update

    | Entry | Region | From | To | Version | Flags |
    |---|---|---|---|---|---|
    | web | cn-bj2 | `uimage-u2404` Ubuntu 24.04 64位 (2025-06-15) | `uimage-u2204-new` Ubuntu 22.04 64位 (2026-10-29) | 24.4.0 → 22.4.0 | downgrade |

    ----- stderr -----
    ");
    assert!(project.lock_text().contains("uimage-u2204-new"));
}

#[test]
fn held_entries_stay_and_are_listed() {
    let project = locked();
    publish_older_line(&project);
    project.sim.update_catalog(|c| {
        c.push(
            "cn-bj2",
            image("uimage-r94", "Rocky Linux 9.4 64位", NOW_SECONDS - DAY),
        );
    });
    project.write_spec(&SPEC.replace(
        "  rocky:\n",
        "  rocky:\n    hold: \"waiting for the 9.4 kernel fix (INC-7)\"\n",
    ));
    // hold is policy: the lock stays fresh.
    let (code, _, stderr) = output_of(cmd(&project, &["check"]));
    assert_eq!(code, 0, "{stderr}");
    assert_snapshot!(project.snapshot_of(cmd(&project, &["update", "rocky"])), @"
    exit: 2
    ----- stdout -----
    ----- stderr -----
    error: `rocky` is held (waiting for the 9.4 kernel fix (INC-7)); remove `hold` from its spec entry to update it
    ");
    assert_snapshot!(project.snapshot_of(cmd(&project, &["outdated"])), @"
    exit: 3
    ----- stdout -----
    ----- stderr -----
    1 pin would move:
      web cn-bj2: uimage-u2404 (Ubuntu 24.04 64位, 2025-06-15) → uimage-u2204-new (Ubuntu 22.04 64位, 2026-10-29)  (downgrade 24.4.0 → 22.4.0)
    held (`update` leaves them as they are):
      rocky: waiting for the 9.4 kernel fix (INC-7)
    end of life within 30 days, or past:
      debian cn-bj2: uimage-d11 reached end of life on 2026-06-30 (151 days ago)
      rocky cn-bj2: uimage-r93 reaches end of life on 2026-12-08 (in 10 days)
    run `imagelock update [NAME…]` to move them (`imagelock lock` for entries behind the spec)
    ");
    let (_, stdout, _) = output_of(cmd(&project, &["outdated", "--json"]));
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["held"][0]["name"], "rocky");
    assert!(
        doc["moves"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["name"] != "rocky"),
        "{doc}"
    );
}

#[test]
fn cooling_builds_are_listed_with_their_eligibility_date() {
    let project = locked();
    project.sim.update_catalog(|c| {
        c.push(
            "cn-bj2",
            image("uimage-u2604", "Ubuntu 26.04 64位", NOW_SECONDS - 2 * DAY),
        );
    });
    project.write_spec(&SPEC.replace(
        "filters: { name: \"^Ubuntu\" }",
        "filters: { name: \"^Ubuntu\", min_age: 7d }",
    ));
    // The query changed (min_age is part of it): lock keeps the pin, which still holds.
    let (code, _, stderr) = output_of(cmd(&project, &["lock"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(project.lock_text().contains("uimage-u2404"));
    assert_snapshot!(project.snapshot_of(cmd(&project, &["outdated"])), @"
    exit: 0
    ----- stdout -----
    ----- stderr -----
    every pin is the one the spec would choose today
    cooling down (newer builds that `min_age` keeps out for now):
      web cn-bj2: uimage-u2604 (Ubuntu 26.04 64位, 2026-11-26) eligible from 2026-12-03 12:00 UTC
    end of life within 30 days, or past:
      debian cn-bj2: uimage-d11 reached end of life on 2026-06-30 (151 days ago)
      rocky cn-bj2: uimage-r93 reaches end of life on 2026-12-08 (in 10 days)
    ");
}

#[test]
fn format_and_json_together_are_a_usage_error() {
    let project = locked();
    let (code, stdout, _) = output_of(cmd(
        &project,
        &["outdated", "--json", "--format", "markdown"],
    ));
    assert_eq!((code, stdout.as_str()), (2, ""));
}

#[test]
fn a_denied_pin_is_refused_offline_and_lock_repicks_only_it() {
    let project = locked();
    let before = project.lock_text();
    project.write_spec(&format!(
        "{SPEC}deny:\n  uimage-r93: \"kernel panic on boot (INC-9)\"\n"
    ));
    project.sim.update_catalog(|c| {
        c.push(
            "cn-bj2",
            image("uimage-r92", "Rocky Linux 9.2 64位", 1_690_000_000),
        );
    });
    assert_snapshot!(project.snapshot_of(cmd(&project, &["check"])), @"
    exit: 3
    ----- stdout -----
    ----- stderr -----
    imagelock.lock is out of date with imagelock.yaml:
      denied       rocky cn-bj2: uimage-r93 (kernel panic on boot (INC-9))
    run `imagelock lock` to update it
    ");
    assert_snapshot!(project.snapshot_of(cmd(&project, &["get", "rocky"])), @"
    exit: 3
    ----- stdout -----
    ----- stderr -----
    error: the pin of `rocky` in cn-bj2 is uimage-r93, which the spec denies (kernel panic on boot (INC-9)); run `imagelock lock` to re-pick it
    ");
    assert_snapshot!(project.snapshot_of(cmd(&project, &["lock"])), @"
    exit: 0
    ----- stdout -----
    ----- stderr -----
      changed  rocky cn-bj2: uimage-r93 (Rocky Linux 9.3 64位, 2023-11-14) → uimage-r92 (Rocky Linux 9.2 64位, 2023-07-22)  [denied]
    Locked 1 entry (0 pins removed) in imagelock.lock
    ");
    let after = project.lock_text();
    assert!(after.contains("uimage-r92"), "{after}");
    // Every other entry keeps its bytes.
    for entry in ["debian", "golden", "web"] {
        // The entry's lines: its header, then everything indented deeper.
        let block = |text: &str| -> Vec<String> {
            let header = format!("  {entry}:");
            text.lines()
                .skip_while(|line| *line != header)
                .enumerate()
                .take_while(|(i, line)| *i == 0 || line.starts_with("    "))
                .map(|(_, line)| line.to_string())
                .collect()
        };
        assert_eq!(block(&before), block(&after), "{entry}");
    }
}
