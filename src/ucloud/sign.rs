//! UCloud request signatures (as UCloud's signature docs and SDKs compute them) and the private key
//! type that keeps the secret out of output.

use std::fmt;

use sha1::{Digest, Sha1};

/// A UCloud private key. Its `Debug` and `Display` are redacted so that no log line, error or
/// panic message can carry it; the only way to read it is [`PrivateKey::expose`], used by
/// [`sign`].
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey(String);

impl PrivateKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// The secret itself. Only signing should need it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(***)")
    }
}

impl fmt::Display for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(***)")
    }
}

/// The `Signature` of a request: every parameter sent except `Signature`, sorted by name in byte
/// order, each name and value concatenated with no separators, the private key appended, then
/// SHA-1 of the UTF-8 bytes as lowercase hex.
pub fn sign(params: &[(String, String)], private_key: &PrivateKey) -> String {
    let mut sorted: Vec<&(String, String)> = params
        .iter()
        .filter(|(name, _)| name != "Signature")
        .collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut hasher = Sha1::new();
    for (name, value) in sorted {
        hasher.update(name.as_bytes());
        hasher.update(value.as_bytes());
    }
    hasher.update(private_key.expose().as_bytes());
    format!("{:x}", hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reproduces_ucloud_published_example() {
        let params = params(&[
            ("Action", "DescribeUHostInstance"),
            ("Region", "cn-bj2"),
            ("Limit", "10"),
            ("PublicKey", "ucloudsomeone@example.com1296235120854146120"),
        ]);
        let key = PrivateKey::new("46f09bb9fab4f12dfc160dae12273d5332b5debe");
        assert_eq!(
            sign(&params, &key),
            "cba5cf5ec4d4233d206b1b54951e3787350a642f"
        );
    }

    #[test]
    fn order_of_parameters_does_not_matter_but_values_do() {
        let key = PrivateKey::new("secret");
        let a = params(&[("b", "2"), ("a", "1"), ("ImageIds.1", "x")]);
        let b = params(&[("ImageIds.1", "x"), ("a", "1"), ("b", "2")]);
        assert_eq!(sign(&a, &key), sign(&b, &key));
        let c = params(&[("ImageIds.1", "y"), ("a", "1"), ("b", "2")]);
        assert_ne!(sign(&a, &key), sign(&c, &key));
        assert_ne!(sign(&a, &key), sign(&a, &PrivateKey::new("other")));
    }

    #[test]
    fn byte_order_puts_uppercase_first() {
        // "Z" < "a" in bytes; a locale-aware sort would put "a" first and break signatures.
        let key = PrivateKey::new("k");
        let params = params(&[("a", "1"), ("Z", "2")]);
        let mut expected = Sha1::new();
        expected.update(b"Z2a1k");
        assert_eq!(sign(&params, &key), format!("{:x}", expected.finalize()));
    }

    #[test]
    fn an_existing_signature_parameter_is_ignored() {
        let key = PrivateKey::new("k");
        let without = params(&[("Action", "DescribeImage")]);
        let with = params(&[("Action", "DescribeImage"), ("Signature", "abc")]);
        assert_eq!(sign(&without, &key), sign(&with, &key));
    }

    #[test]
    fn debug_and_display_are_redacted() {
        let key = PrivateKey::new("46f09bb9fab4f12dfc160dae12273d5332b5debe");
        assert_eq!(format!("{key:?}"), "PrivateKey(***)");
        assert_eq!(format!("{key}"), "PrivateKey(***)");
        assert!(!format!("{:#?}", Some(&key)).contains("46f09"));
    }
}
