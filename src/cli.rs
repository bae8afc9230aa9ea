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
    /// Timeout of one API request (e.g. 10s, 500ms).
    #[arg(long, global = true, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
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
}

/// Durations on the command line: `10s`, `500ms`, `2m`, `1m 30s`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let parsed: jiff::SignedDuration = text
        .parse()
        .map_err(|err| format!("`{text}` is not a duration like 10s, 500ms or 2m ({err})"))?;
    Duration::try_from(parsed).map_err(|_| format!("`{text}` must not be negative"))
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
