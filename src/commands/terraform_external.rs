//! `imagelock terraform-external`: a program for Terraform's `external` data source. Reads the
//! query object on stdin (`name`, optional `region`, `spec`, `lock`), prints the pin as a flat JSON
//! object of strings on stdout. Never touches the network and refuses stale pins, so a plan reads
//! exactly what was reviewed.

use std::io::Read;

use imagelock::export;
use imagelock::lockfile::Lockfile;
use imagelock::spec;
use imagelock::terraform;
use imagelock::{Error, Exit, Result};

use super::Session;

pub fn run(session: &Session) -> Result<Exit> {
    let mut input = String::new();
    std::io::stdin()
        .take(1 << 20)
        .read_to_string(&mut input)
        .map_err(|err| Error::Invalid(format!("cannot read the query from stdin: {err}")))?;
    let query = terraform::parse_query(&input)?;

    // Paths in the query win over the command line; a `spec` alone brings its own lockfile.
    let spec_path = query
        .spec
        .clone()
        .unwrap_or_else(|| session.spec_path().to_path_buf());
    let lock_path = match (&query.lock, &query.spec) {
        (Some(lock), _) => lock.clone(),
        (None, Some(spec)) => spec.with_file_name("imagelock.lock"),
        (None, None) => session.lock_path(),
    };
    let spec = spec::load(&spec_path)?;
    let lock = Lockfile::load(&lock_path)?.unwrap_or_default();
    match export::lookup(&spec, &lock, &query.name, query.region.as_deref()) {
        Ok((region, pin)) => {
            let text = serde_json::to_string(&terraform::result(region, pin))
                .map_err(|err| Error::Internal(format!("cannot render JSON: {err}")))?;
            super::print_stdout(&format!("{text}\n"))?;
            Ok(Exit::Success)
        }
        Err(err) => {
            eprintln!("error: {err} (in {})", lock_path.display());
            Ok(err.exit())
        }
    }
}
