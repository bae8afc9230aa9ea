//! The `ucloud-sim` command: a thin clap wrapper over the library.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ucloud_sim::{Catalog, Fault, SimConfig};

#[derive(Parser)]
#[command(
    name = "ucloud-sim",
    version,
    about = "A local stand-in for UCloud's DescribeImage API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a catalog over HTTP until SIGTERM or Ctrl-C.
    Serve(ServeArgs),
    /// Write a deterministic synthetic catalog as JSON.
    Generate(GenerateArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Catalog JSON file (region → list of UHostImageSet objects).
    #[arg(long)]
    catalog: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Accepted key pair as PUBLIC:PRIVATE (repeatable). Default: the demo pair.
    #[arg(long = "key", value_name = "PUBLIC:PRIVATE", value_parser = parse_key)]
    keys: Vec<(String, String)>,
    /// Delay every API response by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Most images returned in one page, whatever Limit asks for.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    page_cap: u64,
    /// Probability (0..=1) that an API request gets an injected fault.
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate)]
    fault_rate: f64,
    /// Seed of the fault sequence.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Delay of the `slow` fault, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    slow_ms: u64,
    /// Comma-separated fault kinds to draw from: http_503,http_502,http_429,retcode_2000,
    /// retcode_150,retcode_153,reset,truncated,slow.
    #[arg(long, value_name = "LIST")]
    faults: Option<String>,
    /// Answer RetCode 153 (rate-limited) to requests that arrive while N are already in flight.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_in_flight: Option<u64>,
    /// Send RetCode and TotalCount as JSON strings ("RetCode": "0").
    #[arg(long)]
    string_codes: bool,
    /// The account's default project: requests without ProjectId see its custom images.
    #[arg(long, default_value = ucloud_sim::DEFAULT_PROJECT)]
    default_project: String,
}

#[derive(clap::Args)]
struct GenerateArgs {
    /// Number of regions (real UCloud region names first).
    #[arg(long, default_value_t = 3)]
    regions: usize,
    /// Images per region.
    #[arg(long, default_value_t = 50)]
    per_region: usize,
    /// Seed; the same seed gives the same catalog.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output file (default: stdout).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn parse_key(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((p, k)) if !p.is_empty() && !k.is_empty() => Ok((p.to_owned(), k.to_owned())),
        _ => Err("expected PUBLIC:PRIVATE".to_owned()),
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err("expected a probability between 0 and 1".to_owned()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Generate(args) => generate(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ucloud-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), String> {
    // Checked before the catalog so a typo fails fast whatever the catalog's size.
    let kinds = args.faults.as_deref().map(Fault::parse_list).transpose()?;
    let catalog = Catalog::load(&args.catalog)?;
    let mut config = SimConfig::new(catalog);
    config.listen = args.listen;
    if !args.keys.is_empty() {
        config.keys = args.keys;
    }
    config.latency = Duration::from_millis(args.latency_ms);
    config.page_cap = usize::try_from(args.page_cap).unwrap_or(usize::MAX);
    config.fault_rate = args.fault_rate;
    config.seed = args.seed;
    config.slow = Duration::from_millis(args.slow_ms);
    if let Some(kinds) = kinds {
        config.fault_kinds = kinds;
    }
    config.max_in_flight = args
        .max_in_flight
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    config.string_codes = args.string_codes;
    config.default_project = args.default_project;
    let sim =
        ucloud_sim::spawn(config).map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    {
        let mut out = std::io::stdout().lock();
        // Scripts wait for this line to learn the port, so it must not sit in a buffer.
        writeln!(out, "listening on {}", sim.url()).map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
    }
    wait_for_signal()?;
    sim.shutdown();
    Ok(())
}

fn wait_for_signal() -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        Ok(())
    })
}

fn generate(args: GenerateArgs) -> Result<(), String> {
    let json = Catalog::generate(args.regions, args.per_region, args.seed).to_json_pretty();
    match args.out {
        Some(path) => std::fs::write(&path, json + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{json}").map_err(|e| e.to_string())
        }
    }
}
