//! `update [NAME…] [--region R] [--precise ID] [--allow-downgrade]`: move pins on purpose.
//!
//! Like `cargo update -p`: a named entry is re-resolved against its current query, so afterwards
//! its pins are today's choice *and* its digest matches the spec. Entries not named keep their
//! bytes. With no names every entry is re-resolved except held ones, and entries no longer in
//! the spec are dropped.
//!
//! The downgrade guard: a pin whose query did not change (reason `newer`) never moves to a lower
//! image version, or to no version from one, unless downgrades are allowed; such pins stay and are
//! listed as refused. On an `agree` entry the guard refuses the whole entry, since its regions
//! move together. `--precise` is never refused: it is the user's explicit choice.

use std::collections::BTreeMap;

use super::change::{PinChange, Reason};
use super::lock::{pin_of, removed, resolution_error, store_entry};
use super::pick::{self, Failure, FailureKind};
use crate::error::{Error, Result};
use crate::lockfile::{Lockfile, Staleness};
use crate::resolve;
use crate::select::{self, Context, SelectError};
use crate::spec::{ImageQuery, Spec};
use crate::text::did_you_mean;
use crate::ucloud::{Client, is_valid_image_id};

/// What the user asked to move.
#[derive(Debug, Clone, Default)]
pub struct UpdateRequest {
    /// Entries to re-resolve; all (but held ones) when empty.
    pub names: Vec<String>,
    /// Only this region of the one named entry.
    pub region: Option<String>,
    /// Pin exactly this image (one named entry; with `region` when it has several).
    pub precise: Option<String>,
    pub allow_downgrade: bool,
}

/// An entry `update` left alone because the spec holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub entry: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct UpdateResult {
    pub lockfile: Lockfile,
    /// Every pin re-resolved (moved or not) and every pin removed, by entry and region.
    pub changes: Vec<PinChange>,
    /// Moves the downgrade guard refused; their pins stay as they were.
    pub refused: Vec<PinChange>,
    /// Entries skipped because they are held.
    pub held: Vec<Held>,
    /// Entries not named that are still behind the spec (`lock` brings them in).
    pub still_stale: Vec<String>,
}

/// One run of `update`.
pub struct UpdateOperation<'a> {
    spec: &'a Spec,
    old: &'a Lockfile,
    request: UpdateRequest,
    staleness: Staleness,
    targets: Vec<(&'a ImageQuery, Vec<String>)>,
    held: Vec<Held>,
}

impl<'a> UpdateOperation<'a> {
    /// Checks the request against the spec and the lockfile before anything is asked of the API:
    /// unknown names, held entries, and `--region`/`--precise` misuse are exit 2.
    pub fn new(spec: &'a Spec, old: &'a Lockfile, request: UpdateRequest) -> Result<Self> {
        let staleness = old.staleness(spec);
        let mut problems = Vec::new();
        for name in &request.names {
            if !spec.images.contains_key(name) {
                problems.push(unknown_entry(spec, name));
            }
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(problems.join("\n")));
        }
        let named: Vec<&ImageQuery> = if request.names.is_empty() {
            spec.images.values().collect()
        } else {
            spec.images
                .values()
                .filter(|q| request.names.contains(&q.name))
                .collect()
        };
        let mut held = Vec::new();
        let mut targets = Vec::new();
        for query in named {
            if let Some(reason) = &query.hold {
                if !request.names.is_empty() {
                    return Err(Error::Invalid(format!(
                        "`{}` is held ({reason}); remove `hold` from its spec entry to update it",
                        query.name
                    )));
                }
                held.push(Held {
                    entry: query.name.clone(),
                    reason: reason.clone(),
                });
                continue;
            }
            targets.push((query, query.regions.clone()));
        }
        if request.region.is_some() || request.precise.is_some() {
            let flag = if request.precise.is_some() {
                "--precise"
            } else {
                "--region"
            };
            let [(query, regions)] = targets.as_mut_slice() else {
                return Err(Error::Invalid(format!(
                    "{flag} needs exactly one entry name"
                )));
            };
            if let Some(id) = &request.precise
                && !is_valid_image_id(id)
            {
                return Err(Error::Invalid(format!(
                    "`{}` is not an ImageId (letters, digits, `_`, `.`, `-`)",
                    crate::text::shorten(id, 60)
                )));
            }
            let name = &query.name;
            if let Some(region) = &request.region {
                if !query.regions.contains(region) {
                    return Err(Error::Invalid(format!(
                        "`{name}` does not use region `{region}`; its regions: {}",
                        query.regions.join(", ")
                    )));
                }
                if query.agree.is_some() && request.precise.is_none() {
                    return Err(Error::Invalid(format!(
                        "`{name}` has `agree: version`: its regions move together; run \
                         `imagelock update {name}` without --region"
                    )));
                }
                if staleness.behind(name).is_some() {
                    return Err(Error::Invalid(format!(
                        "`{name}` changed since it was locked; run `imagelock lock` first, then \
                         move one region with --region"
                    )));
                }
                *regions = vec![region.clone()];
            } else if query.regions.len() > 1 {
                return Err(Error::Invalid(format!(
                    "`{name}` is pinned in several regions ({}); --precise needs --region",
                    query.regions.join(", ")
                )));
            }
        }
        Ok(Self {
            spec,
            old,
            request,
            staleness,
            targets,
            held,
        })
    }

    /// The entries that will be re-resolved (what costs API requests).
    pub fn queries(&self) -> Vec<&'a ImageQuery> {
        self.targets.iter().map(|(q, _)| *q).collect()
    }

    /// Resolves the targets through `client`, which may be `None` only when
    /// [`UpdateOperation::queries`] is empty (every entry held).
    pub async fn run(self, client: Option<&Client>, ctx: &Context) -> Result<UpdateResult> {
        let fetched = match client {
            // A run that writes stops at the first listing that failed: its error says it all.
            Some(client) => resolve::fetch(client, self.queries()).await.into_result()?,
            None if self.targets.is_empty() => resolve::Fetched::empty(),
            None => {
                return Err(Error::Internal(
                    "update needs the API but has no client".into(),
                ));
            }
        };
        let mut lockfile = self.old.clone();
        let mut changes = Vec::new();
        let mut refused = Vec::new();
        let mut failures = Vec::new();

        for (query, regions) in &self.targets {
            let picks = match &self.request.precise {
                Some(id) => precise(query, &regions[0], id, &fetched, ctx)
                    .map(|image| BTreeMap::from([(regions[0].clone(), image)])),
                None => pick::choose_regions(query, regions, &fetched, ctx),
            };
            let picks = match picks {
                Ok(picks) => picks,
                Err(mut more) => {
                    failures.append(&mut more);
                    continue;
                }
            };
            let previous = self.old.images.get(&query.name);
            let project = super::lock::fetched_project(client, query);
            let mut entry_changes = Vec::new();
            for (region, image) in &picks {
                let old = previous.and_then(|p| p.pins.get(region)).cloned();
                // Re-resolving refreshes what the pin records (its EOL date, say), even when the
                // image stays.
                let new = pin_of(image, project.clone());
                entry_changes.push(PinChange {
                    reason: self.reason(&query.name, old.as_ref()),
                    entry: query.name.clone(),
                    region: region.clone(),
                    old,
                    new: Some(new),
                });
            }
            let guarded = self.request.precise.is_none() && !self.request.allow_downgrade;
            let is_refused =
                |c: &PinChange| guarded && c.reason == Reason::Newer && c.is_downgrade();
            if query.agree.is_some() && entry_changes.iter().any(is_refused) {
                // The regions of an agreeing entry move together or not at all.
                refused.extend(entry_changes.into_iter().filter(PinChange::moves));
                continue;
            }
            let mut pins = previous.map(|p| p.pins.clone()).unwrap_or_default();
            if self.request.region.is_none() {
                pins.retain(|region, _| query.regions.contains(region));
            }
            for change in entry_changes {
                if is_refused(&change) {
                    refused.push(change);
                    continue;
                }
                if let Some(new) = &change.new {
                    pins.insert(change.region.clone(), new.clone());
                }
                changes.push(change);
            }
            // `--region` moves one pin; only a whole-entry update drops regions no longer named.
            let previous = previous.filter(|_| self.request.region.is_none());
            store_entry(&mut lockfile, &mut changes, query, previous, pins);
        }
        if !failures.is_empty() {
            return Err(resolution_error(client, failures).await);
        }
        if self.request.names.is_empty() {
            for name in &self.staleness.extra {
                if let Some(gone) = lockfile.images.remove(name) {
                    for (region, pin) in &gone.pins {
                        changes.push(removed(name, region, pin));
                    }
                }
            }
        }
        let after = lockfile.staleness(self.spec);
        let mut still_stale: Vec<String> = after
            .missing
            .iter()
            .chain(&after.changed)
            .chain(&after.hand_edited)
            .chain(&after.extra)
            .cloned()
            .collect();
        still_stale.sort();
        still_stale.dedup();
        Ok(UpdateResult {
            lockfile,
            changes,
            refused,
            held: self.held,
            still_stale,
        })
    }

    fn reason(&self, name: &str, old: Option<&crate::lockfile::Pin>) -> Reason {
        let s = &self.staleness;
        match old {
            None => Reason::Missing,
            Some(_) if let Some(behind) = s.behind(name) => Reason::from_behind(behind),
            Some(pin) if self.spec.deny.contains_key(&pin.image_id) => Reason::Denied,
            Some(_) => Reason::Newer,
        }
    }
}

/// `--precise ID`: that image, if the region lists it and it passes the entry's filters; else a
/// failure whose funnel shows the filter that rejects it.
fn precise(
    query: &ImageQuery,
    region: &str,
    image_id: &str,
    fetched: &resolve::Fetched,
    ctx: &Context,
) -> Result<crate::ucloud::Image, Vec<Failure>> {
    let images = pick::listing(fetched, query, region).map_err(|f| vec![f])?;
    let failure = |kind| {
        vec![Failure {
            entry: query.name.clone(),
            region: Some(region.to_string()),
            kind,
            hint: None,
        }]
    };
    let Some(image) = images.iter().find(|i| i.image_id == image_id) else {
        return Err(failure(FailureKind::NotListed {
            image_id: image_id.to_string(),
        }));
    };
    let (kept, funnel) = select::filter(&query.filters, std::slice::from_ref(image), ctx);
    if kept.is_empty() {
        return Err(failure(FailureKind::Select(SelectError::NoMatch {
            funnel,
        })));
    }
    Ok(image.clone())
}

/// `no entry `wbe` in imagelock.yaml; did you mean `web`?` (or the list of entries).
pub fn unknown_entry(spec: &Spec, name: &str) -> String {
    let hint = match did_you_mean(name, spec.images.keys().map(String::as_str)) {
        Some(close) => format!("; did you mean `{close}`?"),
        None => format!(
            "; entries: {}",
            spec.images
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!(
        "no entry `{}` in {}{hint}",
        crate::text::shorten(name, 60),
        spec.path.display()
    )
}
