//! Shared harness for the integration tests: a scratch project directory, an in-process
//! simulator on port 0, and the real `imagelock` binary pointed at it with an isolated
//! environment (no real HOME, no ambient UCLOUD_* variables).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;
use ucloud_sim::{Catalog, SimConfig, SimHandle, spawn};

pub const PUBLIC_KEY: &str = ucloud_sim::DEMO_PUBLIC_KEY;
pub const PRIVATE_KEY: &str = ucloud_sim::DEMO_PRIVATE_KEY;

/// The catalog of the quickstart, `examples/catalog.json`.
pub fn example_catalog() -> Catalog {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/catalog.json");
    Catalog::load(path).expect("examples/catalog.json loads")
}

/// A catalog image with the fields the filters look at; override with `json!` merging.
pub fn image(id: &str, name: &str, create_time: i64) -> Value {
    serde_json::json!({
        "ImageId": id,
        "ImageName": name,
        "OsName": name,
        "OsType": "Linux",
        "ImageType": "Base",
        "FuncType": "uhost",
        "State": "Available",
        "Features": ["CloudInit", "IPv6"],
        "CreateTime": create_time,
        "Zone": "",
    })
}

/// A scratch project with a spec, and a simulator to lock it against.
pub struct Project {
    pub dir: TempDir,
    pub sim: SimHandle,
}

impl Project {
    pub fn new(spec: &str) -> Self {
        Self::with_config(spec, SimConfig::new(example_catalog()))
    }

    /// A project on examples/catalog.json whose spec is already locked (`lock` exited 0).
    pub fn locked(spec: &str) -> Self {
        let project = Self::new(spec);
        let (code, _, stderr) = project.run(&["lock"]);
        assert_eq!(code, 0, "the first lock failed: {stderr}");
        project
    }

    pub fn with_catalog(spec: &str, catalog: Catalog) -> Self {
        Self::with_config(spec, SimConfig::new(catalog))
    }

    pub fn with_config(spec: &str, config: SimConfig) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("imagelock.yaml"), spec).expect("write spec");
        let sim = spawn(config).expect("simulator starts");
        Self { dir, sim }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn spec_path(&self) -> PathBuf {
        self.path("imagelock.yaml")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.path("imagelock.lock")
    }

    pub fn write_spec(&self, spec: &str) {
        std::fs::write(self.spec_path(), spec).expect("write spec");
    }

    /// The lockfile's bytes, `None` when there is none.
    pub fn lock_bytes(&self) -> Option<Vec<u8>> {
        std::fs::read(self.lock_path()).ok()
    }

    pub fn lock_text(&self) -> String {
        String::from_utf8(self.lock_bytes().expect("a lockfile")).expect("UTF-8 lockfile")
    }

    /// `imagelock <args>` run in the project directory against the simulator with the demo key.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.bare_cmd(args);
        cmd.env("UCLOUD_PUBLIC_KEY", PUBLIC_KEY)
            .env("UCLOUD_PRIVATE_KEY", PRIVATE_KEY)
            .env("UCLOUD_BASE_URL", self.sim.url());
        cmd
    }

    /// `imagelock <args>` with no credentials and no endpoint at all.
    pub fn bare_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.isolated_cmd();
        // Short budgets keep failing tests fast; they never shape a passing result.
        cmd.args(["--timeout", "5s", "--retry-budget", "10s"])
            .args(args);
        cmd
    }

    /// The binary in the project directory, with nothing of the developer's environment.
    fn isolated_cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("imagelock").expect("imagelock binary");
        cmd.current_dir(self.dir.path())
            .env_clear()
            .env("HOME", self.dir.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NO_COLOR", "1");
        cmd
    }

    /// Waits (up to 20 s) until a run has its first request in flight at the simulator.
    pub fn wait_for_first_request(&self) {
        for _ in 0..1000 {
            if self.requests() > 0 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("the run never reached the API");
    }

    /// Runs `imagelock <args>` and returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        output_of(self.cmd(args))
    }

    /// How many API requests the simulator has answered so far.
    pub fn requests(&self) -> u64 {
        self.sim.stats().total
    }
}

pub fn output_of(mut cmd: Command) -> (i32, String, String) {
    let out = cmd.output().expect("run imagelock");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Project {
    /// Like [`Project::cmd`] but without the harness's `--timeout`/`--retry-budget`, for tests
    /// that pass their own or test the defaults.
    pub fn cmd_with_default_budgets(&self, args: &[&str]) -> Command {
        let mut cmd = self.isolated_cmd();
        cmd.env("UCLOUD_PUBLIC_KEY", PUBLIC_KEY)
            .env("UCLOUD_PRIVATE_KEY", PRIVATE_KEY)
            .env("UCLOUD_BASE_URL", self.sim.url())
            .args(args);
        cmd
    }
}

impl Project {
    /// The whole human outcome of `imagelock <args>`, as uv's `uv_snapshot!` records it: exit
    /// code, stdout and stderr, with the simulator's address and the scratch directory replaced
    /// by stable placeholders, ready for `insta::assert_snapshot!`.
    pub fn snapshot(&self, args: &[&str]) -> String {
        self.snapshot_of(self.cmd(args))
    }

    /// [`Project::snapshot`] of a command prepared by the caller (extra env, another sim).
    pub fn snapshot_of(&self, cmd: Command) -> String {
        let (code, stdout, stderr) = output_of(cmd);
        self.redact(&format!(
            "exit: {code}\n----- stdout -----\n{stdout}----- stderr -----\n{stderr}"
        ))
    }

    /// Replaces what changes from run to run (paths, ports) with placeholders.
    pub fn redact(&self, text: &str) -> String {
        let dir = self.dir.path().display().to_string();
        // macOS and some Linux set-ups reach the temp dir through a symlink.
        let real = std::fs::canonicalize(self.dir.path())
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| dir.clone());
        text.replace(&real, "[DIR]")
            .replace(&dir, "[DIR]")
            .replace(&self.sim.url(), "[SIM]")
    }
}
