//! `imagelock lock`: pin entries that are new or whose query changed; keep every other pin.

use imagelock::lockfile::Lockfile;
use imagelock::resolve::{self, Picks};
use imagelock::select::Context;
use imagelock::spec::ImageQuery;
use imagelock::{Exit, Result};

use super::{PinChange, Session, apply_picks, change_json, change_line, count};

pub fn run(session: &Session) -> Result<Exit> {
    let spec = session.load_spec()?;
    let lock_path = session.lock_path();
    let _guard = session.lock_for_writing()?;
    let old = session.load_lock()?;
    let stale = old.staleness(&spec);

    let wanted: Vec<&ImageQuery> = stale
        .missing
        .iter()
        .chain(&stale.changed)
        .filter_map(|name| spec.images.get(name))
        .collect();
    // Like cargo: an up-to-date lock needs no credentials and makes no request.
    let picks = if wanted.is_empty() {
        Picks::new()
    } else {
        let client = session.client()?;
        session.block_on(resolve::resolve(
            &client,
            &wanted,
            &Context::from_env()?.with_deny(&spec.deny),
        ))??
    };

    let mut new = old.clone();
    for name in &stale.extra {
        new.images.remove(name);
    }
    let changes = apply_picks(&mut new, &spec, picks);
    let written = new.write(&lock_path)?;

    report(session, &lock_path, &old, &changes, &stale.extra, written)?;
    Ok(Exit::Success)
}

fn report(
    session: &Session,
    lock_path: &std::path::Path,
    old: &Lockfile,
    changes: &[PinChange],
    removed: &[String],
    written: bool,
) -> Result<()> {
    if session.args.json {
        return session.print_json(&serde_json::json!({
            "lockfile": lock_path.display().to_string(),
            "written": written,
            "added": changes.iter().filter(|c| c.old.is_none()).map(change_json).collect::<Vec<_>>(),
            "changed": changes.iter().filter(|c| c.old.is_some()).map(change_json).collect::<Vec<_>>(),
            "removed": removed,
        }));
    }
    for change in changes {
        session.status(change_line(change));
    }
    for name in removed {
        let regions = old
            .images
            .get(name)
            .map(|entry| entry.pins.keys().cloned().collect::<Vec<_>>().join(", "))
            .unwrap_or_default();
        session.status(format!("  removed  {name} ({regions})"));
    }
    let path = lock_path.display();
    if written {
        let entries: std::collections::BTreeSet<&str> =
            changes.iter().map(|c| c.entry.as_str()).collect();
        session.status(format!(
            "Locked {} ({} removed) in {path}",
            count(entries.len(), "entry", "entries"),
            removed.len()
        ));
    } else {
        session.status(format!("{path} is up to date"));
    }
    Ok(())
}
