//! The UCloud API client: credentials, signing, requests, paging, retries and rate limits for
//! `DescribeImage`. `docs/real-api.md` says which official tool each convention comes from.

mod client;
mod connect;
mod credentials;
mod endpoint;
mod error;
mod lenient;
mod limit;
mod retry;
mod sign;

use serde::{Deserialize, Deserializer, Serialize};

pub use client::{Client, ClientOptions, MAX_IDS_PER_REQUEST, MAX_REWALKS, RequestEvent};
pub use connect::{ConnectOptions, Connection, connect};
pub use credentials::{Credentials, MAX_SHARED_FILE_BYTES, Settings, load_settings};
pub use endpoint::{DEFAULT_ENDPOINT, Endpoint, INTRANET_ENDPOINT};
pub use error::ApiError;
pub use limit::AdaptiveLimit;
pub use sign::{PrivateKey, sign};

/// Whether `id` has the shape of an ImageId: `^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`.
///
/// UCloud does not publish the ImageId alphabet; every id seen in its docs and SDK examples
/// (`uimage-rez4c3an`) fits this with room to spare. It is our choice, and it keeps anything that
/// reaches a shell (`eval "$(imagelock export --format env)"`) or a file name inert: an id from the
/// API, the lockfile or the user that does not fit is refused.
pub fn is_valid_image_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    (1..=128).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// One `UHostImageSet` as the API returns it. Unknown fields are ignored. `ImageId` (a valid id,
/// see [`is_valid_image_id`]) and `CreateTime` are required; every other field is optional, and
/// one of the wrong type (say `"MaintainEol": 20300101`) reads as absent rather than making the
/// whole answer unreadable: filters then treat it as they treat a missing field.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Image {
    #[serde(deserialize_with = "image_id")]
    pub image_id: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub image_name: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub zone: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub os_type: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub os_name: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub image_type: String,
    /// Only marketplace images carry it, per UCloud's API docs.
    #[serde(default, deserialize_with = "lenient::string")]
    pub func_type: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub state: String,
    #[serde(default, deserialize_with = "lenient::strings")]
    pub features: Vec<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub vendor: String,
    /// Unix seconds.
    #[serde(deserialize_with = "lenient::flexible_int")]
    pub create_time: i64,
    /// As sent, `YYYY/MM/DD`; empty when absent or not a string. See [`Image::maintain_eol_date`].
    #[serde(default, deserialize_with = "lenient::string")]
    pub maintain_eol: String,
    #[serde(
        default,
        rename = "SupportedGPUTypes",
        deserialize_with = "lenient::strings"
    )]
    pub supported_gpu_types: Vec<String>,
    #[serde(default, deserialize_with = "lenient::strings")]
    pub scene_categories: Vec<String>,
}

impl Image {
    /// The end of maintenance, when `MaintainEol` is a real date: `YYYY/MM/DD` as UCloud's API
    /// docs write it (`YYYY-MM-DD` is read too, our choice). `None` when absent or unreadable;
    /// a pin records it as `maintain_eol: YYYY-MM-DD` (`date.to_string()`).
    pub fn maintain_eol_date(&self) -> Option<jiff::civil::Date> {
        let text = self.maintain_eol.trim();
        let separator = if text.contains('/') { '/' } else { '-' };
        let mut parts = text.split(separator);
        let year = parts.next()?.parse().ok()?;
        let month = parts.next()?.parse().ok()?;
        let day = parts.next()?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        jiff::civil::Date::new(year, month, day).ok()
    }
}

/// A required ImageId that must be a valid id: anything else makes the answer malformed, so a
/// hostile id never reaches a lockfile, a terminal or a shell.
fn image_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let id = String::deserialize(deserializer)?;
    if is_valid_image_id(&id) {
        Ok(id)
    } else {
        Err(serde::de::Error::custom(format!(
            "ImageId {:?} is not a valid image id (expected letters, digits, '_', '.', '-')",
            lenient::shorten(&id)
        )))
    }
}

#[cfg(test)]
mod image_id_tests {
    use super::is_valid_image_id;

    #[test]
    fn image_ids() {
        assert!(is_valid_image_id("uimage-rez4c3an"));
        assert!(is_valid_image_id("a"));
        assert!(is_valid_image_id(&"a".repeat(128)));
        assert!(!is_valid_image_id(&"a".repeat(129)));
        assert!(!is_valid_image_id(""));
        assert!(!is_valid_image_id("-x"));
        assert!(!is_valid_image_id("uimage-$(touch x)"));
        assert!(!is_valid_image_id("uimage x"));
        assert!(!is_valid_image_id("uimage-\n"));
    }
}

#[cfg(test)]
mod image_tests {
    use super::*;

    fn parse(json: &str) -> Result<Image, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn malformed_optional_fields_read_as_absent() {
        let image = parse(
            r#"{"ImageId": "uimage-a", "CreateTime": "1700000000", "MaintainEol": 20300101,
                "ImageName": ["x"], "Features": ["IPv6", 3], "SceneCategories": null,
                "SupportedGPUTypes": {"a": 1}, "State": "Available", "OsType": true}"#,
        )
        .expect("parses");
        assert_eq!(image.image_id, "uimage-a");
        assert_eq!(image.create_time, 1_700_000_000);
        assert_eq!(image.maintain_eol, "");
        assert_eq!(image.image_name, "");
        assert!(image.features.is_empty());
        assert!(image.scene_categories.is_empty());
        assert!(image.supported_gpu_types.is_empty());
        assert_eq!(image.state, "Available");
        assert_eq!(image.os_type, "");
    }

    #[test]
    fn image_id_and_create_time_are_required_and_checked() {
        assert!(parse(r#"{"CreateTime": 1}"#).is_err());
        assert!(parse(r#"{"ImageId": "uimage-a"}"#).is_err());
        assert!(parse(r#"{"ImageId": "uimage-a", "CreateTime": "soon"}"#).is_err());
        let hostile = parse(r#"{"ImageId": "uimage-$(touch x)", "CreateTime": 1}"#)
            .expect_err("refused")
            .to_string();
        assert!(
            hostile.starts_with(r#"ImageId "uimage-$(touch x)" is not a valid image id"#),
            "{hostile}"
        );
    }

    #[test]
    fn maintain_eol_dates() {
        let eol = |text: &str| {
            Image {
                maintain_eol: text.into(),
                ..Image::default()
            }
            .maintain_eol_date()
            .map(|d| d.to_string())
        };
        assert_eq!(eol("2030/01/31").as_deref(), Some("2030-01-31"));
        assert_eq!(eol("2030-1-3").as_deref(), Some("2030-01-03"));
        assert_eq!(eol(""), None);
        assert_eq!(eol("2030/02/30"), None);
        assert_eq!(eol("20300101"), None);
        assert_eq!(eol("2030/01/01/01"), None);
    }
}
