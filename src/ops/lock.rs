//! `lock`: bring the lockfile in line with the spec, moving as little as possible.
//!
//! - Entries whose pins still answer their query keep their bytes, even when a newer image exists
//!   (moving pins on purpose is `update`).
//! - New entries are resolved.
//! - An entry whose query changed keeps each region's pin that still holds (see
//!   [`super::pick::still_holds`]) and re-picks the others, like cargo and uv treat the old lock as
//!   preferences; adding a region pins the new region only.
//! - An entry whose pins were edited by hand is re-resolved from scratch, keeping none of them.
//! - Pins of regions or entries the spec no longer names are removed and reported.

use std::collections::BTreeMap;

use super::change::{PinChange, Reason};
use super::pick::{self, Failure, Failures};
use crate::error::{Error, Result};
use crate::lockfile::{LockedImage, Lockfile, Pin, Staleness};
use crate::resolve;
use crate::select::Context;
use crate::spec::{ImageQuery, Spec};
use crate::ucloud::{Client, Image};

/// What `lock` did, or would do.
#[derive(Debug, Clone)]
pub struct LockResult {
    /// The lockfile to write.
    pub lockfile: Lockfile,
    /// Every pin added, moved, kept although its query changed, or removed; by entry, region.
    pub changes: Vec<PinChange>,
}

/// One run of `lock` over a spec and the lockfile it finds.
pub struct LockOperation<'a> {
    spec: &'a Spec,
    old: &'a Lockfile,
    staleness: Staleness,
}

impl<'a> LockOperation<'a> {
    pub fn new(spec: &'a Spec, old: &'a Lockfile) -> Self {
        Self {
            spec,
            old,
            staleness: old.staleness(spec),
        }
    }

    /// The entries that must be (re-)resolved: only these cost API requests, so an up-to-date lock
    /// needs neither credentials nor network, like cargo.
    pub fn to_resolve(&self) -> Vec<&'a ImageQuery> {
        let s = &self.staleness;
        self.spec
            .images
            .values()
            .filter(|q| s.behind(&q.name).is_some() || s.denied.iter().any(|d| d.entry == q.name))
            .collect()
    }

    /// Resolves what needs it (through `client`, which must be given when
    /// [`LockOperation::to_resolve`] is not empty) and returns the new lockfile.
    pub async fn run(self, client: Option<&Client>, ctx: &Context) -> Result<LockResult> {
        let wanted = self.to_resolve();
        let fetched = match (wanted.is_empty(), client) {
            (true, _) => None,
            // A run that writes stops at the first listing that failed: its error says it all.
            (false, Some(client)) => Some(
                resolve::fetch(client, wanted.iter().copied())
                    .await
                    .into_result()?,
            ),
            (false, None) => {
                return Err(Error::Internal(
                    "lock needs the API but has no client".into(),
                ));
            }
        };
        let mut lockfile = self.old.clone();
        let mut changes = Vec::new();
        let mut failures = Vec::new();

        for query in &wanted {
            let Some(fetched) = &fetched else { break };
            let previous = self.old.images.get(&query.name);
            let reason = self.reason(&query.name);
            let agreed = pick::agreed_version(query, fetched, ctx);
            // Which regions keep their pin, and which are picked again.
            let mut kept: BTreeMap<String, Pin> = BTreeMap::new();
            let mut repick: Vec<String> = Vec::new();
            for region in &query.regions {
                let old_pin = previous.and_then(|p| p.pins.get(region));
                let keep = match (reason, previous, old_pin) {
                    (Reason::QueryChanged, Some(previous), Some(pin)) => {
                        match pick::listing(fetched, query, region) {
                            Ok(images) => {
                                pick::keeps(query, previous, pin, images, ctx, agreed.as_ref())
                            }
                            Err(failure) => {
                                failures.push(failure);
                                continue;
                            }
                        }
                    }
                    (Reason::Denied, Some(_), Some(pin)) => !self.is_denied(pin),
                    _ => false,
                };
                match (keep, old_pin) {
                    (true, Some(pin)) => {
                        kept.insert(region.clone(), pin.clone());
                    }
                    _ => repick.push(region.clone()),
                }
            }
            let picks = match pick::choose_regions(query, &repick, fetched, ctx) {
                Ok(picks) => picks,
                Err(mut more) => {
                    failures.append(&mut more);
                    continue;
                }
            };
            let project = fetched_project(client, query);
            let mut pins = BTreeMap::new();
            for region in &query.regions {
                let old = previous.and_then(|p| p.pins.get(region)).cloned();
                let new = match (kept.get(region), picks.get(region)) {
                    (Some(pin), _) => pin.clone(),
                    (None, Some(image)) => pin_of(image, project.clone()),
                    (None, None) => continue,
                };
                let region_reason = if old.is_none() {
                    Reason::Missing
                } else {
                    reason
                };
                // An unchanged pin of an entry that was only sealed or re-digested is no news,
                // except when its query changed: the reviewer should see it was kept on purpose.
                if old.as_ref() != Some(&new) || region_reason == Reason::QueryChanged {
                    changes.push(PinChange {
                        entry: query.name.clone(),
                        region: region.clone(),
                        old,
                        new: Some(new.clone()),
                        reason: region_reason,
                    });
                }
                pins.insert(region.clone(), new);
            }
            store_entry(&mut lockfile, &mut changes, query, previous, pins);
        }
        if !failures.is_empty() {
            return Err(resolution_error(client, failures).await);
        }
        for name in &self.staleness.extra {
            if let Some(gone) = lockfile.images.remove(name) {
                for (region, pin) in &gone.pins {
                    changes.push(removed(name, region, pin));
                }
            }
        }
        changes.sort_by(|a, b| (&a.entry, &a.region).cmp(&(&b.entry, &b.region)));
        Ok(LockResult { lockfile, changes })
    }

    /// Why the entry is resolved again: behind its spec, else a pin on a denied image.
    fn reason(&self, name: &str) -> Reason {
        self.staleness
            .behind(name)
            .map_or(Reason::Denied, Reason::from_behind)
    }

    fn is_denied(&self, pin: &Pin) -> bool {
        self.spec.deny.contains_key(&pin.image_id)
    }
}

/// Writes `query`'s new pins into `lockfile` (its digest, its rule, sealed), and reports the pins
/// of regions the entry no longer names (in `previous`) as removed.
pub(super) fn store_entry(
    lockfile: &mut Lockfile,
    changes: &mut Vec<PinChange>,
    query: &ImageQuery,
    previous: Option<&LockedImage>,
    pins: BTreeMap<String, Pin>,
) {
    if let Some(previous) = previous {
        for (region, pin) in &previous.pins {
            if !query.regions.contains(region) {
                changes.push(removed(&query.name, region, pin));
            }
        }
    }
    lockfile
        .images
        .insert(query.name.clone(), locked_entry(query, pins));
}

/// The error of a run that could not resolve every pin: each failure, with a hint where one more
/// look at the API can name a likely cause.
pub(super) async fn resolution_error(client: Option<&Client>, mut failures: Vec<Failure>) -> Error {
    if let Some(client) = client {
        pick::add_region_hints(client, &mut failures).await;
    }
    Error::Resolution(Box::new(Failures(failures)))
}

/// A pin's removal.
pub fn removed(entry: &str, region: &str, pin: &Pin) -> PinChange {
    PinChange {
        entry: entry.to_string(),
        region: region.to_string(),
        old: Some(pin.clone()),
        new: None,
        reason: Reason::Removed,
    }
}

/// The lockfile entry for `query` with these pins: its digest, the rule that chose them, sealed.
pub fn locked_entry(query: &ImageQuery, pins: BTreeMap<String, Pin>) -> LockedImage {
    let mut entry = LockedImage {
        digest: crate::lockfile::digest(query),
        select: Some(query.select),
        agree: query.agree,
        checksum: None,
        pins,
    };
    entry.seal();
    entry
}

/// The pin recording `image` (its EOL date when the API gave a readable one), and the project
/// the request that found it was sent with.
pub fn pin_of(image: &Image, project_id: Option<String>) -> Pin {
    let mut pin = Pin::from(image);
    pin.maintain_eol = image.maintain_eol_date().map(|date| date.to_string());
    pin.project_id = project_id;
    pin
}

/// The ProjectId the entry's requests carry: its own `project_id`, else `UCLOUD_PROJECT_ID`, else
/// the profile's ([`Client::effective_project`]).
pub fn fetched_project(client: Option<&Client>, query: &ImageQuery) -> Option<String> {
    match client {
        Some(client) => client
            .effective_project(query.project_id.as_deref())
            .map(str::to_string),
        None => query.project_id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_record_readable_eol_dates_only() {
        let eol = |text: &str| {
            pin_of(
                &Image {
                    image_id: "uimage-1".into(),
                    maintain_eol: text.into(),
                    ..Image::default()
                },
                None,
            )
            .maintain_eol
        };
        assert_eq!(eol("2030/01/31").as_deref(), Some("2030-01-31"));
        assert_eq!(eol(""), None);
        assert_eq!(eol("20300101"), None);
        assert_eq!(eol("2030/13/01"), None);
    }
}
