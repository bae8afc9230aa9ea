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

/// SIGINT and SIGTERM at moments spread over a whole `lock` run (resolving, rendering, writing,
/// done): every time the lockfile is either the old one or the complete new one, never a mix, and
/// no temporary file is left.
#[cfg(unix)]
#[test]
fn an_interrupt_at_any_moment_leaves_the_old_lockfile_or_the_new_one_and_no_temp_file() {
    use std::os::unix::process::ExitStatusExt;
    use std::time::Instant;
    use ucloud_sim::Catalog;

    let regions = "[cn-bj2, cn-sh2, cn-gd, hk]";
    let spec_of = |entries: usize| {
        let mut spec = String::from("version: 1\nimages:\n");
        for n in 0..entries {
            spec.push_str(&format!(
                "  e{n}:\n    regions: {regions}\n    filters: {{ image_type: Base, os_type: Linux }}\n"
            ));
        }
        spec
    };
    let catalog = || Catalog::generate(4, 300, 11);

    // The complete new lockfile, and how long a whole run takes.
    let reference = Project::with_catalog(&spec_of(400), catalog());
    let started = Instant::now();
    let (code, _, stderr) = reference.run(&["lock"]);
    let whole_run = started.elapsed();
    assert_eq!(code, 0, "{stderr}");
    let new = reference.lock_bytes().expect("a lockfile");

    let project = Project::with_catalog(&spec_of(5), catalog());
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    let old = project.lock_bytes().expect("a lockfile");
    project.write_spec(&spec_of(400));

    let runs = 16;
    let (mut interrupted, mut kept_old, mut finished) = (0, 0, 0);
    for run in 0..runs {
        std::fs::write(project.lock_path(), &old).unwrap();
        #[allow(deprecated)] // cargo_bin: the harness's way to find the binary
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("imagelock"))
            .current_dir(project.dir.path())
            .env_clear()
            .env("HOME", project.dir.path())
            .env("UCLOUD_PUBLIC_KEY", common::PUBLIC_KEY)
            .env("UCLOUD_PRIVATE_KEY", common::PRIVATE_KEY)
            .env("UCLOUD_BASE_URL", project.sim.url())
            .args(["-q", "lock"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn imagelock");
        // Most moments late in the run, where rendering and writing happen.
        let fraction = 0.3 + 0.8 * f64::from(run) / f64::from(runs);
        std::thread::sleep(whole_run.mul_f64(fraction));
        let signal = if run % 2 == 0 {
            libc::SIGINT
        } else {
            libc::SIGTERM
        };
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        let status = child.wait().expect("wait for imagelock");
        if status.signal().is_some() {
            interrupted += 1;
        } else {
            assert!(status.success(), "run {run}: {status}");
        }
        let now = project.lock_bytes().expect("a lockfile");
        if now == old {
            kept_old += 1;
        } else if now == new {
            finished += 1;
        } else {
            panic!("run {run}: the lockfile is neither the old nor the new one");
        }
        let mut names: Vec<String> = std::fs::read_dir(project.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["imagelock.lock", "imagelock.yaml"], "run {run}");
    }
    eprintln!(
        "{interrupted} interrupted, {kept_old} kept the old lockfile, {finished} wrote the new one"
    );
    assert!(
        interrupted > 0 && kept_old > 0,
        "no run was interrupted mid-way"
    );
}

/// The signal lands while the temporary file exists, every time: `strace` holds each `fsync` of
/// the write for seconds, the test waits for the temporary file to appear and signals the process
/// named in its name. The old lockfile stays, and the temporary file is removed by the handler.
/// Skipped where strace is missing or may not trace.
#[cfg(target_os = "linux")]
#[test]
fn an_interrupt_during_the_write_removes_the_temporary_file() {
    use std::time::{Duration, Instant};

    const LOCK: &str = include_str!("../examples/imagelock.lock");
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let dir = tempfile::tempdir().unwrap();
        let theirs = LOCK.replace("uimage-w0sy5glq", "uimage-moved");
        std::fs::write(dir.path().join("base.lock"), LOCK).unwrap();
        std::fs::write(dir.path().join("ours.lock"), LOCK).unwrap();
        std::fs::write(dir.path().join("theirs.lock"), &theirs).unwrap();
        #[allow(deprecated)] // cargo_bin: the harness's way to find the binary
        let binary = assert_cmd::cargo::cargo_bin("imagelock");
        let Ok(mut strace) = std::process::Command::new("strace")
            .current_dir(dir.path())
            .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync"])
            .args(["-e", "inject=fsync:delay_enter=3000000"])
            .arg(&binary)
            .args(["merge-driver", "base.lock", "ours.lock", "theirs.lock"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        else {
            eprintln!("skipped: no strace");
            return;
        };
        let started = Instant::now();
        let temp = loop {
            let found = std::fs::read_dir(dir.path()).unwrap().find_map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                name.ends_with(".tmp").then_some(name)
            });
            if let Some(name) = found {
                break Some(name);
            }
            if started.elapsed() > Duration::from_secs(20) || strace.try_wait().unwrap().is_some() {
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let Some(temp) = temp else {
            let _ = strace.kill();
            let _ = strace.wait();
            eprintln!("skipped: strace could not hold the write");
            return;
        };
        // `.ours.lock.<pid>.<random>.tmp`
        let pid: libc::pid_t = temp.split('.').nth(3).unwrap().parse().unwrap();
        // SAFETY: kill(2) on the imagelock process this test started (under strace).
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let status = strace.wait().unwrap();
        assert!(!status.success(), "the signal ended the run: {status}");
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["base.lock", "ours.lock", "theirs.lock"],
            "signal {signal}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("ours.lock")).unwrap(),
            LOCK
        );
    }
}
