//! Choosing an entry's pins from fetched listings, deciding whether an existing pin still holds,
//! and the typed failures of both.

use std::collections::BTreeMap;
use std::fmt;

use crate::lockfile::{LockedImage, Pin};
use crate::resolve::Fetched;
use semver::Version;

use crate::select::{self, AgreeError, Context, SelectError};
use crate::spec::ImageQuery;
use crate::ucloud::Image;

/// Why one pin (or a whole entry, when `region` is `None`) could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub entry: String,
    pub region: Option<String>,
    pub kind: FailureKind,
    /// What to check, when a further look found a likely cause (a misspelt region).
    pub hint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
    /// The filters left nothing, or `only` found several (exit 4).
    Select(SelectError),
    /// `agree: version` found no version every region offers (exit 4); `region` is `None`.
    Agree(AgreeError),
    /// `--precise` named an image the entry's region does not list (exit 4).
    NotListed { image_id: String },
    /// The listing could not be fetched (exit 5); the message says why.
    Api(String),
}

impl Failure {
    /// Whether this failure is the API's (exit 5) rather than the query's (exit 4).
    pub fn is_api(&self) -> bool {
        matches!(self.kind, FailureKind::Api(_))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.region {
            Some(region) => write!(f, "{} in {region}: ", self.entry)?,
            None => write!(f, "{}: ", self.entry)?,
        }
        match &self.kind {
            FailureKind::Select(error) => write!(f, "{error}"),
            FailureKind::Agree(error) => write!(f, "{error}"),
            FailureKind::NotListed { image_id } => write!(
                f,
                "{image_id} is not in the region's listing (deleted, or not visible to this query)"
            ),
            FailureKind::Api(message) => f.write_str(message),
        }?;
        match &self.hint {
            Some(hint) => write!(f, "\nhint: {hint}"),
            None => Ok(()),
        }
    }
}

/// For every failure whose region's listing was empty, one `Region`-only request (`Limit=1`)
/// decides whether the region has any image at all; when it has none, the region name is likely
/// wrong and the failure says so. We believe UCloud has Base images in every region (unverified),
/// so an empty region is a misspelt one far more often than a real one.
pub async fn add_region_hints(client: &crate::ucloud::Client, failures: &mut [Failure]) {
    let mut checked: BTreeMap<String, bool> = BTreeMap::new();
    for failure in failures.iter_mut() {
        let (Some(region), FailureKind::Select(SelectError::NoMatch { funnel })) =
            (&failure.region, &failure.kind)
        else {
            continue;
        };
        if funnel.total != 0 {
            continue;
        }
        let has_images = match checked.get(region) {
            Some(known) => *known,
            None => {
                // A failed look says nothing either way: no hint.
                let known = client.region_has_images(region).await.unwrap_or(true);
                checked.insert(region.clone(), known);
                known
            }
        };
        if !has_images {
            failure.hint = Some(format!(
                "no images at all in region {region}: is the name right?"
            ));
        }
    }
}

/// How many failures are shown in full; the rest are counted.
pub const FAILURES_SHOWN: usize = 20;

/// Every pin that could not be resolved in one run (exit 4, or 5 when the API failed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failures(pub Vec<Failure>);

impl Failures {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn any_api(&self) -> bool {
        self.0.iter().any(Failure::is_api)
    }
}

impl fmt::Display for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A failure without a region is a whole entry's (`agree: version` found no common one).
        let pins = self.0.iter().filter(|f| f.region.is_some()).count();
        let entries = self.0.len() - pins;
        let mut what = Vec::new();
        if pins > 0 {
            what.push(format!("{pins} {}", if pins == 1 { "pin" } else { "pins" }));
        }
        if entries > 0 {
            what.push(format!(
                "{entries} {}",
                if entries == 1 { "entry" } else { "entries" }
            ));
        }
        write!(
            f,
            "could not resolve {}; nothing was written",
            what.join(" and ")
        )?;
        // Thousands of failing pins (a typo in `defaults`) would bury the terminal; the first
        // ones show the problem, `explain NAME` shows any other.
        for failure in self.0.iter().take(FAILURES_SHOWN) {
            write!(f, "\n\n{failure}")?;
        }
        if self.0.len() > FAILURES_SHOWN {
            write!(
                f,
                "\n\n… and {} more; `imagelock explain NAME` shows any entry's funnel",
                self.0.len() - FAILURES_SHOWN
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Failures {}

/// The listing `query` reads in `region`, or the failure to report for it.
pub fn listing<'f>(
    fetched: &'f Fetched,
    query: &ImageQuery,
    region: &str,
) -> Result<&'f [Image], Failure> {
    match fetched.listing(&query.name, region) {
        Some(Ok(images)) => Ok(images),
        Some(Err(error)) => Err(Failure {
            entry: query.name.clone(),
            region: Some(region.to_string()),
            kind: FailureKind::Api(error.to_string()),
            hint: None,
        }),
        None => Ok(&[]),
    }
}

/// Every listing of the entry, by region (empty for a region whose listing failed).
fn per_region<'f>(query: &ImageQuery, fetched: &'f Fetched) -> BTreeMap<String, &'f [Image]> {
    query
        .regions
        .iter()
        .map(|region| (region.clone(), fetched.images_for(&query.name, region)))
        .collect()
}

/// Chooses one image for each of `regions` of the entry. An `agree: version` entry's version is
/// chosen over all its regions, even when only some of them are picked again.
pub fn choose_regions(
    query: &ImageQuery,
    regions: &[String],
    fetched: &Fetched,
    ctx: &Context,
) -> Result<BTreeMap<String, Image>, Vec<Failure>> {
    let mut picks = BTreeMap::new();
    let mut failures = Vec::new();
    let mut listings = BTreeMap::new();
    for region in regions {
        match listing(fetched, query, region) {
            Ok(images) => {
                listings.insert(region.clone(), images);
            }
            Err(failure) => failures.push(failure),
        }
    }
    if !failures.is_empty() || regions.is_empty() {
        return if failures.is_empty() {
            Ok(picks)
        } else {
            Err(failures)
        };
    }
    let failure = |region: Option<&String>, kind| Failure {
        entry: query.name.clone(),
        region: region.cloned(),
        kind,
        hint: None,
    };
    if query.agree.is_some() {
        return match select::choose_agreed(query, &per_region(query, fetched), ctx) {
            Ok(mut chosen) => {
                chosen.retain(|region, _| regions.contains(region));
                Ok(chosen)
            }
            Err(AgreeError::Regions(errors)) => Err(errors
                .into_iter()
                .map(|(region, error)| failure(Some(&region), FailureKind::Select(error)))
                .collect()),
            Err(error) => Err(vec![failure(None, FailureKind::Agree(error))]),
        };
    }
    for (region, images) in listings {
        match select::choose(query, images, ctx) {
            Ok(image) => {
                picks.insert(region, image.clone());
            }
            Err(error) => failures.push(failure(Some(&region), FailureKind::Select(error))),
        }
    }
    if failures.is_empty() {
        Ok(picks)
    } else {
        Err(failures)
    }
}

/// The version an `agree: version` entry gets today (`None` for other entries, or when no
/// version is common).
pub fn agreed_version(query: &ImageQuery, fetched: &Fetched, ctx: &Context) -> Option<Version> {
    query.agree?;
    select::agreement(query, &per_region(query, fetched), ctx).chosen
}

/// Whether the old pin of a region still answers the entry's changed query, so relocking keeps
/// it (as cargo and uv keep the old lock as preferences): the rule recorded when it was locked
/// (`select`, `agree`) is unchanged, and [`select::still_holds`] says the image still passes.
pub fn keeps(
    query: &ImageQuery,
    old: &LockedImage,
    pin: &Pin,
    images: &[Image],
    ctx: &Context,
    agreed: Option<&Version>,
) -> bool {
    old.select == Some(query.select)
        && old.agree == query.agree
        && select::still_holds(query, images, ctx, pin, agreed)
}
