//! `imagelock outdated`: resolve every entry now and report the pins that would move; exit 3 if
//! any would (or the lock is behind the spec), 0 otherwise. Writes nothing; made for a scheduled
//! job whose `--json` output a bot turns into a pull request running `imagelock update`.

use imagelock::lockfile::Pin;
use imagelock::refresh;
use imagelock::resolve;
use imagelock::select::Context;
use imagelock::{Exit, Result};

use super::{Session, pin_label};

pub fn run(session: &Session) -> Result<Exit> {
    let spec = session.load_spec()?;
    let lock = session.load_lock()?;
    let staleness = lock.staleness(&spec);

    let client = session.client()?;
    let ctx = Context::from_env()?.with_deny(&spec.deny);
    // One fetch for all entries: each (region, zone, project) listing is walked once.
    let picks = session.block_on(async {
        let fetched = resolve::fetch(&client, spec.images.values()).await?;
        resolve::choose_all(&fetched, spec.images.values(), &ctx)
    })??;
    let moving: Vec<_> = refresh::compare(&lock, &picks)
        .into_iter()
        .filter(|diff| diff.moves())
        .collect();

    if session.args.json {
        let items: Vec<_> = moving
            .iter()
            .map(|diff| {
                serde_json::json!({
                    "name": diff.entry,
                    "region": diff.region,
                    "reason": diff.reason(&staleness).as_str(),
                    "current": diff.current.as_ref().map(summary),
                    "latest": summary(&diff.latest),
                })
            })
            .collect();
        session.print_json(&serde_json::Value::Array(items))?;
    } else {
        report(session, &moving, &staleness);
    }
    // Entries the lock holds but the spec dropped move nowhere, yet the lock still needs `lock`.
    if !staleness.extra.is_empty() {
        session.warn(format!(
            "locked but no longer in the spec: {}; `imagelock lock` drops them",
            staleness.extra.join(", ")
        ));
    }
    Ok(if moving.is_empty() && staleness.is_fresh() {
        Exit::Success
    } else {
        Exit::OutOfDate
    })
}

/// What a reviewer needs to judge a move.
fn summary(pin: &Pin) -> serde_json::Value {
    serde_json::json!({
        "image_id": pin.image_id,
        "image_name": pin.image_name,
        "create_time": pin.create_time,
    })
}

fn report(
    session: &Session,
    moving: &[refresh::PinDiff],
    staleness: &imagelock::lockfile::Staleness,
) {
    if moving.is_empty() {
        if staleness.changed.is_empty() && staleness.missing.is_empty() {
            session.status("every pin is the one the spec would choose today");
        } else {
            session.status(format!(
                "no pin would move, but the lock is behind the spec for {}; run `imagelock lock`",
                staleness
                    .missing
                    .iter()
                    .chain(&staleness.changed)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        return;
    }
    // The findings are the point of the command, so they are printed even with -q.
    eprintln!(
        "{} {} would move:",
        moving.len(),
        if moving.len() == 1 { "pin" } else { "pins" }
    );
    for diff in moving {
        let current = diff
            .current
            .as_ref()
            .map_or_else(|| "(not pinned)".to_string(), pin_label);
        let why = match diff.reason(staleness) {
            refresh::Reason::Newer => "",
            refresh::Reason::Missing => "  [not locked yet]",
            refresh::Reason::QueryChanged => "  [query changed]",
        };
        eprintln!(
            "  {} {}: {current} → {}{why}",
            diff.entry,
            diff.region,
            pin_label(&diff.latest)
        );
    }
    eprintln!("run `imagelock update [NAME…]` to move them");
}
