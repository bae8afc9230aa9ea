//! Explaining one entry's choice in one region: the filter funnel, every candidate ranked by the
//! entry's `select` rule, today's pick, and where the lockfile's pin stands among them, so a
//! user can see why a query matches nothing, or why the pin differs from what they expected.

use std::collections::BTreeMap;

use super::check::{EolNotice, eol_notice};
use super::lock::pin_of;
use super::outdated::{Cooling, cooling_above};
use crate::lockfile::Pin;
use crate::select::{self, AgreeError, Context, Funnel, SelectError, VersionAgreement};
use crate::spec::ImageQuery;
use crate::ucloud::Image;

/// Where the lockfile's pin stands in today's listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinStanding {
    /// No pin for this entry and region.
    Unpinned,
    /// Among the candidates, at this 0-based rank.
    Candidate(usize),
    /// In the listing, but the filters drop it now (e.g. it became Unavailable).
    FilteredOut { state: String },
    /// Not in the listing at all (deleted, or not visible to this query).
    NotListed,
}

#[derive(Debug, Clone)]
pub struct Explanation {
    pub region: String,
    pub funnel: Funnel,
    /// Every candidate, best first.
    pub ranked: Vec<Image>,
    /// Today's pick, or why there is none.
    pub pick: Result<String, SelectError>,
    pub pinned: Option<Pin>,
    pub standing: PinStanding,
    /// Builds that rank above the pin but have not soaked for `min_age` yet.
    pub cooling: Vec<Cooling>,
    /// The pinned image's end of life, from today's listing or the lockfile.
    pub eol: Option<EolNotice>,
}

/// Filters, ranks and picks the way `lock` does, keeping everything `lock` throws away.
pub fn explain(
    query: &ImageQuery,
    region: &str,
    images: &[Image],
    ctx: &Context,
    pinned: Option<&Pin>,
) -> Explanation {
    let (candidates, funnel) = select::candidates(query, images, ctx);
    let pick =
        select::decide(query, &candidates, funnel.clone()).map(|image| image.image_id.clone());
    let standing = standing(pinned, &candidates, images);
    let (cooling, eol) = notes(query, region, images, ctx, pinned, &pick);
    Explanation {
        region: region.to_string(),
        funnel,
        ranked: candidates.into_iter().cloned().collect(),
        pick,
        pinned: pinned.cloned(),
        standing,
        cooling,
        eol,
    }
}

/// Builds that would rank above the pin (or today's pick) but are still cooling down, and the
/// pinned image's end of life (today's listing, else the lockfile's record).
fn notes(
    query: &ImageQuery,
    region: &str,
    images: &[Image],
    ctx: &Context,
    pinned: Option<&Pin>,
    pick: &Result<String, SelectError>,
) -> (Vec<Cooling>, Option<EolNotice>) {
    let picked = pick
        .as_ref()
        .ok()
        .and_then(|id| images.iter().find(|i| &i.image_id == id))
        .map(|image| pin_of(image, None));
    let cooling = match pinned.or(picked.as_ref()) {
        Some(reference) => cooling_above(query, region, images, reference, ctx),
        None => Vec::new(),
    };
    let eol = pinned.and_then(|pin| {
        let today = images
            .iter()
            .find(|i| i.image_id == pin.image_id)
            .map_or_else(|| pin.clone(), |i| pin_of(i, pin.project_id.clone()));
        eol_notice(&query.name, region, &today, ctx.now)
    });
    (cooling, eol)
}

/// `explain` for an `agree: version` entry, whose regions are chosen together: each region is
/// explained against the version agreed across all of `per_region` (every region of the entry,
/// even when only one is shown), and the agreement says which region holds the entry back.
pub fn explain_agreed(
    query: &ImageQuery,
    per_region: &BTreeMap<String, &[Image]>,
    ctx: &Context,
    pins: Option<&BTreeMap<String, Pin>>,
) -> (VersionAgreement, Vec<Explanation>) {
    let agreement = select::agreement(query, per_region, ctx);
    let picks = select::choose_agreed(query, per_region, ctx);
    let explanations = per_region
        .iter()
        .map(|(region, images)| {
            let funnel = agreement.funnels.get(region).cloned().unwrap_or(Funnel {
                total: images.len(),
                steps: Vec::new(),
            });
            let ranked = select::agreed_candidates(query, images, ctx, agreement.chosen.as_ref());
            let pick = match &picks {
                Ok(chosen) => chosen
                    .get(region)
                    .map(|image| image.image_id.clone())
                    .ok_or_else(|| SelectError::NoMatch {
                        funnel: funnel.clone(),
                    }),
                Err(AgreeError::Regions(failures)) => Err(failures
                    .get(region)
                    .cloned()
                    // Another region failed; this one would agree on nothing without it.
                    .unwrap_or_else(|| SelectError::NoMatch {
                        funnel: funnel.clone(),
                    })),
                Err(AgreeError::NoCommonVersion { .. }) => Err(SelectError::NoMatch {
                    funnel: funnel.clone(),
                }),
            };
            let pinned = pins.and_then(|pins| pins.get(region));
            let standing = standing(pinned, &ranked, images);
            let (cooling, eol) = notes(query, region, images, ctx, pinned, &pick);
            Explanation {
                region: region.clone(),
                funnel,
                ranked: ranked.into_iter().cloned().collect(),
                pick,
                pinned: pinned.cloned(),
                standing,
                cooling,
                eol,
            }
        })
        .collect();
    (agreement, explanations)
}

fn standing(pinned: Option<&Pin>, candidates: &[&Image], images: &[Image]) -> PinStanding {
    match pinned {
        None => PinStanding::Unpinned,
        Some(pin) => match candidates.iter().position(|c| c.image_id == pin.image_id) {
            Some(rank) => PinStanding::Candidate(rank),
            None => match images.iter().find(|i| i.image_id == pin.image_id) {
                Some(image) => PinStanding::FilteredOut {
                    state: image.state.clone(),
                },
                None => PinStanding::NotListed,
            },
        },
    }
}

impl Explanation {
    pub fn is_pick(&self, image: &Image) -> bool {
        self.pick.as_deref().ok() == Some(image.image_id.as_str())
    }

    pub fn is_pinned(&self, image: &Image) -> bool {
        self.pinned.as_ref().map(|p| p.image_id.as_str()) == Some(image.image_id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::HAS_VERSION_STEP;
    use crate::select::test_support::image;
    use crate::spec::{Filters, Selection};

    fn query(select: Selection) -> ImageQuery {
        ImageQuery {
            agree: None,
            hold: None,
            name: "web".into(),
            regions: vec!["cn-bj2".into()],
            zone: None,
            project_id: None,
            filters: Filters::default(),
            select,
        }
    }

    fn ctx() -> Context {
        Context::at("2025-06-01T00:00:00Z".parse().unwrap())
    }

    #[test]
    fn ranks_marks_the_pick_and_finds_the_pin() {
        let mut gone = image("uimage-c", "Ubuntu 22.04", 5);
        gone.state = "Unavailable".into();
        let images = [
            image("uimage-a", "Ubuntu 22.04", 10),
            image("uimage-b", "Ubuntu 22.04", 20),
            gone.clone(),
        ];
        let pin_a = Pin::from(&images[0]);
        let e = explain(
            &query(Selection::Newest),
            "cn-bj2",
            &images,
            &ctx(),
            Some(&pin_a),
        );
        let ids: Vec<&str> = e.ranked.iter().map(|i| i.image_id.as_str()).collect();
        assert_eq!(ids, ["uimage-b", "uimage-a"]);
        assert_eq!(e.pick.as_deref().ok(), Some("uimage-b"));
        assert_eq!(e.standing, PinStanding::Candidate(1));
        assert!(e.is_pick(&e.ranked[0]) && e.is_pinned(&e.ranked[1]));

        let e = explain(
            &query(Selection::Newest),
            "cn-bj2",
            &images,
            &ctx(),
            Some(&Pin::from(&gone)),
        );
        assert_eq!(
            e.standing,
            PinStanding::FilteredOut {
                state: "Unavailable".into()
            }
        );
        let e = explain(
            &query(Selection::Newest),
            "cn-bj2",
            &images[..2],
            &ctx(),
            Some(&Pin::from(&gone)),
        );
        assert_eq!(e.standing, PinStanding::NotListed);
    }

    #[test]
    fn only_with_several_has_candidates_but_no_pick() {
        let images = [
            image("uimage-a", "Ubuntu 22.04", 10),
            image("uimage-b", "Ubuntu 22.04", 20),
        ];
        let e = explain(&query(Selection::Only), "cn-bj2", &images, &ctx(), None);
        assert_eq!(e.ranked.len(), 2);
        assert!(matches!(
            e.pick,
            Err(SelectError::Ambiguous { count: 2, .. })
        ));
        assert_eq!(e.standing, PinStanding::Unpinned);
    }

    #[test]
    fn agreed_entries_are_explained_against_the_common_version() {
        let bj = [
            image("uimage-bj-2404", "Ubuntu 24.04", 30),
            image("uimage-bj-2204", "Ubuntu 22.04", 20),
        ];
        let hk = [image("uimage-hk-2204", "Ubuntu 22.04", 25)];
        let per_region: BTreeMap<String, &[Image]> =
            [("cn-bj2".to_owned(), &bj[..]), ("hk".to_owned(), &hk[..])].into();
        let mut q = query(Selection::Newest);
        q.regions = vec!["cn-bj2".into(), "hk".into()];
        q.agree = Some(crate::spec::Agreement::Version);
        let pins: BTreeMap<String, Pin> = [("cn-bj2".to_owned(), Pin::from(&bj[0]))].into();
        let (agreement, explained) = explain_agreed(&q, &per_region, &ctx(), Some(&pins));
        assert_eq!(agreement.lagging(), ["hk"]);
        let bj2 = &explained[0];
        assert_eq!(bj2.pick.as_deref().ok(), Some("uimage-bj-2204"));
        let ranked: Vec<&str> = bj2.ranked.iter().map(|i| i.image_id.as_str()).collect();
        assert_eq!(ranked, ["uimage-bj-2204"]);
        // Pinned on 24.04 before `agree` was added: listed, but not a candidate of the agreement.
        assert_eq!(
            bj2.standing,
            PinStanding::FilteredOut {
                state: "Available".into()
            }
        );
        assert_eq!(
            bj2.funnel.steps.last().map(|s| s.filter.as_str()),
            Some("agree version = 22.4.0")
        );
        assert_eq!(explained[1].pick.as_deref().ok(), Some("uimage-hk-2204"));
    }

    #[test]
    fn highest_version_funnel_shows_the_version_step() {
        let images = [image("uimage-a", "mine", 10)];
        let e = explain(
            &query(Selection::HighestVersion),
            "cn-bj2",
            &images,
            &ctx(),
            None,
        );
        assert_eq!(
            e.funnel.steps.last().map(|s| s.filter.as_str()),
            Some(HAS_VERSION_STEP)
        );
        assert!(e.ranked.is_empty());
        assert!(matches!(e.pick, Err(SelectError::NoMatch { .. })));
    }
}
