//! `imagelock get NAME [--region R]`: the pinned ImageId alone on stdout, for `$(imagelock get web)`.
//! Never touches the network, and refuses a pin the spec no longer agrees with.

use imagelock::lockfile;
use imagelock::{Error, Exit, Result};

use super::Session;

pub fn run(session: &Session, name: &str, region: Option<&str>) -> Result<Exit> {
    let (spec, lock) = super::check::load_both(session, |_| ());
    let (spec, ()) = spec?;
    let Some(query) = spec.images.get(name) else {
        let known: Vec<&str> = spec.images.keys().map(String::as_str).collect();
        return Err(Error::Invalid(format!(
            "no entry `{name}` in {}; entries: {}",
            session.spec_path().display(),
            known.join(", ")
        )));
    };
    let lock = lock?;
    let lock_path = session.lock_path();
    let Some(locked) = lock.images.get(name) else {
        eprintln!(
            "error: `{name}` is not locked in {}; run `imagelock lock`",
            lock_path.display()
        );
        return Ok(Exit::OutOfDate);
    };
    if !locked.satisfies(query, &lockfile::digest(query)) {
        eprintln!(
            "error: the pin of `{name}` in {} is stale: its query changed since it was locked; run `imagelock lock`",
            lock_path.display()
        );
        return Ok(Exit::OutOfDate);
    }
    let region = match region {
        Some(region) => region,
        None if query.regions.len() == 1 => query.regions[0].as_str(),
        None => {
            return Err(Error::Invalid(format!(
                "`{name}` is pinned in several regions ({}); pass --region",
                query.regions.join(", ")
            )));
        }
    };
    let Some(pin) = locked.pins.get(region) else {
        return Err(Error::Invalid(format!(
            "`{name}` has no pin in region `{region}`; it is pinned in {}",
            query.regions.join(", ")
        )));
    };
    if session.args.json {
        session.print_json(&serde_json::json!({
            "name": name,
            "region": region,
            "pin": super::pin_value(pin),
        }))?;
    } else {
        println!("{}", pin.image_id);
    }
    Ok(Exit::Success)
}
