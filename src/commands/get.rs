//! `imagelock get NAME [--region R]`: the pinned ImageId alone on stdout, for `$(imagelock get web)`.
//! Never touches the network, and refuses a pin the spec no longer agrees with, a hand-edited pin
//! and a denied one.

use imagelock::ops::lookup::{LookupError, lookup};
use imagelock::{Exit, Result};

use super::Session;

pub fn run(session: &Session, name: &str, region: Option<&str>) -> Result<Exit> {
    let workspace = session.workspace()?;
    let (spec, _, lock) = super::check::load_both(session, &workspace)?;
    let lock = lock.ok_or_else(|| LookupError::NoLockfile {
        path: workspace.lock.clone(),
    })?;
    let (region, pin) = lookup(&spec, &lock, name, region)?;
    if session.args.json {
        session.print_json(&serde_json::json!({
            "name": name,
            "region": region,
            "pin": super::pin_value(pin),
        }))?;
    } else {
        session.out(&format!("{}\n", pin.image_id))?;
    }
    Ok(Exit::Success)
}
