//! Planning: turn the (entry, region) pairs that need resolving into as few API listings as possible.
//!
//! A listing is one paged `DescribeImage` walk. Entries that share a region, zone and project share
//! one listing, and only the parameters they all agree on are pushed down to the API; each entry's
//! own filters are applied locally afterwards (the README says pushed-down filters must hold locally
//! too, so merging never changes a result).
//!
//! Why one broad listing per (region, zone, project) rather than one narrow listing per distinct
//! push-down: every listing costs at least one request, and the narrow ones' sizes are unknown until
//! asked. A region's whole catalog is a few pages (a few hundred images at a page cap of 100), so
//! `k` narrow listings rarely cost fewer than the `ceil(n / cap)` requests of the broad one, and
//! they never save a round trip: either way it is the first page of every listing, then the rest
//! at once. `BENCHMARKS.md` measures both on a generated catalog.
//!
//! `image_id` entries are the exception to "agree on": they never widen the shared listing. When
//! their own filters imply its push-downs they read from it for free; otherwise they get a one-image
//! `ImageId` listing, which costs one request in the first round trip.
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
        // Entries pinned to one ImageId must not widen the listing the others share.
        let (by_id, broad): (Vec<&ImageQuery>, Vec<&ImageQuery>) =
            members.iter().partition(|q| q.filters.image_id.is_some());
        let shared = (!broad.is_empty()).then(|| Listing {
            os_type: common(&broad, |q| q.filters.os_type),
            image_type: common(&broad, |q| q.filters.image_type),
            func_type: common(&broad, |q| q.filters.func_type),
            ..base.clone()
        });
        for query in broad {
            if let Some(listing) = &shared {
                listing_of.insert((query.name.clone(), region.clone()), listing.clone());
            }
        }
        for query in by_id {
            let listing = match &shared {
                // Its image, if it matches at all, is in the shared listing.
                Some(listing) if implies(query, listing) => listing.clone(),
                _ => Listing {
                    image_id: query.filters.image_id.clone(),
                    ..base.clone()
                },
            };
            listing_of.insert((query.name.clone(), region.clone()), listing);
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

/// Whether every image the query can match is in the listing: each pushed-down parameter is one
/// the query itself requires with the same value (its filters hold locally, as the README says).
fn implies(query: &ImageQuery, listing: &Listing) -> bool {
    let f = &query.filters;
    (listing.os_type.is_none() || listing.os_type == f.os_type)
        && (listing.image_type.is_none() || listing.image_type == f.image_type)
        && (listing.func_type.is_none() || listing.func_type == f.func_type)
        && (listing.image_id.is_none() || listing.image_id == f.image_id)
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
            agree: None,
            hold: None,
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

    fn by_id(id: &str) -> Filters {
        Filters {
            image_id: Some(id.into()),
            ..Filters::default()
        }
    }

    /// Every target reads from a listing of its own region, zone and project whose push-downs
    /// its filters imply, so the plan can never change a result; and no listing is repeated.
    fn assert_sound(queries: &[ImageQuery], plan: &Plan) {
        let mut distinct = plan.listings.clone();
        distinct.dedup();
        assert_eq!(distinct, plan.listings, "listings are sorted and distinct");
        let pairs: usize = queries.iter().map(|q| q.regions.len()).sum();
        assert_eq!(plan.targets.len(), pairs, "one target per (entry, region)");
        let keys: Vec<_> = plan.targets.iter().map(|t| (&t.entry, &t.region)).collect();
        assert!(
            keys.is_sorted(),
            "targets sorted by (entry, region), as lookups assume"
        );
        for target in &plan.targets {
            let query = queries.iter().find(|q| q.name == target.entry).unwrap();
            let listing = &plan.listings[target.listing];
            assert_eq!(listing.region, target.region);
            assert_eq!(listing.zone, query.zone);
            assert_eq!(listing.project_id, query.project_id);
            assert!(implies(query, listing), "{target:?} reads {listing:?}");
        }
        for (n, _) in plan.listings.iter().enumerate() {
            assert!(
                plan.targets.iter().any(|t| t.listing == n),
                "unused listing"
            );
        }
    }

    #[test]
    fn disjoint_push_downs_share_the_region_listing() {
        let windows = Filters {
            os_type: Some(OsType::Windows),
            ..Filters::default()
        };
        let gpu = Filters {
            os_type: Some(OsType::Linux),
            func_type: Some(FuncType::Gpu),
            ..Filters::default()
        };
        let queries = [query("win", &["hk"], windows), query("gpu", &["hk"], gpu)];
        let plan = plan(&queries);
        assert_sound(&queries, &plan);
        // Two narrow listings would cost at least two requests; the region fits in fewer pages
        // than that more often than not, and results are the same either way.
        assert_eq!(plan.listings.len(), 1);
        let listing = &plan.listings[0];
        assert_eq!(
            (listing.os_type, listing.image_type, listing.func_type),
            (None, None, None)
        );
    }

    #[test]
    fn all_by_id_entries_get_one_listing_per_distinct_id() {
        let queries = [
            query("x", &["hk"], by_id("uimage-1")),
            query("y", &["hk", "cn-bj2"], by_id("uimage-2")),
            query("z", &["hk"], by_id("uimage-1")),
        ];
        let plan = plan(&queries);
        assert_sound(&queries, &plan);
        let ids: Vec<_> = plan
            .listings
            .iter()
            .map(|l| (l.region.as_str(), l.image_id.as_deref()))
            .collect();
        assert_eq!(
            ids,
            [
                ("cn-bj2", Some("uimage-2")),
                ("hk", Some("uimage-1")),
                ("hk", Some("uimage-2"))
            ]
        );
    }

    #[test]
    fn by_id_entries_ride_along_when_their_filters_imply_the_listing() {
        let linux_base = Filters {
            os_type: Some(OsType::Linux),
            image_type: Some(ImageType::Base),
            ..Filters::default()
        };
        let linux_base_id = Filters {
            image_id: Some("uimage-1".into()),
            ..linux_base.clone()
        };
        let queries = [
            query("web", &["hk"], linux_base),
            query("pinned", &["hk"], linux_base_id),
        ];
        let plan = plan(&queries);
        assert_sound(&queries, &plan);
        assert_eq!(plan.listings.len(), 1);
        assert_eq!(plan.listings[0].image_type, Some(ImageType::Base));
        assert_eq!(plan.listings[0].image_id, None);
    }

    #[test]
    fn by_id_entries_never_widen_the_shared_listing() {
        let linux_base = Filters {
            os_type: Some(OsType::Linux),
            image_type: Some(ImageType::Base),
            ..Filters::default()
        };
        let queries = [
            query("web", &["hk"], linux_base.clone()),
            query("api", &["hk"], linux_base),
            // Could be any image type: not guaranteed to be in a Base listing.
            query("pinned", &["hk"], by_id("uimage-9")),
        ];
        let plan = plan(&queries);
        assert_sound(&queries, &plan);
        assert_eq!(plan.listings.len(), 2);
        let shared = &plan.listings[plan.targets[2].listing];
        assert_eq!(plan.targets[2].entry, "web");
        assert_eq!(
            (
                shared.os_type,
                shared.image_type,
                shared.image_id.as_deref()
            ),
            (Some(OsType::Linux), Some(ImageType::Base), None)
        );
        let own = &plan.listings[plan.targets[1].listing];
        assert_eq!(plan.targets[1].entry, "pinned");
        assert_eq!(own.image_id.as_deref(), Some("uimage-9"));
        assert_eq!((own.os_type, own.image_type), (None, None));
    }

    #[test]
    fn a_varied_spec_is_sound_and_shares_listings() {
        let f = |os: Option<OsType>, it: Option<ImageType>, ft: Option<FuncType>| Filters {
            os_type: os,
            image_type: it,
            func_type: ft,
            ..Filters::default()
        };
        let mut queries = vec![
            query(
                "a",
                &["cn-bj2", "hk", "sg"],
                f(Some(OsType::Linux), Some(ImageType::Base), None),
            ),
            query(
                "b",
                &["hk"],
                f(Some(OsType::Linux), None, Some(FuncType::Gpu)),
            ),
            query("c", &["cn-bj2", "sg"], f(Some(OsType::Windows), None, None)),
            query(
                "d",
                &["sg"],
                f(Some(OsType::Linux), Some(ImageType::Base), None),
            ),
            query("e", &["hk"], by_id("uimage-7")),
            query("f", &["cn-bj2"], f(None, Some(ImageType::Custom), None)),
        ];
        let mut zoned = query("g", &["hk"], f(Some(OsType::Linux), None, None));
        zoned.zone = Some("hk-02".into());
        let mut project = query("h", &["hk"], f(Some(OsType::Linux), None, None));
        project.project_id = Some("org-a".into());
        queries.extend([zoned, project]);
        let plan = plan(&queries);
        assert_sound(&queries, &plan);
        // cn-bj2, hk, sg, hk by id, hk in a zone, hk in a project.
        assert_eq!(plan.listings.len(), 6);
        let sg: Vec<_> = plan.listings.iter().filter(|l| l.region == "sg").collect();
        // a, c, d in sg: Linux and Windows share the whole region.
        assert_eq!(sg.len(), 1);
        assert_eq!(sg[0].os_type, None);
    }

    #[test]
    fn empty_plan() {
        assert_eq!(plan(&[]), Plan::default());
    }
}
