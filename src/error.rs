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
    /// Resolution failed: no match, `only` ambiguous, or pins missing upstream (exit 4).
    #[error("{0}")]
    Resolution(String),
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
            Error::Spec(_) | Error::Lockfile { .. } | Error::Invalid(_) | Error::Io { .. } => {
                Exit::Invalid
            }
            Error::Resolution(_) => Exit::ResolutionFailed,
            Error::Api(_) => Exit::ApiFailed,
            Error::Internal(_) => Exit::Internal,
        }
    }
}

impl Error {
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
