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
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The spec file [default: imagelock.yaml here or in the nearest parent directory].
    #[arg(short = 'f', long = "spec", global = true)]
    pub spec: Option<PathBuf>,
    /// The lockfile [default: imagelock.lock next to the spec].
    #[arg(long, global = true)]
    pub lock: Option<PathBuf>,
    /// UCloud API endpoint [default: UCLOUD_BASE_URL, else UCLOUD_API_BASE_URL, else the
    /// profile's base_url, else https://api.ucloud.cn].
    #[arg(long, global = true)]
    pub endpoint: Option<String>,
    /// Allow a plain http:// endpoint on any host (requests then travel unencrypted; a warning
    /// says so). Loopback hosts and UCloud's intranet gateway http://api.service.ucloud.cn need
    /// no opt-in.
    #[arg(long, global = true, env = "IMAGELOCK_ALLOW_HTTP")]
    pub allow_http: bool,
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
    /// Most API requests in flight at once; halved whenever the API answers "slow down"
    /// (RetCode 153, HTTP 429), then grown back slowly. UCloud publishes no rate limit.
    #[arg(long, global = true, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Timeout of one API request, e.g. 10s or 500ms [default: UCLOUD_TIMEOUT_SECOND, else the
    /// profile's timeout_sec, else 10s].
    #[arg(long, global = true, value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Total time spent retrying one request before giving up (e.g. 30s, 2m).
    #[arg(long, global = true, default_value = "30s", value_parser = parse_duration)]
    pub retry_budget: Duration,
    /// Most attempts of one request; "slow down" answers do not count [default: the profile's
    /// max_retry_times + 1, else 6].
    #[arg(long, global = true, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: Option<u32>,
    /// Images asked for per page (the server may send fewer; its cap is not published).
    #[arg(long, global = true, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub page_size: u32,
    /// Largest TotalCount accepted for one listing; a larger one fails before any further page
    /// is asked (our bound against a runaway answer, not a published limit).
    #[arg(long, global = true, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_listing: u64,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pin new or changed entries; keep every other pin as it is.
    Lock,
    /// Exit 0 if the lockfile satisfies the spec, 3 otherwise (no network).
    Check(CheckArgs),
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
    Update(UpdateArgs),
    /// Report pins that would move if resolved today; exit 3 if any (writes nothing).
    Outdated(OutdatedArgs),
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
        /// The shell the script is for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Also fail (exit 3) for pins whose image reaches its end of life (MaintainEol) within this
    /// long, e.g. 90d or 12w; pins with no known EOL are counted in a warning.
    #[arg(long, value_name = "DURATION", value_parser = parse_age)]
    pub eol_within: Option<i64>,
}

#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// Entries to re-resolve [default: every entry of the spec that is not held].
    pub names: Vec<String>,
    /// Move only this region's pin of the one named entry.
    #[arg(long)]
    pub region: Option<String>,
    /// Pin exactly this ImageId (to roll back or forward by hand), if it passes the entry's
    /// filters; on an entry with several regions, with --region.
    #[arg(long, value_name = "IMAGE_ID")]
    pub precise: Option<String>,
    /// Let a pin move to a lower image version (refused by default; exit 3 lists them).
    #[arg(long)]
    pub allow_downgrade: bool,
    /// Do everything but write the lockfile; exit as `update` would.
    #[arg(long)]
    pub dry_run: bool,
    /// `markdown`: a report for a pull-request body on stdout.
    #[arg(long, value_enum, default_value_t, conflicts_with = "json")]
    pub format: crate::commands::Format,
}

#[derive(Debug, Clone, Args)]
pub struct OutdatedArgs {
    /// `markdown`: a report for a pull-request body on stdout.
    #[arg(long, value_enum, default_value_t, conflicts_with = "json")]
    pub format: crate::commands::Format,
}

/// Ages in a spec's units: `90d`, `12w`, `36h` (seconds).
fn parse_age(text: &str) -> Result<i64, String> {
    let invalid = || format!("`{text}` is not a duration like 90d, 12w or 36h");
    let (number, unit) = text.trim().split_at(text.trim().len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| invalid())?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(invalid()),
    };
    n.checked_mul(unit)
        .filter(|seconds| *seconds >= 0)
        .ok_or_else(invalid)
}

/// Durations on the command line: `10s`, `500ms`, `2m`, `1m 30s`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    // jiff's own message talks about its types; say what the user can write instead.
    let parsed: jiff::SignedDuration = text
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 10s, 500ms or 2m"))?;
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
        assert_eq!(
            parse_duration("1d"),
            Err("`1d` is not a duration like 10s, 500ms or 2m".to_string())
        );
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("90d"), Ok(90 * 86_400));
        assert_eq!(parse_age("1w"), parse_age("7d"));
        assert!(parse_age("d").is_err());
        assert!(parse_age("-1d").is_err());
        assert!(parse_age("5y").is_err());
    }
}
