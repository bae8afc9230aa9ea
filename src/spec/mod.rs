//! The spec (`imagelock.yaml`): what the user asks for.
//!
//! Loading goes YAML → JSON Schema check → typed, semantically checked [`Spec`], collecting every
//! problem with its location before giving up. What leaves this module is the *effective* query of
//! each entry (defaults applied, regexes compiled, dates parsed), so later stages never see YAML.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::version::VersionRequirement;

mod diagnostic;
mod events;
mod load;
mod locate;
mod schema;
mod semantic;
mod yaml;

pub use diagnostic::{LocatedProblem, SpecError};
pub use load::{MAX_SPEC_BYTES, load, parse};
pub use schema::SCHEMA;
pub(crate) use yaml::nesting_deeper_than;

/// The JSON document a spec's YAML text reads as (what the JSON Schema checks), or `None` when
/// the text is not YAML a spec may use. For tools and tests that check a spec against the
/// published schema.
pub fn document(text: &str) -> Option<serde_json::Value> {
    match yaml::to_json(text) {
        Ok((json, problems)) if problems.is_empty() => Some(json),
        _ => None,
    }
}

/// A loaded and validated spec.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Where it was read from, for messages.
    pub path: PathBuf,
    /// Entries by name (sorted, as the lockfile is).
    pub images: BTreeMap<String, ImageQuery>,
    /// `deny`: ImageId → reason. Denied images are never candidates (policy, not query: no digest
    /// covers it).
    pub deny: BTreeMap<String, String>,
    /// Problems worth a warning that do not make the spec invalid.
    pub warnings: Vec<String>,
}

/// One entry's effective query: defaults applied, everything parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageQuery {
    pub name: String,
    /// One or more regions, sorted and distinct; one pin per region.
    pub regions: Vec<String>,
    pub zone: Option<String>,
    pub project_id: Option<String>,
    pub filters: Filters,
    pub select: Selection,
    /// `agree`: what every region of the entry must have in common (part of the query).
    pub agree: Option<Agreement>,
    /// `hold`: the reason this entry's pins are frozen against `update` (policy, not query).
    pub hold: Option<String>,
}

/// `agree: version`: every region of an entry gets the same image version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Agreement {
    Version,
}

impl Agreement {
    pub fn as_str(self) -> &'static str {
        match self {
            Agreement::Version => "version",
        }
    }
}

/// How one image is chosen among the candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    #[default]
    Newest,
    Oldest,
    HighestVersion,
    Only,
}

impl Selection {
    pub fn as_str(self) -> &'static str {
        match self {
            Selection::Newest => "newest",
            Selection::Oldest => "oldest",
            Selection::HighestVersion => "highest_version",
            Selection::Only => "only",
        }
    }
}

macro_rules! api_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The exact string the API uses.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

api_enum!(
    /// `OsType`.
    OsType { Linux = "Linux", Windows = "Windows" }
);
api_enum!(
    /// `ImageType`.
    ImageType { Base = "Base", Business = "Business", Custom = "Custom" }
);
api_enum!(
    /// `FuncType`.
    FuncType { Gpu = "gpu", App = "app", Uhost = "uhost" }
);
api_enum!(
    /// `State`.
    ImageState { Available = "Available", Making = "Making", Unavailable = "Unavailable", Copying = "Copying" }
);

/// All filters of an entry; every one that is set must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Filters {
    pub os_type: Option<OsType>,
    pub image_type: Option<ImageType>,
    pub func_type: Option<FuncType>,
    pub image_id: Option<String>,
    /// Sorted and distinct; `[Available]` unless the spec says otherwise.
    pub state: Vec<ImageState>,
    pub name: Option<Pattern>,
    pub os_name: Option<Pattern>,
    pub vendor: Option<Pattern>,
    pub features: Option<SetMatch>,
    pub scene_categories: Option<SetMatch>,
    pub supported_gpu_types: Option<SetMatch>,
    pub version: Option<VersionRequirement>,
    pub created_after: Option<PointInTime>,
    pub created_before: Option<PointInTime>,
    pub max_age: Option<MaxAge>,
    /// `min_age`: a cool-down; CreateTime ≤ now − min_age.
    pub min_age: Option<MaxAge>,
    pub not_eol: bool,
}

impl Default for Filters {
    fn default() -> Self {
        Self {
            os_type: None,
            image_type: None,
            func_type: None,
            image_id: None,
            state: vec![ImageState::Available],
            name: None,
            os_name: None,
            vendor: None,
            features: None,
            scene_categories: None,
            supported_gpu_types: None,
            version: None,
            created_after: None,
            created_before: None,
            max_age: None,
            min_age: None,
            not_eol: false,
        }
    }
}

/// A compiled regex with the text the user wrote.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    /// Shared: entries with the same pattern use one compiled regex (and one match cache pool).
    pub regex: Arc<Regex>,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// `features: [a, b]` (= all) or `{all, any, none}`. Lists are sorted and distinct.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetMatch {
    pub all: Vec<String>,
    pub any: Vec<String>,
    pub none: Vec<String>,
}

/// `created_after` / `created_before`: a date (00:00 UTC) or an RFC 3339 time.
#[derive(Debug, Clone, PartialEq)]
pub struct PointInTime {
    pub source: String,
    pub at: Timestamp,
}

/// `max_age`: `90d` and friends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaxAge {
    pub source: String,
    pub seconds: i64,
}
