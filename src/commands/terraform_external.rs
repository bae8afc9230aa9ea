//! `imagelock terraform-external`: a program for Terraform's `external` data source. Reads the
//! query object on stdin (`name`, optional `region`, `spec`, `lock`), prints the pin as a flat JSON
//! object of strings on stdout. Never touches the network and refuses stale, hand-edited and
//! denied pins, so a plan reads exactly what was reviewed.

use std::io::Read;

use imagelock::ops::Workspace;
use imagelock::ops::lookup::{LookupError, lookup};
use imagelock::terraform;
use imagelock::{Error, Exit, Result};

use super::Session;

/// A query is a handful of short strings; anything larger is not one.
const MAX_QUERY_BYTES: u64 = 1 << 20;

pub fn run(session: &Session) -> Result<Exit> {
    let mut input = Vec::new();
    std::io::stdin()
        .take(MAX_QUERY_BYTES + 1)
        .read_to_end(&mut input)
        .map_err(|err| Error::Invalid(format!("cannot read the query from stdin: {err}")))?;
    if input.len() as u64 > MAX_QUERY_BYTES {
        return Err(Error::Invalid(format!(
            "the query on stdin is larger than {} MiB; Terraform sends a small JSON object",
            MAX_QUERY_BYTES >> 20
        )));
    }
    let input = String::from_utf8(input)
        .map_err(|_| Error::Invalid("the query on stdin is not UTF-8".into()))?;
    let query = terraform::parse_query(&input)?;

    // Paths in the query win over the command line; a `spec` alone brings its own lockfile.
    let workspace = match (&query.spec, &query.lock) {
        (None, None) => session.workspace()?,
        (spec, lock) => Workspace::discover(
            spec.as_deref().or(session.args.spec.as_deref()),
            lock.as_deref().or(if spec.is_some() {
                None
            } else {
                session.args.lock.as_deref()
            }),
            &std::env::current_dir().map_err(|err| Error::io("read", ".", err))?,
        )?,
    };
    let spec = session.load_spec(&workspace)?;
    let lock = workspace
        .load_lock()?
        .ok_or_else(|| LookupError::NoLockfile {
            path: workspace.lock.clone(),
        })?;
    let (region, pin) = lookup(&spec, &lock, &query.name, query.region.as_deref())?;
    let text = serde_json::to_string(&terraform::result(region, pin))
        .map_err(|err| Error::Internal(format!("cannot render JSON: {err}")))?;
    session.out(&format!("{text}\n"))?;
    Ok(Exit::Success)
}
