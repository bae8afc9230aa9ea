//! The error type every command returns, and how each kind maps to the exit codes the README lists.

use std::path::PathBuf;

/// The exit codes the README lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Internal = 1,
    Invalid = 2,
    OutOfDate = 3,
    ResolutionFailed = 4,
    ApiFailed = 5,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec is invalid; the report holds every problem with its location (exit 2).
    #[error("{0}")]
    Spec(Box<crate::spec::SpecError>),
    /// The lockfile cannot be read or understood (exit 2).
    #[error("{}: {message}", path.display())]
    Lockfile { path: PathBuf, message: String },
    /// Bad command line, bad endpoint, bad or missing credentials or config files (exit 2).
    #[error("{0}")]
    Invalid(String),
    /// Pins could not be resolved: no match, `only` ambiguous, or their listing failed (exit 4,
    /// or 5 when the API failed).
    #[error("{0}")]
    Resolution(Box<crate::ops::Failures>),
    /// A pin cannot be handed out: no lockfile, not locked, stale, hand-edited, denied (exit 3),
    /// or the entry or region named does not exist (exit 2).
    #[error(transparent)]
    Lookup(#[from] crate::ops::lookup::LookupError),
    /// Writing to stdout failed for a reason other than a closed pipe (exit 2).
    #[error("cannot write to stdout: {0}")]
    Output(#[source] std::io::Error),
    /// The API or the network failed after retries, refused the credentials, or answered
    /// inconsistently (exit 5).
    #[error("{0}")]
    Api(Box<crate::ucloud::ApiError>),
    /// A file could not be read or written: a missing directory, a read-only file, a full disk
    /// (exit 2: the user's environment, not a bug).
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done: "read", "write", "create", ...
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A bug (exit 1).
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::Spec(_)
            | Error::Lockfile { .. }
            | Error::Invalid(_)
            | Error::Io { .. }
            | Error::Output(_) => Exit::Invalid,
            Error::Resolution(failures) if failures.any_api() => Exit::ApiFailed,
            Error::Resolution(_) => Exit::ResolutionFailed,
            Error::Lookup(lookup) => lookup.exit(),
            Error::Api(_) => Exit::ApiFailed,
            Error::Internal(_) => Exit::Internal,
        }
    }
}

impl Error {
    /// A short, stable name of the error's kind, for `--json` error documents.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Spec(_) => "spec",
            Error::Lockfile { .. } => "lockfile",
            Error::Invalid(_) => "invalid",
            Error::Resolution(_) => "resolution",
            Error::Lookup(_) => "lookup",
            Error::Output(_) => "output",
            Error::Api(_) => "api",
            Error::Io { .. } => "io",
            Error::Internal(_) => "internal",
        }
    }

    /// An I/O failure on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
