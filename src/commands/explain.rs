//! `imagelock explain NAME [--region R] [--top N]`: why an entry picks what it picks. For each
//! region: the filter funnel, the best candidates by the entry's `select` rule, today's pick and
//! the lockfile's pin. Reads the lockfile if there is one; never writes it.

use imagelock::explain::{self, Explanation, PinStanding};
use imagelock::refresh;
use imagelock::resolve;
use imagelock::select::Context;
use imagelock::ucloud::Image;
use imagelock::{Error, Exit, Result};

use super::{Session, created_date, pin_label};

pub fn run(session: &Session, name: &str, region: Option<&str>, top: usize) -> Result<Exit> {
    let spec = session.load_spec()?;
    let Some(query) = refresh::named_entries(&spec, &[name.to_string()])?.pop() else {
        return Err(Error::Internal(format!("entry `{name}` vanished")));
    };
    if query.agree.is_some() {
        return run_agreed(session, query, &spec.deny, region, top);
    }
    let mut query = query.clone();
    if let Some(region) = region {
        if !query.regions.iter().any(|r| r == region) {
            return Err(Error::Invalid(format!(
                "`{name}` is not pinned in region `{region}`; its regions: {}",
                query.regions.join(", ")
            )));
        }
        query.regions = vec![region.to_string()];
    }
    let lock = session.load_lock()?;
    let locked = lock.images.get(name);

    let client = session.client()?;
    let ctx = Context::from_env()?.with_deny(&spec.deny);
    let fetched = session.block_on(resolve::fetch(&client, [&query]))??;
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

    if session.args.json {
        let regions: Vec<_> = explanations.iter().map(|e| json(e, top)).collect();
        session.print_json(&serde_json::json!({
            "name": name,
            "select": query.select.as_str(),
            "regions": regions,
        }))?;
    } else {
        let text: Vec<String> = explanations
            .iter()
            .map(|e| human(name, query.select.as_str(), e, top))
            .collect();
        super::print_stdout(&text.join("\n"))?;
    }
    Ok(Exit::Success)
}

/// An `agree: version` entry: every region is fetched (the agreement needs them all) and each
/// shown one is explained against the agreed version.
fn run_agreed(
    session: &Session,
    query: &imagelock::spec::ImageQuery,
    deny: &std::collections::BTreeMap<String, String>,
    region: Option<&str>,
    top: usize,
) -> Result<Exit> {
    let name = query.name.as_str();
    if let Some(region) = region
        && !query.regions.iter().any(|r| r == region)
    {
        return Err(Error::Invalid(format!(
            "`{name}` is not pinned in region `{region}`; its regions: {}",
            query.regions.join(", ")
        )));
    }
    let lock = session.load_lock()?;
    let pins = lock.images.get(name).map(|l| &l.pins);
    let client = session.client()?;
    let ctx = Context::from_env()?.with_deny(deny);
    let fetched = session.block_on(resolve::fetch(&client, [query]))??;
    let per_region: std::collections::BTreeMap<String, &[Image]> = query
        .regions
        .iter()
        .map(|r| (r.clone(), fetched.images_for(name, r)))
        .collect();
    let (agreement, explanations) = explain::explain_agreed(query, &per_region, &ctx, pins);
    let shown: Vec<&Explanation> = explanations
        .iter()
        .filter(|e| region.is_none_or(|r| r == e.region))
        .collect();
    let summary = agreement_line(&agreement);
    if session.args.json {
        let regions: Vec<_> = shown.iter().map(|e| json(e, top)).collect();
        let best: serde_json::Map<String, serde_json::Value> = agreement
            .offered
            .keys()
            .map(|r| {
                (
                    r.clone(),
                    serde_json::json!(agreement.best(r).map(|v| v.to_string())),
                )
            })
            .collect();
        session.print_json(&serde_json::json!({
            "name": name,
            "select": query.select.as_str(),
            "agree": {
                "version": agreement.chosen.as_ref().map(|v| v.to_string()),
                "best": best,
                "lagging": agreement.lagging(),
            },
            "regions": regions,
        }))?;
    } else {
        let select = format!("{}, agree: version", query.select.as_str());
        let text: Vec<String> = shown
            .iter()
            .map(|e| {
                let mut out = human(name, &select, e, top);
                if let Some(end) = out.find('\n') {
                    out.insert_str(end + 1, &format!("{summary}\n"));
                }
                out
            })
            .collect();
        super::print_stdout(&text.join("\n"))?;
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

fn human(name: &str, select: &str, e: &Explanation, top: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "{name} in {} (select: {select})", e.region);
    let _ = writeln!(out, "{}", e.funnel);
    let shown = e.ranked.len().min(top);
    let _ = writeln!(
        out,
        "candidates, best first ({shown} of {}):",
        e.ranked.len()
    );
    let id_width = e.ranked[..shown]
        .iter()
        .map(|i| i.image_id.len())
        .max()
        .unwrap_or(0);
    let name_width = e.ranked[..shown]
        .iter()
        .map(|i| i.image_name.chars().count())
        .max()
        .unwrap_or(0);
    for (rank, image) in e.ranked[..shown].iter().enumerate() {
        let pad = name_width - image.image_name.chars().count();
        let _ = writeln!(
            out,
            "  {:>2}. {:<id_width$}  {}{:pad$}  {}{}",
            rank + 1,
            image.image_id,
            image.image_name,
            "",
            created_date(image.create_time),
            marks(e, image)
        );
    }
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
    out
}

fn marks(e: &Explanation, image: &Image) -> &'static str {
    match (e.is_pick(image), e.is_pinned(image)) {
        (true, true) => "  ← pick, pinned",
        (true, false) => "  ← pick",
        (false, true) => "  ← pinned",
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
    })
}
