//! `imagelock explain NAME [--region R] [--top N]`: why an entry picks what it picks. For each
//! region: the filter funnel, the best candidates by the entry's `select` rule, today's pick and
//! the lockfile's pin. Reads the lockfile if there is one; never writes it.

use std::collections::BTreeMap;

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
    if let Some(region) = region
        && !query.regions.iter().any(|r| r == region)
    {
        return Err(Error::Invalid(format!(
            "`{name}` does not use region `{region}`; its regions: {}",
            query.regions.join(", ")
        )));
    }
    let lock = workspace.load_lock_or_empty()?;
    let pins = lock.images.get(name).map(|l| &l.pins);
    let ctx = session.context(&spec)?;
    // An `agree: version` entry's regions are chosen together, so all of them are fetched even
    // when one is shown; any other entry fetches only what is shown.
    let mut fetch_query = query.clone();
    if let (Some(region), None) = (region, query.agree) {
        fetch_query.regions = vec![region.to_string()];
    }
    let client = session.client()?;
    let fetched = session
        .block_on(resolve::fetch(&client, [&fetch_query]))?
        .into_result()?;
    let per_region: BTreeMap<String, &[Image]> = fetch_query
        .regions
        .iter()
        .map(|r| (r.clone(), fetched.images_for(name, r)))
        .collect();
    let (agreement, explanations) = match query.agree {
        Some(_) => {
            let (agreement, explanations) = explain::explain_agreed(query, &per_region, &ctx, pins);
            (Some(agreement), explanations)
        }
        None => {
            let explanations = per_region
                .iter()
                .map(|(region, images)| {
                    let pinned = pins.and_then(|p| p.get(region));
                    explain::explain(query, region, images, &ctx, pinned)
                })
                .collect();
            (None, explanations)
        }
    };
    let shown: Vec<&Explanation> = explanations
        .iter()
        .filter(|e| region.is_none_or(|r| r == e.region))
        .collect();

    if session.args.json {
        let regions: Vec<_> = shown.iter().map(|e| json(e, top)).collect();
        session.print_json(&serde_json::json!({
            "name": name,
            "select": query.select.as_str(),
            "held": query.hold,
            "agree": agreement.as_ref().map(|a| serde_json::json!({
                "version": a.chosen.as_ref().map(ToString::to_string),
                "best": a.offered.keys().map(|r| {
                    (r.clone(), a.best(r).map(ToString::to_string))
                }).collect::<BTreeMap<_, _>>(),
                "lagging": a.lagging(),
            })),
            "regions": regions,
        }))?;
    } else {
        let text: Vec<String> = shown
            .iter()
            .map(|e| {
                let mut out = human(name, query, &spec, e, top);
                if let Some(agreement) = &agreement
                    && let Some(end) = out.find('\n')
                {
                    out.insert_str(end + 1, &format!("{}\n", agreement_line(agreement)));
                }
                out
            })
            .collect();
        session.out(&text.join("\n"))?;
    }
    Ok(Exit::Success)
}

/// `agree: 22.4.0 in every region; best per region: cn-bj2 24.4.0, hk 22.4.0 (hk lags)`.
fn agreement_line(agreement: &imagelock::select::VersionAgreement) -> String {
    let chosen = match &agreement.chosen {
        Some(version) => format!("agree: {version} in every region"),
        None => "agree: no version is offered in every region".to_owned(),
    };
    let best: Vec<String> = agreement
        .offered
        .keys()
        .map(|region| match agreement.best(region) {
            Some(version) => format!("{region} {version}"),
            None => format!("{region} none"),
        })
        .collect();
    let lagging = agreement.lagging();
    let lag = if lagging.is_empty() {
        String::new()
    } else {
        let verb = if lagging.len() == 1 { "lags" } else { "lag" };
        format!(" ({} {verb})", lagging.join(", "))
    };
    format!("{chosen}; best per region: {}{lag}", best.join(", "))
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
    let agree = if query.agree.is_some() {
        ", agree: version"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "{name} in {} (select: {}{agree})",
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
