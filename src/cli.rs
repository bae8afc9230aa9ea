//! The command line: global options and one subcommand per `commands/` file.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "imagelock",
    version,
    about = "Pin UCloud host images in a committed lockfile",
    long_about = "Resolves the image queries of imagelock.yaml against UCloud's DescribeImage API \
                  and pins the exact ImageIds in imagelock.lock, so every deploy is reproducible \
                  and every image upgrade is a reviewable diff."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// The spec file.
    #[arg(
        short = 'f',
        long = "spec",
        global = true,
        default_value = "imagelock.yaml"
    )]
    pub spec: PathBuf,
    /// The lockfile [default: imagelock.lock next to the spec].
    #[arg(long, global = true)]
    pub lock: Option<PathBuf>,
    /// UCloud API endpoint [default: the profile's base_url, else https://api.ucloud.cn].
    #[arg(long, global = true, env = "UCLOUD_BASE_URL")]
    pub endpoint: Option<String>,
    /// Profile of the UCloud CLI's credential and config files [default: the active one].
    #[arg(long, global = true, env = "UCLOUD_PROFILE")]
    pub profile: Option<String>,
    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing on stderr but errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More logging on stderr (-v: requests, -vv: everything).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Most API requests in flight at once.
    #[arg(long, global = true, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Timeout of one API request, e.g. 10s or 500ms [default: the profile's timeout_sec, else 10s].
    #[arg(long, global = true, value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Total time spent retrying one request before giving up (e.g. 30s, 2m).
    #[arg(long, global = true, default_value = "30s", value_parser = parse_duration)]
    pub retry_budget: Duration,
    /// Most attempts of one request.
    #[arg(long, global = true, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
    /// Images asked for per page (the server may send fewer).
    #[arg(long, global = true, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub page_size: u32,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pin new or changed entries; keep every other pin as it is.
    Lock,
    /// Exit 0 if the lockfile satisfies the spec, 3 otherwise (no network).
    Check,
    /// Print one pinned ImageId (no network).
    Get {
        /// The entry's name.
        name: String,
        /// The region, for an entry pinned in several.
        #[arg(long)]
        region: Option<String>,
    },
    /// Check the spec against its schema and rules (no network).
    Validate,
    /// Print the spec's JSON Schema.
    Schema,
    /// Re-resolve the named entries (all when none) and move their pins.
    Update {
        /// Entries to re-resolve [default: every entry of the spec].
        names: Vec<String>,
    },
    /// Report pins that would move if resolved today; exit 3 if any (writes nothing).
    Outdated,
    /// Check every pinned image still exists and is Available; exit 4 naming those that are not.
    Verify,
    /// Show one entry's filter funnel and ranked candidates, marking the pin and today's pick.
    Explain {
        /// The entry's name.
        name: String,
        /// Only this region of the entry.
        #[arg(long)]
        region: Option<String>,
        /// Most candidates listed per region.
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
    /// Print every pin for other tools (no network); exit 3 if the lockfile is stale.
    Export {
        /// json: every pin with its details; env: IMAGELOCK_<NAME>_<REGION>=id lines;
        /// tfvars-json: a Terraform `imagelock_images` map (save as images.auto.tfvars.json).
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(imagelock::export::Format::NAMES))]
        format: String,
    },
    /// Program for Terraform's `external` data source: JSON query on stdin, pin on stdout.
    TerraformExternal,
    /// Write a starter imagelock.yaml (refuses to overwrite one).
    Init {
        /// The default region of the new spec [default: the UCloud CLI profile's, else cn-bj2].
        #[arg(long)]
        region: Option<String>,
        /// Replace an existing spec.
        #[arg(long)]
        force: bool,
    },
    /// List a region's images, newest first, with the spec's filters.
    Images(Box<crate::commands::images::ImagesArgs>),
    /// Git merge driver for the lockfile: merge OURS and THEIRS (from BASE) into OURS; what both
    /// sides changed differently is left out, for `imagelock lock` to pin again.
    ///
    /// Set up with `.gitattributes`: `imagelock.lock merge=imagelock`, and
    /// `git config merge.imagelock.driver "imagelock merge-driver %O %A %B"`.
    /// Reads only the three files: no spec, no network.
    MergeDriver {
        /// The common ancestor's lockfile (git's %O); may be empty.
        base: std::path::PathBuf,
        /// Our lockfile (git's %A); the merge is written here.
        ours: std::path::PathBuf,
        /// Their lockfile (git's %B).
        theirs: std::path::PathBuf,
    },
    /// Print a shell completion script (e.g. `imagelock completions bash > /etc/bash_completion.d/imagelock`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Durations on the command line: `10s`, `500ms`, `2m`, `1m 30s`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let parsed: jiff::SignedDuration = text
        .parse()
        .map_err(|err| format!("`{text}` is not a duration like 10s, 500ms or 2m ({err})"))?;
    Duration::try_from(parsed).map_err(|_| format!("`{text}` must not be negative"))
}

/// A timeout of zero would fail every request without sending it.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!("`{text}` must be longer than zero"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
