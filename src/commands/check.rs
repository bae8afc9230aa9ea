//! `imagelock check`: does the lockfile satisfy the spec? Never touches the network.

use imagelock::lockfile::Lockfile;
use imagelock::spec::Spec;
use imagelock::{Exit, Result};

use super::{Session, count};

pub fn run(session: &Session) -> Result<Exit> {
    let (spec, lock) = load_both(session);
    let (spec, lock) = (spec?, lock?);
    let stale = lock.staleness(&spec);
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
/// milliseconds, and neither needs the other. Both results come back so that callers report a
/// broken spec before a broken lockfile, as reading them in turn would.
pub(super) fn load_both(session: &Session) -> (Result<Spec>, Result<Lockfile>) {
    std::thread::scope(|scope| {
        let lock = scope.spawn(|| session.load_lock());
        let spec = session.load_spec();
        let lock = lock
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (spec, lock)
    })
}
