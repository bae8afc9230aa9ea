//! `ucloud-sim`: a faithful local stand-in for UCloud's `DescribeImage` API, for tests,
//! benchmarks and demos on machines without cloud access.
//!
//! ```no_run
//! let catalog = ucloud_sim::Catalog::load("examples/catalog.json").unwrap();
//! let sim = ucloud_sim::spawn(ucloud_sim::SimConfig::new(catalog)).unwrap();
//! println!("endpoint: {}", sim.url());
//! // ... point a client at sim.url() with DEMO_PUBLIC_KEY / DEMO_PRIVATE_KEY ...
//! assert_eq!(sim.stats().total, 0);
//! ```

pub mod catalog;
pub mod faults;
pub mod generate;
pub mod protocol;
mod server;
pub mod stats;

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

pub use catalog::{Catalog, Edit, Query};
pub use faults::Fault;
pub use protocol::{Params, sign};
pub use stats::{RecordedRequest, Stats};

/// The public key accepted when no `--key` is given.
pub const DEMO_PUBLIC_KEY: &str = "ucloud-sim-demo-public-key";
/// The private key paired with [`DEMO_PUBLIC_KEY`].
pub const DEMO_PRIVATE_KEY: &str = "ucloud-sim-demo-private-key";

/// The default project of the simulated account (`--default-project`).
pub const DEFAULT_PROJECT: &str = "org-default";

/// How to run a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The images served.
    pub catalog: Catalog,
    /// Address to bind; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Accepted `(public, private)` key pairs.
    pub keys: Vec<(String, String)>,
    /// Added before every API response.
    pub latency: Duration,
    /// Most images in one page, whatever `Limit` asks for.
    pub page_cap: usize,
    /// Probability in `[0, 1]` that an API request gets a fault.
    pub fault_rate: f64,
    /// Seed of the fault sequence.
    pub seed: u64,
    /// Delay of the `slow` fault.
    pub slow: Duration,
    /// The fault kinds drawn from (all by default).
    pub fault_kinds: Vec<Fault>,
    /// Answer RetCode 153 (rate-limited) to a request that arrives while this many admitted API
    /// requests are being handled, like a per-account rate limiter at the gateway (a refused
    /// request does not hold a slot). `None`: no limit.
    pub max_in_flight: Option<usize>,
    /// Send `RetCode` and `TotalCount` as JSON strings (`"RetCode": "0"`), as UCloud's API is
    /// known to do now and then.
    pub string_codes: bool,
    /// The account's default project: a request without `ProjectId` sees its images.
    pub default_project: String,
}

impl SimConfig {
    /// Defaults: `127.0.0.1:0`, the demo key, no latency, page cap 100, no faults, seed 0,
    /// slow faults of 30 s, every fault kind, no rate limit, numeric codes, default project
    /// [`DEFAULT_PROJECT`].
    pub fn new(catalog: Catalog) -> Self {
        SimConfig {
            catalog,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            keys: vec![(DEMO_PUBLIC_KEY.to_owned(), DEMO_PRIVATE_KEY.to_owned())],
            latency: Duration::ZERO,
            page_cap: 100,
            fault_rate: 0.0,
            seed: 0,
            slow: Duration::from_secs(30),
            fault_kinds: Fault::ALL.to_vec(),
            max_in_flight: None,
            string_codes: false,
            default_project: DEFAULT_PROJECT.to_owned(),
        }
    }
}

/// A running simulator. Dropping it shuts the server down.
pub struct SimHandle {
    addr: SocketAddr,
    state: Arc<server::State>,
    shutdown: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl SimHandle {
    /// Base URL of the endpoint, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Counters since start or the last reset.
    pub fn stats(&self) -> Stats {
        self.state.recorder.stats()
    }

    /// Every API request received since start or the last reset, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.recorder.requests()
    }

    /// Zeroes the counters and clears the request log (fault arrival indexes keep counting).
    pub fn reset_stats(&self) {
        self.state.recorder.reset()
    }

    /// Changes the served catalog; later requests see the change.
    pub fn update_catalog(&self, f: impl FnOnce(&mut Catalog)) {
        let mut catalog = self
            .state
            .catalog
            .write()
            .unwrap_or_else(|e| e.into_inner());
        f(&mut catalog)
    }

    /// A copy of the served catalog.
    pub fn catalog(&self) -> Catalog {
        self.state
            .catalog
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops the server and waits for its thread; in-flight requests are dropped.
    pub fn shutdown(mut self) {
        self.stop();
    }

    /// Signals the accept loop and joins the server thread; idempotent so drop after
    /// `shutdown` is harmless.
    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds `config.listen` and serves on a background thread with its own tokio runtime;
/// returns once the socket is listening, so `url()` is immediately usable.
pub fn spawn(config: SimConfig) -> std::io::Result<SimHandle> {
    let std_listener = std::net::TcpListener::bind(config.listen)?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let state = Arc::new(server::State {
        catalog: RwLock::new(config.catalog),
        keys: config.keys,
        latency: config.latency,
        page_cap: config.page_cap.max(1),
        fault_rate: config.fault_rate.clamp(0.0, 1.0),
        fault_kinds: config.fault_kinds,
        seed: config.seed,
        slow: config.slow,
        max_in_flight: config.max_in_flight,
        admitted: AtomicU64::new(0),
        string_codes: config.string_codes,
        default_project: config.default_project,
        recorder: stats::Recorder::new(),
        arrivals: AtomicU64::new(0),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ucloud-sim")
        .enable_all()
        .build()?;
    let listener = {
        let _guard = runtime.enter();
        tokio::net::TcpListener::from_std(std_listener)?
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    let thread_state = state.clone();
    let thread = std::thread::Builder::new()
        .name("ucloud-sim".into())
        .spawn(move || {
            runtime.block_on(server::run(listener, thread_state, rx));
            // Connection tasks (e.g. a sleeping slow fault) must not keep the thread alive.
            runtime.shutdown_background();
        })?;
    Ok(SimHandle {
        addr,
        state,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}
