//! The `imagelock` binary: parse the command line, set up logging, run a command, map the outcome
//! to the exit codes of docs/commands.md ("Exit codes"). Nothing here panics on bad input; a panic is a bug and
//! exits 1 with one line, written the same careful way as everything else (a broken stderr
//! cannot turn it into an abort).

mod cli;
mod commands;
mod printer;
mod progress;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use imagelock::{Error, Exit};
use progress::stderr_has_color;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        printer::stderr_line(&format!(
            "error: internal error (this is a bug in imagelock, please report it): {info}"
        ));
    }));
    let parsed = match std::panic::catch_unwind(parse) {
        Ok(parsed) => parsed,
        Err(_) => return ExitCode::from(Exit::Internal.code()),
    };
    let cli = match parsed {
        Ok(cli) => cli,
        Err(err) => {
            let text = err.render();
            let text = if stderr_has_color() {
                text.ansi().to_string()
            } else {
                text.to_string()
            };
            // --help and --version are not errors, and go to stdout.
            if err.use_stderr() {
                printer::stderr_raw(&text);
                return ExitCode::from(Exit::Invalid.code());
            }
            return ExitCode::from(match printer::stdout(&text) {
                Ok(()) => 0,
                Err(_) => Exit::Invalid.code(),
            });
        }
    };
    init_logging(cli.global.verbose, cli.global.quiet);
    let json = cli.global.json;
    let outcome = std::panic::catch_unwind(|| commands::run(cli));
    let exit = match outcome {
        Ok(Ok(exit)) => exit,
        Ok(Err(err)) => {
            report(&err, json);
            err.exit()
        }
        Err(_) => Exit::Internal,
    };
    ExitCode::from(exit.code())
}

/// The command line, with options that mean nothing to a command hidden from its `--help`.
///
/// clap does not propagate a global option to a subcommand that defines one with the same id,
/// so a hidden local twin keeps `--lock` out of `imagelock images --help` and friends.
fn parse() -> Result<cli::Cli, clap::Error> {
    let mut command = cli::Cli::command();
    let hidden = |id: &'static str| {
        clap::Arg::new(id)
            .long(id)
            .hide(true)
            .value_parser(clap::value_parser!(std::path::PathBuf))
    };
    for name in ["images", "init", "schema", "completions", "validate"] {
        command = command.mut_subcommand(name, |sub| sub.arg(hidden("lock")));
    }
    for name in ["schema", "completions"] {
        command = command.mut_subcommand(name, |sub| sub.arg(hidden("spec")));
    }
    let matches = command.try_get_matches()?;
    cli::Cli::from_arg_matches(&matches)
}

/// The error on stderr, and with `--json` also as a JSON document on stdout, so a script reading
/// stdout always gets one document.
fn report(err: &Error, json: bool) {
    match err {
        // Located spec problems get the full report: source line, underline, path, help.
        Error::Spec(spec_error) => printer::stderr_raw(&spec_error.render(stderr_has_color())),
        other => printer::stderr_line(&format!(
            "{} {other}",
            progress::label("error", stderr_has_color())
        )),
    }
    if json {
        let document = serde_json::json!({
            "error": {
                "kind": err.kind(),
                "exit_code": err.exit().code(),
                "message": err.to_string(),
            }
        });
        if let Ok(text) = serde_json::to_string_pretty(&document) {
            let _ = printer::stdout(&format!("{text}\n"));
        }
    }
}

/// `-v` shows imagelock's own debug lines (requests with region, offset, status and timing),
/// `-vv` adds its traces and the HTTP stack's debug lines, `-vvv` everything. The HTTP stack's
/// connection chatter would bury the requests at `-v`.
fn init_logging(verbose: u8, quiet: bool) {
    use tracing::level_filters::LevelFilter;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;

    let (own, others) = match (quiet, verbose) {
        (true, _) => (LevelFilter::ERROR, LevelFilter::ERROR),
        (false, 0) => (LevelFilter::WARN, LevelFilter::WARN),
        (false, 1) => (LevelFilter::DEBUG, LevelFilter::WARN),
        (false, 2) => (LevelFilter::TRACE, LevelFilter::DEBUG),
        (false, _) => (LevelFilter::TRACE, LevelFilter::TRACE),
    };
    let filter = Targets::new()
        .with_target(env!("CARGO_CRATE_NAME"), own)
        .with_default(others);
    let output = tracing_subscriber::fmt::layer()
        .with_writer(printer::TracingWriter)
        .with_ansi(stderr_has_color())
        .with_target(false);
    tracing_subscriber::registry()
        .with(output)
        .with(filter)
        .init();
}
