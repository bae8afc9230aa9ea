//! A flaky API changes nothing but the request count: with 30% of requests faulted (every kind,
//! several seeds) `lock` and `update` pin exactly what a fault-free run pins, byte for byte. An API
//! that is down fails the run with exit 5, saying what failed, and leaves the lockfile as it was.

mod common;

use std::time::Duration;

use common::{Project, example_catalog, output_of};
use ucloud_sim::{Fault, SimConfig};

const SPEC: &str = include_str!("../examples/imagelock.yaml");
const LOCK: &str = include_str!("../examples/imagelock.lock");

/// Small pages so one run makes many requests, each a chance for a fault.
const PAGE_CAP: usize = 3;

fn flaky(seed: u64, rate: f64, kinds: &[Fault]) -> SimConfig {
    let mut config = SimConfig::new(example_catalog());
    config.page_cap = PAGE_CAP;
    config.fault_rate = rate;
    config.seed = seed;
    config.fault_kinds = kinds.to_vec();
    // Slower than a fast answer, well inside the harness's 5 s timeout: a slow server, not a dead one.
    config.slow = Duration::from_millis(400);
    config
}

/// The spec with one entry more than the committed lockfile, so `lock` must call the API.
fn spec_needing_api() -> String {
    format!("{SPEC}\n  extra:\n    region: hk\n    filters: {{ image_type: Base }}\n")
}

/// Lockfile bytes and request count of a fault-free `lock`.
fn fault_free_lock() -> (Vec<u8>, u64) {
    let mut config = SimConfig::new(example_catalog());
    config.page_cap = PAGE_CAP;
    let project = Project::with_config(SPEC, config);
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    (
        project.lock_bytes().expect("a lockfile"),
        project.requests(),
    )
}

#[test]
fn flaky_api_gives_the_same_pins_as_a_healthy_one() {
    let (expected, fault_free_requests) = fault_free_lock();
    assert_eq!(
        expected,
        LOCK.as_bytes(),
        "the committed example is a fault-free lock"
    );
    for seed in 1..=4 {
        let project = Project::with_config(SPEC, flaky(seed, 0.3, &Fault::ALL));
        let (code, _, stderr) = project.run(&["--max-attempts", "10", "lock"]);
        assert_eq!(code, 0, "seed {seed}: {stderr}");
        assert_eq!(
            project.lock_bytes().expect("a lockfile"),
            expected,
            "seed {seed}"
        );

        let stats = project.sim.stats();
        let faults: u64 = stats.faults.values().sum();
        assert!(faults > 0, "seed {seed}: no fault was injected: {stats:?}");
        // Each fault cost exactly one retry, except slow answers, which came in time; nothing
        // else was asked twice.
        assert_eq!(
            stats.total,
            fault_free_requests + faults - stats.faults["slow"],
            "seed {seed}: {stats:?}"
        );

        // `update` re-resolves every entry through the same faults and moves nothing.
        let (code, _, stderr) = project.run(&["--max-attempts", "10", "update"]);
        assert_eq!(code, 0, "seed {seed}: {stderr}");
        assert_eq!(
            project.lock_bytes().expect("a lockfile"),
            expected,
            "seed {seed}"
        );
    }
}

/// Each kind alone, at a rate high enough that most requests need several attempts.
#[test]
fn every_fault_kind_is_ridden_out() {
    let (expected, _) = fault_free_lock();
    for kind in Fault::ALL {
        let project = Project::with_config(SPEC, flaky(7, 0.5, &[kind]));
        let (code, _, stderr) = project.run(&["--max-attempts", "12", "lock"]);
        assert_eq!(code, 0, "{kind:?}: {stderr}");
        assert_eq!(
            project.lock_bytes().expect("a lockfile"),
            expected,
            "{kind:?}"
        );
        assert!(
            project.sim.stats().faults[kind.name()] > 0,
            "{kind:?} was never injected"
        );
    }
}

/// Every fast fault kind: an outage that answers quickly (a refused connection or a 503 page).
const FAST_FAULTS: &[Fault] = &Fault::FAST;

#[test]
fn an_outage_fails_with_exit_5_and_leaves_the_lockfile() {
    for command in ["lock", "update"] {
        let project = Project::with_config(&spec_needing_api(), flaky(3, 1.0, FAST_FAULTS));
        std::fs::write(project.lock_path(), LOCK).expect("write lockfile");
        let (code, stdout, stderr) = project.run(&["--max-attempts", "4", command]);
        assert_eq!(code, 5, "{command}: {stderr}");
        assert!(stdout.is_empty(), "{command}: {stdout}");
        // Action, region, attempts and the last error.
        assert!(stderr.contains("error: DescribeImage in "), "{stderr}");
        assert!(stderr.contains("failed after 4 attempts over "), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(project.lock_text(), LOCK, "{command} changed the lockfile");
        // Four attempts for the request that gave up first; others may have been under way.
        assert!(project.requests() >= 4, "{}", project.requests());
        let names: Vec<String> = std::fs::read_dir(project.dir.path())
            .expect("list dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "left behind: {names:?}");
    }
}

#[test]
fn an_outage_on_the_first_lock_writes_no_lockfile() {
    let project = Project::with_config(SPEC, flaky(5, 1.0, FAST_FAULTS));
    let (code, _, stderr) = project.run(&["--max-attempts", "3", "lock"]);
    assert_eq!(code, 5, "{stderr}");
    assert!(project.lock_bytes().is_none(), "a lockfile was written");
}

/// A server that never answers in time: each attempt times out; the budget ends the run.
#[test]
fn a_hanging_api_times_out_within_the_budget() {
    let mut config = flaky(9, 1.0, &[Fault::Slow]);
    config.slow = Duration::from_secs(30);
    let project = Project::with_config(&spec_needing_api(), config);
    std::fs::write(project.lock_path(), LOCK).expect("write lockfile");
    let cmd = project.cmd_with_default_budgets(&[
        "--timeout",
        "300ms",
        "--retry-budget",
        "1s",
        "--max-attempts",
        "50",
        "lock",
    ]);
    let (code, _, stderr) = output_of(cmd);
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
    assert_eq!(project.lock_text(), LOCK);
    // The budget, not max-attempts, stopped it: about 1 s of 300 ms attempts is a handful.
    let per_listing = project.requests();
    assert!((2..50).contains(&per_listing), "{per_listing} requests");
}

/// A run killed while it waits on the API (a cancelled CI job) leaves the old lockfile, and no
/// temporary file, behind.
#[test]
fn a_killed_run_leaves_the_old_lockfile() {
    let mut config = SimConfig::new(example_catalog());
    config.latency = Duration::from_secs(5);
    let project = Project::with_config(&spec_needing_api(), config);
    std::fs::write(project.lock_path(), LOCK).expect("write lockfile");

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("imagelock"))
        .current_dir(project.dir.path())
        .env_clear()
        .env("HOME", project.dir.path())
        .env("UCLOUD_PUBLIC_KEY", common::PUBLIC_KEY)
        .env("UCLOUD_PRIVATE_KEY", common::PRIVATE_KEY)
        .env("UCLOUD_BASE_URL", project.sim.url())
        .arg("lock")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start imagelock");
    // Wait until the request is in flight, then kill.
    project.wait_for_first_request();
    child.kill().expect("kill imagelock");
    child.wait().expect("reap imagelock");

    assert_eq!(project.lock_text(), LOCK);
    let mut names: Vec<String> = std::fs::read_dir(project.dir.path())
        .expect("list dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["imagelock.lock", "imagelock.yaml"]);
}

/// An API that answers RetCode 153 whenever more than two requests are in flight: the run slows
/// down instead of failing, and pins exactly what an unthrottled run pins.
#[test]
fn a_rate_limited_api_gives_the_same_pins() {
    let (expected, _) = fault_free_lock();
    let mut config = SimConfig::new(example_catalog());
    config.page_cap = PAGE_CAP;
    config.latency = Duration::from_millis(20);
    config.max_in_flight = Some(2);
    let project = Project::with_config(SPEC, config);
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(project.lock_bytes().expect("a lockfile"), expected);
    let stats = project.sim.stats();
    assert!(
        stats.by_retcode.get("153").copied().unwrap_or(0) > 0,
        "the limit was never hit: {stats:?}"
    );
}

/// `"RetCode": "0"` and `"TotalCount": "12"`, as UCloud's Go SDK patches for.
#[test]
fn string_codes_give_the_same_pins() {
    let (expected, _) = fault_free_lock();
    let mut config = SimConfig::new(example_catalog());
    config.page_cap = PAGE_CAP;
    config.string_codes = true;
    let project = Project::with_config(SPEC, config);
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(project.lock_bytes().expect("a lockfile"), expected);
}

/// `-v` shows one line per request with the answer's request id, which UCloud support asks for.
#[test]
fn verbose_request_lines_carry_the_request_id() {
    let project = Project::new(SPEC);
    let (code, _, stderr) = project.run(&["-v", "lock"]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("DescribeImage request"))
        .collect();
    assert_eq!(lines.len() as u64, project.requests(), "{stderr}");
    for n in 0..project.requests() {
        let id = format!("request_uuid=sim-{n:012}");
        assert_eq!(
            lines.iter().filter(|l| l.contains(&id)).count(),
            1,
            "{id} in {stderr}"
        );
    }
}
