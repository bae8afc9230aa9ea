//! `imagelock validate`: schema and semantic checks of the spec only; no lockfile, no network.

use imagelock::{Exit, Result};

use super::{Session, count};

pub fn run(session: &Session) -> Result<Exit> {
    let spec = session.load_spec()?;
    let pins: usize = spec.images.values().map(|q| q.regions.len()).sum();
    if session.args.json {
        session.print_json(&serde_json::json!({
            "spec": session.spec_path().display().to_string(),
            "valid": true,
            "entries": spec.images.len(),
            "pins": pins,
        }))?;
    } else {
        session.status(format!(
            "{} is valid: {}, {}",
            session.spec_path().display(),
            count(spec.images.len(), "entry", "entries"),
            count(pins, "pin", "pins")
        ));
    }
    Ok(Exit::Success)
}
