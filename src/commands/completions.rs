//! `imagelock completions SHELL`: a completion script for bash, zsh, fish, PowerShell or elvish,
//! generated from the same clap definition the binary parses with, so it never drifts.

use clap::CommandFactory;
use clap_complete::Shell;
use imagelock::{Error, Exit, Result};

use crate::cli::Cli;
use crate::printer::stdout as print_stdout;

pub fn run(shell: Shell) -> Result<Exit> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "imagelock", &mut script);
    let script = String::from_utf8(script)
        .map_err(|err| Error::Internal(format!("completion script is not UTF-8: {err}")))?;
    print_stdout(&script)?;
    Ok(Exit::Success)
}
