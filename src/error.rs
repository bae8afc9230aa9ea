//! The error type every command returns, and how each kind maps to SPEC §4's exit codes.

use std::path::PathBuf;

/// Exit codes of SPEC §4.
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
    /// The API or the network failed after retries, or refused the credentials (exit 5).
    #[error("{0}")]
    Api(String),
    /// A bug or an unexpected local failure, e.g. the disk refused a write (exit 1).
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            Error::Spec(_) | Error::Lockfile { .. } | Error::Invalid(_) => Exit::Invalid,
            Error::Resolution(_) => Exit::ResolutionFailed,
            Error::Api(_) => Exit::ApiFailed,
            Error::Internal(_) => Exit::Internal,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
