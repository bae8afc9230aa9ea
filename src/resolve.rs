//! Resolution: drive plan → ucloud → select for a set of entries and return one image per pin.
//!
//! Every listing of the plan is fetched once, all at the same time (the client bounds how many
//! requests are in flight); then every (entry, region) is chosen locally from its listing. All
//! failing pins are reported together, so one run shows everything that needs fixing.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use futures_util::future::try_join_all;

use crate::error::Error;
use crate::plan::{Plan, plan};
use crate::select::{self, AgreeError, Context, SelectError};
use crate::spec::ImageQuery;
use crate::ucloud::{Client, Image};

/// The images of each listing of a plan, in the plan's order.
pub struct Fetched {
    pub plan: Plan,
    pub listings: Vec<Vec<Image>>,
}

impl Fetched {
    /// The images the given entry sees in the given region.
    pub fn images_for(&self, entry: &str, region: &str) -> &[Image] {
        self.plan
            .targets
            .iter()
            .find(|t| t.entry == entry && t.region == region)
            .map_or(&[], |t| &self.listings[t.listing])
    }
}

/// Plans and fetches every listing the queries need.
pub async fn fetch<'a>(
    client: &Client,
    queries: impl IntoIterator<Item = &'a ImageQuery>,
) -> Result<Fetched, Error> {
    let plan = plan(queries);
    tracing::debug!(
        listings = plan.listings.len(),
        pins = plan.targets.len(),
        "planned"
    );
    let listings = try_join_all(plan.listings.iter().map(|listing| client.list(listing))).await?;
    Ok(Fetched { plan, listings })
}

/// entry → region → chosen image.
pub type Picks = BTreeMap<String, BTreeMap<String, Image>>;

/// Chooses one image per (entry, region) from fetched listings.
pub fn choose_all<'a>(
    fetched: &Fetched,
    queries: impl IntoIterator<Item = &'a ImageQuery>,
    ctx: &Context,
) -> Result<Picks, Error> {
    let mut picks = Picks::new();
    let mut failures = Vec::new();
    let mut agree_failures = Vec::new();
    for query in queries {
        if query.agree.is_some() {
            // `agree: version`: the regions of the entry are chosen together.
            let per_region: BTreeMap<String, &[Image]> = query
                .regions
                .iter()
                .map(|region| (region.clone(), fetched.images_for(&query.name, region)))
                .collect();
            match select::choose_agreed(query, &per_region, ctx) {
                Ok(chosen) => {
                    picks.entry(query.name.clone()).or_default().extend(chosen);
                }
                Err(AgreeError::Regions(errors)) => {
                    for (region, error) in errors {
                        let region = query.regions.iter().find(|r| **r == region);
                        if let Some(region) = region {
                            failures.push((query.name.as_str(), region.as_str(), error));
                        }
                    }
                }
                Err(error @ AgreeError::NoCommonVersion { .. }) => {
                    agree_failures.push((query.name.as_str(), error));
                }
            }
            continue;
        }
        for region in &query.regions {
            let images = fetched.images_for(&query.name, region);
            match select::choose(query, images, ctx) {
                Ok(image) => {
                    picks
                        .entry(query.name.clone())
                        .or_default()
                        .insert(region.clone(), image.clone());
                }
                Err(error) => failures.push((query.name.as_str(), region.as_str(), error)),
            }
        }
    }
    if failures.is_empty() && agree_failures.is_empty() {
        Ok(picks)
    } else {
        Err(Error::Resolution(describe_failures(
            &failures,
            &agree_failures,
        )))
    }
}

/// Fetches and chooses in one go.
pub async fn resolve(
    client: &Client,
    queries: &[&ImageQuery],
    ctx: &Context,
) -> Result<Picks, Error> {
    let fetched = fetch(client, queries.iter().copied()).await?;
    choose_all(&fetched, queries.iter().copied(), ctx)
}

fn describe_failures(
    failures: &[(&str, &str, SelectError)],
    agree_failures: &[(&str, AgreeError)],
) -> String {
    let mut out = String::new();
    let mut what = Vec::new();
    if !failures.is_empty() {
        let noun = if failures.len() == 1 { "pin" } else { "pins" };
        what.push(format!("{} {noun}", failures.len()));
    }
    if !agree_failures.is_empty() {
        // `agree: version` entries without a common version fail as a whole.
        let noun = if agree_failures.len() == 1 {
            "entry"
        } else {
            "entries"
        };
        what.push(format!("{} {noun}", agree_failures.len()));
    }
    let _ = writeln!(
        out,
        "could not resolve {}; nothing was written",
        what.join(" and ")
    );
    for (entry, region, error) in failures {
        let _ = writeln!(out, "\n{entry} in {region}: {error}");
    }
    for (entry, error) in agree_failures {
        let _ = writeln!(out, "\n{entry}: {error}");
    }
    out.trim_end().to_string()
}
