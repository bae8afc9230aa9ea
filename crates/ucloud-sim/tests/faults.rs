//! Fault injection, determinism per seed, stats, latency and concurrency, over real HTTP.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ucloud_sim::{DEMO_PRIVATE_KEY, DEMO_PUBLIC_KEY, Fault, SimConfig, spawn};

/// What a client observed for one request.
fn outcome(url: &str) -> String {
    let p = signed(
        &[
            ("Action", "DescribeImage"),
            ("Region", "cn-bj2"),
            ("Limit", "100"),
        ],
        DEMO_PUBLIC_KEY,
        DEMO_PRIVATE_KEY,
    );
    let t = Instant::now();
    match send(
        url,
        "POST",
        "/",
        Some("application/x-www-form-urlencoded"),
        form(&p).as_bytes(),
    ) {
        Err(_) => "reset".into(),
        Ok(r) if r.status != 200 => format!("http_{}", r.status),
        Ok(r) => {
            let promised: usize = r.headers["content-length"].parse().unwrap();
            if r.body.len() < promised {
                return "truncated".into();
            }
            let v = r.json();
            if v["RetCode"] != 0 {
                return format!("retcode_{}", v["RetCode"]);
            }
            if t.elapsed() >= Duration::from_millis(150) {
                "slow".into()
            } else {
                "ok".into()
            }
        }
    }
}

fn faulty(seed: u64, kinds: Vec<Fault>) -> SimConfig {
    let mut cfg = SimConfig::new(example_catalog());
    cfg.fault_rate = 0.5;
    cfg.seed = seed;
    cfg.slow = Duration::from_millis(200);
    cfg.fault_kinds = kinds;
    cfg
}

#[test]
fn faults_are_deterministic_per_seed_and_counted() {
    let run = |seed| {
        let sim = spawn(faulty(seed, Fault::ALL.to_vec())).unwrap();
        let seen: Vec<String> = (0..60).map(|_| outcome(&sim.url())).collect();
        (seen, sim.stats(), sim.requests())
    };
    let (a, stats, log) = run(11);
    let (b, _, _) = run(11);
    let (c, _, _) = run(12);
    assert_eq!(a, b);
    assert_ne!(a, c);
    for kind in [
        "reset",
        "http_503",
        "http_502",
        "http_429",
        "retcode_2000",
        "retcode_150",
        "retcode_153",
        "truncated",
        "slow",
        "ok",
    ] {
        assert!(a.iter().any(|o| o == kind), "{kind} never seen in {a:?}");
    }
    assert_eq!(stats.total, 60);
    assert_eq!(stats.by_region["cn-bj2"], 60);
    assert_eq!(stats.by_action["DescribeImage"], 60);
    for (kind, n) in &stats.faults {
        let seen = a.iter().filter(|o| *o == kind).count() as u64;
        assert_eq!(*n, seen, "{kind}");
        assert_eq!(
            log.iter()
                .filter(|r| r.fault.as_deref() == Some(kind))
                .count() as u64,
            *n
        );
    }
    assert_eq!(stats.by_retcode["2000"], stats.faults["retcode_2000"]);
    assert_eq!(stats.by_retcode["150"], stats.faults["retcode_150"]);
    assert_eq!(stats.by_retcode["153"], stats.faults["retcode_153"]);
    // What each client saw is what the server logged for that request (requests are sent one
    // at a time, so the log's order is the clients').
    let logged: Vec<String> = log
        .iter()
        .map(|r| r.fault.clone().unwrap_or_else(|| "ok".to_owned()))
        .collect();
    assert_eq!(logged, a);
    assert_eq!(
        log.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (0..60).collect::<Vec<u64>>()
    );
}

#[test]
fn fault_kinds_can_be_restricted_and_sim_endpoints_are_never_faulted() {
    let sim = spawn(faulty(3, vec![Fault::Http503])).unwrap();
    let url = sim.url();
    let seen: Vec<String> = (0..30).map(|_| outcome(&url)).collect();
    assert!(
        seen.iter().all(|o| o == "ok" || o == "http_503"),
        "{seen:?}"
    );
    for _ in 0..20 {
        let r = send(&url, "GET", "/__sim/stats", None, b"").unwrap();
        assert_eq!(r.status, 200);
    }
    let stats: ucloud_sim::Stats =
        serde_json::from_slice(&send(&url, "GET", "/__sim/stats", None, b"").unwrap().body)
            .unwrap();
    assert_eq!(stats.total, 30);
    assert_eq!(stats, sim.stats());
    let r = send(&url, "POST", "/__sim/reset-stats", None, b"").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(sim.stats().total, 0);
    assert!(sim.stats().faults.values().all(|n| *n == 0));
    assert_eq!(sim.stats().faults.len(), Fault::ALL.len());
    let log: Vec<ucloud_sim::RecordedRequest> = serde_json::from_slice(
        &send(&url, "GET", "/__sim/requests", None, b"")
            .unwrap()
            .body,
    )
    .unwrap();
    assert!(log.is_empty());
}

#[test]
fn latency_is_applied_and_requests_run_concurrently() {
    let mut cfg = SimConfig::new(example_catalog());
    cfg.latency = Duration::from_millis(300);
    let sim = spawn(cfg).unwrap();
    let url = sim.url();
    let t = Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| s.spawn(|| call(&url, &[("Action", "DescribeImage"), ("Region", "hk")])))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap()["RetCode"], 0);
        }
    });
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(
        took < Duration::from_millis(1500),
        "not concurrent: {took:?}"
    );
    assert!(sim.stats().max_in_flight >= 2, "{:?}", sim.stats());
}

#[test]
fn shutdown_does_not_wait_for_slow_responses() {
    let mut cfg = faulty(1, vec![Fault::Slow]);
    cfg.fault_rate = 1.0;
    cfg.slow = Duration::from_secs(60);
    let sim = spawn(cfg).unwrap();
    let url = sim.url();
    let client = std::thread::spawn(move || outcome(&url));
    let deadline = Instant::now() + Duration::from_secs(20);
    while sim.stats().total == 0 {
        assert!(
            Instant::now() < deadline,
            "the request never reached the server"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let t = Instant::now();
    sim.shutdown();
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(client.join().unwrap(), "reset");
}
