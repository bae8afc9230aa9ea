//! The `imagelock` binary: parse the command line, set up logging, run a command, map the outcome
//! to the exit codes of docs/commands.md ("Exit codes"). Nothing here panics on bad input; a panic
//! is a bug and exits 1.

mod cli;
mod commands;
mod progress;

use std::process::ExitCode;

use clap::Parser;
use imagelock::{Error, Exit};
use progress::stderr_has_color;

fn main() -> ExitCode {
    // A panic is a bug: say so in one line instead of a trace, and exit 1.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error (this is a bug in imagelock, please report it): {info}");
    }));
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            // --help and --version are not errors.
            return ExitCode::from(if err.use_stderr() {
                Exit::Invalid.code()
            } else {
                0
            });
        }
    };
    init_logging(cli.global.verbose, cli.global.quiet);
    let outcome = std::panic::catch_unwind(|| commands::run(cli));
    let exit = match outcome {
        Ok(Ok(exit)) => exit,
        Ok(Err(err)) => {
            report(&err);
            err.exit()
        }
        Err(_) => Exit::Internal,
    };
    ExitCode::from(exit.code())
}

fn report(err: &Error) {
    match err {
        // Located spec problems get the full report: source line, underline, path, help.
        Error::Spec(spec_error) => eprint!("{}", spec_error.render(stderr_has_color())),
        other => eprintln!("{} {other}", progress::label("error", stderr_has_color())),
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
        .with_writer(std::io::stderr)
        .with_ansi(stderr_has_color())
        .with_target(false);
    tracing_subscriber::registry()
        .with(output)
        .with(filter)
        .init();
}
