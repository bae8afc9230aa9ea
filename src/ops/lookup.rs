//! Which pins a deploy may use, offline: `get`, `export` and `terraform-external` all ask here, so
//! they refuse the same things: an entry not locked, a query changed since locking, pins edited by
//! hand, and pins on denied images.

use std::fmt;
use std::path::PathBuf;

use crate::error::Exit;
use crate::lockfile::{Lockfile, Pin, Staleness};
use crate::spec::Spec;
use crate::text::did_you_mean;

/// Why a pin cannot be handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// There is no lockfile at all (a wrong `--lock`, or `lock` never ran).
    NoLockfile {
        path: PathBuf,
    },
    UnknownEntry {
        name: String,
        suggestion: Option<String>,
        entries: Vec<String>,
    },
    NotLocked {
        name: String,
    },
    QueryChanged {
        name: String,
    },
    HandEdited {
        name: String,
    },
    Denied {
        name: String,
        region: String,
        image_id: String,
        reason: String,
    },
    NeedRegion {
        name: String,
        regions: Vec<String>,
    },
    NoSuchRegion {
        name: String,
        region: String,
        regions: Vec<String>,
    },
}

impl LookupError {
    /// Unknown names and regions are usage errors (2); a lock that cannot be trusted is 3.
    pub fn exit(&self) -> Exit {
        match self {
            LookupError::UnknownEntry { .. }
            | LookupError::NeedRegion { .. }
            | LookupError::NoSuchRegion { .. } => Exit::Invalid,
            _ => Exit::OutOfDate,
        }
    }
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::NoLockfile { path } => write!(
                f,
                "no lockfile at {}; run `imagelock lock` to create it (or pass --lock PATH)",
                path.display()
            ),
            LookupError::UnknownEntry {
                name,
                suggestion,
                entries,
            } => {
                write!(
                    f,
                    "no entry `{}` in the spec",
                    crate::text::shorten(name, 60)
                )?;
                match suggestion {
                    Some(close) => write!(f, "; did you mean `{close}`?"),
                    None => write!(f, "; entries: {}", entries.join(", ")),
                }
            }
            LookupError::NotLocked { name } => {
                write!(f, "`{name}` is not locked yet; run `imagelock lock`")
            }
            LookupError::QueryChanged { name } => write!(
                f,
                "the pin of `{name}` is stale: its query changed since it was locked; run `imagelock lock`"
            ),
            LookupError::HandEdited { name } => write!(
                f,
                "the pins of `{name}` were edited by hand; run `imagelock lock` to re-resolve them \
                 (or `imagelock update {name} --precise ID` to choose one)"
            ),
            LookupError::Denied {
                name,
                region,
                image_id,
                reason,
            } => write!(
                f,
                "the pin of `{name}` in {region} is {image_id}, which the spec denies ({reason}); \
                 run `imagelock lock` to re-pick it"
            ),
            LookupError::NeedRegion { name, regions } => write!(
                f,
                "`{name}` is pinned in several regions ({}); pass --region (`region` in a \
                 Terraform query)",
                regions.join(", ")
            ),
            LookupError::NoSuchRegion {
                name,
                region,
                regions,
            } => write!(
                f,
                "`{name}` has no pin in region `{region}`; it is pinned in {}",
                regions.join(", ")
            ),
        }
    }
}

impl std::error::Error for LookupError {}

/// Whether the lockfile may hand out pins at all (`export`): every reason it may not, by entry.
pub fn trusted(staleness: &Staleness) -> Result<(), Vec<LookupError>> {
    let mut problems = Vec::new();
    for name in &staleness.missing {
        problems.push(LookupError::NotLocked { name: name.clone() });
    }
    for name in &staleness.changed {
        problems.push(LookupError::QueryChanged { name: name.clone() });
    }
    for name in &staleness.hand_edited {
        problems.push(LookupError::HandEdited { name: name.clone() });
    }
    for denied in &staleness.denied {
        problems.push(LookupError::Denied {
            name: denied.entry.clone(),
            region: denied.region.clone(),
            image_id: denied.image_id.clone(),
            reason: denied.reason.clone(),
        });
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The pin of one entry in one region (the only one when `region` is `None`), refusing a pin the
/// spec no longer agrees with or that was edited by hand or denied.
pub fn lookup<'a>(
    spec: &Spec,
    lock: &'a Lockfile,
    name: &str,
    region: Option<&str>,
) -> Result<(&'a str, &'a Pin), LookupError> {
    let Some(query) = spec.images.get(name) else {
        return Err(LookupError::UnknownEntry {
            name: name.to_string(),
            suggestion: did_you_mean(name, spec.images.keys().map(String::as_str))
                .map(str::to_string),
            entries: spec.images.keys().cloned().collect(),
        });
    };
    let Some(locked) = lock.images.get(name) else {
        return Err(LookupError::NotLocked {
            name: name.to_string(),
        });
    };
    if locked.is_hand_edited() {
        return Err(LookupError::HandEdited {
            name: name.to_string(),
        });
    }
    if !locked.satisfies(query, &crate::lockfile::digest(query)) {
        return Err(LookupError::QueryChanged {
            name: name.to_string(),
        });
    }
    let region = match region {
        Some(region) => region,
        None => match query.regions.as_slice() {
            [only] => only.as_str(),
            regions => {
                return Err(LookupError::NeedRegion {
                    name: name.to_string(),
                    regions: regions.to_vec(),
                });
            }
        },
    };
    let (region, pin) = locked
        .pins
        .get_key_value(region)
        .map(|(region, pin)| (region.as_str(), pin))
        .ok_or_else(|| LookupError::NoSuchRegion {
            name: name.to_string(),
            region: region.to_string(),
            regions: query.regions.clone(),
        })?;
    if let Some(reason) = spec.deny.get(&pin.image_id) {
        return Err(LookupError::Denied {
            name: name.to_string(),
            region: region.to_string(),
            image_id: pin.image_id.clone(),
            reason: reason.clone(),
        });
    }
    Ok((region, pin))
}
