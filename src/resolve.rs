//! Fetching: drive plan → ucloud for a set of entries and hand each (entry, region) its listing.
//!
//! Every listing of the plan is fetched once, all at the same time (the client bounds how many
//! requests are in flight). A listing that fails fails only the pins that read from it, so a
//! report like `outdated` can still say everything it knows; operations that write treat any
//! failure as fatal.

use std::collections::HashMap;

use futures_util::future::join_all;

use crate::error::Error;
use crate::plan::{Plan, plan};
use crate::spec::ImageQuery;
use crate::ucloud::{Client, Image};

/// The images of each listing of a plan, in the plan's order, or why it could not be had.
pub struct Fetched {
    pub plan: Plan,
    pub listings: Vec<Result<Vec<Image>, Error>>,
    /// (entry, region) → index into `listings`; built once so lookups stay O(1) at 40,000 pins.
    index: HashMap<(String, String), usize>,
}

impl Fetched {
    /// The listing the given entry reads in the given region: `None` when the plan has no such
    /// pin, `Some(Err)` when fetching it failed.
    pub fn listing(&self, entry: &str, region: &str) -> Option<Result<&[Image], &Error>> {
        // A tuple of owned strings is the map's key; build it once per lookup, no scan.
        let at = *self.index.get(&(entry.to_owned(), region.to_owned()))?;
        Some(self.listings[at].as_ref().map(Vec::as_slice))
    }

    /// The images the given entry sees in the given region; empty when unknown or failed.
    pub fn images_for(&self, entry: &str, region: &str) -> &[Image] {
        match self.listing(entry, region) {
            Some(Ok(images)) => images,
            _ => &[],
        }
    }

    /// Nothing planned, nothing fetched.
    pub fn empty() -> Self {
        Self {
            plan: Plan::default(),
            listings: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The first failure, if any listing failed.
    pub fn first_error(&self) -> Option<&Error> {
        self.listings.iter().find_map(|l| l.as_ref().err())
    }

    /// Takes the first failure out, for operations that stop at one.
    pub fn into_result(mut self) -> Result<Self, Error> {
        if let Some(at) = self.listings.iter().position(Result::is_err) {
            let failed = std::mem::replace(&mut self.listings[at], Ok(Vec::new()));
            return Err(failed
                .err()
                .unwrap_or_else(|| Error::Internal("lost error".into())));
        }
        Ok(self)
    }
}

/// Plans and fetches every listing the queries need; never fails as a whole.
pub async fn fetch<'a>(
    client: &Client,
    queries: impl IntoIterator<Item = &'a ImageQuery>,
) -> Fetched {
    let plan = plan(queries);
    tracing::debug!(
        listings = plan.listings.len(),
        pins = plan.targets.len(),
        "planned"
    );
    let listings = join_all(plan.listings.iter().map(|listing| client.list(listing))).await;
    let index = plan
        .targets
        .iter()
        .map(|t| ((t.entry.clone(), t.region.clone()), t.listing))
        .collect();
    Fetched {
        plan,
        listings,
        index,
    }
}
