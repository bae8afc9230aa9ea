//! Spec problems and the error that carries all of them.
//!
//! Checks produce [`Problem`]s that name a place in the document by path; [`SpecError`] holds them
//! once they are located (file, line, column, byte span), sorted by position. It renders either as
//! plain `file:line:col: path: message` lines ([`Display`](std::fmt::Display)) or as a miette
//! report with the source line underlined ([`SpecError::render`]).
//!
//! Messages stay small whatever the spec holds: a long value is shortened to its first
//! characters and a count of the rest ([`shorten`]), and each report shows an excerpt of the
//! lines around the problem ([`Excerpt`]) in which long lines are cut around the problem and tabs
//! are drawn as `→`, so a tab never looks like the spaces YAML wants instead.

use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError,
    MietteSpanContents, NamedSource, SourceCode, SourceSpan, SpanContents,
};

use super::locate::{ByteSpan, Index, Seg, dotted};

/// Which part of a mapping entry a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The key itself (unknown key, bad entry name, duplicate key).
    Key,
    /// The value under the key (wrong type, bad regex, …).
    Value,
}

/// One problem, before it is located in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub path: Vec<Seg>,
    pub part: Part,
    /// What was expected and what was found, e.g. `expected one of Linux, Windows, found "linux"`.
    pub message: String,
    /// A suggestion such as `did you mean "Linux"?`.
    pub help: Option<String>,
    /// A span known without the index (the second of two duplicate keys).
    pub at: Option<ByteSpan>,
}

impl Problem {
    pub fn value(path: &[Seg], message: impl Into<String>) -> Self {
        Self {
            path: path.to_vec(),
            part: Part::Value,
            message: message.into(),
            help: None,
            at: None,
        }
    }

    pub fn key(path: &[Seg], message: impl Into<String>) -> Self {
        Self {
            path: path.to_vec(),
            part: Part::Key,
            message: message.into(),
            help: None,
            at: None,
        }
    }

    pub fn at(mut self, span: ByteSpan) -> Self {
        self.at = Some(span);
        self
    }

    pub fn with_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

/// A problem with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedProblem {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte offset and length of the offending text (length 0 when there is nothing to underline).
    pub offset: usize,
    pub len: usize,
    /// Dotted path such as `images.web.filters.os_type`; empty for the document itself.
    pub path: String,
    pub message: String,
    pub help: Option<String>,
}

/// Problems shown in full by [`SpecError::render`]; the rest are counted.
pub const MAX_RENDERED: usize = 50;

/// Every problem of one spec file, sorted by position.
#[derive(Debug)]
pub struct SpecError {
    /// The file name as the user gave it.
    pub file: String,
    pub problems: Vec<LocatedProblem>,
    source: NamedSource<Arc<String>>,
    /// One miette diagnostic per problem, for [`Diagnostic::related`].
    diagnostics: Vec<ProblemDiagnostic>,
}

impl SpecError {
    /// Locates `problems` in `text` and sorts them by position; exact duplicates (a bad default
    /// seen through several entries) are reported once.
    pub(crate) fn new(path: &Path, text: &str, index: &Index, problems: Vec<Problem>) -> Self {
        // Line starts found once: a spec can have thousands of problems, and finding each one's
        // line from the start of the text would be quadratic.
        let line_starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let line_col = |offset: usize| {
            let offset = floor_char_boundary(text, offset.min(text.len()));
            let line = line_starts.partition_point(|&start| start <= offset);
            let start = line_starts[line - 1];
            (line, text[start..offset].chars().count() + 1)
        };
        let mut located: Vec<LocatedProblem> = problems
            .into_iter()
            .map(|problem| {
                let span = problem
                    .at
                    .unwrap_or_else(|| index.span_of(&problem.path, problem.part));
                let (line, column) = line_col(span.0);
                LocatedProblem {
                    line,
                    column,
                    offset: span.0,
                    len: span.1,
                    path: dotted(&problem.path),
                    message: problem.message,
                    help: problem.help,
                }
            })
            .collect();
        located
            .sort_by(|a, b| (a.offset, &a.path, &a.message).cmp(&(b.offset, &b.path, &b.message)));
        located.dedup();
        Self::from_located(path, text, located)
    }

    fn from_located(path: &Path, text: &str, mut problems: Vec<LocatedProblem>) -> Self {
        for problem in &mut problems {
            if let Cow::Owned(short) = shorten_message(&problem.message) {
                problem.message = short;
            }
            if let Some(help) = &mut problem.help
                && let Cow::Owned(short) = shorten_message(help)
            {
                *help = short;
            }
        }
        let file = path.display().to_string();
        let text = Arc::new(text.to_owned());
        let line_starts: Arc<Vec<usize>> = Arc::new(
            std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
        );
        let source = NamedSource::new(file.clone(), text.clone()).with_language("yaml");
        let diagnostics = problems
            .iter()
            .map(|problem| ProblemDiagnostic {
                problem: problem.clone(),
                file: file.clone(),
                text: text.clone(),
                line_starts: line_starts.clone(),
                excerpt: OnceLock::new(),
            })
            .collect();
        Self {
            file,
            problems,
            source,
            diagnostics,
        }
    }

    /// The source text the problems point into.
    pub fn source_text(&self) -> &str {
        self.source.inner()
    }

    /// The miette report: a summary line, then each problem with its source line underlined.
    /// Fixed width so output does not depend on the terminal; plain ASCII without colour.
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::none()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .with_links(false);
        let count = self.problems.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        let mut out = format!("invalid spec {}: {count} {noun}\n\n", self.file);
        // Each report scans the source from the start, so thousands of them (a generated spec
        // with one mistake repeated) would take minutes; nobody reads past the first screens.
        for (i, diagnostic) in self.diagnostics.iter().take(MAX_RENDERED).enumerate() {
            if i > 0 {
                out.push('\n');
            }
            if handler.render_report(&mut out, diagnostic).is_err() {
                // Writing to a String cannot fail; keep the plain form if the handler ever does.
                return self.to_string();
            }
        }
        if count > MAX_RENDERED {
            out.push_str(&format!(
                "\n... and {} more problems; fix these and run again to see the rest\n",
                count - MAX_RENDERED
            ));
        }
        out
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}:{}: ", self.file, problem.line, problem.column)?;
            if !problem.path.is_empty() {
                write!(f, "{}: ", problem.path)?;
            }
            f.write_str(&problem.message)?;
            if let Some(help) = &problem.help {
                write!(f, " ({help})")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

impl Diagnostic for SpecError {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new("imagelock::spec"))
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        Some(Box::new(
            self.diagnostics.iter().map(|d| d as &dyn Diagnostic),
        ))
    }
}

/// One located problem as a miette diagnostic.
#[derive(Debug)]
struct ProblemDiagnostic {
    problem: LocatedProblem,
    file: String,
    text: Arc<String>,
    /// Byte offset of every line start of `text`, shared by the problems of one file.
    line_starts: Arc<Vec<usize>>,
    /// Made when first rendered: most of thousands of problems never are.
    excerpt: OnceLock<Excerpt>,
}

impl ProblemDiagnostic {
    fn excerpt(&self) -> &Excerpt {
        self.excerpt
            .get_or_init(|| Excerpt::new(&self.file, &self.text, &self.line_starts, &self.problem))
    }
}

impl fmt::Display for ProblemDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.problem.path.is_empty() {
            write!(f, "{}: ", self.problem.path)?;
        }
        f.write_str(&self.problem.message)
    }
}

impl std::error::Error for ProblemDiagnostic {}

impl Diagnostic for ProblemDiagnostic {
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(self.excerpt())
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let label = LabeledSpan::new_primary_with_span(
            Some(label_text(&self.problem.message)),
            self.excerpt().label,
        );
        Some(Box::new(std::iter::once(label)))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.problem
            .help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }
}

/// The short text under the underline: the expectation, without the "found …" half. An unknown
/// key's list of valid keys is already in the heading, so its label stays short.
fn label_text(message: &str) -> String {
    if message.starts_with("unknown key ") {
        return "unknown key".to_owned();
    }
    match message.split_once(", found ") {
        Some((expected, _)) => expected.to_owned(),
        None => message.to_owned(),
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Values longer than this many characters are shortened in messages.
const LONG_VALUE_CHARS: usize = 80;

/// How many characters of a long value a message keeps.
const KEPT_VALUE_CHARS: usize = 60;

/// A message is cut after this many characters whatever it holds.
const MAX_MESSAGE_CHARS: usize = 1000;

/// `value` as a message shows it: whole when short, else its first characters and how many more
/// there are (`^(aaaa… (2940 more characters)`), so a 3 MB regex does not fill the terminal.
pub(crate) fn shorten(value: &str) -> Cow<'_, str> {
    cut(value, LONG_VALUE_CHARS, KEPT_VALUE_CHARS)
}

/// `text` cut after `keep` characters if it has more than `limit`.
fn cut(text: &str, limit: usize, keep: usize) -> Cow<'_, str> {
    if text.len() <= limit || text.char_indices().nth(limit).is_none() {
        return Cow::Borrowed(text);
    }
    let kept_end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    let rest = text[kept_end..].chars().count();
    Cow::Owned(format!("{}… ({rest} more characters)", &text[..kept_end]))
}

/// A message with every long quoted value in it shortened (checks quote what they found, as in
/// `found "^Ubuntu (22"`), and cut as a whole if it is still long.
fn shorten_message(message: &str) -> Cow<'_, str> {
    if message.len() <= LONG_VALUE_CHARS {
        return Cow::Borrowed(message);
    }
    let mut out = String::new();
    let mut changed = false;
    let mut rest = message;
    while let Some(open) = rest.find('"') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('"') else {
            break;
        };
        let inner = &after[..close];
        out.push_str(&rest[..=open]);
        match shorten(inner) {
            Cow::Borrowed(inner) => out.push_str(inner),
            Cow::Owned(short) => {
                changed = true;
                out.push_str(&short);
            }
        }
        out.push('"');
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    let out = if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(message)
    };
    match cut(&out, MAX_MESSAGE_CHARS, MAX_MESSAGE_CHARS) {
        Cow::Borrowed(_) => out,
        Cow::Owned(cut) => Cow::Owned(cut),
    }
}

/// Lines longer than this many characters are cut in excerpts.
const MAX_LINE_CHARS: usize = 120;

/// How many characters of a cut line an excerpt shows before the problem.
const CHARS_BEFORE_PROBLEM: usize = 40;

/// The lines around one problem as its report shows them, and the problem's span in them.
///
/// miette draws the lines a [`SourceCode`] gives it; this one gives the problem's line and its
/// neighbours only (so rendering does not scan the whole file per problem), each line cut to
/// [`MAX_LINE_CHARS`] around the problem and with tabs drawn as `→`. Line numbers and the
/// `[file:line:column]` header are those of the real file.
#[derive(Debug)]
struct Excerpt {
    file: String,
    text: String,
    /// 0-based number of the excerpt's first line in the file.
    first_line: usize,
    /// The problem's span in `text`.
    label: SourceSpan,
    /// The problem's 0-based line and character column in the file.
    line: usize,
    column: usize,
}

impl Excerpt {
    fn new(file: &str, text: &str, line_starts: &[usize], problem: &LocatedProblem) -> Self {
        let line_of = |offset: usize| line_starts.partition_point(|&start| start <= offset) - 1;
        let line_end = |line: usize| {
            line_starts
                .get(line + 1)
                .map_or(text.len(), |next| next - 1)
        };
        let problem_line = line_of(problem.offset.min(text.len()));
        let first_line = problem_line.saturating_sub(1);
        let last_line = (problem_line + 1).min(line_starts.len() - 1);
        let mut shown = String::new();
        let mut label = (0, 0);
        for line in first_line..=last_line {
            if line > first_line {
                shown.push('\n');
            }
            let start = line_starts[line];
            let raw = &text[start..line_end(line)];
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if line == problem_line {
                // A span running past its line is shown on its first line only.
                let from = problem.offset - start;
                let to = (from + problem.len).min(raw.len()).max(from.min(raw.len()));
                let (line_text, span) = show_line(raw, Some((from.min(raw.len()), to)));
                label = (shown.len() + span.0, span.1 - span.0);
                shown.push_str(&line_text);
            } else {
                shown.push_str(&show_line(raw, None).0);
            }
        }
        Self {
            file: file.to_owned(),
            text: shown,
            first_line,
            label: label.into(),
            line: problem.line - 1,
            column: problem.column - 1,
        }
    }
}

/// One line as an excerpt shows it, and where the byte range `focus` of `line` ends up in it.
fn show_line(line: &str, focus: Option<(usize, usize)>) -> (String, (usize, usize)) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let char_at = |byte: usize| chars.partition_point(|&(i, _)| i < byte);
    let (window_start, window_end) = if chars.len() <= MAX_LINE_CHARS {
        (0, chars.len())
    } else {
        let focus_char = focus.map_or(0, |(from, _)| char_at(from));
        let start = if focus_char <= MAX_LINE_CHARS - CHARS_BEFORE_PROBLEM {
            0
        } else {
            focus_char - CHARS_BEFORE_PROBLEM
        };
        (start, (start + MAX_LINE_CHARS).min(chars.len()))
    };
    let mut out = String::new();
    if window_start > 0 {
        out.push('…');
    }
    let (mut shown_from, mut shown_to) = (None, None);
    for &(byte, c) in &chars[window_start..window_end] {
        if let Some((from, to)) = focus {
            if shown_from.is_none() && byte >= from {
                shown_from = Some(out.len());
            }
            if shown_to.is_none() && byte >= to {
                shown_to = Some(out.len());
            }
        }
        if c == '\t' {
            out.push('→');
        } else {
            out.push(c);
        }
    }
    let end_of_window = out.len();
    if window_end < chars.len() {
        out.push_str(&format!("… ({} more characters)", chars.len() - window_end));
    }
    let from = shown_from.unwrap_or(end_of_window);
    let to = shown_to.unwrap_or(end_of_window).max(from);
    (out, (from, to))
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner =
            self.text
                .as_str()
                .read_span(span, context_lines_before, context_lines_after)?;
        // The header names the problem's place in the file, not in the excerpt.
        let column = if span.offset() == self.label.offset() && context_lines_before == 0 {
            self.column
        } else {
            inner.column()
        };
        let line = if span.offset() == self.label.offset() && context_lines_before == 0 {
            self.line
        } else {
            inner.line() + self.first_line
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.file.clone(),
            inner.data(),
            *inner.span(),
            line,
            column,
            inner.line_count(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_kept_and_long_ones_counted() {
        assert_eq!(shorten("^Ubuntu 22"), "^Ubuntu 22");
        let exact = "a".repeat(LONG_VALUE_CHARS);
        assert_eq!(shorten(&exact), exact.as_str());
        let long = format!("({}", "位".repeat(3_000_000));
        let short = shorten(&long);
        assert_eq!(
            short,
            format!("({}… (2999941 more characters)", "位".repeat(59))
        );
    }

    #[test]
    fn messages_shorten_each_long_quoted_value() {
        let regex = "a".repeat(500);
        let message = format!("expected a valid regex, found \"{regex}\": unclosed group");
        assert_eq!(
            shorten_message(&message),
            format!(
                "expected a valid regex, found \"{}… (440 more characters)\": unclosed group",
                "a".repeat(60)
            )
        );
        let plain = "expected one of Linux, Windows, found \"linux\"";
        assert!(matches!(shorten_message(plain), Cow::Borrowed(_)));
        // Whatever the quoting, a message never grows past its cap.
        let quotes = "\"a\" ".repeat(10_000);
        assert!(shorten_message(&quotes).chars().count() < MAX_MESSAGE_CHARS + 40);
    }

    #[test]
    fn lines_show_tabs_as_arrows_and_map_the_focus() {
        let (line, focus) = show_line("\tregion: hk", Some((0, 1)));
        assert_eq!(line, "→region: hk");
        assert_eq!(&line[focus.0..focus.1], "→");
        let (line, focus) = show_line("a:\tb", Some((3, 4)));
        assert_eq!(&line[focus.0..focus.1], "b");
    }

    #[test]
    fn long_lines_are_cut_around_the_focus() {
        let long = format!("  name: \"{}\"", "x".repeat(5000));
        let (line, focus) = show_line(&long, Some((8, long.len())));
        assert!(line.chars().count() < MAX_LINE_CHARS + 40, "{line}");
        assert!(line.ends_with("… (4890 more characters)"), "{line}");
        assert_eq!(&line[focus.0..focus.0 + 2], "\"x");
        // A problem far into a long line keeps a little of what comes before it.
        let wide = format!("{}BAD{}", "y".repeat(3000), "z".repeat(3000));
        let (line, focus) = show_line(&wide, Some((3000, 3003)));
        assert!(line.starts_with('…'));
        assert_eq!(&line[focus.0..focus.1], "BAD");
    }
}
