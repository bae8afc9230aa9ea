//! The private key and the request signatures never leave the process: every command, at `-vv`,
//! against an API that answers, one that refuses the key (RetCode 171) and one that is down, and
//! with the key coming from the environment or from a credential file. Everything printed and
//! every file left in the project is searched for the key and for every signature the simulator
//! received (recomputed from its request log with `ucloud_sim::sign`).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{Project, example_catalog, output_of};
use ucloud_sim::{Fault, SimConfig};

const SPEC: &str = include_str!("../examples/imagelock.yaml");
/// Distinctive, so a match can only be a leak.
const WRONG_PRIVATE_KEY: &str = "wrong-private-key-7f3a9c1e5b";

/// Every command of `imagelock --help`, with arguments that make it do its real work.
const INVOCATIONS: &[&[&str]] = &[
    &["lock"],
    &["check"],
    &["get", "web", "--region", "hk"],
    &["validate"],
    &["schema"],
    &["update"],
    &["update", "web"],
    &["outdated"],
    &["verify"],
    &["explain", "web"],
    &["export", "--format", "json"],
    &["export", "--format", "env"],
    &["export", "--format", "tfvars-json"],
    &["terraform-external"],
    &["init", "--force", "-f", "starter.yaml"],
    &["images", "--region", "cn-bj2"],
    &["completions", "bash"],
    &[
        "merge-driver",
        "imagelock.lock",
        "imagelock.lock",
        "imagelock.lock",
    ],
];

enum Api {
    /// Answers with the demo key.
    Up,
    /// The client signs with a key the simulator does not accept: RetCode 171.
    RefusesTheKey,
    /// Every request faults.
    Down,
}

enum KeySource {
    Environment,
    CredentialFile,
}

fn project(api: &Api) -> Project {
    let mut config = SimConfig::new(example_catalog());
    if let Api::Down = api {
        config.fault_rate = 1.0;
        // Fast faults only: the slow one would just make the test wait.
        config.fault_kinds = Fault::FAST.to_vec();
    }
    Project::with_config(SPEC, config)
}

/// Runs every command; returns everything they printed.
fn run_everything(project: &Project, private_key: &str, source: &KeySource) -> Vec<String> {
    // A lockfile for the commands that read one: locked with the right key whatever the scenario.
    std::fs::write(
        project.lock_path(),
        include_str!("../examples/imagelock.lock"),
    )
    .expect("write lockfile");
    let credential_file = project.path("credential.json");
    std::fs::write(
        &credential_file,
        serde_json::json!([{
            "public_key": common::PUBLIC_KEY,
            "private_key": private_key,
            "profile": "default",
        }])
        .to_string(),
    )
    .expect("write credential file");

    let mut printed = Vec::new();
    for args in INVOCATIONS {
        let mut full = vec!["-vv", "--max-attempts", "2"];
        full.extend_from_slice(args);
        let mut cmd = match source {
            KeySource::Environment => {
                let mut cmd = project.cmd(&full);
                cmd.env("UCLOUD_PRIVATE_KEY", private_key);
                cmd
            }
            KeySource::CredentialFile => {
                let mut cmd = project.bare_cmd(&full);
                cmd.env("UCLOUD_BASE_URL", project.sim.url())
                    .env("UCLOUD_SHARED_CREDENTIAL_FILE", &credential_file);
                cmd
            }
        };
        if args[0] == "terraform-external" {
            cmd.write_stdin(r#"{"name": "web", "region": "hk"}"#);
        }
        let (code, stdout, stderr) = output_of(cmd);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("internal error"),
            "{args:?}: {stderr}"
        );
        printed.push(format!("{args:?} exit {code}\n{stdout}\n{stderr}"));
    }
    printed
}

/// The signature of every request the simulator received, as the client computed it.
fn signatures(project: &Project, private_key: &str) -> BTreeSet<String> {
    project
        .sim
        .requests()
        .into_iter()
        .map(|request| {
            let mut params = request.params.clone();
            params.insert("PublicKey".into(), common::PUBLIC_KEY.into());
            ucloud_sim::sign(&params, private_key)
        })
        .collect()
}

/// Every file under `dir`, as text (lossy: a leak in a binary file still shows).
fn files_under(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read file");
                files.push((
                    path.display().to_string(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
    }
    files
}

fn assert_no_secret(api: Api, source: KeySource) {
    let private_key = match api {
        Api::RefusesTheKey => WRONG_PRIVATE_KEY,
        _ => common::PRIVATE_KEY,
    };
    let project = project(&api);
    let printed = run_everything(&project, private_key, &source);
    let signatures = signatures(&project, private_key);
    assert!(
        !signatures.is_empty(),
        "no request reached the simulator, so nothing was tested"
    );
    match api {
        Api::Up => assert!(
            project
                .sim
                .stats()
                .by_retcode
                .get("0")
                .is_some_and(|n| *n > 0)
        ),
        Api::RefusesTheKey => {
            assert!(
                project
                    .sim
                    .stats()
                    .by_retcode
                    .get("171")
                    .is_some_and(|n| *n > 0)
            )
        }
        Api::Down => assert!(project.sim.stats().faults.values().sum::<u64>() > 0),
    }

    let mut needles: Vec<&str> = signatures.iter().map(String::as_str).collect();
    needles.push(private_key);
    // The credential file holds the key by design; everything else must not.
    let credential_file = project.path("credential.json").display().to_string();
    let files: Vec<(String, String)> = files_under(project.dir.path())
        .into_iter()
        .filter(|(path, _)| *path != credential_file)
        .collect();
    assert!(
        files
            .iter()
            .any(|(path, _)| path.ends_with("imagelock.lock"))
    );
    for needle in needles {
        for text in &printed {
            assert!(!text.contains(needle), "a secret was printed:\n{text}");
        }
        for (path, text) in &files {
            assert!(!text.contains(needle), "a secret was written to {path}");
        }
    }
}

#[test]
fn nothing_leaks_when_the_api_answers() {
    assert_no_secret(Api::Up, KeySource::Environment);
}

#[test]
fn nothing_leaks_when_the_api_refuses_the_key() {
    assert_no_secret(Api::RefusesTheKey, KeySource::Environment);
}

#[test]
fn nothing_leaks_when_the_api_is_down() {
    assert_no_secret(Api::Down, KeySource::Environment);
}

#[test]
fn nothing_leaks_with_the_key_in_a_credential_file() {
    assert_no_secret(Api::Up, KeySource::CredentialFile);
    assert_no_secret(Api::RefusesTheKey, KeySource::CredentialFile);
}

/// A credential file whose private key has the wrong type: the parse error must not quote it.
#[test]
fn a_malformed_credential_file_does_not_quote_the_key() {
    let project = Project::new(&format!("{SPEC}\n  extra:\n    region: hk\n"));
    let secret = "918273645546372819";
    let file = project.path("credential.json");
    for body in [
        format!(r#"[{{"public_key": "p", "private_key": {secret}, "profile": "default"}}]"#),
        format!(r#"[{{"public_key": "p", "private_key": ["{secret}"], "profile": "default"}}]"#),
        format!(r#"{{"public_key": "p", "private_key": "{secret}"}}"#),
        format!(r#"[{{"public_key": "p", "private_key": "{secret}", "profile": 7}}]"#),
        format!(r#"[{{"public_key": "p", "private_key": "{secret}" "profile": "x"}}]"#),
    ] {
        std::fs::write(&file, &body).expect("write credential file");
        let mut cmd = project.bare_cmd(&["-vv", "lock"]);
        cmd.env("UCLOUD_BASE_URL", project.sim.url())
            .env("UCLOUD_SHARED_CREDENTIAL_FILE", &file);
        let (code, stdout, stderr) = output_of(cmd);
        assert_eq!(code, 2, "{body}: {stderr}");
        assert!(stderr.contains("credential.json"), "{stderr}");
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{body}: the key was quoted:\n{stderr}"
        );
    }
}

/// The table above covers every command the binary has, so a new command is tested too.
#[test]
fn every_command_is_covered() {
    let project = Project::new(SPEC);
    let (_, help, _) = output_of(project.bare_cmd(&["help"]));
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    assert!(commands.len() >= 5, "cannot read the command list:\n{help}");
    for command in commands {
        assert!(
            INVOCATIONS.iter().any(|args| args[0] == command),
            "`imagelock {command}` is not run by tests/secrets.rs"
        );
    }
}
