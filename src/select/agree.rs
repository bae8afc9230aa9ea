//! `agree: version`: every region of an entry gets the same image version.
//!
//! Releases reach regions unevenly, so a multi-region entry picking `newest` in each region on its
//! own can pin Ubuntu 24.04 in one region and 22.04 in another. With `agree: version` the version
//! is chosen first, for the whole entry: the highest version every region offers among its
//! candidates (the lowest under `select: oldest`; images without a version cannot agree and are
//! dropped). Then the entry's `select` picks among that version's images in each region
//! (`highest_version` acts as `newest`, since the version is already fixed). How UCloud publishes
//! images across regions is not published; this rule is our choice, documented in
//! docs/safe-upgrades.md.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use semver::Version;

use super::{AMBIGUOUS_LISTED, Context, Funnel, FunnelStep, SelectError, filter, rank};
use crate::spec::{ImageQuery, Selection};
use crate::ucloud::Image;
use crate::version::image_version;

/// The funnel step every region of an `agree` entry shows: images without a version cannot agree.
pub const AGREE_HAS_VERSION_STEP: &str = "agree version (has a version)";

/// The funnel step of a region when no version is offered by every region.
pub const AGREE_NO_COMMON_STEP: &str = "agree version (offered in every region)";

/// At most this many versions are listed per region when no version is common.
const VERSIONS_LISTED: usize = 10;

/// The funnel step of the version the regions agreed on: `agree version = 22.4.0`.
pub fn agreed_step(version: &Version) -> String {
    format!("agree version = {version}")
}

/// Which version an `agree: version` entry gets, and what each region offers; what `explain`
/// shows to say which region holds the entry back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionAgreement {
    /// Each region's candidate versions (after filters and `deny`), distinct, best first: highest
    /// first, lowest first under `select: oldest`. Empty for a region with no versioned candidate.
    pub offered: BTreeMap<String, Vec<Version>>,
    /// The best version every region offers; `None` when no version is common to all regions.
    pub chosen: Option<Version>,
    /// Each region's funnel: the entry's filters, `deny`, [`AGREE_HAS_VERSION_STEP`], then
    /// [`agreed_step`] with how many of the region's candidates have the chosen version, or, when
    /// no version is common (and the region has versioned candidates), [`AGREE_NO_COMMON_STEP`]
    /// keeping none.
    pub funnels: BTreeMap<String, Funnel>,
    /// `select: oldest`: the lowest version is the best one.
    lowest_first: bool,
}

impl VersionAgreement {
    /// The version this region would get on its own (its best candidate version).
    pub fn best(&self, region: &str) -> Option<&Version> {
        self.offered.get(region)?.first()
    }

    /// The regions holding the entry back: their best version is behind the best one another
    /// region offers (or they offer none). Empty when every region's best is the same.
    pub fn lagging(&self) -> Vec<&str> {
        let bests = self
            .offered
            .values()
            .filter_map(|versions| versions.first());
        let leader = if self.lowest_first {
            bests.min()
        } else {
            bests.max()
        };
        let Some(leader) = leader else {
            return Vec::new();
        };
        self.offered
            .iter()
            .filter(|(_, versions)| versions.first() != Some(leader))
            .map(|(region, _)| region.as_str())
            .collect()
    }
}

/// Why an `agree: version` entry could not be resolved (exit 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgreeError {
    /// These regions have no candidate with a version (each funnel says why); under `only` (which
    /// the spec refuses with `agree`) a region with several images of the agreed version.
    Regions(BTreeMap<String, SelectError>),
    /// Every region has versioned candidates, but no version is offered by all of them: each
    /// region's versions, best first.
    NoCommonVersion {
        offered: BTreeMap<String, Vec<Version>>,
    },
}

impl std::error::Error for AgreeError {}

impl fmt::Display for AgreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgreeError::Regions(failures) => {
                for (i, (region, error)) in failures.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "in {region}: {error}")?;
                }
                Ok(())
            }
            AgreeError::NoCommonVersion { offered } => {
                f.write_str(
                    "no image version is offered in every region (`agree: version`); each region's candidate versions:",
                )?;
                let width = offered.keys().map(String::len).max().unwrap_or(0);
                for (region, versions) in offered {
                    let shown: Vec<String> = versions
                        .iter()
                        .take(VERSIONS_LISTED)
                        .map(Version::to_string)
                        .collect();
                    write!(f, "\n  {region:<width$}  {}", shown.join(", "))?;
                    if versions.len() > VERSIONS_LISTED {
                        write!(f, ", … and {} more", versions.len() - VERSIONS_LISTED)?;
                    }
                }
                f.write_str(
                    "\nwait until the regions catch up, widen the filters, or drop `agree` to let the regions differ",
                )
            }
        }
    }
}

/// One region's candidates that have a version, and its funnel so far.
struct RegionCandidates<'a> {
    versioned: Vec<(Version, &'a Image)>,
    funnel: Funnel,
}

fn candidates<'a>(query: &ImageQuery, images: &'a [Image], ctx: &Context) -> RegionCandidates<'a> {
    let (kept, mut funnel) = filter(&query.filters, images, ctx);
    let versioned: Vec<(Version, &Image)> = kept
        .into_iter()
        .filter_map(|image| image_version(&image.os_name, &image.image_name).map(|v| (v, image)))
        .collect();
    funnel.steps.push(FunnelStep {
        filter: AGREE_HAS_VERSION_STEP.to_owned(),
        kept: versioned.len(),
    });
    RegionCandidates { versioned, funnel }
}

fn all_candidates<'a>(
    query: &ImageQuery,
    per_region: &BTreeMap<String, &'a [Image]>,
    ctx: &Context,
) -> BTreeMap<String, RegionCandidates<'a>> {
    per_region
        .iter()
        .map(|(region, images)| (region.clone(), candidates(query, images, ctx)))
        .collect()
}

fn agreement_of(
    query: &ImageQuery,
    regions: &BTreeMap<String, RegionCandidates<'_>>,
) -> VersionAgreement {
    let lowest_first = query.select == Selection::Oldest;
    let mut offered = BTreeMap::new();
    let mut common: Option<BTreeSet<&Version>> = None;
    for (region, candidates) in regions {
        let versions: BTreeSet<&Version> = candidates.versioned.iter().map(|(v, _)| v).collect();
        common = Some(match common {
            None => versions.clone(),
            Some(so_far) => so_far.intersection(&versions).copied().collect(),
        });
        let mut listed: Vec<Version> = versions.into_iter().cloned().collect();
        if !lowest_first {
            listed.reverse();
        }
        offered.insert(region.clone(), listed);
    }
    let common = common.unwrap_or_default();
    let chosen = if lowest_first {
        common.first()
    } else {
        common.last()
    }
    .map(|v| (*v).clone());
    let funnels = regions
        .iter()
        .map(|(region, candidates)| {
            let mut funnel = candidates.funnel.clone();
            if let Some(chosen) = &chosen {
                funnel.steps.push(FunnelStep {
                    filter: agreed_step(chosen),
                    kept: candidates
                        .versioned
                        .iter()
                        .filter(|(v, _)| v == chosen)
                        .count(),
                });
            } else if !candidates.versioned.is_empty() {
                funnel.steps.push(FunnelStep {
                    filter: AGREE_NO_COMMON_STEP.to_owned(),
                    kept: 0,
                });
            }
            (region.clone(), funnel)
        })
        .collect();
    VersionAgreement {
        offered,
        chosen,
        funnels,
        lowest_first,
    }
}

/// What each region offers and which version the entry would get; for `explain`.
/// `per_region` maps each of the entry's regions to its listing.
pub fn agreement(
    query: &ImageQuery,
    per_region: &BTreeMap<String, &[Image]>,
    ctx: &Context,
) -> VersionAgreement {
    agreement_of(query, &all_candidates(query, per_region, ctx))
}

/// One region's candidates for an `agree: version` entry, best first, as `explain` lists them:
/// with a `chosen` version, that version's images ranked by the entry's rule (`highest_version`
/// as `newest`), so the first is the pick; without one, every candidate that has a version,
/// best version first, to show what the region offers.
pub fn agreed_candidates<'a>(
    query: &ImageQuery,
    images: &'a [Image],
    ctx: &Context,
    chosen: Option<&Version>,
) -> Vec<&'a Image> {
    let RegionCandidates { mut versioned, .. } = candidates(query, images, ctx);
    let rule = match query.select {
        Selection::HighestVersion => Selection::Newest,
        other => other,
    };
    if let Some(chosen) = chosen {
        versioned.retain(|(v, _)| v == chosen);
    }
    let lowest_first = query.select == Selection::Oldest;
    versioned.sort_by(|(va, a), (vb, b)| {
        let by_version = if lowest_first { va.cmp(vb) } else { vb.cmp(va) };
        by_version.then_with(|| super::compare(rule, a, b))
    });
    versioned.into_iter().map(|(_, image)| image).collect()
}

/// Chooses one image per region for an `agree: version` entry: the agreed version first, then
/// the entry's `select` among that version's images in each region. `per_region` maps each of
/// the entry's regions to its listing.
pub fn choose_agreed(
    query: &ImageQuery,
    per_region: &BTreeMap<String, &[Image]>,
    ctx: &Context,
) -> Result<BTreeMap<String, Image>, AgreeError> {
    if per_region.is_empty() {
        return Ok(BTreeMap::new());
    }
    let regions = all_candidates(query, per_region, ctx);
    let mut failures: BTreeMap<String, SelectError> = regions
        .iter()
        .filter(|(_, candidates)| candidates.versioned.is_empty())
        .map(|(region, candidates)| {
            let funnel = candidates.funnel.clone();
            (region.clone(), SelectError::NoMatch { funnel })
        })
        .collect();
    if !failures.is_empty() {
        return Err(AgreeError::Regions(failures));
    }
    let agreement = agreement_of(query, &regions);
    let Some(chosen) = agreement.chosen else {
        return Err(AgreeError::NoCommonVersion {
            offered: agreement.offered,
        });
    };
    // The version is fixed, so `highest_version` has nothing left to compare but CreateTime.
    let rule = match query.select {
        Selection::HighestVersion => Selection::Newest,
        other => other,
    };
    let mut picks = BTreeMap::new();
    for (region, candidates) in &regions {
        let mut of_version: Vec<&Image> = candidates
            .versioned
            .iter()
            .filter(|(v, _)| *v == chosen)
            .map(|(_, image)| *image)
            .collect();
        rank(rule, &mut of_version);
        match of_version.as_slice() {
            // Cannot happen: the chosen version is one every region offers.
            [] => {}
            [only] => {
                picks.insert(region.clone(), (*only).clone());
            }
            [first, ..] if rule != Selection::Only => {
                picks.insert(region.clone(), (*first).clone());
            }
            several => {
                failures.insert(
                    region.clone(),
                    SelectError::Ambiguous {
                        count: several.len(),
                        candidates: several
                            .iter()
                            .take(AMBIGUOUS_LISTED)
                            .map(|image| (*image).clone())
                            .collect(),
                    },
                );
            }
        }
    }
    if failures.is_empty() {
        Ok(picks)
    } else {
        Err(AgreeError::Regions(failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::test_support::image;
    use crate::spec::{Agreement, Filters};

    fn query(select: Selection) -> ImageQuery {
        ImageQuery {
            name: "web".into(),
            regions: vec!["cn-bj2".into(), "hk".into()],
            zone: None,
            project_id: None,
            filters: Filters::default(),
            select,
            agree: Some(Agreement::Version),
            hold: None,
        }
    }

    fn ctx() -> Context {
        Context::at("2025-06-01T00:00:00Z".parse().unwrap())
    }

    /// cn-bj2 has 24.04 (newest build), 22.04 twice and a versionless image; hk has not got
    /// 24.04 yet.
    fn listings() -> (Vec<Image>, Vec<Image>) {
        let bj = vec![
            image("uimage-bj-2404", "Ubuntu 24.04", 500),
            image("uimage-bj-2204-new", "Ubuntu 22.04", 400),
            image("uimage-bj-2204-old", "Ubuntu 22.04", 100),
            image("uimage-bj-2004", "Ubuntu 20.04", 50),
            image("uimage-bj-custom", "my-app", 900),
        ];
        let hk = vec![
            image("uimage-hk-2204", "Ubuntu 22.04", 300),
            image("uimage-hk-2004", "Ubuntu 20.04", 200),
            image("uimage-hk-2004-b", "Ubuntu 20.04", 250),
        ];
        (bj, hk)
    }

    fn per_region<'a>(bj: &'a [Image], hk: &'a [Image]) -> BTreeMap<String, &'a [Image]> {
        [("cn-bj2".to_owned(), bj), ("hk".to_owned(), hk)].into()
    }

    fn picked(result: &BTreeMap<String, Image>) -> Vec<(&str, &str)> {
        result
            .iter()
            .map(|(r, i)| (r.as_str(), i.image_id.as_str()))
            .collect()
    }

    #[test]
    fn newest_gets_the_highest_common_version_then_the_newest_build_of_it() {
        let (bj, hk) = listings();
        let picks = choose_agreed(&query(Selection::Newest), &per_region(&bj, &hk), &ctx())
            .unwrap_or_else(|e| panic!("{e}"));
        // Alone, cn-bj2 would pin the versionless custom image (newest) or 24.04.
        assert_eq!(
            picked(&picks),
            [("cn-bj2", "uimage-bj-2204-new"), ("hk", "uimage-hk-2204")]
        );
    }

    #[test]
    fn highest_version_acts_as_newest_within_the_agreed_version() {
        let (bj, hk) = listings();
        let picks = choose_agreed(
            &query(Selection::HighestVersion),
            &per_region(&bj, &hk),
            &ctx(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            picked(&picks),
            [("cn-bj2", "uimage-bj-2204-new"), ("hk", "uimage-hk-2204")]
        );
    }

    #[test]
    fn oldest_gets_the_lowest_common_version_then_the_oldest_build_of_it() {
        let (bj, hk) = listings();
        let picks = choose_agreed(&query(Selection::Oldest), &per_region(&bj, &hk), &ctx())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            picked(&picks),
            [("cn-bj2", "uimage-bj-2004"), ("hk", "uimage-hk-2004")]
        );
    }

    #[test]
    fn agreement_says_which_region_lags() {
        let (bj, hk) = listings();
        let first = agreement(&query(Selection::Newest), &per_region(&bj, &hk), &ctx());
        let v = |s: &str| Version::parse(s).unwrap();
        assert_eq!(first.chosen, Some(v("22.4.0")));
        assert_eq!(
            first.offered["cn-bj2"],
            [v("24.4.0"), v("22.4.0"), v("20.4.0")]
        );
        assert_eq!(first.best("cn-bj2"), Some(&v("24.4.0")));
        assert_eq!(first.best("hk"), Some(&v("22.4.0")));
        assert_eq!(first.lagging(), ["hk"]);
        let steps = |region: &str| -> Vec<(String, usize)> {
            first.funnels[region]
                .steps
                .iter()
                .map(|s| (s.filter.clone(), s.kept))
                .collect()
        };
        assert_eq!(
            steps("cn-bj2"),
            [
                ("state in [Available]".to_owned(), 5),
                (AGREE_HAS_VERSION_STEP.to_owned(), 4),
                ("agree version = 22.4.0".to_owned(), 2),
            ]
        );
        assert_eq!(steps("hk").last().map(|s| s.1), Some(1));

        // Under `oldest`, the region without the oldest version is the one holding back.
        let (mut bj, hk) = listings();
        bj.retain(|i| i.image_id != "uimage-bj-2004");
        let oldest = agreement(&query(Selection::Oldest), &per_region(&bj, &hk), &ctx());
        assert_eq!(oldest.chosen, Some(v("22.4.0")));
        assert_eq!(oldest.lagging(), ["cn-bj2"]);

        // All regions on the same best version: nobody lags.
        let same = [image("uimage-1", "Ubuntu 22.04", 1)];
        let same_best = agreement(&query(Selection::Newest), &per_region(&same, &same), &ctx());
        assert!(same_best.lagging().is_empty());
    }

    #[test]
    fn candidates_for_explain_are_the_agreed_versions_best_first() {
        let (bj, _) = listings();
        let q = query(Selection::Newest);
        let ids = |images: Vec<&Image>| -> Vec<String> {
            images.iter().map(|i| i.image_id.clone()).collect()
        };
        let v2204 = Version::new(22, 4, 0);
        assert_eq!(
            ids(agreed_candidates(&q, &bj, &ctx(), Some(&v2204))),
            ["uimage-bj-2204-new", "uimage-bj-2204-old"]
        );
        assert_eq!(
            ids(agreed_candidates(&q, &bj, &ctx(), None)),
            [
                "uimage-bj-2404",
                "uimage-bj-2204-new",
                "uimage-bj-2204-old",
                "uimage-bj-2004"
            ]
        );
    }

    #[test]
    fn without_a_common_version_each_funnel_says_so() {
        let bj = [image("uimage-a", "Ubuntu 24.04", 2)];
        let hk = [image("uimage-c", "Ubuntu 20.04", 3)];
        let agreement = agreement(&query(Selection::Newest), &per_region(&bj, &hk), &ctx());
        assert_eq!(agreement.chosen, None);
        let last = agreement.funnels["hk"].steps.last().cloned();
        assert_eq!(
            last.map(|s| (s.filter, s.kept)),
            Some((AGREE_NO_COMMON_STEP.to_owned(), 0))
        );
        assert_eq!(agreement.lagging(), ["hk"]);
    }

    #[test]
    fn no_common_version_lists_each_regions_versions() {
        let bj = [
            image("uimage-a", "Ubuntu 24.04", 2),
            image("uimage-b", "Ubuntu 22.04", 1),
        ];
        let hk = [image("uimage-c", "Ubuntu 20.04", 3)];
        let err =
            choose_agreed(&query(Selection::Newest), &per_region(&bj, &hk), &ctx()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no image version is offered in every region (`agree: version`); each region's candidate versions:\n  \
             cn-bj2  24.4.0, 22.4.0\n  \
             hk      20.4.0\n\
             wait until the regions catch up, widen the filters, or drop `agree` to let the regions differ"
        );
    }

    #[test]
    fn long_version_lists_are_cut() {
        let bj: Vec<Image> = (0..13)
            .map(|i| image(&format!("uimage-{i}"), &format!("Debian {i}"), i))
            .collect();
        let hk = [image("uimage-x", "Debian 99", 1)];
        let err =
            choose_agreed(&query(Selection::Newest), &per_region(&bj, &hk), &ctx()).unwrap_err();
        assert!(
            err.to_string()
                .contains("12.0.0, 11.0.0, 10.0.0, 9.0.0, 8.0.0, 7.0.0, 6.0.0, 5.0.0, 4.0.0, 3.0.0, … and 3 more"),
            "{err}"
        );
    }

    #[test]
    fn a_region_without_versioned_candidates_fails_with_its_funnel() {
        let bj = [image("uimage-a", "Ubuntu 22.04", 2)];
        let hk = [image("uimage-custom", "my-app", 3)];
        let err =
            choose_agreed(&query(Selection::Newest), &per_region(&bj, &hk), &ctx()).unwrap_err();
        let AgreeError::Regions(failures) = &err else {
            panic!("expected Regions, got {err:?}");
        };
        assert_eq!(failures.keys().collect::<Vec<_>>(), ["hk"]);
        assert_eq!(
            err.to_string(),
            "in hk: no image matches\n1 image in the listing\n  → kept 1  state in [Available]\n  → kept 0  agree version (has a version)   ← emptied the list"
        );
    }

    #[test]
    fn denied_images_cannot_carry_the_agreement() {
        let (bj, hk) = listings();
        let deny: BTreeMap<String, String> =
            [("uimage-hk-2204".to_owned(), "broken".to_owned())].into();
        let picks = choose_agreed(
            &query(Selection::Newest),
            &per_region(&bj, &hk),
            &ctx().with_deny(&deny),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            picked(&picks),
            [("cn-bj2", "uimage-bj-2004"), ("hk", "uimage-hk-2004-b")]
        );
    }

    #[test]
    fn only_with_several_images_of_the_version_is_ambiguous() {
        let (bj, hk) = listings();
        let err =
            choose_agreed(&query(Selection::Only), &per_region(&bj, &hk), &ctx()).unwrap_err();
        let AgreeError::Regions(failures) = err else {
            panic!("expected Regions");
        };
        assert!(matches!(
            failures.get("cn-bj2"),
            Some(SelectError::Ambiguous { count: 2, .. })
        ));
        assert!(!failures.contains_key("hk"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Whatever the listings: every region gets the same version, one each region offers,
        /// and no better version is offered by all; or the error says why.
        #[test]
        fn picks_always_agree_on_the_best_common_version(
            bj in proptest::collection::vec((0u64..4, 0u64..3, 0i64..50, proptest::bool::ANY), 0..8),
            hk in proptest::collection::vec((0u64..4, 0u64..3, 0i64..50, proptest::bool::ANY), 0..8),
            oldest in proptest::bool::ANY,
        ) {
            let listing = |prefix: &str, items: &[(u64, u64, i64, bool)]| -> Vec<Image> {
                items
                    .iter()
                    .enumerate()
                    .map(|(i, (major, minor, time, versioned))| {
                        let name = if *versioned {
                            format!("Ubuntu {}.{}", 20 + major, minor)
                        } else {
                            "custom".to_owned()
                        };
                        image(&format!("uimage-{prefix}{i}"), &name, *time)
                    })
                    .collect()
            };
            let (bj, hk) = (listing("b", &bj), listing("h", &hk));
            let select = if oldest { Selection::Oldest } else { Selection::Newest };
            let q = query(select);
            let regions = per_region(&bj, &hk);
            let versions = |images: &[Image]| -> BTreeSet<Version> {
                images.iter().filter_map(|i| image_version(&i.os_name, &i.image_name)).collect()
            };
            let common: BTreeSet<Version> =
                versions(&bj).intersection(&versions(&hk)).cloned().collect();
            match choose_agreed(&q, &regions, &ctx()) {
                Ok(picks) => {
                    proptest::prop_assert_eq!(picks.len(), 2);
                    let got: BTreeSet<Option<Version>> = picks
                        .values()
                        .map(|i| image_version(&i.os_name, &i.image_name))
                        .collect();
                    let best = if oldest { common.first() } else { common.last() };
                    proptest::prop_assert_eq!(got, BTreeSet::from([best.cloned()]));
                    // Within the version, each region's pick is the best by the rule.
                    for (region, pick) in &picks {
                        let listing = regions[region];
                        let rivals = listing.iter().filter(|i| {
                            image_version(&i.os_name, &i.image_name).as_ref() == best
                        });
                        for rival in rivals {
                            proptest::prop_assert_ne!(
                                super::super::compare(select, rival, pick),
                                std::cmp::Ordering::Less
                            );
                        }
                    }
                }
                Err(AgreeError::NoCommonVersion { .. }) => {
                    proptest::prop_assert!(common.is_empty());
                    proptest::prop_assert!(!versions(&bj).is_empty() && !versions(&hk).is_empty());
                }
                Err(AgreeError::Regions(failures)) => {
                    for region in failures.keys() {
                        proptest::prop_assert!(versions(regions[region]).is_empty());
                    }
                }
            }
        }
    }

    #[test]
    fn a_single_region_or_none() {
        let (bj, _) = listings();
        let one: BTreeMap<String, &[Image]> = [("cn-bj2".to_owned(), bj.as_slice())].into();
        let picks = choose_agreed(&query(Selection::Newest), &one, &ctx())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(picked(&picks), [("cn-bj2", "uimage-bj-2404")]);
        let none = BTreeMap::new();
        assert_eq!(
            choose_agreed(&query(Selection::Newest), &none, &ctx()),
            Ok(BTreeMap::new())
        );
    }
}
