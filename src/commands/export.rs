//! `imagelock export --format json|env|tfvars-json`: every pin, for other tools. Never touches the
//! network, and refuses (exit 3) a lockfile the spec no longer agrees with.

use imagelock::export::{self, Format};
use imagelock::{Exit, Result};

use super::Session;

pub fn run(session: &Session, format: &str) -> Result<Exit> {
    let format: Format = format.parse()?;
    let (_spec, lock, stale) = super::check::load_and_compare(session)?;
    if !stale.is_fresh() {
        eprintln!(
            "error: {} is out of date with {}; run `imagelock lock` (or `imagelock check` for details)",
            session.lock_path().display(),
            session.spec_path().display()
        );
        for (kind, names) in [
            ("missing", &stale.missing),
            ("changed", &stale.changed),
            ("extra", &stale.extra),
        ] {
            if !names.is_empty() {
                eprintln!("  {kind}: {}", names.join(", "));
            }
        }
        return Ok(Exit::OutOfDate);
    }
    super::print_stdout(&export::render(&lock, format)?)?;
    Ok(Exit::Success)
}
