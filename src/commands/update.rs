//! `imagelock update [NAME…] [--region R] [--precise ID] [--allow-downgrade] [--dry-run]`: move
//! pins on purpose, printing `old → new` per pin (text, JSON, or a Markdown report).

use imagelock::ops::update::{UpdateOperation, UpdateRequest, UpdateResult};
use imagelock::ops::{Mode, PinChange};
use imagelock::{Exit, Result};

use super::{Format, Session, change_json, downgrade_note, pin_label, reason_note};
use crate::cli::UpdateArgs;

pub fn run(session: &Session, args: &UpdateArgs) -> Result<Exit> {
    let workspace = session.workspace()?;
    let spec = session.load_spec(&workspace)?;
    let ctx = session.context(&spec)?;
    let mode = if args.dry_run {
        Mode::DryRun
    } else {
        Mode::Write
    };
    let _guard = session.lock_for_writing(&workspace)?;
    let old = workspace.load_lock_or_empty()?;
    let request = UpdateRequest {
        names: args.names.clone(),
        region: args.region.clone(),
        precise: args.precise.clone(),
        allow_downgrade: args.allow_downgrade,
    };
    let operation = UpdateOperation::new(&spec, &old, request)?;
    // When every entry is held there is nothing to ask the API, and no credentials are needed.
    let client = match operation.queries().is_empty() {
        true => None,
        false => Some(session.client()?),
    };
    let result = session.block_on(operation.run(client.as_ref(), &ctx))??;
    let written = match mode {
        Mode::Write => result.lockfile.write(&workspace.lock)?,
        Mode::DryRun => false,
    };
    let exit = if result.refused.is_empty() {
        Exit::Success
    } else {
        Exit::OutOfDate
    };

    if session.args.json {
        session.print_json(&serde_json::json!({
            "lockfile": workspace.lock.display().to_string(),
            "written": written,
            "dry_run": args.dry_run,
            "pins": result.changes.iter().map(change_json).collect::<Vec<_>>(),
            "refused": result.refused.iter().map(change_json).collect::<Vec<_>>(),
            "held": result.held.iter().map(|h| serde_json::json!({"name": h.entry, "reason": h.reason})).collect::<Vec<_>>(),
            "still_stale": result.still_stale,
        }))?;
        return Ok(exit);
    }
    if args.format == Format::Markdown {
        session.out(&super::markdown::report(
            if args.dry_run {
                "imagelock update (dry run)"
            } else {
                "imagelock update"
            },
            &result.changes,
            &result.refused,
            &result.held,
            &[],
            &[],
            &imagelock::ops::Failures::default(),
        ))?;
    } else {
        text(session, &result, written, args.dry_run, &workspace.lock);
    }
    Ok(exit)
}

fn text(
    session: &Session,
    result: &UpdateResult,
    written: bool,
    dry_run: bool,
    lock_path: &std::path::Path,
) {
    for change in &result.changes {
        session.status(line(change));
    }
    super::outdated::held_lines(session, &result.held);
    if !result.refused.is_empty() {
        session.finding(format!(
            "refused {} (the downgrade guard; pass --allow-downgrade to move them anyway):",
            super::count(result.refused.len(), "move", "moves")
        ));
        for change in &result.refused {
            session.finding(format!("  {}", line(change)));
        }
    }
    let moved = result.changes.iter().filter(|c| c.moves()).count();
    let path = lock_path.display();
    if dry_run {
        session.status(format!(
            "Would move {moved} of {} in {path} (dry run: nothing was written)",
            super::count(result.changes.len(), "pin", "pins")
        ));
    } else if written {
        session.status(format!(
            "Moved {moved} of {} in {path}",
            super::count(result.changes.len(), "pin", "pins")
        ));
    } else {
        session.status(format!("{path} is up to date"));
    }
    if !result.still_stale.is_empty() {
        session.warn(format!(
            "the lock is still out of date for {} (not named); run `imagelock lock`",
            result.still_stale.join(", ")
        ));
    }
}

/// `web cn-bj2: uimage-a (Ubuntu 22.04, 2024-05-01) → uimage-b (Ubuntu 22.04, 2025-01-10)`.
fn line(change: &PinChange) -> String {
    let PinChange {
        entry,
        region,
        old,
        new,
        ..
    } = change;
    match (old, new) {
        (Some(old), Some(_)) if !change.moves() => {
            format!("{entry} {region}: {} unchanged", pin_label(old))
        }
        (Some(old), Some(new)) => format!(
            "{entry} {region}: {} → {}{}{}",
            pin_label(old),
            pin_label(new),
            downgrade_note(change),
            reason_note(change)
        ),
        (None, Some(new)) => format!("{entry} {region}: (not pinned) → {}", pin_label(new)),
        (Some(old), None) => format!(
            "{entry} {region}: {} removed (no longer in the spec)",
            pin_label(old)
        ),
        (None, None) => String::new(),
    }
}
