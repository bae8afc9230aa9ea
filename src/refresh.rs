//! Re-resolving what is already pinned: which entries `update NAME…` names, and how a fresh
//! resolution compares with the lockfile's pins (what `update` moved, what `outdated` would move).

use crate::error::Error;
use crate::lockfile::{Lockfile, Pin, Staleness};
use crate::resolve::Picks;
use crate::spec::{ImageQuery, Spec};

/// The spec entries named on the command line, in spec order; all of them when `names` is empty.
///
/// An unknown name is an error (exit 2) with a "did you mean", since moving nothing while the
/// user believes a pin moved is worse than stopping.
pub fn named_entries<'a>(spec: &'a Spec, names: &[String]) -> Result<Vec<&'a ImageQuery>, Error> {
    if names.is_empty() {
        return Ok(spec.images.values().collect());
    }
    let mut problems = Vec::new();
    for name in names {
        if !spec.images.contains_key(name) {
            let hint = match closest(name, spec.images.keys().map(String::as_str)) {
                Some(close) => format!("; did you mean `{close}`?"),
                None => format!(
                    "; entries: {}",
                    spec.images
                        .keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            problems.push(format!(
                "no entry `{name}` in {}{hint}",
                spec.path.display()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems.join("\n")));
    }
    Ok(spec
        .images
        .values()
        .filter(|query| names.contains(&query.name))
        .collect())
}

/// The candidate a typo most likely meant, if any is close enough to be a useful suggestion.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // Same bound as rustc's and cargo's suggestions: a third of the word, at least one edit.
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| (strsim::damerau_levenshtein(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, candidate)| candidate)
}

/// Why a pin would move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The query is unchanged and a different image is chosen today (usually a newer build).
    Newer,
    /// The entry, or this region of it, has no pin yet.
    Missing,
    /// The entry's query changed since it was locked, and today's choice differs.
    QueryChanged,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Newer => "newer",
            Reason::Missing => "missing",
            Reason::QueryChanged => "query_changed",
        }
    }
}

/// One (entry, region): the lockfile's pin and today's choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinDiff {
    pub entry: String,
    pub region: String,
    pub current: Option<Pin>,
    pub latest: Pin,
}

impl PinDiff {
    pub fn moves(&self) -> bool {
        self.current.as_ref().map(|pin| pin.image_id.as_str())
            != Some(self.latest.image_id.as_str())
    }

    /// Why it moves, given how the lock differs from the spec.
    pub fn reason(&self, staleness: &Staleness) -> Reason {
        if self.current.is_none() {
            Reason::Missing
        } else if staleness.changed.contains(&self.entry) {
            Reason::QueryChanged
        } else {
            Reason::Newer
        }
    }
}

/// Every chosen pin next to the lockfile's, sorted by entry then region.
pub fn compare(lock: &Lockfile, picks: &Picks) -> Vec<PinDiff> {
    picks
        .iter()
        .flat_map(|(entry, regions)| {
            regions.iter().map(move |(region, image)| PinDiff {
                entry: entry.clone(),
                region: region.clone(),
                current: lock
                    .images
                    .get(entry)
                    .and_then(|locked| locked.pins.get(region))
                    .cloned(),
                latest: Pin::from(image),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lockfile::LockedImage;
    use crate::spec::{Filters, Selection};
    use crate::ucloud::Image;
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    fn query(name: &str) -> ImageQuery {
        ImageQuery {
            agree: None,
            hold: None,
            name: name.into(),
            regions: vec!["cn-bj2".into()],
            zone: None,
            project_id: None,
            filters: Filters::default(),
            select: Selection::Newest,
        }
    }

    fn spec(names: &[&str]) -> Spec {
        Spec {
            deny: Default::default(),
            warnings: Vec::new(),
            path: PathBuf::from("imagelock.yaml"),
            images: names.iter().map(|n| (n.to_string(), query(n))).collect(),
        }
    }

    #[test]
    fn no_names_means_every_entry() {
        let spec = spec(&["web", "db"]);
        let names: Vec<&str> = named_entries(&spec, &[])
            .unwrap()
            .iter()
            .map(|q| q.name.as_str())
            .collect();
        assert_eq!(names, ["db", "web"]);
    }

    #[test]
    fn unknown_names_suggest_the_closest_entry() {
        let spec = spec(&["web", "gpu-worker"]);
        let err = named_entries(&spec, &["gpu-wroker".into(), "zzzzzz".into()]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("did you mean `gpu-worker`?"), "{text}");
        assert!(text.contains("no entry `zzzzzz`"), "{text}");
        assert!(text.contains("entries: gpu-worker, web"), "{text}");
        assert_eq!(err.exit(), crate::Exit::Invalid);
    }

    #[test]
    fn compare_marks_moves_and_reasons() {
        let image = |id: &str| Image {
            image_id: id.into(),
            ..Image::default()
        };
        let mut picks = Picks::new();
        picks
            .entry("db".into())
            .or_default()
            .insert("cn-bj2".into(), image("uimage-new"));
        picks
            .entry("web".into())
            .or_default()
            .insert("cn-bj2".into(), image("uimage-same"));
        picks
            .entry("api".into())
            .or_default()
            .insert("hk".into(), image("uimage-x"));
        let mut lock = Lockfile::default();
        for (entry, id) in [("db", "uimage-old"), ("web", "uimage-same")] {
            lock.images.insert(
                entry.into(),
                LockedImage {
                    select: None,
                    agree: None,
                    checksum: None,
                    digest: String::new(),
                    pins: BTreeMap::from([("cn-bj2".into(), Pin::from(&image(id)))]),
                },
            );
        }
        let diffs = compare(&lock, &picks);
        let moves: Vec<(&str, bool)> = diffs
            .iter()
            .map(|d| (d.entry.as_str(), d.moves()))
            .collect();
        assert_eq!(moves, [("api", true), ("db", true), ("web", false)]);
        let staleness = Staleness {
            missing: vec!["api".into()],
            changed: vec!["db".into()],
            extra: vec![],
            ..Staleness::default()
        };
        assert_eq!(diffs[0].reason(&staleness), Reason::Missing);
        assert_eq!(diffs[1].reason(&staleness), Reason::QueryChanged);
        assert_eq!(diffs[1].reason(&Staleness::default()), Reason::Newer);
    }
}
