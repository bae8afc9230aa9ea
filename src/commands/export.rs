//! `imagelock export --format json|env|tfvars-json`: every pin, for other tools. Never touches the
//! network, and refuses (exit 3) a lockfile that is missing, behind its spec, edited by hand or
//! pinning a denied image.

use imagelock::export::{self, Format};
use imagelock::ops::lookup;
use imagelock::{Exit, Result};

use super::Session;

pub fn run(session: &Session, format: &str) -> Result<Exit> {
    let format: Format = format.parse()?;
    let workspace = session.workspace()?;
    let (_spec, lock, stale) = super::check::load_and_compare(session, &workspace)?;
    let mut problems: Vec<String> = match lookup::trusted(&stale) {
        Ok(()) => Vec::new(),
        Err(problems) => problems.iter().map(ToString::to_string).collect(),
    };
    problems.extend(
        stale.extra.iter().map(|name| {
            format!("`{name}` is locked but no longer in the spec; run `imagelock lock`")
        }),
    );
    if !problems.is_empty() {
        session.finding(format!(
            "error: {} cannot be exported; run `imagelock lock` (or `imagelock check` for details):",
            workspace.lock.display()
        ));
        for problem in &problems {
            session.finding(format!("  {problem}"));
        }
        return Ok(Exit::OutOfDate);
    }
    session.out(&export::render(&lock, format)?)?;
    Ok(Exit::Success)
}
