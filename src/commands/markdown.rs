//! The Markdown report of `outdated --format markdown` and `update --format markdown`: a body for
//! the pull request that moves pins. Every value from the API or the spec is escaped, so an image
//! name cannot break the table or inject markup.

use std::fmt::Write as _;

use imagelock::lockfile::Pin;
use imagelock::ops::check::EolNotice;
use imagelock::ops::outdated::Cooling;
use imagelock::ops::update::Held;
use imagelock::ops::{Failures, PinChange};

use super::created_date;

/// `text` safe inside a Markdown table cell: control characters escaped, markup characters
/// backslash-escaped, `<`/`>` as entities, newlines as spaces.
pub fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

fn pin_cell(pin: Option<&Pin>) -> String {
    match pin {
        None => "—".to_string(),
        Some(pin) => format!(
            "`{}` {} ({})",
            cell(&pin.image_id).replace('`', ""),
            cell(&pin.image_name),
            created_date(pin.create_time)
        ),
    }
}

/// The whole report: a title, the table of changes, then held entries, cooling builds, EOL
/// notices and failures, each only when there is something to say.
pub fn report(
    title: &str,
    changes: &[PinChange],
    refused: &[PinChange],
    held: &[Held],
    cooling: &[Cooling],
    eol: &[EolNotice],
    failures: &Failures,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## {title}\n");
    let moving: Vec<&PinChange> = changes.iter().filter(|c| c.moves()).collect();
    if moving.is_empty() && refused.is_empty() {
        let _ = writeln!(out, "No pin moves.\n");
    } else {
        let _ = writeln!(out, "| Entry | Region | From | To | Version | Flags |");
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for change in moving.iter().copied().chain(refused) {
            let version = change
                .version_change()
                .map_or_else(String::new, |(from, to)| format!("{from} → {to}"));
            let mut flags: Vec<String> = Vec::new();
            if change.reason != imagelock::ops::Reason::Newer {
                flags.push(change.reason.as_str().replace('_', " "));
            }
            if change.is_downgrade() {
                flags.push("downgrade".into());
            }
            if refused.contains(change) {
                flags.push("refused (downgrade guard)".into());
            }
            if cooling
                .iter()
                .any(|c| c.entry == change.entry && c.region == change.region)
            {
                flags.push("cooling".into());
            }
            if eol
                .iter()
                .any(|n| n.entry == change.entry && n.region == change.region)
            {
                flags.push("EOL".into());
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                cell(&change.entry),
                cell(&change.region),
                pin_cell(change.old.as_ref()),
                pin_cell(change.new.as_ref()),
                version,
                flags.join(", ")
            );
        }
        out.push('\n');
    }
    if !held.is_empty() {
        let _ = writeln!(out, "### Held\n");
        for h in held {
            let _ = writeln!(out, "- **{}**: {}", cell(&h.entry), cell(&h.reason));
        }
        out.push('\n');
    }
    if !cooling.is_empty() {
        let _ = writeln!(out, "### Cooling down\n");
        for c in cooling {
            let _ = writeln!(
                out,
                "- **{}** {}: `{}` {} eligible from {}",
                cell(&c.entry),
                cell(&c.region),
                cell(&c.image.image_id).replace('`', ""),
                cell(&c.image.image_name),
                c.eligible.strftime("%Y-%m-%d %H:%M UTC")
            );
        }
        out.push('\n');
    }
    if !eol.is_empty() {
        let _ = writeln!(out, "### End of life\n");
        for n in eol {
            let _ = writeln!(out, "- {}", cell(&super::outdated::eol_line(n)));
        }
        out.push('\n');
    }
    if !failures.is_empty() {
        let _ = writeln!(out, "### Failures\n");
        for f in &failures.0 {
            let _ = writeln!(out, "```text\n{}\n```", f.to_string().replace("```", "'''"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(cell("<script>"), "&lt;script&gt;");
        assert_eq!(cell("two\nlines"), "two lines");
        assert_eq!(cell("x\u{1b}[31m"), "x\\u{1b}\\[31m");
        assert_eq!(cell("Ubuntu 22.04 64位"), "Ubuntu 22.04 64位");
    }
}
