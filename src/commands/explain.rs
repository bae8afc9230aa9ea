//! `imagelock explain NAME [--region R] [--top N]`: why an entry picks what it picks. For each
//! region: the filter funnel, the best candidates by the entry's `select` rule, today's pick and
//! the lockfile's pin. Reads the lockfile if there is one; never writes it.

use imagelock::ops::explain::{self, Explanation, PinStanding};
use imagelock::ops::update::unknown_entry;
use imagelock::resolve;
use imagelock::text::{Table, escape};
use imagelock::ucloud::Image;
use imagelock::{Error, Exit, Result};

use super::{Session, created_date, pin_label};

pub fn run(session: &Session, name: &str, region: Option<&str>, top: usize) -> Result<Exit> {
    let workspace = session.workspace()?;
    let spec = session.load_spec(&workspace)?;
    let Some(query) = spec.images.get(name) else {
        return Err(Error::Invalid(unknown_entry(&spec, name)));
    };
    let mut query = query.clone();
    if let Some(region) = region {
        if !query.regions.iter().any(|r| r == region) {
            return Err(Error::Invalid(format!(
                "`{name}` does not use region `{region}`; its regions: {}",
                query.regions.join(", ")
            )));
        }
        query.regions = vec![region.to_string()];
    }
    let lock = workspace.load_lock_or_empty()?;
    let locked = lock.images.get(name);

    let ctx = session.context(&spec)?;
    let client = session.client()?;
    let fetched = session
        .block_on(resolve::fetch(&client, [&query]))?
        .into_result()?;
    let explanations: Vec<Explanation> = query
        .regions
        .iter()
        .map(|region| {
            let pinned = locked.and_then(|l| l.pins.get(region));
            explain::explain(
                &query,
                region,
                fetched.images_for(name, region),
                &ctx,
                pinned,
            )
        })
        .collect();

    // `agree: version`: which version the regions share, and which region holds it back.
    let agreement = query.agree.map(|_| {
        let per_region = query
            .regions
            .iter()
            .map(|region| (region.clone(), fetched.images_for(name, region)))
            .collect();
        imagelock::select::agreement(&query, &per_region, &ctx)
    });
    if let Some(agreement) = &agreement
        && !session.args.json
    {
        let bests: Vec<String> = query
            .regions
            .iter()
            .map(|region| {
                let best = agreement
                    .best(region)
                    .map_or_else(|| "no version".to_string(), ToString::to_string);
                format!("{region} {best}")
            })
            .collect();
        let chosen = agreement
            .chosen
            .as_ref()
            .map_or_else(|| "none in common".to_string(), ToString::to_string);
        let lagging = agreement.lagging();
        let mut line = format!(
            "{name}: agree version {chosen} (best per region: {})",
            bests.join(", ")
        );
        if !lagging.is_empty() {
            line.push_str(&format!("; lagging: {}", lagging.join(", ")));
        }
        session.out(&format!("{line}\n"))?;
    }
    if session.args.json {
        let regions: Vec<_> = explanations.iter().map(|e| json(e, top)).collect();
        session.print_json(&serde_json::json!({
            "name": name,
            "select": query.select.as_str(),
            "held": query.hold,
            "agree": agreement.as_ref().map(|a| serde_json::json!({
                "version": a.chosen.as_ref().map(ToString::to_string),
                "best": a.offered.iter().map(|(region, versions)| {
                    (region.clone(), versions.first().map(ToString::to_string))
                }).collect::<std::collections::BTreeMap<_, _>>(),
                "lagging": a.lagging(),
            })),
            "regions": regions,
        }))?;
    } else {
        let text: Vec<String> = explanations
            .iter()
            .map(|e| human(name, &query, &spec, e, top))
            .collect();
        session.out(&text.join("\n"))?;
    }
    Ok(Exit::Success)
}

fn human(
    name: &str,
    query: &imagelock::spec::ImageQuery,
    spec: &imagelock::spec::Spec,
    e: &Explanation,
    top: usize,
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{name} in {} (select: {})",
        e.region,
        query.select.as_str()
    );
    let _ = writeln!(out, "{}", e.funnel);
    let shown = e.ranked.len().min(top);
    let _ = writeln!(
        out,
        "candidates, best first ({shown} of {}):",
        e.ranked.len()
    );
    let mut table = Table::new();
    for (rank, image) in e.ranked[..shown].iter().enumerate() {
        table.row([
            format!("{:>2}. {}", rank + 1, image.image_id),
            escape(&image.image_name).into_owned(),
            created_date(image.create_time),
            marks(e, image).to_string(),
        ]);
    }
    out.push_str(&table.render("  "));
    if e.ranked.len() > shown {
        let _ = writeln!(
            out,
            "  … and {} more (--top N shows more)",
            e.ranked.len() - shown
        );
    }
    match &e.pick {
        Ok(id) => {
            let _ = writeln!(out, "pick today: {id}");
        }
        Err(err) => {
            // The funnel is already above; only the reason is new.
            let first = err.to_string();
            let reason = first.lines().next().unwrap_or_default();
            let _ = writeln!(out, "pick today: none ({reason})");
        }
    }
    let pinned = e.pinned.as_ref().map(pin_label);
    let _ = match (&e.standing, pinned) {
        (PinStanding::Unpinned, _) | (_, None) => writeln!(out, "pinned: nothing (not locked)"),
        (PinStanding::Candidate(rank), Some(label)) => {
            let verdict =
                if e.pick.as_deref().ok() == e.pinned.as_ref().map(|p| p.image_id.as_str()) {
                    "the pick; `update` would not move it".to_string()
                } else {
                    format!(
                        "candidate #{}; `imagelock update {name}` would move it",
                        rank + 1
                    )
                };
            writeln!(out, "pinned: {label}, {verdict}")
        }
        (PinStanding::FilteredOut { state }, Some(label)) => writeln!(
            out,
            "pinned: {label}, listed ({state}) but the filters drop it now"
        ),
        (PinStanding::NotListed, Some(label)) => writeln!(
            out,
            "pinned: {label}, not in the listing (deleted, or not visible to this query)"
        ),
    };
    if let Some(pin) = &e.pinned
        && let Some(reason) = spec.deny.get(&pin.image_id)
    {
        let _ = writeln!(
            out,
            "denied: the pinned image is on the deny list ({}); `imagelock lock` re-picks it",
            escape(reason)
        );
    }
    if let Some(reason) = &query.hold {
        let _ = writeln!(
            out,
            "held: {} (`update` leaves this entry as it is)",
            escape(reason)
        );
    }
    for c in &e.cooling {
        let _ = writeln!(
            out,
            "cooling: {} ({}, {}) ranks higher but is younger than min_age; eligible from {}",
            c.image.image_id,
            escape(&c.image.image_name),
            created_date(c.image.create_time),
            c.eligible.strftime("%Y-%m-%d %H:%M UTC")
        );
    }
    if let Some(eol) = &e.eol {
        // How many days are left only matters (and only stays put in a README) when it is near.
        if eol.days_left <= imagelock::ops::outdated::EOL_NOTICE_DAYS {
            let _ = writeln!(out, "eol: {}", super::outdated::eol_line(eol));
        } else {
            let _ = writeln!(out, "eol: {}", eol.eol);
        }
    }
    out
}

fn marks(e: &Explanation, image: &Image) -> &'static str {
    match (e.is_pick(image), e.is_pinned(image)) {
        (true, true) => "← pick, pinned",
        (true, false) => "← pick",
        (false, true) => "← pinned",
        (false, false) => "",
    }
}

fn json(e: &Explanation, top: usize) -> serde_json::Value {
    let steps: Vec<_> = e
        .funnel
        .steps
        .iter()
        .map(|s| serde_json::json!({"filter": s.filter, "kept": s.kept}))
        .collect();
    let candidates: Vec<_> = e
        .ranked
        .iter()
        .take(top)
        .map(|image| {
            serde_json::json!({
                "image_id": image.image_id,
                "image_name": image.image_name,
                "os_name": image.os_name,
                "create_time": image.create_time,
                "state": image.state,
                "pick": e.is_pick(image),
                "pinned": e.is_pinned(image),
            })
        })
        .collect();
    let standing = match &e.standing {
        PinStanding::Unpinned => serde_json::json!(null),
        PinStanding::Candidate(rank) => serde_json::json!({"candidate": rank + 1}),
        PinStanding::FilteredOut { state } => serde_json::json!({"filtered_out": state}),
        PinStanding::NotListed => serde_json::json!("not_listed"),
    };
    serde_json::json!({
        "region": e.region,
        "funnel": {"total": e.funnel.total, "steps": steps},
        "candidates": candidates,
        "candidate_count": e.ranked.len(),
        "pick": e.pick.as_ref().ok(),
        "pick_error": e.pick.as_ref().err().map(|err| err.to_string()),
        "pinned": e.pinned.as_ref().map(|p| p.image_id.clone()),
        "pinned_standing": standing,
        "cooling": e.cooling.iter().map(|c| serde_json::json!({
            "image_id": c.image.image_id,
            "image_name": c.image.image_name,
            "create_time": c.image.create_time,
            "eligible": c.eligible.to_string(),
        })).collect::<Vec<_>>(),
        "eol": e.eol.as_ref().map(super::outdated::eol_json),
    })
}
