//! `imagelock lock`: pin entries that are new, changed or edited by hand; keep every other pin.

use imagelock::ops::lock::LockOperation;
use imagelock::ops::{PinChange, Reason};
use imagelock::{Exit, Result};

use super::{Session, change_json, count, pin_label, reason_note};

pub fn run(session: &Session) -> Result<Exit> {
    let workspace = session.workspace()?;
    let spec = session.load_spec(&workspace)?;
    let ctx = session.context(&spec)?;
    let _guard = session.lock_for_writing(&workspace)?;
    let old = workspace.load_lock_or_empty()?;
    let operation = LockOperation::new(&spec, &old);
    // Like cargo: an up-to-date lock needs no credentials and makes no request.
    let client = match operation.to_resolve().is_empty() {
        true => None,
        false => Some(session.client()?),
    };
    let result = session.block_on(operation.run(client.as_ref(), &ctx))??;
    let written = result.lockfile.write(&workspace.lock)?;

    let changes = &result.changes;
    let path = workspace.lock.display();
    if session.args.json {
        let of = |wanted: fn(&PinChange) -> bool| -> Vec<serde_json::Value> {
            changes
                .iter()
                .filter(|c| wanted(c))
                .map(change_json)
                .collect()
        };
        session.print_json(&serde_json::json!({
            "lockfile": path.to_string(),
            "written": written,
            "added": of(|c| c.old.is_none()),
            "changed": of(|c| c.old.is_some() && c.new.is_some() && c.moves()),
            "kept": of(|c| c.old.is_some() && c.new.is_some() && !c.moves()),
            "removed": of(|c| c.new.is_none()),
        }))?;
        return Ok(Exit::Success);
    }
    for change in changes {
        session.status(line(change));
    }
    if written {
        let entries: std::collections::BTreeSet<&str> = changes
            .iter()
            .filter(|c| c.new.is_some())
            .map(|c| c.entry.as_str())
            .collect();
        let removed = changes.iter().filter(|c| c.new.is_none()).count();
        session.status(format!(
            "Locked {} ({} removed) in {path}",
            count(entries.len(), "entry", "entries"),
            count(removed, "pin", "pins")
        ));
    } else {
        session.status(format!("{path} is up to date"));
    }
    Ok(Exit::Success)
}

/// `  added    web cn-bj2: uimage-… (…)` / `  changed  web hk: old → new  [query changed]`.
fn line(change: &PinChange) -> String {
    let PinChange {
        entry,
        region,
        old,
        new,
        ..
    } = change;
    match (old, new) {
        (None, Some(new)) => format!("  added    {entry} {region}: {}", pin_label(new)),
        (Some(old), None) => format!("  removed  {entry} {region}: {}", pin_label(old)),
        (Some(old), Some(new)) if !change.moves() => format!(
            "  kept     {entry} {region}: {} (still matches the changed query)",
            pin_label(if change.reason == Reason::QueryChanged {
                new
            } else {
                old
            })
        ),
        (Some(old), Some(new)) => format!(
            "  changed  {entry} {region}: {} → {}{}",
            pin_label(old),
            pin_label(new),
            reason_note(change)
        ),
        (None, None) => String::new(),
    }
}
