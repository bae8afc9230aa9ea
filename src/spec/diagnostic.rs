//! Spec problems and the error that carries all of them.
//!
//! Checks produce [`Problem`]s that name a place in the document by path; [`SpecError`] holds them
//! once they are located (file, line, column, byte span), sorted by position. It renders either as
//! plain `file:line:col: path: message` lines ([`Display`](std::fmt::Display)) or as a miette
//! report with the source line underlined ([`SpecError::render`]).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode,
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

    fn from_located(path: &Path, text: &str, problems: Vec<LocatedProblem>) -> Self {
        let file = path.display().to_string();
        let source =
            NamedSource::new(file.clone(), Arc::new(text.to_owned())).with_language("yaml");
        let diagnostics = problems
            .iter()
            .map(|problem| ProblemDiagnostic {
                problem: problem.clone(),
                source: source.clone(),
            })
            .collect();
        Self {
            file,
            problems,
            source,
            diagnostics,
        }
    }

    /// A single problem at a known byte offset (YAML syntax errors, which have no path).
    pub(crate) fn at_offset(
        path: &Path,
        text: &str,
        offset: usize,
        message: String,
        help: Option<String>,
    ) -> Self {
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let (line, column) = line_col(text, offset);
        let len = text[offset..].chars().next().map_or(0, char::len_utf8);
        let problem = LocatedProblem {
            line,
            column,
            offset,
            len,
            path: String::new(),
            message,
            help,
        };
        Self::from_located(path, text, vec![problem])
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
    source: NamedSource<Arc<String>>,
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
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let label = LabeledSpan::new_primary_with_span(
            Some(label_text(&self.problem.message)),
            (self.problem.offset, self.problem.len),
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

/// 1-based line and character column of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}
