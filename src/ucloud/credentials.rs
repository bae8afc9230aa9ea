//! Where credentials and per-profile settings come from: the environment first, then the official
//! UCloud CLI's shared files, so users who already ran `ucloud init` need nothing new.
//!
//! The names are the official tools': `UCLOUD_PUBLIC_KEY`, `UCLOUD_PRIVATE_KEY`,
//! `UCLOUD_PROJECT_ID`, `UCLOUD_REGION`, `UCLOUD_TIMEOUT_SECOND` (whole seconds), `UCLOUD_PROFILE`,
//! `UCLOUD_SHARED_CONFIG_FILE`, `UCLOUD_SHARED_CREDENTIAL_FILE` and `UCLOUD_API_BASE_URL` from the
//! Go SDK (`external/env_config.go` in `ucloud/ucloud-sdk-go`); the files' fields (`base_url`,
//! `project_id`, `timeout_sec`, `max_retry_times`, `channel_key`, `auth_mode`, `cookie`) from the
//! CLI (`cmd/internal/platform/config.go` in `ucloud/ucloud-cli`). The variables win over the
//! profile, as in the Go SDK.
//!
//! The environment is injected as a function so tests never read the real `HOME` or keys.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::sign::PrivateKey;
use crate::error::Error;

/// A key pair. `Debug` shows the public key only; the private key is redacted by its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub public_key: String,
    pub private_key: PrivateKey,
    /// Where the pair came from, for messages: `UCLOUD_PUBLIC_KEY/UCLOUD_PRIVATE_KEY`, or a
    /// profile and file.
    pub source: String,
}

impl Credentials {
    pub fn new(public_key: &str, private_key: &str, source: impl Into<String>) -> Self {
        Self {
            public_key: public_key.to_string(),
            private_key: PrivateKey::new(private_key),
            source: source.into(),
        }
    }
}

/// Everything the environment and the shared files say about how to call the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `None` when nothing is configured; commands that need the API turn that into exit 2.
    pub credentials: Option<Credentials>,
    /// `UCLOUD_REGION`, else the profile's: the default region of `init` and `images`.
    pub region: Option<String>,
    /// `UCLOUD_PROJECT_ID`, else the profile's: sent when a spec entry names no project.
    pub project_id: Option<String>,
    /// The endpoint and the setting it came from: `UCLOUD_BASE_URL`, else `UCLOUD_API_BASE_URL`,
    /// else the profile's `base_url` (a `--endpoint` flag wins over all of them).
    pub base_url: Option<(String, String)>,
    /// `UCLOUD_TIMEOUT_SECOND`, else the profile's `timeout_sec`.
    pub timeout: Option<Duration>,
    /// The profile's `max_retry_times`: attempts = retries + 1.
    pub max_retry_times: Option<u32>,
    /// The profile's `channel_key`, sent as the `channel-key` header.
    pub channel_key: Option<String>,
    /// Things the user should fix but that do not stop the run (e.g. a world-readable key file).
    pub warnings: Vec<String>,
}

/// One entry of `credential.json`.
#[derive(Debug, Deserialize)]
struct CredentialEntry {
    #[serde(default)]
    public_key: String,
    #[serde(default)]
    private_key: String,
    #[serde(default)]
    profile: Option<String>,
    /// `oauth` for profiles made by `ucloud login`.
    #[serde(default)]
    auth_mode: Option<String>,
    /// Set in CloudShell profiles, which sign in with a browser cookie instead of keys.
    #[serde(default)]
    cookie: Option<String>,
}

/// One entry of `config.json`; the CLI writes more fields (zone, …) that do not apply.
#[derive(Debug, Deserialize)]
struct ConfigEntry {
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    active: bool,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    timeout_sec: Option<u64>,
    #[serde(default)]
    max_retry_times: Option<u32>,
    #[serde(default)]
    channel_key: Option<String>,
}

/// One of the CLI's shared files: the variable that may move it, and its name under `~/.ucloud`.
struct SharedFile {
    variable: &'static str,
    name: &'static str,
}

const CREDENTIAL_FILE: SharedFile = SharedFile {
    variable: "UCLOUD_SHARED_CREDENTIAL_FILE",
    name: "credential.json",
};
const CONFIG_FILE: SharedFile = SharedFile {
    variable: "UCLOUD_SHARED_CONFIG_FILE",
    name: "config.json",
};

/// The profile name the official CLI gives entries that have none, and uses when none is active.
const DEFAULT_PROFILE: &str = "default";

/// Reads the settings for `profile` (from `--profile` / `UCLOUD_PROFILE`), or the active one.
///
/// `UCLOUD_PUBLIC_KEY` + `UCLOUD_PRIVATE_KEY` win over the credential file. Missing default files
/// are fine (no credentials); a file named by `UCLOUD_SHARED_*_FILE` that does not exist,
/// malformed files, an unknown explicit profile, or only one of the two keys are configuration
/// errors (exit 2).
pub fn load_settings(
    profile: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, Error> {
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let mut settings = Settings::default();

    let env_credentials = match (var("UCLOUD_PUBLIC_KEY"), var("UCLOUD_PRIVATE_KEY")) {
        (Some(public_key), Some(private_key)) => Some(Credentials::new(
            public_key.trim(),
            private_key.trim(),
            "the variables UCLOUD_PUBLIC_KEY and UCLOUD_PRIVATE_KEY",
        )),
        (Some(_), None) => {
            return Err(Error::Invalid(
                "UCLOUD_PUBLIC_KEY is set but UCLOUD_PRIVATE_KEY is not; set both or neither"
                    .into(),
            ));
        }
        (None, Some(_)) => {
            return Err(Error::Invalid(
                "UCLOUD_PRIVATE_KEY is set but UCLOUD_PUBLIC_KEY is not; set both or neither"
                    .into(),
            ));
        }
        (None, None) => None,
    };

    let home = var("HOME").map(PathBuf::from);
    let shared_path = |override_var: &str, file: &str| {
        var(override_var)
            .map(|path| expand_home(path.trim(), home.as_deref()))
            .or_else(|| home.as_ref().map(|h| h.join(".ucloud").join(file)))
    };
    let credential_path = shared_path(CREDENTIAL_FILE.variable, CREDENTIAL_FILE.name);
    let config_path = shared_path(CONFIG_FILE.variable, CONFIG_FILE.name);
    // A path the user named is one they expect to be read: its absence is a typo to report, not
    // "no credentials" (which would send them looking at the wrong file).
    let named = |file: &'static SharedFile| var(file.variable).is_some().then_some(file);

    let config: Vec<ConfigEntry> = match &config_path {
        Some(path) => read_list(
            path,
            named(&CONFIG_FILE),
            "a JSON list of {profile, active, region, ...}",
        )?,
        None => Vec::new(),
    };
    // Only read the key file when the environment does not already provide keys.
    let credential_file = match (&env_credentials, &credential_path) {
        (None, Some(path)) => {
            read_text(path, named(&CREDENTIAL_FILE))?.map(|text| (path.clone(), text))
        }
        _ => None,
    };
    let credential_entries: Vec<CredentialEntry> = match &credential_file {
        Some((path, text)) => parse_list(
            path,
            text,
            "a JSON list of {public_key, private_key, profile}",
        )?,
        None => Vec::new(),
    };

    let explicit = profile
        .map(str::to_string)
        .or_else(|| var("UCLOUD_PROFILE"))
        .map(|p| p.trim().to_string());
    let selected = explicit
        .clone()
        .or_else(|| {
            config
                .iter()
                .find(|c| c.active)
                .map(|c| profile_name(&c.profile).to_string())
        })
        .unwrap_or_else(|| DEFAULT_PROFILE.to_string());

    let config_entry = config.iter().find(|c| profile_name(&c.profile) == selected);
    let credential_entry = credential_entries
        .iter()
        .find(|c| profile_name(&c.profile) == selected);

    if explicit.is_some() && config_entry.is_none() && credential_entry.is_none() {
        let mut known: Vec<&str> = config
            .iter()
            .map(|c| profile_name(&c.profile))
            .chain(credential_entries.iter().map(|c| profile_name(&c.profile)))
            .collect();
        known.sort_unstable();
        known.dedup();
        let message = format!(
            "profile {selected:?} is not in {} or {} (known profiles: {})",
            describe(&credential_path),
            describe(&config_path),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            },
        );
        if env_credentials.is_none() {
            return Err(Error::Invalid(message));
        }
        settings.warnings.push(message);
    }

    settings.credentials = match env_credentials {
        Some(credentials) => Some(credentials),
        None => match (credential_entry, &credential_file) {
            (Some(entry), Some((path, _))) => Some(file_credentials(entry, path, &selected)?),
            _ => None,
        },
    };
    if let (Some(_), Some((path, _))) = (&settings.credentials, &credential_file)
        && let Some(warning) = permission_warning(path)
    {
        settings.warnings.push(warning);
    }

    if let Some(entry) = config_entry {
        let non_empty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        settings.region = non_empty(&entry.region);
        settings.project_id = non_empty(&entry.project_id);
        settings.base_url = non_empty(&entry.base_url).map(|url| {
            let path = describe(&config_path);
            (
                url,
                format!("the base_url of profile {selected:?} in {path}"),
            )
        });
        settings.timeout = entry
            .timeout_sec
            .filter(|s| *s > 0)
            .map(Duration::from_secs);
        settings.max_retry_times = entry.max_retry_times;
        settings.channel_key = non_empty(&entry.channel_key);
    }
    // The variables win over the profile, as in the Go SDK.
    if let Some(region) = var("UCLOUD_REGION") {
        settings.region = Some(region.trim().to_string());
    }
    if let Some(project) = var("UCLOUD_PROJECT_ID") {
        settings.project_id = Some(project.trim().to_string());
    }
    if let Some(text) = var("UCLOUD_TIMEOUT_SECOND") {
        settings.timeout = Some(match text.trim().parse::<u64>() {
            Ok(seconds) if seconds > 0 => Duration::from_secs(seconds),
            _ => {
                return Err(Error::Invalid(format!(
                    "UCLOUD_TIMEOUT_SECOND is {:?}; expected a whole number of seconds above \
                     zero, e.g. 30",
                    super::lenient::shorten(&text)
                )));
            }
        });
    }
    for variable in ["UCLOUD_BASE_URL", "UCLOUD_API_BASE_URL"] {
        if let Some(url) = var(variable) {
            settings.base_url = Some((url.trim().to_string(), variable.to_string()));
            break;
        }
    }
    Ok(settings)
}

/// A leading `~/` means the home directory, as in a shell.
fn expand_home(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

fn profile_name(profile: &Option<String>) -> &str {
    profile
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or(DEFAULT_PROFILE)
}

fn describe(path: &Option<PathBuf>) -> String {
    match path {
        Some(path) => path.display().to_string(),
        None => "the shared files (HOME is not set)".to_string(),
    }
}

fn file_credentials(
    entry: &CredentialEntry,
    path: &Path,
    profile: &str,
) -> Result<Credentials, Error> {
    let public_key = entry.public_key.trim();
    let private_key = entry.private_key.trim();
    let keyless = public_key.is_empty() && private_key.is_empty();
    let how_to = "imagelock signs every request with an API key pair: create one in the UCloud \
                  console (API keys), then set UCLOUD_PUBLIC_KEY and UCLOUD_PRIVATE_KEY, or store \
                  it in a profile with `ucloud init`";
    if keyless
        && entry
            .auth_mode
            .as_deref()
            .is_some_and(|mode| mode.eq_ignore_ascii_case("oauth"))
    {
        return Err(Error::Invalid(format!(
            "{}: profile {profile:?} signs in with OAuth (`ucloud login`) and has no API key \
             pair; {how_to}",
            path.display()
        )));
    }
    if keyless
        && entry
            .cookie
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty())
    {
        return Err(Error::Invalid(format!(
            "{}: profile {profile:?} is a CloudShell profile (a browser cookie, no API key \
             pair); {how_to}",
            path.display()
        )));
    }
    match (public_key.is_empty(), private_key.is_empty()) {
        (false, false) => Ok(Credentials::new(
            public_key,
            private_key,
            format!("profile {profile:?} in {}", path.display()),
        )),
        (true, true) => Err(Error::Invalid(format!(
            "{}: profile {profile:?} has no public_key or private_key",
            path.display()
        ))),
        (true, false) => Err(Error::Invalid(format!(
            "{}: profile {profile:?} has a private_key but no public_key",
            path.display()
        ))),
        (false, true) => Err(Error::Invalid(format!(
            "{}: profile {profile:?} has a public_key but no private_key",
            path.display()
        ))),
    }
}

/// The most bytes read from a shared file; the CLI's are a few KB. A bound that holds for devices
/// and pipes too (`UCLOUD_SHARED_CONFIG_FILE=/dev/zero` reads 1 MiB, not forever).
pub const MAX_SHARED_FILE_BYTES: u64 = 1024 * 1024;

/// The file's text, or `None` when it does not exist and no variable named it.
fn read_text(path: &Path, named_by: Option<&SharedFile>) -> Result<Option<String>, Error> {
    match read_capped(path) {
        Ok(Some(text)) => Ok(Some(text)),
        Ok(None) => Err(Error::Invalid(format!(
            "{}: larger than {} KiB, which no UCloud CLI file is; is {} the right file?",
            path.display(),
            MAX_SHARED_FILE_BYTES / 1024,
            named_by.map_or("it", |file| file.variable),
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => match named_by {
            Some(file) => Err(Error::Invalid(format!(
                "{} points to {}, which does not exist; correct the path, or unset {} to use \
                 ~/.ucloud/{}",
                file.variable,
                path.display(),
                file.variable,
                file.name
            ))),
            None => Ok(None),
        },
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(Error::Invalid(format!(
            "{}: cannot read: the file is not UTF-8 text, so not a UCloud CLI file",
            path.display()
        ))),
        Err(e) => Err(Error::Invalid(format!(
            "{}: cannot read: {e}",
            path.display()
        ))),
    }
}

/// At most [`MAX_SHARED_FILE_BYTES`] of UTF-8 text; `None` when there is more.
fn read_capped(path: &Path) -> std::io::Result<Option<String>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_SHARED_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_SHARED_FILE_BYTES {
        return Ok(None);
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

fn read_list<T: for<'de> Deserialize<'de>>(
    path: &Path,
    named_by: Option<&SharedFile>,
    expected: &str,
) -> Result<Vec<T>, Error> {
    match read_text(path, named_by)? {
        Some(text) => parse_list(path, &text, expected),
        None => Ok(Vec::new()),
    }
}

fn parse_list<T: for<'de> Deserialize<'de>>(
    path: &Path,
    text: &str,
    expected: &str,
) -> Result<Vec<T>, Error> {
    // The CLI leaves an empty file behind after `ucloud config delete`; that means no profiles.
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(text).map_err(|e| {
        Error::Invalid(format!(
            "{}: not a valid UCloud CLI file ({} at line {} column {}); expected {expected}",
            path.display(),
            parse_problem(&e),
            e.line(),
            e.column()
        ))
    })
}

/// What is wrong, without serde's wording when it could quote a value: in the credential file that
/// value may be the private key (`"private_key": 12345` is reported as "invalid type: integer
/// `12345`").
fn parse_problem(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match error.classify() {
        Category::Syntax => "not valid JSON".to_owned(),
        Category::Eof => "the file ends too early".to_owned(),
        Category::Io => "cannot be read".to_owned(),
        Category::Data => {
            let message = error.to_string();
            // Only names of fields, never values.
            match message.find(" at line ") {
                Some(end) if message.starts_with("missing field") => message[..end].to_owned(),
                _ => "a value has the wrong type".to_owned(),
            }
        }
    }
}

#[cfg(unix)]
fn permission_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} holds a private key but is readable by group or others (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn permission_warning(_path: &Path) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Home {
        dir: tempfile::TempDir,
        vars: HashMap<String, String>,
    }

    impl Home {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut vars = HashMap::new();
            vars.insert("HOME".to_string(), dir.path().display().to_string());
            Self { dir, vars }
        }

        fn write(&self, relative: &str, text: &str) -> PathBuf {
            let path = self.dir.path().join(relative);
            std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
            std::fs::write(&path, text).expect("write");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .expect("chmod");
            }
            path
        }

        fn set(&mut self, name: &str, value: &str) {
            self.vars.insert(name.to_string(), value.to_string());
        }

        fn load(&self, profile: Option<&str>) -> Result<Settings, Error> {
            let vars = self.vars.clone();
            load_settings(profile, &move |name| vars.get(name).cloned())
        }
    }

    const CREDENTIALS: &str = r#"[
        {"public_key": "pub-default", "private_key": "priv-default", "profile": "default"},
        {"public_key": "pub-work", "private_key": "priv-work", "profile": "work"}
    ]"#;
    const CONFIG: &str = r#"[
        {"profile": "default", "active": false, "region": "cn-bj2", "project_id": "org-d",
         "base_url": "https://api.ucloud.cn/", "timeout_sec": 15, "zone": "cn-bj2-02"},
        {"profile": "work", "active": true, "region": "hk", "project_id": "org-w",
         "base_url": "", "timeout_sec": 0}
    ]"#;

    fn public_key(settings: &Settings) -> Option<&str> {
        settings.credentials.as_ref().map(|c| c.public_key.as_str())
    }

    fn invalid(result: Result<Settings, Error>) -> String {
        match result {
            Err(Error::Invalid(message)) => message,
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn nothing_configured_means_no_credentials() {
        let settings = Home::new().load(None).expect("loads");
        assert_eq!(settings, Settings::default());
    }

    #[test]
    fn environment_keys_win_over_files() {
        let mut home = Home::new();
        home.write(".ucloud/credential.json", CREDENTIALS);
        home.write(".ucloud/config.json", CONFIG);
        home.set("UCLOUD_PUBLIC_KEY", "pub-env");
        home.set("UCLOUD_PRIVATE_KEY", "priv-env");
        let settings = home.load(None).expect("loads");
        let credentials = settings.credentials.expect("credentials");
        assert_eq!(credentials.public_key, "pub-env");
        assert_eq!(credentials.private_key.expose(), "priv-env");
        // The config file still supplies the active profile's region.
        assert_eq!(settings.region.as_deref(), Some("hk"));
    }

    #[test]
    fn only_one_environment_key_is_an_error() {
        let mut home = Home::new();
        home.set("UCLOUD_PUBLIC_KEY", "pub-env");
        assert!(invalid(home.load(None)).contains("UCLOUD_PRIVATE_KEY"));
        let mut home = Home::new();
        home.set("UCLOUD_PRIVATE_KEY", "priv-env");
        assert!(invalid(home.load(None)).contains("UCLOUD_PUBLIC_KEY"));
    }

    #[test]
    fn active_profile_is_used_by_default() {
        let home = Home::new();
        home.write(".ucloud/credential.json", CREDENTIALS);
        home.write(".ucloud/config.json", CONFIG);
        let settings = home.load(None).expect("loads");
        assert_eq!(public_key(&settings), Some("pub-work"));
        assert_eq!(settings.region.as_deref(), Some("hk"));
        assert_eq!(settings.project_id.as_deref(), Some("org-w"));
        assert_eq!(settings.base_url, None);
        assert_eq!(settings.timeout, None);
        assert!(settings.warnings.is_empty(), "{:?}", settings.warnings);
    }

    #[test]
    fn explicit_profile_wins_over_active() {
        let mut home = Home::new();
        home.write(".ucloud/credential.json", CREDENTIALS);
        home.write(".ucloud/config.json", CONFIG);
        let settings = home.load(Some("default")).expect("loads");
        assert_eq!(public_key(&settings), Some("pub-default"));
        assert_eq!(settings.region.as_deref(), Some("cn-bj2"));
        assert_eq!(
            settings.base_url.as_ref().map(|(url, _)| url.as_str()),
            Some("https://api.ucloud.cn/")
        );
        assert_eq!(settings.timeout, Some(Duration::from_secs(15)));

        home.set("UCLOUD_PROFILE", "default");
        let settings = home.load(None).expect("loads");
        assert_eq!(public_key(&settings), Some("pub-default"));
    }

    #[test]
    fn without_config_the_default_profile_is_used() {
        let home = Home::new();
        home.write(".ucloud/credential.json", CREDENTIALS);
        let settings = home.load(None).expect("loads");
        assert_eq!(public_key(&settings), Some("pub-default"));
    }

    #[test]
    fn unknown_profile_is_an_error_naming_the_file() {
        let home = Home::new();
        let path = home.write(".ucloud/credential.json", CREDENTIALS);
        let message = invalid(home.load(Some("staging")));
        assert!(message.contains("staging"), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("default, work"), "{message}");
    }

    #[test]
    fn override_paths_replace_home() {
        let mut home = Home::new();
        home.write(".ucloud/credential.json", CREDENTIALS);
        let other = home.write(
            "elsewhere/keys.json",
            r#"[{"public_key": "pub-other", "private_key": "priv-other"}]"#,
        );
        let config = home.write(
            "elsewhere/config.json",
            r#"[{"profile": "default", "active": true, "region": "us-ca"}]"#,
        );
        home.set(
            "UCLOUD_SHARED_CREDENTIAL_FILE",
            &other.display().to_string(),
        );
        home.set("UCLOUD_SHARED_CONFIG_FILE", &config.display().to_string());
        let settings = home.load(None).expect("loads");
        assert_eq!(public_key(&settings), Some("pub-other"));
        assert_eq!(settings.region.as_deref(), Some("us-ca"));
    }

    #[test]
    fn an_override_naming_a_missing_file_is_an_error_naming_variable_and_path() {
        for variable in ["UCLOUD_SHARED_CREDENTIAL_FILE", "UCLOUD_SHARED_CONFIG_FILE"] {
            let mut home = Home::new();
            home.write(".ucloud/credential.json", CREDENTIALS);
            let missing = home.dir.path().join("nowhere/file.json");
            home.set(variable, &missing.display().to_string());
            let message = invalid(home.load(None));
            assert!(
                message.starts_with(&format!(
                    "{variable} points to {}, which does not exist; ",
                    missing.display()
                )),
                "{message}"
            );
        }
    }

    #[test]
    fn missing_default_files_mean_no_credentials() {
        let home = Home::new();
        assert_eq!(home.load(None).expect("loads").credentials, None);
        // An override that exists next to a missing default file is fine too.
        let mut home = Home::new();
        let keys = home.write("keys.json", CREDENTIALS);
        home.set("UCLOUD_SHARED_CREDENTIAL_FILE", &keys.display().to_string());
        let settings = home.load(None).expect("loads");
        assert_eq!(public_key(&settings), Some("pub-default"));
    }

    #[test]
    fn malformed_files_are_errors_naming_the_file() {
        let home = Home::new();
        let path = home.write(".ucloud/credential.json", "{not json");
        let message = invalid(home.load(None));
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("public_key"), "{message}");

        let home = Home::new();
        let path = home.write(".ucloud/config.json", r#"{"profile": "default"}"#);
        let message = invalid(home.load(None));
        assert!(message.contains(&path.display().to_string()), "{message}");

        let home = Home::new();
        home.write(
            ".ucloud/credential.json",
            r#"[{"public_key": "pub", "private_key": "", "profile": "default"}]"#,
        );
        assert!(invalid(home.load(None)).contains("no private_key"));
    }

    #[cfg(unix)]
    #[test]
    fn readable_key_file_gets_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let home = Home::new();
        let path = home.write(".ucloud/credential.json", CREDENTIALS);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let settings = home.load(None).expect("loads");
        assert_eq!(public_key(&settings), Some("pub-default"));
        assert_eq!(settings.warnings.len(), 1, "{:?}", settings.warnings);
        assert!(settings.warnings[0].contains("chmod 600"));
        assert!(settings.warnings[0].contains("644"));
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let home = Home::new();
        home.write(".ucloud/credential.json", CREDENTIALS);
        let settings = home.load(None).expect("loads");
        let shown = format!("{settings:?}");
        assert!(shown.contains("pub-default"));
        assert!(!shown.contains("priv-default"), "{shown}");
    }
}
