//! `imagelock merge-driver BASE OURS THEIRS`: git's merge driver for the lockfile
//! (docs/merge-driver.md). Reads the three lockfiles only (no spec, no network), writes the merge
//! into OURS, lists on stderr what it left out for `imagelock lock` to pin again, and exits 0.
//! A file it cannot read is a non-zero exit, so git reports an ordinary conflict.

use std::path::Path;

use imagelock::lockfile::merge::merge;
use imagelock::lockfile::{Lockfile, MAX_LOCKFILE_BYTES, read_capped};
use imagelock::{Error, Exit, Result};

use super::Session;

pub fn run(session: &Session, base: &Path, ours: &Path, theirs: &Path) -> Result<Exit> {
    let base_lock = if is_empty(base)? {
        // git passes an empty ancestor when both branches added the lockfile.
        Lockfile::default()
    } else {
        read(base)?
    };
    let outcome = merge(&base_lock, &read(ours)?, &read(theirs)?);
    outcome.merged.write(ours)?;
    for left in &outcome.left_out {
        let what = match &left.region {
            Some(region) => format!("{}, region {region}", left.entry),
            None => left.entry.clone(),
        };
        session.warn(format!("merge left out {what}: {}", left.why));
    }
    if !outcome.left_out.is_empty() {
        session.warn("run `imagelock lock` to pin what was left out");
    }
    Ok(Exit::Success)
}

fn read(path: &Path) -> Result<Lockfile> {
    Lockfile::load(path)?.ok_or_else(|| Error::Lockfile {
        path: path.to_path_buf(),
        message: "does not exist".into(),
    })
}

/// Whether the file holds nothing but whitespace.
fn is_empty(path: &Path) -> Result<bool> {
    let bytes = read_capped(path, MAX_LOCKFILE_BYTES)
        .map_err(|err| Error::io("read", path, err))?
        .unwrap_or_else(|| vec![b'x']);
    Ok(bytes.iter().all(u8::is_ascii_whitespace))
}
