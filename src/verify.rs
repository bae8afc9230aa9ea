//! Verifying pins upstream: does every pinned ImageId still exist in its region, Available?
//!
//! Images get deleted or retired while a lockfile still points at them; this finds out before a
//! deploy does. The ids of each region go out together through `ImageIds.N` (the client batches
//! them by 100), so a lockfile costs one request per region per 100 pins, whatever its size.

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

/// The ids to ask for, grouped by region (sorted, distinct within a region).
pub fn ids_by_region(lock: &Lockfile) -> BTreeMap<&str, Vec<String>> {
    let mut by_region: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for locked in lock.images.values() {
        for (region, pin) in &locked.pins {
            by_region
                .entry(region.as_str())
                .or_default()
                .push(pin.image_id.clone());
        }
    }
    for ids in by_region.values_mut() {
        ids.sort();
        ids.dedup();
    }
    by_region
}

/// Asks the API about every pin of the lockfile, all regions at once.
pub async fn verify(client: &Client, lock: &Lockfile) -> Result<Report, Error> {
    let by_region = ids_by_region(lock);
    let answers = try_join_all(by_region.iter().map(|(region, ids)| async move {
        let images = client.describe_ids(region, ids).await?;
        let states: HashMap<String, String> = images
            .into_iter()
            .map(|image| (image.image_id, image.state))
            .collect();
        Ok::<_, Error>((region.to_string(), states))
    }))
    .await?;
    let states: HashMap<String, HashMap<String, String>> = answers.into_iter().collect();

    let mut report = Report {
        regions: by_region.len(),
        ..Report::default()
    };
    for (entry, locked) in &lock.images {
        for (region, pin) in &locked.pins {
            report.pins += 1;
            let state = states
                .get(region)
                .and_then(|region_states| region_states.get(&pin.image_id));
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
                digest: String::new(),
                pins: BTreeMap::from([("cn-bj2".into(), pin("uimage-b"))]),
            },
        );
        let grouped = ids_by_region(&lock);
        assert_eq!(grouped["cn-bj2"], ["uimage-b"]);
        assert_eq!(grouped["hk"], ["uimage-h"]);
    }
}
