//! `imagelock schema`: the spec's JSON Schema, e.g. for an editor's yaml-language-server.

use imagelock::spec::SCHEMA;
use imagelock::{Exit, Result};

pub fn run() -> Result<Exit> {
    crate::printer::stdout(SCHEMA)?;
    if !SCHEMA.ends_with('\n') {
        crate::printer::stdout("\n")?;
    }
    Ok(Exit::Success)
}
