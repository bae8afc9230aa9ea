//! `imagelock schema`: the spec's JSON Schema, e.g. for an editor's yaml-language-server.

use imagelock::spec::SCHEMA;
use imagelock::{Exit, Result};

pub fn run() -> Result<Exit> {
    print!("{SCHEMA}");
    if !SCHEMA.ends_with('\n') {
        println!();
    }
    Ok(Exit::Success)
}
