//! Selection: apply an entry's filters to a listing and pick one image by its `select` rule.
//!
//! Pure functions over [`Image`]s; the clock and the spec's `deny` list come in through
//! [`Context`] so results are testable. [`filter`] lives in `filter.rs`, [`rank`] in `rank.rs`,
//! `agree: version` across regions in `agree.rs`, builds still cooling under `min_age` in
//! `cooling.rs`, whether a pin survives relocking in `keep.rs`, and the human-readable reports
//! of the funnel and of failures in `report.rs`.

mod agree;
mod cooling;
mod filter;
mod keep;
mod rank;
mod report;

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;

use crate::spec::{ImageQuery, Selection};
use crate::ucloud::Image;

pub use agree::{
    AGREE_HAS_VERSION_STEP, AGREE_NO_COMMON_STEP, AgreeError, VersionAgreement, agreed_candidates,
    agreed_step, agreement, choose_agreed,
};
pub use cooling::{Cooling, cooling};
pub use filter::filter;
pub use keep::still_holds;
pub use rank::{compare, rank};
pub use report::created_date;

/// At most this many candidates are listed when `only` finds several.
pub const AMBIGUOUS_LISTED: usize = 10;

/// What the filters need to know beyond an entry's query: the time (read once per run) and the
/// spec's `deny` list, which applies to every entry.
#[derive(Debug, Clone)]
pub struct Context {
    pub now: Timestamp,
    /// The spec's `deny`: ImageId → reason. Denied images are never candidates.
    pub deny: Arc<BTreeMap<String, String>>,
}

impl Context {
    /// The clock's time now, nothing denied.
    pub fn now() -> Self {
        Self::at(Timestamp::now())
    }

    /// The run's clock: `IMAGELOCK_NOW` (RFC 3339) when set, so tests and reproductions are
    /// deterministic, else the clock's time now; nothing denied. Read it once per run. A value
    /// that is not an RFC 3339 time is invalid usage (exit 2) naming the variable.
    pub fn from_env() -> Result<Self, crate::Error> {
        Self::from_override(std::env::var("IMAGELOCK_NOW").ok().as_deref())
    }

    fn from_override(value: Option<&str>) -> Result<Self, crate::Error> {
        let Some(text) = value else {
            return Ok(Self::now());
        };
        // Only full RFC 3339 times with an offset: a bare date would be ambiguous about the zone.
        match text.trim().parse::<Timestamp>() {
            Ok(now) if text.trim().len() >= 20 => Ok(Self::at(now)),
            _ => Err(crate::Error::Invalid(format!(
                "IMAGELOCK_NOW must be an RFC 3339 time such as 2025-06-01T12:00:00Z, found {text:?}"
            ))),
        }
    }

    /// A fixed time, nothing denied.
    pub fn at(now: Timestamp) -> Self {
        Self {
            now,
            deny: Arc::default(),
        }
    }

    /// The same context denying the spec's `deny` list (`spec.deny`).
    pub fn with_deny(mut self, deny: &BTreeMap<String, String>) -> Self {
        self.deny = Arc::new(deny.clone());
        self
    }

    /// The reason `image_id` is denied, if it is.
    pub fn denied(&self, image_id: &str) -> Option<&str> {
        self.deny.get(image_id).map(String::as_str)
    }
}

/// How many images each filter kept, in order, so the user sees which one emptied the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funnel {
    pub total: usize,
    pub steps: Vec<FunnelStep>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunnelStep {
    /// The filter as the user wrote it, e.g. `os_type = Linux`, `name ~ ^Ubuntu`.
    pub filter: String,
    pub kept: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    NoMatch {
        funnel: Funnel,
    },
    /// `only` found several candidates; up to 10 of them, ranked as `newest`.
    Ambiguous {
        count: usize,
        candidates: Vec<Image>,
    },
}

impl std::error::Error for SelectError {}

/// The funnel step `choose` adds for `highest_version`, which drops images without a version.
pub(crate) const HAS_VERSION_STEP: &str = "select highest_version (has a version)";

/// Filters and ranks, returning the pick or why there is none.
pub fn choose<'a>(
    query: &ImageQuery,
    images: &'a [Image],
    ctx: &Context,
) -> Result<&'a Image, SelectError> {
    let (candidates, funnel) = candidates(query, images, ctx);
    decide(query, &candidates, funnel)
}

/// The images that pass the entry's filters, best first by its `select` rule, and the funnel
/// that led there (with the step `highest_version` adds by dropping versionless images).
pub fn candidates<'a>(
    query: &ImageQuery,
    images: &'a [Image],
    ctx: &Context,
) -> (Vec<&'a Image>, Funnel) {
    let (mut candidates, mut funnel) = filter(&query.filters, images, ctx);
    rank(query.select, &mut candidates);
    if query.select == Selection::HighestVersion {
        // Ranking silently drops versionless images; show that in the funnel so an empty result
        // is explained.
        funnel.steps.push(FunnelStep {
            filter: HAS_VERSION_STEP.to_string(),
            kept: candidates.len(),
        });
    }
    (candidates, funnel)
}

/// The pick among ranked candidates: the first, unless there is none, or `only` finds several.
pub fn decide<'a>(
    query: &ImageQuery,
    candidates: &[&'a Image],
    funnel: Funnel,
) -> Result<&'a Image, SelectError> {
    match candidates {
        [] => Err(SelectError::NoMatch { funnel }),
        [only] => Ok(only),
        [first, ..] if query.select != Selection::Only => Ok(first),
        several => Err(SelectError::Ambiguous {
            count: several.len(),
            candidates: several
                .iter()
                .take(AMBIGUOUS_LISTED)
                .map(|image| (*image).clone())
                .collect(),
        }),
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::ucloud::Image;

    /// An Available Linux Base image with the given id, name and CreateTime.
    pub fn image(id: &str, name: &str, create_time: i64) -> Image {
        Image {
            image_id: id.to_string(),
            image_name: name.to_string(),
            os_name: name.to_string(),
            os_type: "Linux".to_string(),
            image_type: "Base".to_string(),
            func_type: "uhost".to_string(),
            state: "Available".to_string(),
            create_time,
            ..Image::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::image;
    use super::*;
    use crate::spec::{Filters, OsType, Pattern};

    fn query(select: Selection, filters: Filters) -> ImageQuery {
        ImageQuery {
            agree: None,
            hold: None,
            name: "web".into(),
            regions: vec!["cn-bj2".into()],
            zone: None,
            project_id: None,
            filters,
            select,
        }
    }

    fn ctx() -> Context {
        Context::at("2025-06-01T00:00:00Z".parse().unwrap())
    }

    #[test]
    fn imagelock_now_overrides_the_clock() {
        let ctx = Context::from_override(Some("2025-06-01T12:00:00+08:00")).unwrap();
        assert_eq!(ctx.now.to_string(), "2025-06-01T04:00:00Z");
        assert!(ctx.deny.is_empty());
        let before = Timestamp::now();
        let clock = Context::from_override(None).unwrap();
        assert!(clock.now >= before);
        for bad in ["yesterday", "2025-06-01", "2025-06-01T12:00:00", ""] {
            let err = Context::from_override(Some(bad)).unwrap_err();
            assert_eq!(err.exit(), crate::Exit::Invalid);
            assert!(
                err.to_string().starts_with("IMAGELOCK_NOW must be"),
                "{err}"
            );
        }
    }

    #[test]
    fn picks_newest_by_default() {
        let images = [
            image("uimage-a", "Ubuntu 20.04", 10),
            image("uimage-b", "Ubuntu 22.04", 20),
        ];
        let pick = choose(
            &query(Selection::Newest, Filters::default()),
            &images,
            &ctx(),
        )
        .unwrap();
        assert_eq!(pick.image_id, "uimage-b");
    }

    #[test]
    fn no_match_carries_the_funnel() {
        let images = [image("uimage-a", "Ubuntu 20.04", 10)];
        let filters = Filters {
            os_type: Some(OsType::Windows),
            ..Filters::default()
        };
        let err = choose(&query(Selection::Newest, filters), &images, &ctx()).unwrap_err();
        let SelectError::NoMatch { funnel } = err else {
            panic!("expected NoMatch, got {err:?}");
        };
        assert_eq!(funnel.total, 1);
        assert_eq!(funnel.steps[0].filter, "os_type = Windows");
        assert_eq!(funnel.steps[0].kept, 0);
    }

    #[test]
    fn highest_version_without_versions_is_no_match_with_a_step() {
        let images = [
            image("uimage-a", "Custom", 10),
            image("uimage-b", "mine", 20),
        ];
        let err = choose(
            &query(Selection::HighestVersion, Filters::default()),
            &images,
            &ctx(),
        )
        .unwrap_err();
        let SelectError::NoMatch { funnel } = err else {
            panic!("expected NoMatch, got {err:?}");
        };
        let last = funnel.steps.last().unwrap();
        assert_eq!(last.filter, HAS_VERSION_STEP);
        assert_eq!(last.kept, 0);
        assert_eq!(funnel.steps[last_index(&funnel) - 1].kept, 2);
    }

    fn last_index(funnel: &Funnel) -> usize {
        funnel.steps.len() - 1
    }

    #[test]
    fn only_with_one_candidate_picks_it() {
        let images = [
            image("uimage-a", "Ubuntu 20.04", 10),
            image("uimage-b", "Debian 12", 20),
        ];
        let filters = Filters {
            name: Some(Pattern {
                source: "Debian".into(),
                regex: std::sync::Arc::new(regex::Regex::new("Debian").unwrap()),
            }),
            ..Filters::default()
        };
        let pick = choose(&query(Selection::Only, filters), &images, &ctx()).unwrap();
        assert_eq!(pick.image_id, "uimage-b");
    }

    #[test]
    fn only_with_several_lists_at_most_ten_ranked_newest() {
        let images: Vec<Image> = (0..13)
            .map(|i| image(&format!("uimage-{i:02}"), "Ubuntu 22.04", 100 + i))
            .collect();
        let err = choose(&query(Selection::Only, Filters::default()), &images, &ctx()).unwrap_err();
        let SelectError::Ambiguous { count, candidates } = err else {
            panic!("expected Ambiguous, got {err:?}");
        };
        assert_eq!(count, 13);
        assert_eq!(candidates.len(), AMBIGUOUS_LISTED);
        assert_eq!(candidates[0].image_id, "uimage-12");
        assert_eq!(candidates[9].image_id, "uimage-03");
    }

    #[test]
    fn only_with_zero_is_no_match() {
        let err = choose(&query(Selection::Only, Filters::default()), &[], &ctx()).unwrap_err();
        assert!(matches!(err, SelectError::NoMatch { ref funnel } if funnel.total == 0));
    }
}
