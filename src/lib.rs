//! imagelock: pin UCloud host images in a committed lockfile.
//!
//! The library is the pipeline, one module per stage, data flowing one way:
//! [`spec`] (load, locate, validate) → [`plan`] (group entries into API listings) →
//! [`ucloud`] (sign, send, page, retry) → [`select`] (filters, ranking) →
//! [`lockfile`] (format, digest, atomic write). [`resolve`] drives the middle three for a set of
//! entries; the CLI's commands are thin layers over it.

pub mod error;
pub mod explain;
pub mod export;
pub mod lockfile;
pub mod plan;
pub mod refresh;
pub mod resolve;
pub mod select;
pub mod spec;
pub mod terraform;
pub mod ucloud;
pub mod verify;
pub mod version;

pub use error::{Error, Exit, Result};
