//! One place that turns the flags, the environment and the UCloud CLI's profile into a ready
//! client, so every command that calls the API reads its settings the same way and in the same
//! order: a flag, else an environment variable, else the profile, else the default.

use std::time::Duration;

use super::client::{Client, ClientOptions};
use super::credentials::load_settings;
use super::endpoint::{DEFAULT_ENDPOINT, Endpoint};
use crate::error::Error;

/// What the command line says; `None` means "not given, use the environment or profile".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// `--endpoint`.
    pub endpoint: Option<String>,
    /// `--profile` (or `UCLOUD_PROFILE`).
    pub profile: Option<String>,
    /// `--allow-http` (or `IMAGELOCK_ALLOW_HTTP=1`).
    pub allow_http: bool,
    /// `--timeout`; else `UCLOUD_TIMEOUT_SECOND`, else the profile's `timeout_sec`, else 10 s.
    pub timeout: Option<Duration>,
    pub retry_budget: Duration,
    /// `--max-attempts`; else the profile's `max_retry_times` + 1, else 6.
    pub max_attempts: Option<u32>,
    pub concurrency: usize,
    pub page_size: u32,
    pub max_listing: u64,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        let defaults = ClientOptions::default();
        Self {
            endpoint: None,
            profile: None,
            allow_http: false,
            timeout: None,
            retry_budget: defaults.retry_budget,
            max_attempts: None,
            concurrency: defaults.concurrency,
            page_size: defaults.page_size,
            max_listing: defaults.max_listing,
        }
    }
}

/// A client, and the warnings to show before using it (an unencrypted endpoint, a readable key
/// file, ...).
pub struct Connection {
    pub client: Client,
    pub warnings: Vec<String>,
}

/// Builds the client. Missing credentials, a refused endpoint, a keyless (OAuth, CloudShell)
/// profile or a malformed setting is exit 2.
pub fn connect(
    options: &ConnectOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Connection, Error> {
    let settings = load_settings(options.profile.as_deref(), env)?;
    let mut warnings = settings.warnings;
    let credentials = settings.credentials.ok_or_else(|| {
        Error::Invalid(
            "no UCloud credentials: set UCLOUD_PUBLIC_KEY and UCLOUD_PRIVATE_KEY, or configure \
             a profile in ~/.ucloud/credential.json (the UCloud CLI's `ucloud init` writes it)"
                .to_string(),
        )
    })?;
    let (url, source) = match (&options.endpoint, settings.base_url) {
        (Some(flag), _) => (flag.clone(), "--endpoint".to_string()),
        (None, Some(configured)) => configured,
        (None, None) => (DEFAULT_ENDPOINT.to_string(), "the default".to_string()),
    };
    let (endpoint, warning) = Endpoint::parse_with(&url, options.allow_http)
        .map_err(|e| Error::Invalid(format!("{e} (the endpoint came from {source})")))?;
    warnings.extend(warning);
    let defaults = ClientOptions::default();
    let client_options = ClientOptions {
        timeout: options
            .timeout
            .or(settings.timeout)
            .unwrap_or(defaults.timeout),
        retry_budget: options.retry_budget,
        max_attempts: options
            .max_attempts
            .or(settings.max_retry_times.map(|r| r.saturating_add(1)))
            .unwrap_or(defaults.max_attempts),
        concurrency: options.concurrency,
        page_size: options.page_size,
        max_listing: options.max_listing,
        project_id: settings.project_id,
        channel_key: settings.channel_key,
        ..defaults
    };
    let client = Client::new(endpoint.with_source(source), credentials, client_options)?;
    Ok(Connection { client, warnings })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn connect_with(vars: &[(&str, &str)], options: &ConnectOptions) -> Result<Connection, Error> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        connect(options, &move |name| vars.get(name).cloned())
    }

    const KEYS: [(&str, &str); 2] = [("UCLOUD_PUBLIC_KEY", "pub"), ("UCLOUD_PRIVATE_KEY", "priv")];

    #[test]
    fn endpoint_precedence_and_sources() {
        let home = tempfile::tempdir().expect("tempdir");
        let home_text = home.path().display().to_string();
        let mut vars = KEYS.to_vec();
        vars.push(("HOME", &home_text));
        let pick = |extra: &[(&str, &str)], flag: Option<&str>| {
            let mut all = vars.clone();
            all.extend_from_slice(extra);
            let options = ConnectOptions {
                endpoint: flag.map(str::to_string),
                ..ConnectOptions::default()
            };
            let client = connect_with(&all, &options).expect("connects").client;
            (
                client.endpoint().origin(),
                client.endpoint().source().to_string(),
            )
        };
        assert_eq!(
            pick(&[], None),
            ("https://api.ucloud.cn".into(), "the default".into())
        );
        assert_eq!(
            pick(&[("UCLOUD_API_BASE_URL", "https://b.example")], None),
            ("https://b.example".into(), "UCLOUD_API_BASE_URL".into())
        );
        assert_eq!(
            pick(
                &[
                    ("UCLOUD_API_BASE_URL", "https://b.example"),
                    ("UCLOUD_BASE_URL", "https://a.example")
                ],
                None
            ),
            ("https://a.example".into(), "UCLOUD_BASE_URL".into())
        );
        assert_eq!(
            pick(
                &[("UCLOUD_BASE_URL", "https://a.example")],
                Some("https://c.example")
            ),
            ("https://c.example".into(), "--endpoint".into())
        );
    }

    #[test]
    fn plain_http_needs_the_opt_in_and_warns() {
        let options = ConnectOptions {
            endpoint: Some("http://10.1.2.3:8080".into()),
            ..ConnectOptions::default()
        };
        let refused = connect_with(&KEYS, &options)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            refused.ends_with("(the endpoint came from --endpoint)"),
            "{refused}"
        );
        let allowed = ConnectOptions {
            allow_http: true,
            ..options
        };
        let connection = connect_with(&KEYS, &allowed).expect("allowed");
        assert_eq!(
            connection.warnings,
            [
                "requests to http://10.1.2.3:8080 travel unencrypted (plain http:// allowed by --allow-http)"
            ]
        );
    }

    #[test]
    fn timeout_retries_and_project_precedence() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("config.json");
        std::fs::write(
            &config,
            r#"[{"profile": "default", "active": true, "project_id": "org-profile",
                 "timeout_sec": 7, "max_retry_times": 2, "channel_key": "ch_x"}]"#,
        )
        .expect("write");
        let config_text = config.display().to_string();
        let mut vars = KEYS.to_vec();
        vars.push(("UCLOUD_SHARED_CONFIG_FILE", &config_text));
        let client = connect_with(&vars, &ConnectOptions::default())
            .expect("connects")
            .client;
        let options = client.options();
        assert_eq!(options.timeout, Duration::from_secs(7));
        assert_eq!(options.max_attempts, 3);
        assert_eq!(options.project_id.as_deref(), Some("org-profile"));
        assert_eq!(options.channel_key.as_deref(), Some("ch_x"));
        assert_eq!(client.effective_project(None), Some("org-profile"));
        assert_eq!(client.effective_project(Some("org-spec")), Some("org-spec"));

        vars.push(("UCLOUD_TIMEOUT_SECOND", "9"));
        vars.push(("UCLOUD_PROJECT_ID", "org-env"));
        let client = connect_with(&vars, &ConnectOptions::default())
            .expect("connects")
            .client;
        assert_eq!(client.options().timeout, Duration::from_secs(9));
        assert_eq!(client.effective_project(None), Some("org-env"));

        let flags = ConnectOptions {
            timeout: Some(Duration::from_secs(2)),
            max_attempts: Some(5),
            ..ConnectOptions::default()
        };
        let client = connect_with(&vars, &flags).expect("connects").client;
        assert_eq!(client.options().timeout, Duration::from_secs(2));
        assert_eq!(client.options().max_attempts, 5);

        // The last value of a name wins in `connect_with`'s map.
        vars.push(("UCLOUD_TIMEOUT_SECOND", "soon"));
        let message = connect_with(&vars, &ConnectOptions::default())
            .err()
            .expect("refused")
            .to_string();
        assert_eq!(
            message,
            "UCLOUD_TIMEOUT_SECOND is \"soon\"; expected a whole number of seconds above zero, e.g. 30"
        );
    }
}
