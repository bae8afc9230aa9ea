//! One file per command, each a thin layer over the library; this file holds what they share:
//! where the spec and lockfile are, the API client, the async runtime, and how output is printed.

use std::future::Future;
use std::path::{Path, PathBuf};

use imagelock::lockfile::{self, LockedImage, Lockfile, Pin, RunLock};
use imagelock::resolve::Picks;
use imagelock::spec::{self, Spec};
use imagelock::ucloud::{self, Client, ClientOptions, Endpoint};
use imagelock::{Error, Exit, Result};

use crate::cli::{Cli, Command, GlobalArgs};

// How pins and dates read, shared by every command's output.
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
    };
    match cli.command {
        Command::Lock => lock::run(&session),
        Command::Check => check::run(&session),
        Command::Get { name, region } => get::run(&session, &name, region.as_deref()),
        Command::Validate => validate::run(&session),
        Command::Schema => schema::run(),
        Command::Update { names } => update::run(&session, &names),
        Command::Outdated => outdated::run(&session),
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
}

impl Session {
    pub fn spec_path(&self) -> &Path {
        &self.args.spec
    }

    /// `--lock`, else `imagelock.lock` next to the spec.
    pub fn lock_path(&self) -> PathBuf {
        match &self.args.lock {
            Some(path) => path.clone(),
            None => self.spec_path().with_file_name("imagelock.lock"),
        }
    }

    pub fn load_spec(&self) -> Result<Spec> {
        spec::load(self.spec_path())
    }

    /// One writer at a time: held from reading the lockfile to replacing it, so a concurrent run
    /// waits, then sees this run's pins.
    pub fn lock_for_writing(&self) -> Result<RunLock> {
        RunLock::acquire(self.spec_path(), || {
            self.warn(format!(
                "waiting for another imagelock run on {}",
                self.lock_path().display()
            ))
        })
    }

    /// The lockfile, or an empty one when there is none yet.
    pub fn load_lock(&self) -> Result<Lockfile> {
        Ok(Lockfile::load(&self.lock_path())?.unwrap_or_default())
    }

    /// The API client, built only by commands that call the API: credentials are not needed
    /// otherwise.
    pub fn client(&self) -> Result<Client> {
        let env = |name: &str| std::env::var(name).ok();
        let settings = ucloud::load_settings(self.args.profile.as_deref(), &env)?;
        for warning in &settings.warnings {
            self.warn(warning);
        }
        let credentials = settings.credentials.ok_or_else(|| {
            Error::Invalid(
                "no UCloud credentials: set UCLOUD_PUBLIC_KEY and UCLOUD_PRIVATE_KEY, or configure \
                 a profile in ~/.ucloud/credential.json (the UCloud CLI's `ucloud init` writes it)"
                    .to_string(),
            )
        })?;
        let endpoint = self
            .args
            .endpoint
            .clone()
            .or(settings.base_url)
            .unwrap_or_else(|| ucloud::DEFAULT_ENDPOINT.to_string());
        let endpoint = Endpoint::parse(&endpoint)?;
        let defaults = ClientOptions::default();
        let options = ClientOptions {
            // An explicit flag beats the profile, which beats the default.
            timeout: self
                .args
                .timeout
                .or(settings.timeout)
                .unwrap_or(defaults.timeout),
            retry_budget: self.args.retry_budget,
            max_attempts: self.args.max_attempts,
            concurrency: usize::from(self.args.concurrency),
            page_size: self.args.page_size,
            ..defaults
        };
        let mut client = Client::new(endpoint, credentials, options)?;
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
            eprintln!(
                "{}",
                crate::progress::paint_status(line.as_ref(), self.color)
            );
        }
    }

    /// A warning on stderr; only -q silences it.
    pub fn warn(&self, line: impl AsRef<str>) {
        if !self.args.quiet {
            let label = crate::progress::label("warning", self.color);
            self.progress
                .suspend(|| eprintln!("{label} {}", line.as_ref()));
        }
    }

    /// Prints a JSON document on stdout.
    pub fn print_json(&self, value: &serde_json::Value) -> Result<()> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|err| Error::Internal(format!("cannot render JSON: {err}")))?;
        print_stdout(&format!("{text}\n"))
    }
}

/// Writes data to stdout. A closed pipe (`imagelock images | head`) is the reader's choice, not
/// an error, so it ends the output quietly instead of panicking like `println!`.
pub fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(err) => Err(Error::Internal(format!("cannot write to stdout: {err}"))),
    }
}

/// `uimage-xxx (Ubuntu 22.04 64位, 2024-05-01)`: enough to review a pin at a glance.
pub fn pin_label(pin: &Pin) -> String {
    format!(
        "{} ({}, {})",
        pin.image_id,
        pin.image_name,
        created_date(pin.create_time)
    )
}

/// `1 entry`, `3 entries`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One pin that a command set: `old` is `None` for a new one.
pub struct PinChange {
    pub entry: String,
    pub region: String,
    pub old: Option<Pin>,
    pub new: Pin,
}

/// Writes freshly chosen images into the lockfile: each picked entry gets the digest of its current
/// query and exactly the pins chosen now (regions dropped from the query go with it).
pub fn apply_picks(lock: &mut Lockfile, spec: &Spec, picks: Picks) -> Vec<PinChange> {
    let mut changes = Vec::new();
    for (entry, regions) in picks {
        let Some(query) = spec.images.get(&entry) else {
            continue;
        };
        let previous = lock.images.remove(&entry);
        let mut pins = std::collections::BTreeMap::new();
        for (region, image) in regions {
            let new = Pin::from(&image);
            let old = previous
                .as_ref()
                .and_then(|locked| locked.pins.get(&region))
                .cloned();
            changes.push(PinChange {
                entry: entry.clone(),
                region: region.clone(),
                old,
                new: new.clone(),
            });
            pins.insert(region, new);
        }
        lock.images.insert(
            entry,
            LockedImage {
                digest: lockfile::digest(query),
                select: None,
                agree: None,
                checksum: None,
                pins,
            },
        );
    }
    changes
}

/// `  added    web cn-bj2: uimage-… (…)` / `  changed  web hk: old → new`.
pub fn change_line(change: &PinChange) -> String {
    let PinChange {
        entry,
        region,
        old,
        new,
    } = change;
    match old {
        None => format!("  added    {entry} {region}: {}", pin_label(new)),
        Some(old) if old.image_id == new.image_id => {
            format!(
                "  kept     {entry} {region}: {} (query changed)",
                pin_label(new)
            )
        }
        Some(old) => format!(
            "  changed  {entry} {region}: {} → {}",
            pin_label(old),
            pin_label(new)
        ),
    }
}

pub fn change_json(change: &PinChange) -> serde_json::Value {
    serde_json::json!({
        "name": change.entry,
        "region": change.region,
        "old": change.old.as_ref().map(pin_value),
        "new": pin_value(&change.new),
    })
}
