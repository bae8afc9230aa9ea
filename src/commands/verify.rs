//! `imagelock verify`: every pinned ImageId must still exist in its region and be Available;
//! exit 4 naming each one that is not. Reads the lockfile (and the spec, when there is one, for
//! the projects its entries live in); never writes anything.

use imagelock::ops::Workspace;
use imagelock::ops::lookup::LookupError;
use imagelock::ops::verify;
use imagelock::{Exit, Result};

use super::{Session, pin_label};

pub fn run(session: &Session) -> Result<Exit> {
    let cwd = std::env::current_dir().map_err(|err| imagelock::Error::io("read", ".", err))?;
    // Without a spec the pins are still checked, with the projects they record.
    let workspace = Workspace::discover_or_here(
        session.args.spec.as_deref(),
        session.args.lock.as_deref(),
        &cwd,
    );
    let lock_path = workspace.lock.clone();
    let lock = workspace
        .load_lock()?
        .ok_or_else(|| LookupError::NoLockfile {
            path: lock_path.clone(),
        })?;
    let projects = if workspace.spec.exists() {
        session
            .load_spec(&workspace)?
            .images
            .into_values()
            .filter_map(|query| Some((query.name, query.project_id?)))
            .collect()
    } else {
        std::collections::BTreeMap::new()
    };
    let client = session.client()?;
    let report = session.block_on(verify::verify(&client, &lock, &projects))??;

    if session.args.json {
        session.print_json(&serde_json::json!({
            "lockfile": lock_path.display().to_string(),
            "pins": report.pins,
            "regions": report.regions,
            "problems": report.problems.iter().map(|p| serde_json::json!({
                "name": p.entry,
                "region": p.region,
                "image_id": p.pin.image_id,
                "image_name": p.pin.image_name,
                "state": p.state_label(),
            })).collect::<Vec<_>>(),
        }))?;
    } else if report.problems.is_empty() {
        session.status(format!(
            "all {} pins of {} exist and are Available ({} {} checked)",
            report.pins,
            lock_path.display(),
            report.regions,
            if report.regions == 1 {
                "region"
            } else {
                "regions"
            }
        ));
    } else {
        // A deploy is about to fail: say so even with -q.
        session.finding(format!(
            "{} of {} pins in {} cannot be deployed:",
            report.problems.len(),
            report.pins,
            lock_path.display()
        ));
        for problem in &report.problems {
            session.finding(format!(
                "  {} {}: {} is {}",
                problem.entry,
                problem.region,
                pin_label(&problem.pin),
                problem.state_label()
            ));
        }
        session.finding("run `imagelock update NAME` to move them to an image that exists");
    }
    Ok(if report.problems.is_empty() {
        Exit::Success
    } else {
        Exit::ResolutionFailed
    })
}
