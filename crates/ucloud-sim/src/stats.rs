//! Request counters and the request log, read by tests and benchmarks through `/__sim/stats`
//! or the library, e.g. to assert that no listing page was fetched twice.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::faults::Fault;
use crate::protocol::Params;

/// Counters since start (or the last reset). `/__sim/*` requests are not counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// API requests received, faulted ones included.
    pub total: u64,
    /// By `Region` parameter (requests without one are not listed).
    pub by_region: BTreeMap<String, u64>,
    /// By `Action` parameter.
    pub by_action: BTreeMap<String, u64>,
    /// Injected faults by kind (`http_503`, `http_502`, `http_429`, `retcode_2000`,
    /// `retcode_150`, `retcode_153`, `reset`, `truncated`, `slow`); every kind is present, zero if
    /// never injected. Rate-limit answers from `--max-in-flight` are counted in `by_retcode`.
    pub faults: BTreeMap<String, u64>,
    /// `RetCode`s of the JSON answers actually sent (as strings, JSON object keys).
    pub by_retcode: BTreeMap<String, u64>,
    /// Highest number of API requests being handled at the same moment.
    pub max_in_flight: u64,
}

/// One API request as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// Arrival index (0-based since start; not reset by `reset_stats`), the `n` faults are keyed on.
    pub seq: u64,
    /// `GET` or `POST`.
    pub method: String,
    /// The `Content-Type` header, empty if absent.
    pub content_type: String,
    /// The parameters, without `Signature` and `PublicKey`.
    pub params: BTreeMap<String, String>,
    /// The injected fault, if any.
    pub fault: Option<String>,
    /// The `channel-key` header (dedicated-channel accounts), if sent.
    #[serde(default)]
    pub channel_key: Option<String>,
}

impl RecordedRequest {
    /// Identifies a listing page: the same key twice means the same page was fetched twice.
    pub fn listing_key(&self) -> String {
        const KEYS: [&str; 9] = [
            "Action",
            "Region",
            "Zone",
            "ProjectId",
            "ImageType",
            "OsType",
            "FuncType",
            "ImageId",
            "Offset",
        ];
        let mut parts: Vec<String> = KEYS
            .iter()
            .map(|k| {
                format!(
                    "{k}={}",
                    self.params.get(*k).map(String::as_str).unwrap_or("")
                )
            })
            .collect();
        let ids: Vec<&str> = self
            .params
            .iter()
            .filter(|(k, _)| k.starts_with("ImageIds."))
            .map(|(_, v)| v.as_str())
            .collect();
        parts.push(format!("ImageIds={}", ids.join(",")));
        parts.join("&")
    }
}

fn empty_stats() -> Stats {
    Stats {
        faults: Fault::ALL
            .iter()
            .map(|f| (f.name().to_owned(), 0))
            .collect(),
        ..Stats::default()
    }
}

/// Shared, lock-protected recorder.
#[derive(Debug)]
pub(crate) struct Recorder {
    inner: Mutex<(Stats, Vec<RecordedRequest>)>,
    in_flight: AtomicU64,
}

/// Decrements the in-flight gauge when a request finishes, however it finishes.
pub(crate) struct InFlight<'a>(&'a Recorder);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Recorder {
    pub(crate) fn new() -> Self {
        Recorder {
            inner: Mutex::new((empty_stats(), Vec::new())),
            in_flight: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Stats, Vec<RecordedRequest>)> {
        // A panic elsewhere must not take the stats endpoint down with it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a request in; also returns how many are in flight with it.
    pub(crate) fn enter(&self) -> (InFlight<'_>, u64) {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let mut g = self.lock();
        g.0.max_in_flight = g.0.max_in_flight.max(now);
        (InFlight(self), now)
    }

    pub(crate) fn record(
        &self,
        seq: u64,
        method: &str,
        content_type: &str,
        params: &Params,
        fault: Option<Fault>,
        channel_key: Option<String>,
    ) {
        let mut g = self.lock();
        let (stats, log) = &mut *g;
        stats.total += 1;
        if let Some(r) = params.get("Region").filter(|r| !r.is_empty()) {
            *stats.by_region.entry(r.clone()).or_default() += 1;
        }
        if let Some(a) = params.get("Action").filter(|a| !a.is_empty()) {
            *stats.by_action.entry(a.clone()).or_default() += 1;
        }
        if let Some(f) = fault {
            *stats.faults.entry(f.name().to_owned()).or_default() += 1;
        }
        log.push(RecordedRequest {
            seq,
            method: method.to_owned(),
            content_type: content_type.to_owned(),
            params: params
                .iter()
                .filter(|(k, _)| *k != "Signature" && *k != "PublicKey")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            fault: fault.map(|f| f.name().to_owned()),
            channel_key,
        });
    }

    pub(crate) fn retcode(&self, code: i64) {
        *self
            .lock()
            .0
            .by_retcode
            .entry(code.to_string())
            .or_default() += 1;
    }

    pub(crate) fn stats(&self) -> Stats {
        self.lock().0.clone()
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().1.clone()
    }

    pub(crate) fn reset(&self) {
        let mut g = self.lock();
        g.0 = empty_stats();
        g.0.max_in_flight = self.in_flight.load(Ordering::SeqCst);
        g.1.clear();
    }
}
