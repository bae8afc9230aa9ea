//! `imagelock check`: does the lockfile satisfy the spec? Never touches the network.

use imagelock::{Exit, Result};

use super::{Session, count};

pub fn run(session: &Session) -> Result<Exit> {
    let spec = session.load_spec()?;
    let lock = session.load_lock()?;
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
