//! What a person at a terminal sees beyond plain lines: a spinner while API requests run, and
//! colored status words. Both vanish when stderr is not a terminal, so logs and pipes stay plain
//! text (docs/commands.md, "Output": no progress with `-q`, `--json`, or in CI).

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use imagelock::ucloud::RequestEvent;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Colors only on a terminal, and never when NO_COLOR is set (https://no-color.org).
pub fn stderr_has_color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Whether a spinner may be drawn: an interactive stderr, nobody asked for silence or for logs
/// (log lines would tear the spinner apart), and not a CI job (whose log viewers may pretend to be
/// terminals).
pub fn wanted(quiet: bool, json: bool, verbose: u8) -> bool {
    !quiet
        && !json
        && verbose == 0
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none()
}

/// Counts of what the client did so far.
#[derive(Default)]
struct Counts {
    requests: u64,
    images: u64,
    retried: u64,
    regions: BTreeSet<String>,
}

/// The spinner of one run; drawn only from the first API call on, and cleared when dropped.
pub struct Progress {
    enabled: bool,
    bar: Mutex<Option<ProgressBar>>,
    counts: Arc<Mutex<Counts>>,
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            bar: Mutex::new(None),
            counts: Arc::default(),
        }
    }

    /// Starts the spinner and returns the observer that feeds it, or `None` when disabled.
    pub fn observer(&self) -> Option<Arc<dyn Fn(RequestEvent) + Send + Sync>> {
        if !self.enabled {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix("Fetching images");
        bar.set_message("connecting…");
        bar.enable_steady_tick(Duration::from_millis(100));
        let mut slot = self.bar.lock().unwrap_or_else(|poison| poison.into_inner());
        *slot = Some(bar.clone());
        let counts = Arc::clone(&self.counts);
        Some(Arc::new(move |event: RequestEvent| {
            let mut counts = counts.lock().unwrap_or_else(|poison| poison.into_inner());
            counts.requests += 1;
            counts.images += event.items as u64;
            if event.will_retry {
                counts.retried += 1;
            }
            counts.regions.insert(event.region);
            bar.set_message(describe(&counts));
        }))
    }

    /// Runs `print` with the spinner hidden, so a line printed meanwhile is not overdrawn.
    pub fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        let slot = self.bar.lock().unwrap_or_else(|poison| poison.into_inner());
        match slot.as_ref() {
            Some(bar) if !bar.is_finished() => bar.suspend(print),
            _ => print(),
        }
    }

    /// Removes the spinner; the summary lines that follow say what happened.
    pub fn finish(&self) {
        let slot = self.bar.lock().unwrap_or_else(|poison| poison.into_inner());
        if let Some(bar) = slot.as_ref() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// `cn-bj2, hk … 12 requests, 1,340 images (2 retried)`.
fn describe(counts: &Counts) -> String {
    let regions: Vec<&str> = counts.regions.iter().map(String::as_str).collect();
    let mut text = format!(
        "{} … {} {}, {} {}",
        regions.join(", "),
        thousands(counts.requests),
        plural(counts.requests, "request", "requests"),
        thousands(counts.images),
        plural(counts.images, "image", "images"),
    );
    if counts.retried > 0 {
        text.push_str(&format!(" ({} retried)", thousands(counts.retried)));
    }
    text
}

fn plural<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// `1340` → `1,340`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Colors the leading status word of a report line (`  added    web …`) the way cargo colors
/// `Compiling`: green for new, yellow for moved, red for gone. Other lines pass unchanged.
pub fn paint_status(line: &str, color: bool) -> String {
    if !color {
        return line.to_string();
    }
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    let word = trimmed.split(' ').next().unwrap_or_default();
    let style = match word {
        "added" => AnsiColor::Green,
        "changed" | "kept" | "missing" | "extra" => AnsiColor::Yellow,
        "removed" => AnsiColor::Red,
        _ => return line.to_string(),
    };
    let style = Style::new().fg_color(Some(style.into())).bold();
    format!(
        "{indent}{}{word}{}{}",
        style.render(),
        style.render_reset(),
        &trimmed[word.len()..]
    )
}

/// `error:` / `warning:` prefixes, bold red and bold yellow on a terminal, as cargo prints them.
pub fn label(kind: &str, color: bool) -> String {
    if !color {
        return format!("{kind}:");
    }
    let color = if kind == "error" {
        AnsiColor::Red
    } else {
        AnsiColor::Yellow
    };
    let style = Style::new().fg_color(Some(color.into())).bold();
    format!("{}{kind}:{}", style.render(), style.render_reset())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_340), "1,340");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn message_counts_requests_images_and_regions() {
        let mut counts = Counts {
            requests: 12,
            images: 1_340,
            ..Counts::default()
        };
        counts.regions.insert("hk".into());
        counts.regions.insert("cn-bj2".into());
        assert_eq!(describe(&counts), "cn-bj2, hk … 12 requests, 1,340 images");
        counts.retried = 2;
        assert!(describe(&counts).ends_with("(2 retried)"));
    }

    #[test]
    fn status_words_are_painted_only_with_color() {
        let line = "  added    web cn-bj2: uimage-1 (Ubuntu, 2024-01-01)";
        assert_eq!(paint_status(line, false), line);
        let painted = paint_status(line, true);
        assert!(painted.starts_with("  \u{1b}["), "{painted:?}");
        assert!(painted.ends_with("    web cn-bj2: uimage-1 (Ubuntu, 2024-01-01)"));
        assert_eq!(paint_status("Locked 1 entry", true), "Locked 1 entry");
    }
}
