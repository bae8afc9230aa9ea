//! The API endpoint, checked so that credentials never travel in clear text unless the user
//! chose so, and labelled with the setting that supplied it so network errors can say where to
//! look.

use std::fmt;

use std::net::IpAddr;

use reqwest::Url;

use crate::error::Error;

/// The official endpoint, used when neither `--endpoint`, `UCLOUD_BASE_URL` nor the config file
/// names one.
pub const DEFAULT_ENDPOINT: &str = "https://api.ucloud.cn";

/// UCloud's intranet API gateway, reachable from inside UCloud's network (UHost CI runners) and
/// documented by UCloud as plain HTTP only.
pub const INTRANET_ENDPOINT: &str = "http://api.service.ucloud.cn";
const INTRANET_HOST: &str = "api.service.ucloud.cn";

/// A URL that requests may be sent to: `https://` anywhere, `http://` only to a loopback host
/// (the simulator), because a signed request carries the public key and a replayable signature.
/// Two exceptions, each with a warning: the intranet gateway, and any host when the user opts in.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: Url,
    /// Which setting supplied it: `--endpoint`, `UCLOUD_BASE_URL`, a profile, the default.
    source: String,
}

impl Endpoint {
    /// A strict parse: plain `http://` only to loopback hosts.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::parse_with(text, false).map(|(endpoint, _)| endpoint)
    }

    /// Like [`Endpoint::parse`], also accepting the intranet gateway and, with `allow_http`, any
    /// `http://` host; the second value is then the one-line warning to print.
    pub fn parse_with(text: &str, allow_http: bool) -> Result<(Self, Option<String>), Error> {
        let trimmed = text.trim();
        let url = Url::parse(trimmed).map_err(|e| {
            Error::Invalid(format!(
                "endpoint {trimmed:?} is not a URL ({e}); expected e.g. {DEFAULT_ENDPOINT}"
            ))
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::Invalid(format!(
                "endpoint {trimmed:?} must not contain a user name or password"
            )));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::Invalid(format!("endpoint {trimmed:?} has no host name")))?;
        let mut warning = None;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(host) => {}
            "http"
                if host
                    .trim_end_matches('.')
                    .eq_ignore_ascii_case(INTRANET_HOST) =>
            {
                warning = Some(format!(
                    "requests to {INTRANET_ENDPOINT} (UCloud's intranet gateway, plain HTTP only) \
                     travel unencrypted inside UCloud's network"
                ));
            }
            "http" if allow_http => {
                warning = Some(format!(
                    "requests to {} travel unencrypted (plain http:// allowed by --allow-http)",
                    origin_of(&url)
                ));
            }
            "http" => {
                return Err(Error::Invalid(format!(
                    "endpoint {trimmed:?} uses plain http:// to a non-loopback host, which would \
                     send signed requests in clear text; use https:// (http:// is only allowed \
                     for 127.0.0.0/8, ::1 and localhost, e.g. the simulator, and for UCloud's \
                     intranet gateway {INTRANET_ENDPOINT}; --allow-http or IMAGELOCK_ALLOW_HTTP=1 \
                     allows it anywhere)"
                )));
            }
            other => {
                return Err(Error::Invalid(format!(
                    "endpoint {trimmed:?} has scheme {other:?}; only https:// (or http:// to a \
                     loopback host) is supported"
                )));
            }
        }
        Ok((
            Self {
                url,
                source: "given".to_string(),
            },
            warning,
        ))
    }

    /// Labels the endpoint with the setting that supplied it, e.g. `UCLOUD_BASE_URL`.
    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// Which setting supplied the endpoint.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// `scheme://host[:port]`: what network errors name (never a path or query).
    pub fn origin(&self) -> String {
        origin_of(&self.url)
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    pub fn url(&self) -> &Url {
        &self.url
    }
}

fn origin_of(url: &Url) -> String {
    // IPv6 hosts come bracketed from `host_str`.
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

impl Default for Endpoint {
    fn default() -> Self {
        Self {
            url: Url::parse(DEFAULT_ENDPOINT).expect("the default endpoint is a valid URL"),
            source: "the default".to_string(),
        }
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({}, from {})", self.url, self.source)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_loopback(host: &str) -> bool {
    // IPv6 hosts come bracketed (`[::1]`); names may carry the root's trailing dot.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> String {
        match Endpoint::parse(text) {
            Err(Error::Invalid(message)) => message,
            other => panic!("{text:?} should be refused with exit 2, got {other:?}"),
        }
    }

    #[test]
    fn https_is_accepted_anywhere() {
        assert!(Endpoint::parse("https://api.ucloud.cn").is_ok());
        assert!(Endpoint::parse("https://example.com:8443/api").is_ok());
        assert_eq!(Endpoint::default().as_str(), "https://api.ucloud.cn/");
    }

    #[test]
    fn plain_http_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.3.4.5",
            "http://[::1]:9000",
            "http://localhost:1234",
            "http://LOCALHOST",
        ] {
            assert!(Endpoint::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "http://api.ucloud.cn",
            "http://10.0.0.1",
            "http://128.0.0.1",
            "http://localhost.example.com",
            "http://[::2]",
        ] {
            let message = refused(bad);
            assert!(message.contains("clear text"), "{message}");
        }
    }

    #[test]
    fn the_intranet_gateway_and_allow_http_pass_with_a_warning() {
        let (endpoint, warning) = Endpoint::parse_with("http://api.service.ucloud.cn", false)
            .expect("the intranet gateway is accepted");
        assert_eq!(endpoint.origin(), "http://api.service.ucloud.cn");
        assert_eq!(
            warning.as_deref(),
            Some(
                "requests to http://api.service.ucloud.cn (UCloud's intranet gateway, plain HTTP \
                 only) travel unencrypted inside UCloud's network"
            )
        );
        assert!(refused("http://10.0.0.1:8080/x").contains("--allow-http"));
        let (endpoint, warning) =
            Endpoint::parse_with("http://10.0.0.1:8080/x?y=1", true).expect("allowed");
        assert_eq!(endpoint.origin(), "http://10.0.0.1:8080");
        assert_eq!(
            warning.as_deref(),
            Some(
                "requests to http://10.0.0.1:8080 travel unencrypted (plain http:// allowed by --allow-http)"
            )
        );
        let (_, warning) = Endpoint::parse_with("https://api.ucloud.cn", true).expect("https");
        assert_eq!(warning, None);
        assert_eq!(
            Endpoint::parse("http://[::1]:9/")
                .expect("loopback")
                .origin(),
            "http://[::1]:9"
        );
    }

    #[test]
    fn other_schemes_and_garbage_are_refused() {
        assert!(refused("ftp://api.ucloud.cn").contains("scheme"));
        assert!(refused("api.ucloud.cn").contains("not a URL"));
        assert!(refused("").contains("not a URL"));
        assert!(refused("https://user:pw@api.ucloud.cn").contains("password"));
    }
}
