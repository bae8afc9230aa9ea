//! Speed, measured in requests rather than seconds: `imagelock lock` against a generated catalog
//! asks exactly the pages its plan needs, never the same page twice, several at once, and nothing
//! at all once the lock is fresh. `check` and `get` work with no credentials and an endpoint that
//! refuses every connection, because they never start the HTTP client.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::Project;
use ucloud_sim::{Catalog, Query, SimConfig};

const PAGE_CAP: usize = 100;

/// Four real region names of `Catalog::generate`, 300 images each, with zones, projects, Windows,
/// GPU and custom images, so the plan has region, zone, project and narrowed listings.
const SPEC: &str = r#"
version: 1
defaults:
  filters: { os_type: Linux }
images:
  ubuntu:
    regions: [cn-bj2, cn-sh2, cn-gd, hk]
    filters: { image_type: Base, name: "^Ubuntu" }
  rocky:
    regions: [cn-bj2, hk]
    filters: { image_type: Base, os_name: "^Rocky Linux" }
    select: highest_version
  windows:
    regions: [cn-sh2, cn-gd]
    filters: { os_type: Windows }
  gpu:
    regions: [cn-bj2, cn-gd]
    filters: { func_type: gpu }
  hk-only-base:
    region: hk
    filters: { image_type: Base, features: [CloudInit] }
  zoned:
    region: cn-bj2
    zone: cn-bj2-01
    filters: { image_type: Base, name: "^Ubuntu" }
  golden:
    region: cn-sh2
    project_id: org-team-a
    filters: { image_type: Custom }
"#;

fn project(latency: Duration) -> Project {
    let mut config = SimConfig::new(Catalog::generate(4, 300, 11));
    config.page_cap = PAGE_CAP;
    config.latency = latency;
    Project::with_config(SPEC, config)
}

/// What the lock should cost, worked out by hand from the spec above rather than from imagelock's planner
/// (a test that asked the planner would agree with any plan): one listing per region, zone and
/// project, pushing down only what all its entries share, `ceil(n / cap)` pages each.
fn expected_requests(catalog: &Catalog) -> (usize, u64) {
    let q = |region: &str,
             zone: Option<&str>,
             project: Option<&str>,
             os_type: Option<&str>,
             image_type: Option<&str>| Query {
        region: region.to_string(),
        zone: zone.map(str::to_string),
        project_id: project.map(str::to_string),
        os_type: os_type.map(str::to_string),
        image_type: image_type.map(str::to_string),
        limit: 1,
        ..Query::default()
    };
    let listings = [
        // ubuntu, rocky, gpu: all Linux; gpu names no image_type.
        q("cn-bj2", None, None, Some("Linux"), None),
        // ubuntu (Linux) and windows (Windows) share nothing.
        q("cn-sh2", None, None, None, None),
        // ubuntu, windows, gpu share nothing.
        q("cn-gd", None, None, None, None),
        // ubuntu, rocky, hk-only-base: Linux Base.
        q("hk", None, None, Some("Linux"), Some("Base")),
        // zoned alone.
        q(
            "cn-bj2",
            Some("cn-bj2-01"),
            None,
            Some("Linux"),
            Some("Base"),
        ),
        // golden alone.
        q(
            "cn-sh2",
            None,
            Some("org-team-a"),
            Some("Linux"),
            Some("Custom"),
        ),
    ];
    let pages = listings
        .iter()
        .map(|query| {
            let (total, _) = catalog.query(query, PAGE_CAP);
            total.div_ceil(PAGE_CAP).max(1) as u64
        })
        .sum();
    (listings.len(), pages)
}

#[test]
fn lock_asks_each_planned_page_once_and_in_parallel() {
    let project = project(Duration::from_millis(50));
    let catalog = Catalog::generate(4, 300, 11);
    let (listings, expected) = expected_requests(&catalog);
    assert_eq!(listings, 6, "4 regions + 1 zone + 1 project");

    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");

    let stats = project.sim.stats();
    assert_eq!(stats.total, expected, "requests == sum of ceil(n / cap)");
    let log = project.sim.requests();
    let keys: Vec<String> = log.iter().map(|r| r.listing_key()).collect();
    let distinct: HashSet<&String> = keys.iter().collect();
    assert_eq!(
        distinct.len(),
        keys.len(),
        "a page was fetched twice: {keys:#?}"
    );
    // Pages of one listing, and listings, overlap in time.
    assert!(
        stats.max_in_flight > 1,
        "max in flight {}",
        stats.max_in_flight
    );
    assert!(stats.faults.values().all(|n| *n == 0));

    // A fresh lock makes no request at all, and stays byte for byte.
    let before = project.lock_bytes();
    project.sim.reset_stats();
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(project.requests(), 0);
    assert_eq!(project.lock_bytes(), before);
}

#[test]
fn one_changed_entry_refetches_only_its_listings() {
    let project = project(Duration::ZERO);
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    project.sim.reset_stats();

    // Only `windows` changes; it reads the cn-sh2 and cn-gd region listings, whose push-downs
    // now follow `windows` alone (os_type Windows).
    project.write_spec(&SPEC.replace(
        "filters: { os_type: Windows }",
        "filters: { os_type: Windows, name: \"Windows Server\" }",
    ));
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    let log = project.sim.requests();
    let regions: HashSet<&str> = log
        .iter()
        .filter_map(|r| r.params.get("Region").map(String::as_str))
        .collect();
    assert_eq!(regions, HashSet::from(["cn-sh2", "cn-gd"]));
    assert!(
        log.iter()
            .all(|r| r.params.get("OsType").map(String::as_str) == Some("Windows"))
    );
    // Windows images of a 300-image region fit in one page each.
    assert_eq!(project.requests(), 2);
}

#[test]
fn check_and_get_need_neither_network_nor_credentials() {
    let project = project(Duration::ZERO);
    let (code, _, stderr) = project.run(&["lock"]);
    assert_eq!(code, 0, "{stderr}");
    project.sim.reset_stats();

    // Port 9 (discard) on loopback: nothing listens, so any connection attempt would fail.
    let refusing = "http://127.0.0.1:9";
    let mut check = project.bare_cmd(&["--endpoint", refusing, "check"]);
    check.assert().success();
    let mut get = project.bare_cmd(&["--endpoint", refusing, "get", "golden"]);
    let out = get.assert().success().get_output().stdout.clone();
    let id = String::from_utf8(out).expect("UTF-8");
    assert!(id.trim().starts_with("uimage-"), "{id}");
    // And a lock with nothing to do behaves the same: no client, no credentials needed.
    let mut lock = project.bare_cmd(&["--endpoint", refusing, "lock"]);
    lock.assert().success();
    assert_eq!(project.requests(), 0);
}
