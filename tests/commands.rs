//! The whole output (exit code, stdout, stderr) of the commands not snapshotted elsewhere, in
//! their main success and failure sessions, against the simulator: `verify`, `images`, `init`,
//! `export`, `terraform-external`, `get --json`, and a run where many pins fail at once.

mod common;

use common::{Project, output_of};
use insta::assert_snapshot;

const SPEC: &str = "\
version: 1
defaults:
  region: cn-bj2
  filters: { os_type: Linux, image_type: Base }
images:
  web:
    regions: [cn-bj2, hk]
    filters: { name: \"^Ubuntu 22\\\\.04\" }
  rocky:
    filters: { os_name: \"^Rocky Linux 9\" }
    select: highest_version
";

fn locked() -> Project {
    Project::locked(SPEC)
}

#[test]
fn verify_passes_then_names_what_cannot_be_deployed() {
    let project = locked();
    assert_snapshot!(project.snapshot(&["verify"]), @"
    exit: 0
    ----- stdout -----
    ----- stderr -----
    all 3 pins of imagelock.lock exist and are Available (2 regions checked)
    ");
    project.sim.update_catalog(|c| {
        assert!(c.remove("uimage-bkhn0zvc"));
    });
    assert_snapshot!(project.snapshot(&["verify"]), @"
    exit: 4
    ----- stdout -----
    ----- stderr -----
    1 of 3 pins in imagelock.lock cannot be deployed:
      rocky cn-bj2: uimage-bkhn0zvc (Rocky Linux 9.3 64位, 2024-01-01) is missing
    run `imagelock update NAME` to move them to an image that exists
    ");
}

#[test]
fn images_lists_a_region_newest_first() {
    let project = Project::new(SPEC);
    assert_snapshot!(project.snapshot(&["images", "--region", "hk", "--name", "^Rocky", "--limit", "2"]), @"
    exit: 0
    ----- stdout -----
    IMAGE ID         CREATED     STATE      NAME                  FEATURES
    uimage-vo2iwzx5  2024-01-01  Available  Rocky Linux 9.3 64位  CloudInit,HotPlug,IPv6,NetEnhanced_Ultra,NetEnhnced,RssdAttachable
    uimage-dnbttnv6  2023-12-01  Available  Rocky Linux 8.9 64位  CloudInit,HotPlug,IPv6,NetEnhanced_Ultra,NetEnhnced,RssdAttachable
    ----- stderr -----
    2 of 4 matching images shown (21 listed in hk)
    ");
    assert_snapshot!(project.snapshot(&["images"]), @"
    exit: 2
    ----- stdout -----
    ----- stderr -----
    error: which region? pass --region (e.g. --region cn-bj2), or set `region` in the UCloud CLI profile (~/.ucloud/config.json)
    ");
}

#[test]
fn init_writes_a_spec_once() {
    let project = Project::new(SPEC);
    std::fs::remove_file(project.spec_path()).unwrap();
    assert_snapshot!(project.snapshot(&["init", "--region", "hk"]), @"
    exit: 0
    ----- stdout -----
    ----- stderr -----
    Created imagelock.yaml (default region hk); next: edit it, then run `imagelock lock`
    ");
    assert_snapshot!(project.snapshot(&["init"]), @"
    exit: 2
    ----- stdout -----
    ----- stderr -----
    error: imagelock.yaml already exists; edit it, or run `imagelock init --force` to replace it
    ");
}

#[test]
fn export_and_the_terraform_program_hand_out_fresh_pins() {
    let project = locked();
    assert_snapshot!(project.snapshot(&["export", "--format", "env"]), @"
    exit: 0
    ----- stdout -----
    IMAGELOCK_ROCKY_CN_BJ2=uimage-bkhn0zvc
    IMAGELOCK_WEB_CN_BJ2=uimage-iohu4mmd
    IMAGELOCK_WEB_HK=uimage-u6krglfs
    ----- stderr -----
    ");
    assert_snapshot!(project.snapshot(&["export", "--format", "tfvars-json"]), @r#"
    exit: 0
    ----- stdout -----
    {
      "imagelock_images": {
        "rocky": {
          "cn-bj2": "uimage-bkhn0zvc"
        },
        "web": {
          "cn-bj2": "uimage-iohu4mmd",
          "hk": "uimage-u6krglfs"
        }
      }
    }
    ----- stderr -----
    "#);
    assert_snapshot!(project.snapshot(&["get", "rocky", "--json"]), @r#"
    exit: 0
    ----- stdout -----
    {
      "name": "rocky",
      "pin": {
        "create_time": 1704067200,
        "features": [
          "CloudInit",
          "HotPlug",
          "IPv6",
          "NetEnhanced_Ultra",
          "NetEnhnced",
          "RssdAttachable"
        ],
        "image_id": "uimage-bkhn0zvc",
        "image_name": "Rocky Linux 9.3 64位",
        "image_type": "Base",
        "maintain_eol": "2032-05-31",
        "os_name": "Rocky Linux 9.3 64位",
        "os_type": "Linux",
        "project_id": null
      },
      "region": "cn-bj2",
      "warnings": []
    }
    ----- stderr -----
    "#);
    let mut cmd = project.cmd(&["terraform-external"]);
    cmd.write_stdin(r#"{"name": "web", "region": "hk"}"#);
    assert_snapshot!(project.snapshot_of(cmd), @r#"
    exit: 0
    ----- stdout -----
    {"create_time":"1740790800","image_id":"uimage-u6krglfs","image_name":"Ubuntu 22.04 64位","os_name":"Ubuntu 22.04 64位","region":"hk"}
    ----- stderr -----
    "#);
    let mut cmd = project.cmd(&["terraform-external"]);
    cmd.write_stdin(r#"{"name": "web"}"#);
    assert_snapshot!(project.snapshot_of(cmd), @"
    exit: 2
    ----- stdout -----
    ----- stderr -----
    error: `web` is pinned in several regions (cn-bj2, hk); pass --region (`region` in a Terraform query)
    ");
}

#[test]
fn many_failing_pins_are_counted_past_the_first_twenty() {
    let entries: String = (0..30)
        .map(|i| format!("  e{i:02}:\n    filters: {{ name: \"^NoSuchOS\" }}\n"))
        .collect();
    let project = Project::new(&format!(
        "version: 1\ndefaults:\n  region: cn-bj2\n  filters: {{ image_type: Base }}\nimages:\n{entries}"
    ));
    let (code, stdout, stderr) = output_of(project.cmd(&["lock"]));
    assert_eq!((code, stdout.as_str()), (4, ""));
    assert!(stderr.starts_with("error: could not resolve 30 pins; nothing was written\n"));
    assert_eq!(
        stderr.matches(" in cn-bj2: no image matches").count(),
        20,
        "{stderr}"
    );
    assert!(
        stderr.ends_with("… and 10 more; `imagelock explain NAME` shows any entry's funnel\n"),
        "{stderr}"
    );
}
