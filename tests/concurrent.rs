//! Two `lock` runs at once on the same lockfile: the second waits for the first (advisory lock on
//! the spec), then finds the lockfile up to date. The result is one whole, valid lockfile, byte for
//! byte what a single run writes, and the API is asked only once.

mod common;

use std::time::Duration;

use common::{Project, example_catalog, output_of};
use ucloud_sim::SimConfig;

const SPEC: &str = include_str!("../examples/imagelock.yaml");

#[test]
fn two_lock_runs_at_once_give_the_single_run_lockfile() {
    let single = Project::new(SPEC);
    let (code, _, stderr) = single.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    let single_bytes = single.lock_bytes().expect("a lockfile");
    let single_requests = single.requests();
    assert!(single_requests > 0);

    // Latency keeps the first run inside its lock long enough for the second to start.
    let mut config = SimConfig::new(example_catalog());
    config.latency = Duration::from_millis(1500);
    let project = Project::with_config(SPEC, config);
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let cmd = project.cmd(&["lock"]);
            std::thread::spawn(move || output_of(cmd))
        })
        .collect();
    let outputs: Vec<(i32, String, String)> = runs
        .into_iter()
        .map(|run| run.join().expect("run thread"))
        .collect();

    for (code, _, stderr) in &outputs {
        assert_eq!(*code, 0, "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let waited: Vec<&String> = outputs
        .iter()
        .map(|(_, _, stderr)| stderr)
        .filter(|stderr| stderr.contains("waiting for another imagelock run on imagelock.lock"))
        .collect();
    assert_eq!(waited.len(), 1, "exactly one run waits: {outputs:?}");
    assert!(waited[0].contains("is up to date"), "{}", waited[0]);

    assert_eq!(
        project.lock_bytes().expect("a lockfile"),
        single_bytes,
        "the lockfile is exactly a single run's"
    );
    // Without the lock both runs would resolve every entry.
    assert_eq!(project.requests(), single_requests);
    // Nothing but the spec and the lockfile is left in the directory (no temp files, no lock file).
    let mut names: Vec<String> = std::fs::read_dir(project.dir.path())
        .expect("list project dir")
        .map(|entry| {
            entry
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["imagelock.lock", "imagelock.yaml"]);
}

#[test]
fn an_update_waits_for_a_lock_run() {
    let single = Project::new(SPEC);
    let (code, _, stderr) = single.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    let single_bytes = single.lock_bytes().expect("a lockfile");

    let mut config = SimConfig::new(example_catalog());
    config.latency = Duration::from_millis(1500);
    let project = Project::with_config(SPEC, config);
    let lock = project.cmd(&["lock"]);
    let lock = std::thread::spawn(move || output_of(lock));
    // `update` starts once `lock` has its first request in flight, so `lock` holds the lock.
    project.wait_for_first_request();
    let (code, _, update_stderr) = project.run(&["update"]);
    let (lock_code, _, lock_stderr) = lock.join().expect("lock thread");
    assert_eq!(lock_code, 0, "{lock_stderr}");
    assert_eq!(code, 0, "{update_stderr}");
    assert!(
        update_stderr.contains("waiting for another imagelock run on imagelock.lock"),
        "{update_stderr}"
    );
    assert_eq!(project.lock_bytes().expect("a lockfile"), single_bytes);
}
