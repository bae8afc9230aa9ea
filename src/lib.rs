//! imagelock: pin UCloud host images in a committed lockfile.
//!
//! The library is the pipeline, one module per stage, data flowing one way:
//! [`spec`] (load, locate, validate) → [`plan`] (group entries into API listings) →
//! [`ucloud`] (sign, send, page, retry) → [`select`] (filters, ranking) →
//! [`lockfile`] (format, digest, atomic write). [`resolve`] fetches the listings a set of entries
//! needs; [`ops`] holds the operations (lock, update, outdated, verify, explain, check, lookup)
//! on top, each returning a typed result. The binary's commands parse arguments, call one
//! operation and render its result; [`text`] is how values are shown to people.

pub mod error;
pub mod export;
pub mod lockfile;
pub mod ops;
pub mod plan;
pub mod resolve;
pub mod select;
pub mod spec;
pub mod terraform;
pub mod text;
pub mod ucloud;
pub mod version;

pub use error::{Error, Exit, Result};
