//! Verifying pins upstream: does every pinned ImageId still exist in its region, Available?
//!
//! Images get deleted or retired while a lockfile still points at them; this finds out before a
//! deploy does. The ids of each region go out together through `ImageIds.N` (the client batches
//! them by 100), so a lockfile costs one request per region per 100 pins, whatever its size.
//! Pins of entries that name a `project_id` are asked from that project, since the API hides a
//! project's custom images from everyone else.

use std::collections::{BTreeMap, HashMap};

use futures_util::future::try_join_all;

use crate::error::Error;
use crate::lockfile::{Lockfile, Pin};
use crate::ucloud::Client;

/// The only state a deploy can use.
pub const AVAILABLE: &str = "Available";

/// One pin that a deploy could not use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub entry: String,
    pub region: String,
    pub pin: Pin,
    /// The image's state now; `None` when the API no longer knows the image at all.
    pub state: Option<String>,
}

impl Problem {
    /// `missing`, or the state it is in (`Unavailable`, `Making`, …).
    pub fn state_label(&self) -> &str {
        self.state.as_deref().unwrap_or("missing")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Pins checked.
    pub pins: usize,
    /// Regions asked.
    pub regions: usize,
    /// Sorted by entry, then region.
    pub problems: Vec<Problem>,
}

/// Where a pin's image is looked up: its region, and the project that can see it.
type Scope<'a> = (&'a str, Option<&'a str>);

/// The ids to ask for, grouped by region and project (sorted, distinct within a group). Each pin
/// is asked from the project it records (the one it was found in), else the one its entry's
/// query names (`projects`: entry name → `project_id`), else none.
pub fn ids_by_scope<'a>(
    lock: &'a Lockfile,
    projects: &'a BTreeMap<String, String>,
) -> BTreeMap<Scope<'a>, Vec<String>> {
    let mut by_scope: BTreeMap<Scope, Vec<String>> = BTreeMap::new();
    for (entry, locked) in &lock.images {
        let named = projects.get(entry).map(String::as_str);
        for (region, pin) in &locked.pins {
            let project = pin.project_id.as_deref().or(named);
            by_scope
                .entry((region.as_str(), project))
                .or_default()
                .push(pin.image_id.clone());
        }
    }
    for ids in by_scope.values_mut() {
        ids.sort();
        ids.dedup();
    }
    by_scope
}

/// Asks the API about every pin of the lockfile, all regions at once.
pub async fn verify(
    client: &Client,
    lock: &Lockfile,
    projects: &BTreeMap<String, String>,
) -> Result<Report, Error> {
    let by_scope = ids_by_scope(lock, projects);
    let answers = try_join_all(by_scope.iter().map(|(scope, ids)| async move {
        let (region, project) = *scope;
        let images = client.describe_ids(region, project, ids).await?;
        let states: HashMap<String, String> = images
            .into_iter()
            .map(|image| (image.image_id, image.state))
            .collect();
        Ok::<_, Error>((*scope, states))
    }))
    .await?;
    let states: HashMap<Scope, HashMap<String, String>> = answers.into_iter().collect();

    let mut report = Report {
        regions: by_scope
            .keys()
            .map(|(region, _)| *region)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        ..Report::default()
    };
    for (entry, locked) in &lock.images {
        let named = projects.get(entry).map(String::as_str);
        for (region, pin) in &locked.pins {
            let project = pin.project_id.as_deref().or(named);
            report.pins += 1;
            let state = states
                .get(&(region.as_str(), project))
                .and_then(|scope_states| scope_states.get(&pin.image_id));
            if state.map(String::as_str) != Some(AVAILABLE) {
                report.problems.push(Problem {
                    entry: entry.clone(),
                    region: region.clone(),
                    pin: pin.clone(),
                    state: state.cloned(),
                });
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lockfile::LockedImage;
    use crate::ucloud::Image;

    #[test]
    fn ids_are_grouped_by_region_and_shared_ids_asked_once() {
        let pin = |id: &str| {
            Pin::from(&Image {
                image_id: id.into(),
                ..Image::default()
            })
        };
        let mut lock = Lockfile::default();
        lock.images.insert(
            "web".into(),
            LockedImage {
                select: None,
                agree: None,
                checksum: None,
                digest: String::new(),
                pins: BTreeMap::from([
                    ("cn-bj2".into(), pin("uimage-b")),
                    ("hk".into(), pin("uimage-h")),
                ]),
            },
        );
        lock.images.insert(
            "api".into(),
            LockedImage {
                select: None,
                agree: None,
                checksum: None,
                digest: String::new(),
                pins: BTreeMap::from([("cn-bj2".into(), pin("uimage-b"))]),
            },
        );
        let none = BTreeMap::new();
        let grouped = ids_by_scope(&lock, &none);
        assert_eq!(grouped[&("cn-bj2", None)], ["uimage-b"]);
        assert_eq!(grouped[&("hk", None)], ["uimage-h"]);

        // A project's pins are asked from that project, apart from the others.
        let projects = BTreeMap::from([("api".to_string(), "org-x".to_string())]);
        let grouped = ids_by_scope(&lock, &projects);
        assert_eq!(grouped[&("cn-bj2", None)], ["uimage-b"]);
        assert_eq!(grouped[&("cn-bj2", Some("org-x"))], ["uimage-b"]);
        assert_eq!(grouped.len(), 3);
    }
}
