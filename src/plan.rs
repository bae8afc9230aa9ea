//! Planning: turn the (entry, region) pairs that need resolving into as few API listings as possible.
//!
//! A listing is one paged `DescribeImage` walk. Entries that share a region, zone and project share
//! one listing, and only the parameters they all agree on are pushed down to the API; each entry's
//! own filters are applied locally afterwards (SPEC §2 says pushed-down filters must hold locally
//! too, so merging never changes a result). One listing per (region, zone, project) keeps the whole
//! spec at two round trips: the first page of every listing, then the rest of the pages at once.

use std::collections::BTreeMap;

use crate::spec::{FuncType, ImageQuery, ImageType, OsType};

/// One paged walk of `DescribeImage`: the parameters sent, besides Offset and Limit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Listing {
    pub region: String,
    pub zone: Option<String>,
    pub project_id: Option<String>,
    pub os_type: Option<OsType>,
    pub image_type: Option<ImageType>,
    pub func_type: Option<FuncType>,
    pub image_id: Option<String>,
}

/// One pin to resolve: which entry, which region, and which listing holds its candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub entry: String,
    pub region: String,
    /// Index into [`Plan::listings`].
    pub listing: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Distinct listings, sorted, each fetched once.
    pub listings: Vec<Listing>,
    /// Sorted by entry, then region.
    pub targets: Vec<Target>,
}

/// Region, zone and project: what decides which images an API listing can see.
type GroupKey = (String, Option<String>, Option<String>);

/// Groups the queries' (entry, region) pairs into listings.
pub fn plan<'a>(queries: impl IntoIterator<Item = &'a ImageQuery>) -> Plan {
    // (region, zone, project) → the queries that read from it.
    let mut groups: BTreeMap<GroupKey, Vec<&ImageQuery>> = BTreeMap::new();
    for query in queries {
        for region in &query.regions {
            let key = (region.clone(), query.zone.clone(), query.project_id.clone());
            groups.entry(key).or_default().push(query);
        }
    }

    let mut listing_of: BTreeMap<(String, String), Listing> = BTreeMap::new();
    for ((region, zone, project_id), members) in groups {
        let base = Listing {
            region: region.clone(),
            zone,
            project_id,
            os_type: None,
            image_type: None,
            func_type: None,
            image_id: None,
        };
        // An ImageId listing costs one request, cheaper than any page of a broad one; but once a
        // broad listing is fetched for the group, it already holds those images for free.
        let all_pin_ids = members.iter().all(|q| q.filters.image_id.is_some());
        if all_pin_ids {
            for query in &members {
                let listing = Listing {
                    image_id: query.filters.image_id.clone(),
                    ..base.clone()
                };
                listing_of.insert((query.name.clone(), region.clone()), listing);
            }
            continue;
        }
        let listing = Listing {
            os_type: common(&members, |q| q.filters.os_type),
            image_type: common(&members, |q| q.filters.image_type),
            func_type: common(&members, |q| q.filters.func_type),
            ..base
        };
        for query in &members {
            listing_of.insert((query.name.clone(), region.clone()), listing.clone());
        }
    }

    let mut listings: Vec<Listing> = listing_of.values().cloned().collect();
    listings.sort();
    listings.dedup();
    let targets = listing_of
        .into_iter()
        .map(|((entry, region), listing)| Target {
            entry,
            region,
            listing: listings
                .binary_search(&listing)
                .expect("every target's listing is in the list"),
        })
        .collect();
    Plan { listings, targets }
}

/// The value every member agrees on, if they all set the same one.
fn common<T: PartialEq + Copy>(
    members: &[&ImageQuery],
    field: impl Fn(&ImageQuery) -> Option<T>,
) -> Option<T> {
    let first = field(members.first()?)?;
    members
        .iter()
        .all(|q| field(q) == Some(first))
        .then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Filters, Selection};

    fn query(name: &str, regions: &[&str], filters: Filters) -> ImageQuery {
        ImageQuery {
            name: name.into(),
            regions: regions.iter().map(|r| r.to_string()).collect(),
            zone: None,
            project_id: None,
            filters,
            select: Selection::Newest,
        }
    }

    #[test]
    fn entries_of_a_region_share_one_listing() {
        let linux = Filters {
            os_type: Some(OsType::Linux),
            ..Filters::default()
        };
        let linux_base = Filters {
            os_type: Some(OsType::Linux),
            image_type: Some(ImageType::Base),
            ..Filters::default()
        };
        let queries = [
            query("a", &["cn-bj2", "hk"], linux.clone()),
            query("b", &["cn-bj2"], linux_base),
            query("c", &["hk"], linux),
        ];
        let plan = plan(&queries);
        assert_eq!(plan.listings.len(), 2);
        // Both agree on Linux; only one asks for Base, so Base is filtered locally.
        for listing in &plan.listings {
            assert_eq!(listing.os_type, Some(OsType::Linux));
            assert_eq!(listing.image_type, None);
        }
        assert_eq!(plan.targets.len(), 4);
        let regions: Vec<_> = plan
            .targets
            .iter()
            .map(|t| (t.entry.as_str(), plan.listings[t.listing].region.as_str()))
            .collect();
        assert_eq!(
            regions,
            [("a", "cn-bj2"), ("a", "hk"), ("b", "cn-bj2"), ("c", "hk")]
        );
    }

    #[test]
    fn zones_and_projects_get_their_own_listing() {
        let mut zoned = query("z", &["cn-bj2"], Filters::default());
        zoned.zone = Some("cn-bj2-04".into());
        let mut project = query("p", &["cn-bj2"], Filters::default());
        project.project_id = Some("org-x".into());
        let plain = query("q", &["cn-bj2"], Filters::default());
        let plan = plan(&[zoned, project, plain]);
        assert_eq!(plan.listings.len(), 3);
    }

    #[test]
    fn image_id_entries_ride_along_or_go_alone() {
        let by_id = |id: &str| Filters {
            image_id: Some(id.into()),
            ..Filters::default()
        };
        let alone = plan(&[
            query("x", &["hk"], by_id("uimage-1")),
            query("y", &["hk"], by_id("uimage-2")),
        ]);
        assert_eq!(alone.listings.len(), 2);
        assert!(alone.listings.iter().all(|l| l.image_id.is_some()));

        let along = plan(&[
            query("x", &["hk"], by_id("uimage-1")),
            query("w", &["hk"], Filters::default()),
        ]);
        assert_eq!(along.listings.len(), 1);
        assert_eq!(along.listings[0].image_id, None);
    }

    #[test]
    fn empty_plan() {
        assert_eq!(plan(&[]), Plan::default());
    }
}
