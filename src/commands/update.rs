//! `imagelock update [NAME…]`: re-resolve the named entries (all when none) and move their pins.
//!
//! Like `cargo update -p`: a named entry is re-resolved against its current query, so afterwards
//! its pins are the newest choice *and* its digest matches the spec. Entries not named keep their
//! bytes, even when they are missing from the lock or stale; bringing those in is `lock`'s job.
//! With no names every spec entry is re-resolved and entries no longer in the spec are dropped,
//! so the result is the lock a fresh `lock` would write today.

use imagelock::refresh::{self, PinDiff};
use imagelock::resolve;
use imagelock::select::Context;
use imagelock::{Exit, Result};

use super::{Session, apply_picks, pin_label, pin_value};

pub fn run(session: &Session, names: &[String]) -> Result<Exit> {
    let spec = session.load_spec()?;
    let lock_path = session.lock_path();
    let _guard = session.lock_for_writing()?;
    let old = session.load_lock()?;
    let wanted = refresh::named_entries(&spec, names)?;

    let client = session.client()?;
    let picks = session.block_on(resolve::resolve(
        &client,
        &wanted,
        &Context::from_env()?.with_deny(&spec.deny),
    ))??;
    let diffs = refresh::compare(&old, &picks);

    let mut new = old.clone();
    let mut removed = Vec::new();
    if names.is_empty() {
        removed = old.staleness(&spec).extra;
        for name in &removed {
            new.images.remove(name);
        }
    }
    apply_picks(&mut new, &spec, picks);
    let written = new.write(&lock_path)?;

    let still_stale = new.staleness(&spec);
    if session.args.json {
        session.print_json(&serde_json::json!({
            "lockfile": lock_path.display().to_string(),
            "written": written,
            "pins": diffs.iter().map(|diff| serde_json::json!({
                "name": diff.entry,
                "region": diff.region,
                "old": diff.current.as_ref().map(pin_value),
                "new": pin_value(&diff.latest),
                "moved": diff.moves(),
            })).collect::<Vec<_>>(),
            "removed": removed,
        }))?;
        return Ok(Exit::Success);
    }
    for diff in &diffs {
        session.status(line(diff));
    }
    for name in &removed {
        session.status(format!("{name}: removed (no longer in the spec)"));
    }
    let moved = diffs.iter().filter(|d| d.moves()).count();
    if written {
        session.status(format!(
            "Moved {moved} of {} {} in {}",
            diffs.len(),
            if diffs.len() == 1 { "pin" } else { "pins" },
            lock_path.display()
        ));
    } else {
        session.status(format!("{} is up to date", lock_path.display()));
    }
    if !still_stale.is_fresh() {
        let mut pending: Vec<&str> = still_stale
            .missing
            .iter()
            .chain(&still_stale.changed)
            .chain(&still_stale.extra)
            .map(String::as_str)
            .collect();
        pending.sort();
        session.warn(format!(
            "the lock is still out of date for {} (not named); run `imagelock lock`",
            pending.join(", ")
        ));
    }
    Ok(Exit::Success)
}

/// `web cn-bj2: uimage-a (Ubuntu 22.04, 2024-05-01) → uimage-b (Ubuntu 22.04, 2025-01-10)`.
fn line(diff: &PinDiff) -> String {
    let PinDiff {
        entry,
        region,
        current,
        latest,
    } = diff;
    match current {
        Some(current) if !diff.moves() => {
            format!("{entry} {region}: {} unchanged", pin_label(current))
        }
        Some(current) => format!(
            "{entry} {region}: {} → {}",
            pin_label(current),
            pin_label(latest)
        ),
        None => format!("{entry} {region}: (not pinned) → {}", pin_label(latest)),
    }
}
