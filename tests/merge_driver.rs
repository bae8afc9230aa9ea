//! `imagelock merge-driver`: the command on its own (three files in, the merge written into OURS,
//! what was left out on stderr), and a real `git merge` of two branches' lockfiles through the
//! driver, with `imagelock check` and `imagelock lock` on the result.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Project, image, output_of};
use imagelock::lockfile::Lockfile;

const SPEC: &str = include_str!("../examples/imagelock.yaml");
const LOCK: &str = include_str!("../examples/imagelock.lock");

#[allow(deprecated)] // cargo_bin: the harness's way to find the binary
fn binary() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("imagelock")
}

/// `imagelock merge-driver BASE OURS THEIRS` in `dir`, with nothing of the environment.
fn merge_driver(dir: &Path, files: [&str; 3]) -> (i32, String, String) {
    let mut cmd = assert_cmd::Command::new(binary());
    cmd.current_dir(dir)
        .env_clear()
        .env("NO_COLOR", "1")
        .arg("merge-driver")
        .args(files);
    output_of(cmd)
}

fn with_pin(text: &str, entry: &str, region: &str, id: &str) -> String {
    let mut lock = Lockfile::parse(text, Path::new("x")).unwrap();
    let locked = lock.images.get_mut(entry).unwrap();
    locked.pins.get_mut(region).unwrap().image_id = id.into();
    locked.seal();
    lock.render()
}

#[test]
fn the_command_merges_into_ours_and_lists_what_it_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("base.lock", LOCK);
    // Ours moves web in hk; theirs moves web in hk differently and rocky in cn-bj2.
    write("ours.lock", &with_pin(LOCK, "web", "hk", "uimage-ours"));
    let theirs = with_pin(
        &with_pin(LOCK, "web", "hk", "uimage-theirs"),
        "rocky",
        "cn-bj2",
        "uimage-rocky2",
    );
    write("theirs.lock", &theirs);
    let (code, stdout, stderr) =
        merge_driver(dir.path(), ["base.lock", "ours.lock", "theirs.lock"]);
    insta::assert_snapshot!(
        "left_out",
        format!("exit {code}\n--- stdout\n{stdout}--- stderr\n{stderr}")
    );

    let merged = std::fs::read_to_string(dir.path().join("ours.lock")).unwrap();
    let lock = Lockfile::parse(&merged, Path::new("ours.lock")).unwrap();
    let web = &lock.images["web"];
    assert_eq!(
        web.pins.keys().collect::<Vec<_>>(),
        ["cn-bj2"],
        "hk left out"
    );
    assert!(!web.is_hand_edited());
    assert_eq!(
        lock.images["rocky"].pins["cn-bj2"].image_id,
        "uimage-rocky2"
    );
    assert!(
        lock.images
            .values()
            .all(|e| e.checksum.is_some() && !e.is_hand_edited())
    );
    assert_eq!(lock.render(), merged, "the merge is what imagelock writes");

    // The same inputs give the same bytes.
    write("ours.lock", &with_pin(LOCK, "web", "hk", "uimage-ours"));
    merge_driver(dir.path(), ["base.lock", "ours.lock", "theirs.lock"]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ours.lock")).unwrap(),
        merged
    );
}

#[test]
fn an_empty_base_has_no_entries() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base"), "").unwrap();
    // Both branches added the lockfile: what they agree on stays, web's hk pin differs.
    std::fs::write(
        dir.path().join("ours"),
        with_pin(LOCK, "web", "hk", "uimage-a"),
    )
    .unwrap();
    std::fs::write(dir.path().join("theirs"), LOCK).unwrap();
    let (code, _, stderr) = merge_driver(dir.path(), ["base", "ours", "theirs"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stderr,
        "warning: merge left out web, region hk: changed differently on both sides\nwarning: run `imagelock lock` to pin what was left out\n"
    );
    let lock = Lockfile::load(&dir.path().join("ours")).unwrap().unwrap();
    let expected = Lockfile::parse(LOCK, Path::new("x")).unwrap();
    assert_eq!(lock.images.len(), expected.images.len());
    assert_eq!(lock.images["rocky"], expected.images["rocky"]);
}

#[test]
fn unreadable_input_is_a_non_zero_exit_and_leaves_ours() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base"), LOCK).unwrap();
    std::fs::write(dir.path().join("ours"), LOCK).unwrap();
    for theirs in ["<<<<<<< HEAD\n", "version: 9\nimages: {}\n", "not: [yaml\n"] {
        std::fs::write(dir.path().join("theirs"), theirs).unwrap();
        let (code, stdout, stderr) = merge_driver(dir.path(), ["base", "ours", "theirs"]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stdout.is_empty());
        assert!(stderr.starts_with("error: theirs: "), "{stderr}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("ours")).unwrap(),
            LOCK
        );
    }
    let (code, _, stderr) = merge_driver(dir.path(), ["base", "ours", "missing"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("missing"), "{stderr}");
}

/// `git` in the project, with a fixed identity and no user or system configuration.
fn git(project: &Project, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new("git");
    cmd.current_dir(project.dir.path())
        .env("HOME", project.dir.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("NO_COLOR", "1")
        .args(args);
    let out = cmd.output().expect("run git");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(result: (i32, String, String)) -> String {
    let (code, stdout, stderr) = result;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    stdout
}

/// A repository with the example spec locked and committed, and the merge driver set up as
/// docs/merge-driver.md says.
fn repository() -> Project {
    let project = Project::new(SPEC);
    ok(git(&project, &["init", "-q", "-b", "main"]));
    std::fs::write(
        project.path(".gitattributes"),
        "imagelock.lock merge=imagelock\n",
    )
    .unwrap();
    ok(git(
        &project,
        &["config", "merge.imagelock.name", "imagelock lockfile"],
    ));
    let driver = format!("'{}' merge-driver %O %A %B", binary().display());
    ok(git(
        &project,
        &["config", "merge.imagelock.driver", &driver],
    ));
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    ok(git(&project, &["add", "."]));
    ok(git(&project, &["commit", "-q", "-m", "base"]));
    project
}

fn pinned(project: &Project, entry: &str, region: &str) -> String {
    let lock = Lockfile::load(&project.lock_path()).unwrap().unwrap();
    lock.images[entry].pins[region].image_id.clone()
}

#[test]
fn git_merges_two_branches_that_pinned_different_entries() {
    let project = repository();

    // Ours: a newer base image appears, and `update` moves base-ipv6 to it.
    ok(git(&project, &["checkout", "-q", "-b", "ours"]));
    project.sim.update_catalog(|c| {
        c.push(
            "cn-bj2",
            image("uimage-newbase", "Ubuntu 24.04 64位", 1_900_000_000),
        );
    });
    let (code, _, stderr) = project.run(&["update", "base-ipv6"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(pinned(&project, "base-ipv6", "cn-bj2"), "uimage-newbase");
    ok(git(
        &project,
        &["commit", "-q", "-am", "ours: move base-ipv6"],
    ));

    // Theirs: a new entry in the spec, pinned by `lock`.
    ok(git(&project, &["checkout", "-q", "main"]));
    ok(git(&project, &["checkout", "-q", "-b", "theirs"]));
    std::fs::write(
        project.spec_path(),
        format!("{SPEC}\n  hk-base:\n    region: hk\n    filters:\n      image_type: Base\n      name: \"^Ubuntu\"\n"),
    )
    .unwrap();
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        pinned(&project, "base-ipv6", "cn-bj2"),
        pinned_in(LOCK, "base-ipv6", "cn-bj2")
    );
    ok(git(
        &project,
        &["commit", "-q", "-am", "theirs: add hk-base"],
    ));
    let theirs_hk = pinned(&project, "hk-base", "hk");

    ok(git(&project, &["checkout", "-q", "ours"]));
    let (code, stdout, stderr) = git(&project, &["merge", "--no-edit", "theirs"]);
    assert_eq!(code, 0, "a clean merge\n{stdout}\n{stderr}");
    assert!(!stderr.contains("left out"), "{stderr}");
    assert_eq!(pinned(&project, "base-ipv6", "cn-bj2"), "uimage-newbase");
    assert_eq!(pinned(&project, "hk-base", "hk"), theirs_hk);
    let (code, _, stderr) = project.run(&["check"]);
    assert_eq!(code, 0, "the merge satisfies the merged spec: {stderr}");
    assert!(
        ok(git(&project, &["status", "--porcelain"])).is_empty(),
        "committed"
    );
}

#[test]
fn git_merge_leaves_out_an_entry_both_branches_moved_differently() {
    let project = repository();
    let before = pinned(&project, "base-ipv6", "cn-bj2");

    ok(git(&project, &["checkout", "-q", "-b", "ours"]));
    project.sim.update_catalog(|c| {
        c.push(
            "cn-bj2",
            image("uimage-ours", "Ubuntu 24.04 64位", 1_900_000_000),
        );
    });
    let (code, _, stderr) = project.run(&["update", "base-ipv6"]);
    assert_eq!(code, 0, "{stderr}");
    ok(git(
        &project,
        &["commit", "-q", "-am", "ours: move base-ipv6"],
    ));

    ok(git(&project, &["checkout", "-q", "main"]));
    ok(git(&project, &["checkout", "-q", "-b", "theirs"]));
    project.sim.update_catalog(|c| {
        assert!(c.remove("uimage-ours"));
        c.push(
            "cn-bj2",
            image("uimage-theirs", "Ubuntu 24.04 64位", 1_900_000_100),
        );
    });
    let (code, _, stderr) = project.run(&["update", "base-ipv6"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(pinned(&project, "base-ipv6", "cn-bj2"), "uimage-theirs");
    ok(git(
        &project,
        &["commit", "-q", "-am", "theirs: move base-ipv6"],
    ));

    ok(git(&project, &["checkout", "-q", "ours"]));
    let (code, stdout, stderr) = git(&project, &["merge", "--no-edit", "theirs"]);
    assert_eq!(code, 0, "no conflict for git\n{stdout}\n{stderr}");
    assert!(
        stderr.contains(
            "warning: merge left out base-ipv6, region cn-bj2: changed differently on both sides"
        ),
        "{stderr}"
    );
    let text = std::fs::read_to_string(project.lock_path()).unwrap();
    assert!(!text.contains("<<<<<<<"), "{text}");
    let lock = Lockfile::parse(&text, Path::new("imagelock.lock")).unwrap();
    assert!(!lock.images.contains_key("base-ipv6"));
    assert_ne!(before, "uimage-ours");

    // `check` reports exactly the entry left out; `lock` pins it again.
    let (code, stdout, stderr) = project.run(&["check"]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(stderr.contains("base-ipv6"), "{stderr}");
    for other in ["web", "gpu-worker", "rocky", "windows"] {
        assert!(!stderr.contains(other), "{other}: {stderr}");
    }
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(pinned(&project, "base-ipv6", "cn-bj2"), "uimage-theirs");
    let (code, _, stderr) = project.run(&["check"]);
    assert_eq!(code, 0, "{stderr}");
}

fn pinned_in(text: &str, entry: &str, region: &str) -> String {
    let lock = Lockfile::parse(text, Path::new("x")).unwrap();
    lock.images[entry].pins[region].image_id.clone()
}
