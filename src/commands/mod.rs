//! One file per command: parse what the command line gave, call one operation of the library
//! (`imagelock::ops`), render its result as text, JSON or Markdown. This file holds what they
//! share: the [`Session`] (settings, the API client, where output goes) and the renderers of the
//! types several commands print.

use std::cell::RefCell;
use std::future::Future;

use imagelock::lockfile::{Pin, RunLock};
use imagelock::ops::{PinChange, Workspace};
use imagelock::select::Context;
use imagelock::spec::Spec;
use imagelock::text::escape;
use imagelock::ucloud::{self, Client};
use imagelock::{Error, Exit, Result};

use crate::cli::{Cli, Command, GlobalArgs};
use crate::printer;

pub use imagelock::export::pin_value;
pub use imagelock::select::created_date;

pub mod check;
pub mod completions;
pub mod explain;
pub mod export;
pub mod get;
pub mod images;
pub mod init;
pub mod lock;
pub mod markdown;
pub mod merge_driver;
pub mod outdated;
pub mod schema;
pub mod terraform_external;
pub mod update;
pub mod validate;
pub mod verify;

pub fn run(cli: Cli) -> Result<Exit> {
    let progress = crate::progress::Progress::new(crate::progress::wanted(
        cli.global.quiet,
        cli.global.json,
        cli.global.verbose,
    ));
    let session = Session {
        args: cli.global,
        progress,
        color: crate::progress::stderr_has_color(),
        warnings: RefCell::default(),
    };
    match cli.command {
        Command::Lock => lock::run(&session),
        Command::Check(args) => check::run(&session, &args),
        Command::Get { name, region } => get::run(&session, &name, region.as_deref()),
        Command::Validate => validate::run(&session),
        Command::Schema => schema::run(),
        Command::Update(args) => update::run(&session, &args),
        Command::Outdated(args) => outdated::run(&session, &args),
        Command::Verify => verify::run(&session),
        Command::Explain { name, region, top } => {
            explain::run(&session, &name, region.as_deref(), top)
        }
        Command::Export { format } => export::run(&session, &format),
        Command::TerraformExternal => terraform_external::run(&session),
        Command::Init { region, force } => init::run(&session, region.as_deref(), force),
        Command::Images(args) => images::run(&session, &args),
        Command::Completions { shell } => completions::run(shell),
        Command::MergeDriver { base, ours, theirs } => {
            merge_driver::run(&session, &base, &ours, &theirs)
        }
    }
}

/// What every command knows about this invocation.
pub struct Session {
    pub args: GlobalArgs,
    /// The spinner shown while API calls run (disabled off a terminal, with -q, --json, in CI).
    pub progress: crate::progress::Progress,
    /// Whether stderr takes colors.
    pub color: bool,
    /// Every warning so far, for the `warnings` list of a `--json` document.
    warnings: RefCell<Vec<String>>,
}

impl Session {
    /// Where the spec and the lockfile are: `-f` and `--lock`, else found upward from here.
    pub fn workspace(&self) -> Result<Workspace> {
        Workspace::discover(
            self.args.spec.as_deref(),
            self.args.lock.as_deref(),
            &current_dir()?,
        )
    }

    /// The spec, with its warnings shown.
    pub fn load_spec(&self, workspace: &Workspace) -> Result<Spec> {
        let spec = workspace.load_spec()?;
        self.spec_warnings(&spec);
        Ok(spec)
    }

    pub fn spec_warnings(&self, spec: &Spec) {
        for warning in &spec.warnings {
            self.warn(warning);
        }
    }

    /// One writer at a time: held from reading the lockfile to replacing it, so a concurrent run
    /// waits, then sees this run's pins.
    pub fn lock_for_writing(&self, workspace: &Workspace) -> Result<RunLock> {
        RunLock::acquire(&workspace.spec, || {
            self.warn(format!(
                "waiting for another imagelock run on {}",
                workspace.lock.display()
            ))
        })
    }

    /// What the selection rules need to know about the world: the clock, read once per run
    /// (`IMAGELOCK_NOW` overrides it), and the spec's deny list.
    pub fn context(&self, spec: &Spec) -> Result<Context> {
        Ok(Context::from_env()?.with_deny(&spec.deny))
    }

    /// The API client, built only by commands that call the API: credentials are not needed
    /// otherwise.
    pub fn client(&self) -> Result<Client> {
        let env = |name: &str| std::env::var(name).ok();
        let options = ucloud::ConnectOptions {
            endpoint: self.args.endpoint.clone(),
            profile: self.args.profile.clone(),
            allow_http: self.args.allow_http,
            timeout: self.args.timeout,
            retry_budget: self.args.retry_budget,
            max_attempts: self.args.max_attempts,
            concurrency: usize::from(self.args.concurrency),
            page_size: self.args.page_size,
            max_listing: self.args.max_listing,
        };
        let ucloud::Connection {
            mut client,
            warnings,
        } = ucloud::connect(&options, &env)?;
        for warning in &warnings {
            self.warn(warning);
        }
        if let Some(observer) = self.progress.observer() {
            client.set_observer(observer);
        }
        Ok(client)
    }

    /// Runs async work on a runtime made for it; commands without network never make one.
    pub fn block_on<F: Future>(&self, work: F) -> Result<F::Output> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| Error::Internal(format!("cannot start the async runtime: {err}")))?;
        Ok(runtime.block_on(work))
    }

    /// A line for the human on stderr (silent with -q or --json).
    pub fn status(&self, line: impl AsRef<str>) {
        if !self.args.quiet && !self.args.json {
            // Results are being reported, so fetching is over: the spinner goes first.
            self.progress.finish();
            printer::stderr_line(&crate::progress::paint_status(line.as_ref(), self.color));
        }
    }

    /// A finding that is the point of the command (`check`'s verdict, `outdated`'s moves): on
    /// stderr even with -q; with --json the document carries it instead.
    pub fn finding(&self, line: impl AsRef<str>) {
        if !self.args.json {
            self.progress.finish();
            printer::stderr_line(&crate::progress::paint_status(line.as_ref(), self.color));
        }
    }

    /// A warning on stderr (only -q silences it); also listed in a `--json` document.
    pub fn warn(&self, line: impl AsRef<str>) {
        let line = line.as_ref();
        self.warnings.borrow_mut().push(line.to_string());
        if !self.args.quiet {
            let label = crate::progress::label("warning", self.color);
            self.progress
                .suspend(|| printer::stderr_line(&format!("{label} {line}")));
        }
    }

    /// Prints a JSON document on stdout, with the run's warnings in its `warnings` list.
    pub fn print_json(&self, value: &serde_json::Value) -> Result<()> {
        let mut value = value.clone();
        if let serde_json::Value::Object(map) = &mut value
            && !map.contains_key("warnings")
        {
            map.insert(
                "warnings".into(),
                serde_json::json!(*self.warnings.borrow()),
            );
        }
        let text = serde_json::to_string_pretty(&value)
            .map_err(|err| Error::Internal(format!("cannot render JSON: {err}")))?;
        printer::stdout(&format!("{text}\n"))
    }

    /// Data on stdout.
    pub fn out(&self, text: &str) -> Result<()> {
        printer::stdout(text)
    }
}

fn current_dir() -> Result<std::path::PathBuf> {
    std::env::current_dir().map_err(|err| Error::io("read the current directory", ".", err))
}

/// `uimage-xxx (Ubuntu 22.04 64位, 2024-05-01)`: enough to review a pin at a glance. Text from
/// the API is escaped.
pub fn pin_label(pin: &Pin) -> String {
    format!(
        "{} ({}, {})",
        pin.image_id,
        escape(&pin.image_name),
        created_date(pin.create_time)
    )
}

/// `1 entry`, `3 entries`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A pin change as every `--json` document shows it.
pub fn change_json(change: &PinChange) -> serde_json::Value {
    serde_json::json!({
        "name": change.entry,
        "region": change.region,
        "reason": change.reason.as_str(),
        "old": change.old.as_ref().map(pin_value),
        "new": change.new.as_ref().map(pin_value),
        "moved": change.moves(),
        "downgrade": change.is_downgrade(),
    })
}

/// `(downgrade 24.4.0 → 22.4.0)` for a move to a lower version.
pub fn downgrade_note(change: &PinChange) -> String {
    if !change.is_downgrade() {
        return String::new();
    }
    match change.version_change() {
        Some((from, to)) => format!("  (downgrade {from} → {to})"),
        None => "  (downgrade: the new image has no version)".to_string(),
    }
}

/// The human name of a reason, for the bracket after a line.
pub fn reason_note(change: &PinChange) -> &'static str {
    use imagelock::ops::Reason;
    match change.reason {
        Reason::Newer => "",
        Reason::Missing => "  [not locked yet]",
        Reason::QueryChanged => "  [query changed]",
        Reason::HandEdited => "  [edited by hand]",
        Reason::Denied => "  [denied]",
        Reason::Removed => "  [no longer in the spec]",
    }
}

/// The renderers a report command offers besides `--json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Human text on stderr.
    #[default]
    Text,
    /// A Markdown report on stdout, for a pull-request body.
    Markdown,
}
