//! `imagelock outdated [--format markdown]`: resolve every entry now and report what would move,
//! what is held, what is cooling down, what nears its end of life, and what failed. Writes
//! nothing; made for a scheduled job whose report becomes a pull request running `update`.

use imagelock::ops::Failures;
use imagelock::ops::check::EolNotice;
use imagelock::ops::outdated::{self, Cooling, EOL_NOTICE_DAYS, OutdatedReport};
use imagelock::ops::update::Held;
use imagelock::text::escape;
use imagelock::{Exit, Result};

use super::{Format, Session, count, downgrade_note, pin_label, reason_note};
use crate::cli::OutdatedArgs;

pub fn run(session: &Session, args: &OutdatedArgs) -> Result<Exit> {
    let workspace = session.workspace()?;
    let spec = session.load_spec(&workspace)?;
    let lock = workspace.load_lock_or_empty()?;
    let ctx = session.context(&spec)?;
    let client = session.client()?;
    let report = session.block_on(outdated::outdated(&spec, &lock, &client, &ctx))?;
    for warning in &report.warnings {
        session.warn(warning);
    }
    if session.args.json {
        session.print_json(&json(&report))?;
    } else if args.format == Format::Markdown {
        session.out(&super::markdown::report(
            "imagelock outdated",
            &report.moves,
            &[],
            &report.held,
            &report.cooling,
            &report.eol,
            &report.failures,
        ))?;
    } else {
        text(session, &report);
    }
    Ok(report.exit())
}

fn text(session: &Session, report: &OutdatedReport) {
    // The findings are the point of the command, so they are printed even with -q.
    if report.moves.is_empty() && report.failures.is_empty() {
        session.status("every pin is the one the spec would choose today");
    }
    if !report.moves.is_empty() {
        session.finding(format!(
            "{} would move:",
            count(report.moves.len(), "pin", "pins")
        ));
        for change in &report.moves {
            let current = change
                .old
                .as_ref()
                .map_or_else(|| "(not pinned)".to_string(), pin_label);
            let latest = change
                .new
                .as_ref()
                .map_or_else(|| "(removed)".to_string(), pin_label);
            session.finding(format!(
                "  {} {}: {current} → {latest}{}{}",
                change.entry,
                change.region,
                downgrade_note(change),
                reason_note(change)
            ));
        }
    }
    held_lines(session, &report.held);
    cooling_lines(session, &report.cooling);
    if !report.eol.is_empty() {
        session.finding(format!(
            "end of life within {EOL_NOTICE_DAYS} days, or past:"
        ));
        for notice in &report.eol {
            session.finding(format!("  {}", eol_line(notice)));
        }
    }
    failure_lines(session, &report.failures);
    if !report.moves.is_empty() {
        session.finding("run `imagelock update [NAME…]` to move them (`imagelock lock` for entries behind the spec)");
    }
}

pub(super) fn held_lines(session: &Session, held: &[Held]) {
    if held.is_empty() {
        return;
    }
    session.finding("held (`update` leaves them as they are):");
    for held in held {
        session.finding(format!("  {}: {}", held.entry, escape(&held.reason)));
    }
}

fn cooling_lines(session: &Session, cooling: &[Cooling]) {
    if cooling.is_empty() {
        return;
    }
    session.finding("cooling down (newer builds that `min_age` keeps out for now):");
    for c in cooling {
        session.finding(format!(
            "  {} {}: {} ({}, {}) eligible from {}",
            c.entry,
            c.region,
            c.image.image_id,
            escape(&c.image.image_name),
            super::created_date(c.image.create_time),
            c.eligible.strftime("%Y-%m-%d %H:%M UTC")
        ));
    }
}

pub(super) fn failure_lines(session: &Session, failures: &Failures) {
    if failures.is_empty() {
        return;
    }
    session.finding(format!(
        "{} could not be resolved:",
        count(failures.0.len(), "pin", "pins")
    ));
    let shown = imagelock::ops::pick::FAILURES_SHOWN;
    for failure in failures.0.iter().take(shown) {
        for (i, line) in failure.to_string().lines().enumerate() {
            session.finding(format!("{}{line}", if i == 0 { "  " } else { "    " }));
        }
    }
    if failures.0.len() > shown {
        session.finding(format!(
            "  … and {} more; `imagelock explain NAME` shows any entry's funnel",
            failures.0.len() - shown
        ));
    }
}

/// `web cn-bj2: uimage-x reaches end of life on 2026-12-10 (in 12 days)`.
pub fn eol_line(notice: &EolNotice) -> String {
    let when = match notice.days_left {
        0 => "today".to_string(),
        1 => "in 1 day".to_string(),
        n if n > 0 => format!("in {n} days"),
        -1 => "1 day ago".to_string(),
        n => format!("{} days ago", -n),
    };
    let verb = if notice.is_past() {
        "reached"
    } else {
        "reaches"
    };
    format!(
        "{} {}: {} {verb} end of life on {} ({when})",
        notice.entry, notice.region, notice.image_id, notice.eol
    )
}

pub fn eol_json(notice: &EolNotice) -> serde_json::Value {
    serde_json::json!({
        "name": notice.entry,
        "region": notice.region,
        "image_id": notice.image_id,
        "maintain_eol": notice.eol,
        "days_left": notice.days_left,
    })
}

pub fn failures_json(failures: &Failures) -> Vec<serde_json::Value> {
    failures
        .0
        .iter()
        .map(|f| {
            serde_json::json!({
                "name": f.entry,
                "region": f.region,
                "kind": if f.is_api() { "api" } else { "resolution" },
                "message": f.to_string(),
            })
        })
        .collect()
}

fn json(report: &OutdatedReport) -> serde_json::Value {
    let summary = |pin: Option<&imagelock::lockfile::Pin>| {
        pin.map(|pin| {
            serde_json::json!({
                "image_id": pin.image_id,
                "image_name": pin.image_name,
                "os_name": pin.os_name,
                "create_time": pin.create_time,
                "maintain_eol": pin.maintain_eol,
            })
        })
    };
    serde_json::json!({
        "moves": report.moves.iter().map(|c| serde_json::json!({
            "name": c.entry,
            "region": c.region,
            "reason": c.reason.as_str(),
            "current": summary(c.old.as_ref()),
            "latest": summary(c.new.as_ref()),
            "downgrade": c.is_downgrade(),
        })).collect::<Vec<_>>(),
        "held": report.held.iter().map(|h| serde_json::json!({
            "name": h.entry, "reason": h.reason,
        })).collect::<Vec<_>>(),
        "cooling": report.cooling.iter().map(|c| serde_json::json!({
            "name": c.entry,
            "region": c.region,
            "image_id": c.image.image_id,
            "image_name": c.image.image_name,
            "create_time": c.image.create_time,
            "eligible": c.eligible.to_string(),
        })).collect::<Vec<_>>(),
        "eol": report.eol.iter().map(eol_json).collect::<Vec<_>>(),
        "failures": failures_json(&report.failures),
    })
}
