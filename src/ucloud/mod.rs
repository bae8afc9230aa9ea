//! The UCloud API client: credentials, signing, requests, paging and retries for `DescribeImage`.

mod client;
mod credentials;
mod endpoint;
mod retry;
mod sign;

use serde::{Deserialize, Deserializer, Serialize};

pub use client::{Client, ClientOptions, MAX_IDS_PER_REQUEST, RequestEvent};
pub use credentials::{Credentials, Settings, load_settings};
pub use endpoint::{DEFAULT_ENDPOINT, Endpoint};
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

/// One `UHostImageSet` as the API returns it. Unknown fields are ignored and missing optional
/// ones default, because the API adds fields over time and omits empty ones.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Image {
    pub image_id: String,
    #[serde(default, deserialize_with = "null_default")]
    pub image_name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub zone: String,
    #[serde(default, deserialize_with = "null_default")]
    pub os_type: String,
    #[serde(default, deserialize_with = "null_default")]
    pub os_name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub image_type: String,
    #[serde(default, deserialize_with = "null_default")]
    pub func_type: String,
    #[serde(default, deserialize_with = "null_default")]
    pub state: String,
    #[serde(default, deserialize_with = "null_default")]
    pub features: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub vendor: String,
    #[serde(default, deserialize_with = "null_default")]
    pub create_time: i64,
    #[serde(default, deserialize_with = "null_default")]
    pub maintain_eol: String,
    #[serde(
        default,
        rename = "SupportedGPUTypes",
        deserialize_with = "null_default"
    )]
    pub supported_gpu_types: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub scene_categories: Vec<String>,
}

/// The API sends `null` for empty lists and strings now and then; treat it as empty.
fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
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
