//! `imagelock check`: does the lockfile satisfy the spec? Never touches the network.

use std::mem::ManuallyDrop;

use imagelock::lockfile::{self, Lockfile, Staleness};
use imagelock::spec::Spec;
use imagelock::{Exit, Result};

use super::{Session, count};

pub fn run(session: &Session) -> Result<Exit> {
    let (spec, _lock, stale) = load_and_compare(session)?;
    let lock_path = session.lock_path();

    if session.args.json {
        session.print_json(&serde_json::json!({
            "lockfile": lock_path.display().to_string(),
            "fresh": stale.is_fresh(),
            "missing": stale.missing,
            "changed": stale.changed,
            "extra": stale.extra,
        }))?;
    } else if stale.is_fresh() {
        session.status(format!(
            "{} satisfies {} ({})",
            lock_path.display(),
            session.spec_path().display(),
            count(spec.images.len(), "entry", "entries")
        ));
    } else {
        // The verdict is the point of `check`, so it is printed even with -q.
        eprintln!(
            "{} is out of date with {}:",
            lock_path.display(),
            session.spec_path().display()
        );
        for name in &stale.missing {
            eprintln!("  missing  {name} (in the spec, not locked)");
        }
        for name in &stale.changed {
            eprintln!("  changed  {name} (its query changed since it was locked)");
        }
        for name in &stale.extra {
            eprintln!("  extra    {name} (locked, no longer in the spec)");
        }
        eprintln!("run `imagelock lock` to update it");
    }
    Ok(if stale.is_fresh() {
        Exit::Success
    } else {
        Exit::OutOfDate
    })
}

/// The spec and the lockfile, read at the same time: on a large project each takes tens of
/// milliseconds, and neither needs the other. `with_spec` runs on the spec's side too, for work
/// that needs only the spec. Both results come back so that callers report a broken spec before
/// a broken lockfile, as reading them in turn would.
pub(super) fn load_both<T>(
    session: &Session,
    with_spec: impl FnOnce(&Spec) -> T,
) -> (Result<(Spec, T)>, Result<Lockfile>) {
    std::thread::scope(|scope| {
        let lock = scope.spawn(|| session.load_lock());
        let spec = session.load_spec().map(|spec| {
            let extra = with_spec(&spec);
            (spec, extra)
        });
        let lock = lock
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (spec, lock)
    })
}

/// Spec, lockfile, and how they differ; the spec's digests are computed while the lockfile is read.
///
/// The read-only commands that call this exit right after, so the two are never freed: returning
/// thousands of small allocations one by one would only delay the exit (8 ms of a 5,000-entry
/// `check`), and the operating system takes the memory back anyway.
pub(super) fn load_and_compare(
    session: &Session,
) -> Result<(ManuallyDrop<Spec>, ManuallyDrop<Lockfile>, Staleness)> {
    let (spec, lock) = load_both(session, lockfile::digests);
    let ((spec, digests), lock) = (spec?, lock?);
    let stale = lock.staleness_against(&spec, &digests);
    Ok((ManuallyDrop::new(spec), ManuallyDrop::new(lock), stale))
}
