//! `imagelock check`: does the lockfile satisfy the spec? Never touches the network.

use std::mem::ManuallyDrop;

use imagelock::lockfile::{self, Lockfile, SpecDigests, Staleness};
use imagelock::ops::Workspace;
use imagelock::ops::check::{self, CheckReport};
use imagelock::ops::lookup::LookupError;
use imagelock::spec::Spec;
use imagelock::{Exit, Result};

use super::{Session, count};
use crate::cli::CheckArgs;

pub fn run(session: &Session, args: &CheckArgs) -> Result<Exit> {
    let workspace = session.workspace()?;
    let now = imagelock::select::Context::from_env()?.now;
    let (spec, lock, staleness) = load_and_compare(session, &workspace)?;
    let report = check::check(staleness, &lock, args.eol_within, now);
    if report.eol_unknown > 0 {
        session.warn(format!(
            "{} no end-of-life date (the API gave none); --eol-within cannot judge {}",
            count(report.eol_unknown, "pin records", "pins record"),
            if report.eol_unknown == 1 {
                "it"
            } else {
                "them"
            }
        ));
    }
    if session.args.json {
        render_json(session, &workspace, &report)?;
    } else if report.passes() {
        session.status(format!(
            "{} satisfies {} ({})",
            workspace.lock.display(),
            workspace.spec.display(),
            count(spec.images.len(), "entry", "entries")
        ));
    } else {
        render_text(session, &workspace, &report);
    }
    Ok(if report.passes() {
        Exit::Success
    } else {
        Exit::OutOfDate
    })
}

fn render_json(session: &Session, workspace: &Workspace, report: &CheckReport) -> Result<()> {
    let s = &report.staleness;
    session.print_json(&serde_json::json!({
        "lockfile": workspace.lock.display().to_string(),
        "fresh": report.passes(),
        "missing": s.missing,
        "changed": s.changed,
        "hand_edited": s.hand_edited,
        "denied": s.denied.iter().map(|d| serde_json::json!({
            "name": d.entry, "region": d.region, "image_id": d.image_id, "reason": d.reason,
        })).collect::<Vec<_>>(),
        "extra": s.extra,
        "eol": report.eol.iter().map(|n| serde_json::json!({
            "name": n.entry, "region": n.region, "image_id": n.image_id,
            "maintain_eol": n.eol, "days_left": n.days_left,
        })).collect::<Vec<_>>(),
        "eol_unknown": report.eol_unknown,
    }))
}

fn render_text(session: &Session, workspace: &Workspace, report: &CheckReport) {
    let s = &report.staleness;
    // The verdict is the point of `check`, so it is printed even with -q.
    if !s.is_fresh() {
        session.finding(format!(
            "{} is out of date with {}:",
            workspace.lock.display(),
            workspace.spec.display()
        ));
        for name in &s.missing {
            session.finding(format!("  missing      {name} (in the spec, not locked)"));
        }
        for name in &s.changed {
            session.finding(format!(
                "  changed      {name} (its query changed since it was locked)"
            ));
        }
        for name in &s.hand_edited {
            session.finding(format!(
                "  hand-edited  {name} (its pins were edited by hand since they were locked)"
            ));
        }
        for d in &s.denied {
            session.finding(format!(
                "  denied       {} {}: {} ({})",
                d.entry,
                d.region,
                d.image_id,
                imagelock::text::escape(&d.reason)
            ));
        }
        for name in &s.extra {
            session.finding(format!(
                "  extra        {name} (locked, no longer in the spec)"
            ));
        }
        session.finding("run `imagelock lock` to update it");
    }
    if !report.eol.is_empty() {
        session.finding(format!(
            "{} reach end of life within the horizon:",
            count(report.eol.len(), "pin", "pins")
        ));
        for notice in &report.eol {
            session.finding(format!("  {}", super::outdated::eol_line(notice)));
        }
        session.finding("run `imagelock update NAME` to move them to a supported image");
    }
}

/// The spec and the lockfile (`None` when there is none), read at the same time, the spec's
/// digests computed while the lockfile is read: on a large project each takes tens of
/// milliseconds, and neither needs the other. A broken spec is reported before a broken lockfile,
/// as reading them in turn would.
pub(super) fn load_both(
    session: &Session,
    workspace: &Workspace,
) -> Result<(Spec, SpecDigests, Option<Lockfile>)> {
    let (spec, lock) = std::thread::scope(|scope| {
        let lock = scope.spawn(|| workspace.load_lock());
        let spec = workspace.load_spec().map(|spec| {
            let digests = lockfile::digests(&spec);
            (spec, digests)
        });
        let lock = lock
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (spec, lock)
    });
    let (spec, digests) = spec?;
    session.spec_warnings(&spec);
    Ok((spec, digests, lock?))
}

/// Spec, lockfile (which must exist: a missing one is exit 3 saying so, not "out of date"), and
/// how they differ.
///
/// The read-only commands that call this exit right after, so the two are never freed: returning
/// thousands of small allocations one by one would only delay the exit (8 ms of a 5,000-entry
/// `check`), and the operating system takes the memory back anyway.
pub(super) fn load_and_compare(
    session: &Session,
    workspace: &Workspace,
) -> Result<(ManuallyDrop<Spec>, ManuallyDrop<Lockfile>, Staleness)> {
    let (spec, digests, lock) = load_both(session, workspace)?;
    let lock = lock.ok_or_else(|| LookupError::NoLockfile {
        path: workspace.lock.clone(),
    })?;
    let staleness = lock.staleness_against(&spec, &digests);
    Ok((ManuallyDrop::new(spec), ManuallyDrop::new(lock), staleness))
}
