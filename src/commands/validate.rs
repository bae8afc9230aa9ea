//! `imagelock validate`: schema and semantic checks of the spec only; no lockfile, no network.

use imagelock::{Exit, Result};

use super::{Session, count};

pub fn run(session: &Session) -> Result<Exit> {
    let workspace = session.workspace()?;
    let spec = session.load_spec(&workspace)?;
    let pins: usize = spec.images.values().map(|q| q.regions.len()).sum();
    if session.args.json {
        session.print_json(&serde_json::json!({
            "spec": workspace.spec.display().to_string(),
            "valid": true,
            "entries": spec.images.len(),
            "pins": pins,
        }))?;
    } else {
        session.status(format!(
            "{} is valid: {}, {}",
            workspace.spec.display(),
            count(spec.images.len(), "entry", "entries"),
            count(pins, "pin", "pins")
        ));
    }
    Ok(Exit::Success)
}
