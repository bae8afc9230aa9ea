//! Selection: apply an entry's filters to a listing and pick one image by its `select` rule.
//!
//! Pure functions over [`Image`]s; the clock comes in through [`Context`] so results are testable.

use jiff::Timestamp;

use crate::spec::{Filters, ImageQuery, Selection};
use crate::ucloud::Image;

/// What the filters need to know about the world.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub now: Timestamp,
}

impl Context {
    pub fn now() -> Self {
        Self {
            now: Timestamp::now(),
        }
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
    NoMatch { funnel: Funnel },
    /// `only` found several candidates; up to 10 of them, ranked as `newest`.
    Ambiguous { count: usize, candidates: Vec<Image> },
}

/// Applies every filter, in SPEC §2's order, recording the funnel.
pub fn filter<'a>(
    _filters: &Filters,
    _images: &'a [Image],
    _ctx: &Context,
) -> (Vec<&'a Image>, Funnel) {
    todo!("select helper")
}

/// Sorts candidates best first by the rule (ties as SPEC §2 says); `highest_version` drops images
/// without a version.
pub fn rank(_selection: Selection, _candidates: &mut Vec<&Image>) {
    todo!("select helper")
}

/// Filters and ranks, returning the pick or why there is none.
pub fn choose<'a>(
    _query: &ImageQuery,
    _images: &'a [Image],
    _ctx: &Context,
) -> Result<&'a Image, SelectError> {
    todo!("select helper")
}
