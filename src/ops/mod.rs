//! Operations: what the commands do, as library functions that take parsed inputs and return a
//! typed result. Nothing here prints; `commands/` in the binary render results as text, JSON or
//! Markdown.
//!
//! - [`workspace`]: where the spec and the lockfile are (searching upward, like cargo).
//! - [`change`]: [`PinChange`], the one description of a pin that moves, appears or goes.
//! - [`pick`]: choosing one entry's pins from fetched listings, and keeping pins that still hold.
//! - [`lock`], [`update`], [`outdated`], [`verify`], [`explain`]: the operations that ask the API.
//! - [`check`], [`lookup`]: the offline ones (is the lock fresh? which pin may a deploy use?).

pub mod change;
pub mod check;
pub mod explain;
pub mod lock;
pub mod lookup;
pub mod outdated;
pub mod pick;
pub mod update;
pub mod verify;
pub mod workspace;

pub use change::{PinChange, Reason};
pub use pick::{Failure, FailureKind, Failures};
pub use workspace::Workspace;

/// Whether an operation that changes the lockfile writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Write the new lockfile (atomically, and only if its bytes change).
    Write,
    /// Do everything but write (`update --dry-run`).
    DryRun,
}
