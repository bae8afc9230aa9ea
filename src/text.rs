//! Text for people: how values from outside (image names from the API, names from the spec) are
//! shown safely, tables aligned by display width, and the one "did you mean" of the program.

use std::borrow::Cow;
use std::fmt::Write as _;

use unicode_width::UnicodeWidthStr;

/// `text` with control characters escaped (`\u{1b}`, `\n`), so an image name from the API cannot
/// move the cursor, recolor the terminal or forge an extra output line.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// At most `max` characters of `text` (escaped), with how much was left out, so a 3 MB value
/// never floods a terminal.
pub fn shorten(text: &str, max: usize) -> Cow<'_, str> {
    let count = text.chars().count();
    if count <= max {
        return escape(text);
    }
    let head: String = text.chars().take(max).collect();
    Cow::Owned(format!(
        "{}… ({} more characters)",
        escape(&head),
        count - max
    ))
}

/// The candidate a typo most likely meant, if one is close enough to be a useful suggestion:
/// the same letters in another case, else the fewest edits (case aside) within a third of the
/// word, at least one, as rustc and cargo bound their suggestions.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    if let Some(same) = candidates.iter().find(|c| c.eq_ignore_ascii_case(word)) {
        return Some(same);
    }
    let lower = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, candidate)| candidate)
}

/// Columns aligned by display width (`Ubuntu 22.04 64位` is 17 columns wide, not 15 chars), each
/// row indented; the last column is never padded.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// One line per row, each starting with `indent`, columns two spaces apart.
    pub fn render(&self, indent: &str) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; columns];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.width());
            }
        }
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::from(indent);
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                if i + 1 < row.len() {
                    line.extend(std::iter::repeat_n(' ', widths[i] - cell.width()));
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters_only() {
        assert_eq!(escape("Ubuntu 22.04 64位"), "Ubuntu 22.04 64位");
        assert_eq!(
            escape("evil\u{1b}[31mred\nline"),
            "evil\\u{1b}[31mred\\nline"
        );
    }

    #[test]
    fn shortens_long_values() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcdef", 3), "abc… (3 more characters)");
    }

    #[test]
    fn suggests_close_names_only() {
        let names = ["web", "gpu-worker"];
        assert_eq!(did_you_mean("wbe", names), Some("web"));
        assert_eq!(did_you_mean("gpu-wroker", names), Some("gpu-worker"));
        assert_eq!(did_you_mean("zzzzzz", names), None);
        assert_eq!(did_you_mean("WEB", names), Some("web"));
    }

    #[test]
    fn aligns_by_display_width() {
        let mut table = Table::new();
        table
            .row(["uimage-a", "Ubuntu 22.04 64位", "2024-05-01"])
            .row(["uimage-bb", "Debian 12", "2022-11-23"]);
        assert_eq!(
            table.render("  "),
            "  uimage-a   Ubuntu 22.04 64位  2024-05-01\n  \
               uimage-bb  Debian 12          2022-11-23\n"
        );
    }
}
