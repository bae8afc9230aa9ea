//! Credentials and settings from the official tools' variables and the UCloud CLI's shared files,
//! end to end: the real binary with only the variables a test sets, a temp HOME holding
//! `.ucloud/credential.json` and `config.json`, and the simulator as the endpoint.

mod common;

use common::{PRIVATE_KEY, PUBLIC_KEY, Project, output_of};

const SPEC: &str = "version: 1\nimages:\n  web:\n    region: cn-bj2\n    filters: { image_type: Base, name: \"^Ubuntu 22\\\\.04\" }\n";

/// Two profiles: `sim` holds the simulator's demo key, `other` a key the simulator refuses.
fn credential_json() -> String {
    serde_json::json!([
        {"public_key": "refused-public-key", "private_key": "refused-private-key", "profile": "other"},
        {"public_key": PUBLIC_KEY, "private_key": PRIVATE_KEY, "profile": "sim"},
    ])
    .to_string()
}

/// Both profiles point at the simulator; `active` names the one used without `--profile`.
fn config_json(project: &Project, active: &str) -> String {
    let url = project.sim.url();
    serde_json::json!([
        {"profile": "other", "active": active == "other", "region": "hk", "base_url": url},
        {"profile": "sim", "active": active == "sim", "region": "cn-bj2", "base_url": url,
         "project_id": "", "timeout_sec": 5},
    ])
    .to_string()
}

fn write_home(project: &Project, file: &str, text: &str, mode: u32) -> std::path::PathBuf {
    let path = project.path(".ucloud").join(file);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir .ucloud");
    std::fs::write(&path, text).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    #[cfg(not(unix))]
    let _ = mode;
    path
}

fn project_with_profiles(active: &str) -> Project {
    let project = Project::new(SPEC);
    write_home(&project, "credential.json", &credential_json(), 0o600);
    write_home(
        &project,
        "config.json",
        &config_json(&project, active),
        0o644,
    );
    project
}

#[test]
fn lock_uses_the_active_profile_and_its_base_url() {
    let project = project_with_profiles("sim");
    let (code, _, stderr) = output_of(project.bare_cmd(&["lock"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("added    web cn-bj2"), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_eq!(project.requests(), 1);
    assert!(project.lock_bytes().is_some());
}

#[test]
fn profile_flag_and_variable_win_over_the_active_profile() {
    let project = project_with_profiles("other");
    // The active profile's key is refused by the simulator: exit 5, nothing written, and the
    // error says which profile and file the refused key came from.
    let (code, _, stderr) = output_of(project.bare_cmd(&["lock"]));
    assert_eq!(code, 5, "{stderr}");
    assert!(project.lock_bytes().is_none());
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: DescribeImage in cn-bj2: RetCode 172 \"User Not Exists\" (request \
             sim-000000000000) — UCloud does not know this public key (the keys came from profile \
             \"other\" in {}); check it in the UCloud console's API keys",
            project.path(".ucloud/credential.json").display()
        )
    );

    let (code, _, stderr) = output_of(project.bare_cmd(&["--profile", "sim", "lock"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(project.lock_bytes().is_some());

    std::fs::remove_file(project.lock_path()).expect("remove lock");
    let mut cmd = project.bare_cmd(&["lock"]);
    cmd.env("UCLOUD_PROFILE", "sim");
    let (code, _, stderr) = output_of(cmd);
    assert_eq!(code, 0, "{stderr}");
    assert!(project.lock_bytes().is_some());
}

#[test]
fn environment_keys_win_over_the_credential_file() {
    let project = project_with_profiles("other");
    let mut cmd = project.bare_cmd(&["lock"]);
    cmd.env("UCLOUD_PUBLIC_KEY", PUBLIC_KEY)
        .env("UCLOUD_PRIVATE_KEY", PRIVATE_KEY);
    let (code, _, stderr) = output_of(cmd);
    // The active profile still gives the endpoint; the key comes from the environment.
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn override_variables_move_both_files() {
    let project = Project::new(SPEC);
    let elsewhere = project.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    let credentials = elsewhere.join("keys.json");
    let config = elsewhere.join("cfg.json");
    std::fs::write(&credentials, credential_json()).expect("write");
    std::fs::write(&config, config_json(&project, "sim")).expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
    }
    let mut cmd = project.bare_cmd(&["lock"]);
    cmd.env("UCLOUD_SHARED_CREDENTIAL_FILE", &credentials)
        .env("UCLOUD_SHARED_CONFIG_FILE", &config);
    let (code, _, stderr) = output_of(cmd);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(project.requests(), 1);
}

#[cfg(unix)]
#[test]
fn a_readable_key_file_gets_a_warning_on_stderr_and_the_run_goes_on() {
    let project = project_with_profiles("sim");
    let path = write_home(&project, "credential.json", &credential_json(), 0o644);
    let (code, stdout, stderr) = output_of(project.bare_cmd(&["lock"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("warning:"), "{stderr}");
    assert!(
        stderr.contains(&format!("chmod 600 {}", path.display())),
        "{stderr}"
    );
    // -q silences warnings too.
    std::fs::remove_file(project.lock_path()).expect("remove lock");
    let (code, _, stderr) = output_of(project.bare_cmd(&["-q", "lock"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn malformed_credential_file_is_exit_2_naming_it_without_a_request() {
    let project = project_with_profiles("sim");
    let path = write_home(&project, "credential.json", "{\"profile\": ", 0o600);
    let (code, _, stderr) = output_of(project.bare_cmd(&["lock"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("public_key, private_key, profile"),
        "{stderr}"
    );
    assert_eq!(project.requests(), 0);
    assert!(project.lock_bytes().is_none());
}

#[test]
fn malformed_config_file_is_exit_2_naming_it() {
    let project = project_with_profiles("sim");
    let path = write_home(&project, "config.json", "[{\"active\": \"yes\"}]", 0o644);
    let (code, _, stderr) = output_of(project.bare_cmd(&["lock"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert_eq!(project.requests(), 0);
}

#[test]
fn unknown_profile_is_exit_2_listing_the_known_ones() {
    let project = project_with_profiles("sim");
    let (code, _, stderr) = output_of(project.bare_cmd(&["--profile", "staging", "lock"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("\"staging\""), "{stderr}");
    assert!(stderr.contains("other, sim"), "{stderr}");
    assert_eq!(project.requests(), 0);
}

#[test]
fn no_credentials_is_exit_2_naming_both_variables() {
    let project = Project::new(SPEC);
    let mut cmd = project.bare_cmd(&["lock"]);
    cmd.env("UCLOUD_BASE_URL", project.sim.url());
    let (code, stdout, stderr) = output_of(cmd);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("UCLOUD_PUBLIC_KEY"), "{stderr}");
    assert!(stderr.contains("UCLOUD_PRIVATE_KEY"), "{stderr}");
    assert_eq!(project.requests(), 0);
    assert!(project.lock_bytes().is_none());
}

#[test]
fn commands_without_api_calls_need_no_credentials() {
    let project = Project::new(SPEC);
    // A broken key file does not matter to commands that never call the API.
    write_home(&project, "credential.json", "garbage", 0o600);
    // Exactly what each command exits with when it never looks at credentials: validate and
    // schema succeed, check finds no lockfile (3); none mentions the broken key file.
    for (args, expected) in [(&["validate"][..], 0), (&["check"], 3), (&["schema"], 0)] {
        let (code, _, stderr) = output_of(project.bare_cmd(args));
        assert_eq!(code, expected, "{args:?}: {stderr}");
        assert!(!stderr.contains("credential.json"), "{args:?}: {stderr}");
    }
}

#[test]
fn the_private_key_never_appears_in_any_output() {
    let project = project_with_profiles("sim");
    let (code, stdout, stderr) = output_of(project.bare_cmd(&["-vv", "lock"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("DescribeImage"),
        "-vv logs requests: {stderr}"
    );
    for output in [&stdout, &stderr] {
        assert!(!output.contains(PRIVATE_KEY));
    }
    let lock = project.lock_text();
    assert!(!lock.contains(PRIVATE_KEY));
}

#[test]
fn an_override_variable_naming_a_missing_file_is_exit_2_naming_both() {
    for variable in ["UCLOUD_SHARED_CREDENTIAL_FILE", "UCLOUD_SHARED_CONFIG_FILE"] {
        // The default files hold a working profile: only the override is wrong.
        let project = project_with_profiles("sim");
        let missing = project.path("typo").join("credentials.json");
        let mut cmd = project.bare_cmd(&["lock"]);
        cmd.env(variable, &missing);
        let (code, stdout, stderr) = output_of(cmd);
        assert_eq!(code, 2, "{variable}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(
            stderr.contains(&format!(
                "{variable} points to {}, which does not exist",
                missing.display()
            )),
            "{stderr}"
        );
        assert_eq!(project.requests(), 0);
        assert!(project.lock_bytes().is_none());
    }
}

#[test]
fn missing_default_files_are_fine_with_environment_keys() {
    // No ~/.ucloud at all: the environment's keys are enough.
    let project = Project::new(SPEC);
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(project.requests(), 1);
}

/// The recorded parameters of every API request the simulator received.
fn sent(project: &Project, name: &str) -> Vec<Option<String>> {
    project
        .sim
        .requests()
        .iter()
        .map(|r| r.params.get(name).cloned())
        .collect()
}

#[test]
fn the_go_sdks_base_url_variable_is_read_after_imagelocks() {
    let project = Project::new(SPEC);
    let mut cmd = project.bare_cmd(&["lock"]);
    cmd.env("UCLOUD_PUBLIC_KEY", PUBLIC_KEY)
        .env("UCLOUD_PRIVATE_KEY", PRIVATE_KEY)
        .env("UCLOUD_API_BASE_URL", project.sim.url());
    let (code, _, stderr) = output_of(cmd);
    assert_eq!(code, 0, "{stderr}");
    assert!(project.requests() > 0);
    // UCLOUD_BASE_URL wins: pointed at a closed port, the run fails naming it and its variable.
    let mut cmd = project.bare_cmd(&["--max-attempts", "1", "update"]);
    cmd.env("UCLOUD_PUBLIC_KEY", PUBLIC_KEY)
        .env("UCLOUD_PRIVATE_KEY", PRIVATE_KEY)
        .env("UCLOUD_API_BASE_URL", project.sim.url())
        .env("UCLOUD_BASE_URL", "http://127.0.0.1:9/some/path?x=1");
    let (code, _, stderr) = output_of(cmd);
    assert_eq!(code, 5, "{stderr}");
    assert!(
        stderr.contains(
            "error: DescribeImage in cn-bj2: failed after 1 attempt over 0.0s: cannot connect to \
             http://127.0.0.1:9 (endpoint from UCLOUD_BASE_URL)"
        ),
        "{stderr}"
    );
}

#[test]
fn the_project_comes_from_the_entry_then_the_variable_then_the_profile() {
    let spec = "version: 1\nimages:\n  web:\n    region: cn-bj2\n  own:\n    region: cn-bj2\n    project_id: org-entry\n";
    let project = Project::new(spec);
    write_home(&project, "credential.json", &credential_json(), 0o600);
    let url = project.sim.url();
    let config = serde_json::json!([{"profile": "sim", "active": true, "base_url": url,
                                     "project_id": "org-profile"}]);
    write_home(&project, "config.json", &config.to_string(), 0o600);
    let (code, _, stderr) = output_of(project.bare_cmd(&["lock"]));
    assert_eq!(code, 0, "{stderr}");
    let mut projects = sent(&project, "ProjectId");
    projects.sort();
    assert_eq!(
        projects,
        [
            Some("org-entry".to_string()),
            Some("org-profile".to_string())
        ]
    );

    project.sim.reset_stats();
    let mut cmd = project.bare_cmd(&["update"]);
    cmd.env("UCLOUD_PROJECT_ID", "org-env");
    let (code, _, stderr) = output_of(cmd);
    assert_eq!(code, 0, "{stderr}");
    let mut projects = sent(&project, "ProjectId");
    projects.sort();
    assert_eq!(
        projects,
        [Some("org-entry".to_string()), Some("org-env".to_string())]
    );
}

#[test]
fn a_profiles_channel_key_is_sent_as_a_header_and_its_retries_are_used() {
    let project = Project::with_config(SPEC, {
        let mut config = ucloud_sim::SimConfig::new(common::example_catalog());
        config.fault_rate = 1.0;
        config.fault_kinds = vec![ucloud_sim::Fault::Http503];
        config
    });
    write_home(&project, "credential.json", &credential_json(), 0o600);
    let config = serde_json::json!([{"profile": "sim", "active": true, "base_url": project.sim.url(),
                                     "channel_key": "ch_demo", "max_retry_times": 1}]);
    write_home(&project, "config.json", &config.to_string(), 0o600);
    let (code, _, stderr) = output_of(project.bare_cmd(&["lock"]));
    assert_eq!(code, 5, "{stderr}");
    // max_retry_times 1: two attempts.
    assert!(
        stderr.contains(": failed after 2 attempts over "),
        "{stderr}"
    );
    let keys: Vec<Option<String>> = project
        .sim
        .requests()
        .iter()
        .map(|r| r.channel_key.clone())
        .collect();
    assert_eq!(
        keys,
        [Some("ch_demo".to_string()), Some("ch_demo".to_string())]
    );
}

#[test]
fn keyless_oauth_and_cloudshell_profiles_explain_what_imagelock_needs() {
    for (entry, kind) in [
        (
            serde_json::json!({"public_key": "", "private_key": "", "profile": "default",
                               "auth_mode": "oauth", "access_token": "at", "refresh_token": "rt"}),
            "signs in with OAuth (`ucloud login`) and has no API key pair",
        ),
        (
            serde_json::json!({"public_key": "", "private_key": "", "profile": "default",
                               "cookie": "c=1", "csrf_token": "t"}),
            "is a CloudShell profile (a browser cookie, no API key pair)",
        ),
    ] {
        let project = Project::new(SPEC);
        let path = write_home(
            &project,
            "credential.json",
            &serde_json::json!([entry]).to_string(),
            0o600,
        );
        let (code, stdout, stderr) = output_of(project.bare_cmd(&["lock"]));
        assert_eq!(code, 2, "{stderr}");
        assert!(stdout.is_empty());
        assert_eq!(
            stderr.trim_end(),
            format!(
                "error: {}: profile \"default\" {kind}; imagelock signs every request with an API key \
                 pair: create one in the UCloud console (API keys), then set UCLOUD_PUBLIC_KEY and \
                 UCLOUD_PRIVATE_KEY, or store it in a profile with `ucloud init`",
                path.display()
            )
        );
        assert_eq!(project.requests(), 0);
    }
}

#[test]
fn shared_file_variables_expand_a_leading_tilde_and_read_at_most_a_mebibyte() {
    let project = Project::new(SPEC);
    let keys = project.path("keys/cred.json");
    std::fs::create_dir_all(keys.parent().expect("parent")).expect("mkdir");
    std::fs::write(&keys, credential_json()).expect("write");
    let mut cmd = project.bare_cmd(&["--profile", "sim", "lock"]);
    cmd.env("UCLOUD_SHARED_CREDENTIAL_FILE", "~/keys/cred.json")
        .env("UCLOUD_BASE_URL", project.sim.url());
    let (code, _, stderr) = output_of(cmd);
    assert_eq!(code, 0, "{stderr}");

    // A device that never ends is read up to the cap, then refused.
    let started = std::time::Instant::now();
    let mut cmd = project.cmd(&["update"]);
    cmd.env("UCLOUD_SHARED_CONFIG_FILE", "/dev/zero");
    let (code, _, stderr) = output_of(cmd);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "error: /dev/zero: larger than 1024 KiB, which no UCloud CLI file is; is \
         UCLOUD_SHARED_CONFIG_FILE the right file?"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn timeout_variable_must_be_whole_seconds() {
    let project = Project::new(SPEC);
    let mut cmd = project.cmd(&["lock"]);
    cmd.env("UCLOUD_TIMEOUT_SECOND", "10s");
    let (code, _, stderr) = output_of(cmd);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "error: UCLOUD_TIMEOUT_SECOND is \"10s\"; expected a whole number of seconds above zero, \
         e.g. 30"
    );
}

#[test]
fn images_and_init_default_to_the_region_variable() {
    let project = Project::new(SPEC);
    let mut cmd = project.cmd(&["--json", "images"]);
    cmd.env("UCLOUD_REGION", "hk");
    let (code, _, stderr) = output_of(cmd);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(sent(&project, "Region"), [Some("hk".to_string())]);

    let mut cmd = project.bare_cmd(&["init", "--force"]);
    cmd.env("UCLOUD_REGION", "hk");
    let (code, _, stderr) = output_of(cmd);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("(default region hk)"), "{stderr}");
    let spec = std::fs::read_to_string(project.spec_path()).expect("a spec");
    assert!(spec.contains("region: hk"), "{spec}");
}

#[test]
fn plain_http_elsewhere_than_loopback_is_refused_before_any_request() {
    let project = Project::new(SPEC);
    let mut cmd = project.bare_cmd(&["lock"]);
    cmd.env("UCLOUD_PUBLIC_KEY", PUBLIC_KEY)
        .env("UCLOUD_PRIVATE_KEY", PRIVATE_KEY)
        .env("UCLOUD_BASE_URL", "http://192.0.2.1:8080");
    let (code, _, stderr) = output_of(cmd);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.trim_end().ends_with(
            "--allow-http or IMAGELOCK_ALLOW_HTTP=1 allows it anywhere) (the endpoint came from \
             UCLOUD_BASE_URL)"
        ),
        "{stderr}"
    );
}
