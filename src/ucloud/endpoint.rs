//! The API endpoint, checked so that credentials never travel in clear text (README, "Credentials
//! and endpoint").

use std::fmt;

use std::net::IpAddr;

use reqwest::Url;

use crate::error::Error;

/// The official endpoint, used when neither `--endpoint`, `UCLOUD_BASE_URL` nor the config file
/// names one.
pub const DEFAULT_ENDPOINT: &str = "https://api.ucloud.cn";

/// A URL that requests may be sent to: `https://` anywhere, `http://` only to a loopback host
/// (the simulator), because a signed request carries the public key and a replayable signature.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint(Url);

impl Endpoint {
    pub fn parse(text: &str) -> Result<Self, Error> {
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
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(host) => {}
            "http" => {
                return Err(Error::Invalid(format!(
                    "endpoint {trimmed:?} uses plain http:// to a non-loopback host, which would \
                     send signed requests in clear text; use https:// (http:// is only allowed \
                     for 127.0.0.0/8, ::1 and localhost, e.g. the simulator)"
                )));
            }
            other => {
                return Err(Error::Invalid(format!(
                    "endpoint {trimmed:?} has scheme {other:?}; only https:// (or http:// to a \
                     loopback host) is supported"
                )));
            }
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl Default for Endpoint {
    fn default() -> Self {
        Self(Url::parse(DEFAULT_ENDPOINT).expect("the default endpoint is a valid URL"))
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({})", self.0)
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
    fn other_schemes_and_garbage_are_refused() {
        assert!(refused("ftp://api.ucloud.cn").contains("scheme"));
        assert!(refused("api.ucloud.cn").contains("not a URL"));
        assert!(refused("").contains("not a URL"));
        assert!(refused("https://user:pw@api.ucloud.cn").contains("password"));
    }
}
