//! `outdated`: resolve every entry now and report everything a reviewer should know, without
//! writing: pins that would move (and why), held entries, builds still cooling down, pins near
//! their end of life, and the entries that failed to resolve. One failing entry never hides the
//! others' news, so a weekly bot job always gets its report.

use jiff::Timestamp;

use super::change::{PinChange, Reason};
use super::check::{EolNotice, eol_notice};
use super::lock::{fetched_project, pin_of, removed};
use super::pick::{self, Failures};
use super::update::Held;
use crate::lockfile::{Lockfile, Pin};
use crate::resolve;
use crate::select::{self, Context};

use crate::spec::{ImageQuery, Spec};
use crate::ucloud::{Client, Image};

/// Pins within this many days of their EOL are listed.
pub const EOL_NOTICE_DAYS: i64 = 30;

/// A build of one entry and region that would rank above the pin but has not soaked for
/// `min_age` yet ([`select::cooling`] finds them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cooling {
    pub entry: String,
    pub region: String,
    pub image: Image,
    /// When it becomes eligible (CreateTime + min_age).
    pub eligible: Timestamp,
}

/// The builds of `query` in `region` still cooling down above `pin`.
pub fn cooling_above(
    query: &ImageQuery,
    region: &str,
    images: &[Image],
    pin: &Pin,
    ctx: &Context,
) -> Vec<Cooling> {
    select::cooling(query, images, ctx, pin)
        .into_iter()
        .map(|c| Cooling {
            entry: query.name.clone(),
            region: region.to_string(),
            image: c.image,
            eligible: c.eligible,
        })
        .collect()
}

#[derive(Debug, Clone, Default)]
pub struct OutdatedReport {
    /// Every pin that would move, by entry and region.
    pub moves: Vec<PinChange>,
    pub held: Vec<Held>,
    pub cooling: Vec<Cooling>,
    pub eol: Vec<EolNotice>,
    pub failures: Failures,
    pub warnings: Vec<String>,
}

impl OutdatedReport {
    /// 5 if an API call failed, else 4 if an entry failed to resolve, else 3 if anything would
    /// move (or the lock is behind the spec), else 0. Held entries, cooling builds and EOL notices
    /// alone are news, not a failure.
    pub fn exit(&self) -> crate::Exit {
        use crate::Exit;
        if self.failures.any_api() {
            Exit::ApiFailed
        } else if !self.failures.is_empty() {
            Exit::ResolutionFailed
        } else if !self.moves.is_empty() {
            Exit::OutOfDate
        } else {
            Exit::Success
        }
    }
}

pub async fn outdated(
    spec: &Spec,
    lock: &Lockfile,
    client: &Client,
    ctx: &Context,
) -> OutdatedReport {
    let staleness = lock.staleness(spec);
    let fetched = resolve::fetch(client, spec.images.values()).await;
    let mut report = OutdatedReport::default();

    for query in spec.images.values() {
        let locked = lock.images.get(&query.name);
        let behind = staleness.behind(&query.name).map(Reason::from_behind);
        if let Some(reason) = &query.hold {
            report.held.push(Held {
                entry: query.name.clone(),
                reason: reason.clone(),
            });
        }
        let project = fetched_project(Some(client), query);
        for region in &query.regions {
            let current = locked.and_then(|l| l.pins.get(region));
            let images = match pick::listing(&fetched, query, region) {
                Ok(images) => images,
                Err(failure) => {
                    report.failures.0.push(failure);
                    continue;
                }
            };
            if let Some(pin) = current {
                if pin.project_id != project {
                    report.warnings.push(format!(
                        "{} {region} was locked with project {} and is compared with project {} today",
                        query.name,
                        pin.project_id.as_deref().unwrap_or("(none)"),
                        project.as_deref().unwrap_or("(none)"),
                    ));
                }
                let listed = images.iter().find(|i| i.image_id == pin.image_id);
                let today =
                    listed.map_or_else(|| pin.clone(), |i| pin_of(i, pin.project_id.clone()));
                if let Some(notice) = eol_notice(&query.name, region, &today, ctx.now)
                    && notice.days_left <= EOL_NOTICE_DAYS
                {
                    report.eol.push(notice);
                }
            }
            let denied = current.is_some_and(|p| spec.deny.contains_key(&p.image_id));
            let reason = match (behind, current) {
                (Some(reason), _) => reason,
                (None, None) => Reason::Missing,
                (None, Some(_)) if denied => Reason::Denied,
                (None, Some(_)) if query.hold.is_some() => continue,
                (None, Some(_)) => Reason::Newer,
            };
            let latest = match select::choose(query, images, ctx) {
                Ok(image) => image,
                Err(error) => {
                    report.failures.0.push(pick::Failure {
                        entry: query.name.clone(),
                        region: Some(region.clone()),
                        kind: pick::FailureKind::Select(error),
                        hint: None,
                    });
                    continue;
                }
            };
            let new = pin_of(latest, project.clone());
            report.cooling.extend(cooling_above(
                query,
                region,
                images,
                current.unwrap_or(&new),
                ctx,
            ));
            let change = PinChange {
                entry: query.name.clone(),
                region: region.clone(),
                old: current.cloned(),
                new: Some(new),
                reason,
            };
            if change.moves() || reason != Reason::Newer {
                report.moves.push(change);
            }
        }
    }
    for name in &staleness.extra {
        if let Some(gone) = lock.images.get(name) {
            for (region, pin) in &gone.pins {
                report.moves.push(removed(name, region, pin));
            }
        }
    }
    report
        .moves
        .sort_by(|a, b| (&a.entry, &a.region).cmp(&(&b.entry, &b.region)));
    report
}
