//! Image versions and version requirements.
//!
//! UCloud has no version field: the version is read off the image's names ("Ubuntu 22.04 64位" is
//! 22.4.0), and users write requirements the way they think of them (`>=22.04, <24`). Both sides
//! drop leading zeros so that `22.04` and `22.4` mean the same thing, then Cargo's `semver` rules
//! apply (a bare version means `^`).
//!
//! [`downgrade`] says whether moving a pin would go to a lower version, for `update`'s guard.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use semver::{Version, VersionReq};

static VERSION_IN_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\d+(\.\d+){0,2}").expect("static regex"));

/// The version of an image: the first `\d+(\.\d+){0,2}` in its OsName, else in its ImageName.
pub fn image_version(os_name: &str, image_name: &str) -> Option<Version> {
    version_in(os_name).or_else(|| version_in(image_name))
}

fn version_in(text: &str) -> Option<Version> {
    let found = VERSION_IN_NAME.find(text)?;
    let mut parts = [0u64; 3];
    for (slot, part) in parts.iter_mut().zip(found.as_str().split('.')) {
        // A run of digits too long for u64 is not a version anyone means; skip the image.
        *slot = part.parse().ok()?;
    }
    Some(Version::new(parts[0], parts[1], parts[2]))
}

/// Anything with an image version: an image from the API, or a pin in the lockfile (whose
/// recorded OsName and ImageName give the version the same way).
pub trait HasVersion {
    fn version(&self) -> Option<Version>;
}

impl HasVersion for crate::ucloud::Image {
    fn version(&self) -> Option<Version> {
        image_version(&self.os_name, &self.image_name)
    }
}

impl HasVersion for crate::lockfile::Pin {
    fn version(&self) -> Option<Version> {
        image_version(&self.os_name, &self.image_name)
    }
}

/// A move to a lower version: `24.4.0 → 22.4.0`, or `24.4.0 → no version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downgrade {
    pub from: Version,
    /// `None`: the new image has no version at all.
    pub to: Option<Version>,
}

impl fmt::Display for Downgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.to {
            Some(to) => write!(f, "{} → {to}", self.from),
            None => write!(f, "{} → no version", self.from),
        }
    }
}

/// Whether moving from `old` to `new` is a downgrade: `new`'s version is lower than `old`'s, or
/// `new` has none while `old` has one. A pin without a version can never be downgraded; the
/// same version (a rebuild) is not a downgrade.
pub fn downgrade(old: &impl HasVersion, new: &impl HasVersion) -> Option<Downgrade> {
    let from = old.version()?;
    match new.version() {
        Some(to) if to >= from => None,
        to => Some(Downgrade { from, to }),
    }
}

/// [`downgrade`] as a yes or no.
pub fn is_downgrade(old: &impl HasVersion, new: &impl HasVersion) -> bool {
    downgrade(old, new).is_some()
}

/// A parsed `version` filter, keeping the text the user wrote for messages and digests.
#[derive(Debug, Clone)]
pub struct VersionRequirement {
    source: String,
    req: VersionReq,
}

impl VersionRequirement {
    /// Parses a Cargo-style requirement, ignoring leading zeros in numeric parts.
    pub fn parse(source: &str) -> Result<Self, String> {
        let normalized = strip_leading_zeros(source);
        match VersionReq::parse(&normalized) {
            Ok(req) => Ok(Self {
                source: source.to_string(),
                req,
            }),
            Err(err) => Err(format!(
                "`{source}` is not a version requirement ({err}); expected something like `>=22.04, <24`, `~11` or `=2019`"
            )),
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn matches(&self, version: &Version) -> bool {
        self.req.matches(version)
    }
}

impl PartialEq for VersionRequirement {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// `>=22.04, <024` → `>=22.4, <24`: semver forbids leading zeros, UCloud's names are full of them.
fn strip_leading_zeros(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        let starts_number = c.is_ascii_digit() && !prev.is_some_and(|p| p.is_ascii_digit());
        if starts_number && c == '0' {
            // Drop zeros that are followed by another digit of the same number.
            let mut zero = c;
            while zero == '0' && chars.peek().is_some_and(|n| n.is_ascii_digit()) {
                zero = chars.next().expect("peeked");
            }
            out.push(zero);
            prev = Some(zero);
            continue;
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_versions_from_names() {
        let v = |os: &str, name: &str| image_version(os, name).map(|v| v.to_string());
        assert_eq!(v("Ubuntu 22.04 64位", ""), Some("22.4.0".into()));
        assert_eq!(v("CentOS 7.9 64位", ""), Some("7.9.0".into()));
        assert_eq!(v("Rocky Linux 9.3.1 x", ""), Some("9.3.1".into()));
        assert_eq!(
            v("Windows Server 2019 数据中心版 64位中文版", ""),
            Some("2019.0.0".into())
        );
        assert_eq!(v("", "Debian 12"), Some("12.0.0".into()));
        assert_eq!(v("Custom", "my-app"), None);
        // Four parts: only the first three are read.
        assert_eq!(v("v1.2.3.4", ""), Some("1.2.3".into()));
        assert_eq!(v("99999999999999999999999", ""), None);
    }

    #[test]
    fn os_name_wins_over_image_name() {
        let v = image_version("Ubuntu 20.04", "Ubuntu 22.04 build 7").unwrap();
        assert_eq!(v, Version::new(20, 4, 0));
    }

    #[test]
    fn requirements_ignore_leading_zeros() {
        let req = VersionRequirement::parse(">=22.04, <24").unwrap();
        assert!(req.matches(&Version::new(22, 4, 0)));
        assert!(req.matches(&Version::new(23, 10, 0)));
        assert!(!req.matches(&Version::new(24, 4, 0)));
        assert!(!req.matches(&Version::new(20, 4, 0)));
        assert_eq!(req.source(), ">=22.04, <24");
        assert_eq!(strip_leading_zeros(">=22.04, <024"), ">=22.4, <24");
        assert_eq!(strip_leading_zeros("=2019"), "=2019");
        assert_eq!(strip_leading_zeros("~10.0"), "~10.0");
        assert_eq!(strip_leading_zeros("^0.00.1"), "^0.0.1");
    }

    #[test]
    fn bare_version_means_caret() {
        let req = VersionRequirement::parse("9").unwrap();
        assert!(req.matches(&Version::new(9, 3, 0)));
        assert!(!req.matches(&Version::new(10, 0, 0)));
        let tilde = VersionRequirement::parse("~11").unwrap();
        assert!(tilde.matches(&Version::new(11, 9, 0)));
        let exact = VersionRequirement::parse("=2019").unwrap();
        assert!(exact.matches(&Version::new(2019, 0, 0)));
        assert!(!exact.matches(&Version::new(2022, 0, 0)));
    }

    fn named(os_name: &str) -> crate::ucloud::Image {
        crate::ucloud::Image {
            image_id: "uimage-x".into(),
            os_name: os_name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn downgrades_are_lower_versions_or_lost_ones() {
        let pin = crate::lockfile::Pin::from(&named("Ubuntu 24.04 64位"));
        let older = named("Ubuntu 22.04 64位");
        let d = downgrade(&pin, &older);
        assert_eq!(
            d.as_ref().map(ToString::to_string).as_deref(),
            Some("24.4.0 → 22.4.0")
        );
        assert!(is_downgrade(&pin, &older));
        let versionless = named("my custom image");
        assert_eq!(
            downgrade(&pin, &versionless)
                .map(|d| d.to_string())
                .as_deref(),
            Some("24.4.0 → no version")
        );
        // A rebuild of the same version, a newer one, or a pin with no version: not downgrades.
        assert!(!is_downgrade(&pin, &named("Ubuntu 24.04 64位 rebuilt")));
        assert!(!is_downgrade(&pin, &named("Ubuntu 24.10")));
        assert!(!is_downgrade(&versionless, &older));
        // Versions compare numerically, not as text: 9.10 is above 9.9.
        assert!(!is_downgrade(
            &named("Rocky Linux 9.9"),
            &named("Rocky Linux 9.10")
        ));
        assert!(is_downgrade(
            &named("Rocky Linux 9.10"),
            &named("Rocky Linux 9.9")
        ));
        // Images compare with images, pins with pins, and one with the other.
        let older_pin = crate::lockfile::Pin::from(&named("Ubuntu 20.04"));
        assert!(is_downgrade(&named("Ubuntu 24.04"), &older_pin));
        assert!(is_downgrade(&pin, &older_pin));
    }

    #[test]
    fn bad_requirements_explain_themselves() {
        let err = VersionRequirement::parse(">= twenty").unwrap_err();
        assert!(err.contains("`>= twenty`"), "{err}");
    }
}
