//! The DescribeImage protocol over real HTTP: request encodings, filters, paging, errors.

mod common;

use common::*;
use serde_json::{Value, json};
use ucloud_sim::{Catalog, DEMO_PRIVATE_KEY, DEMO_PUBLIC_KEY, Query, SimConfig, sign, spawn};

fn catalog_ids(c: &Catalog, region: &str, keep: impl Fn(&Value) -> bool) -> Vec<String> {
    c.images(region)
        .iter()
        .filter(|i| keep(i))
        .map(|i| i["ImageId"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn form_json_and_get_give_the_same_answer() {
    let cat = example_catalog();
    let sim = spawn(SimConfig::new(cat.clone())).unwrap();
    let url = sim.url();
    let some: Vec<String> = catalog_ids(&cat, "hk", |_| true)
        .into_iter()
        .step_by(3)
        .collect();

    // Form.
    let mut pairs = vec![
        ("Action", "DescribeImage"),
        ("Region", "hk"),
        ("Limit", "50"),
    ];
    let keys: Vec<String> = (0..some.len()).map(|i| format!("ImageIds.{i}")).collect();
    for (k, v) in keys.iter().zip(&some) {
        pairs.push((k, v));
    }
    let via_form = call(&url, &pairs);
    assert_eq!(ids(&via_form), some);

    // GET query.
    let p = signed(&pairs, DEMO_PUBLIC_KEY, DEMO_PRIVATE_KEY);
    let r = send(&url, "GET", &format!("/?{}", form(&p)), None, b"").unwrap();
    assert_eq!(r.json(), via_form);

    // JSON with a real array and an integer, signed over the flattened strings as the SDK does.
    let mut body = json!({"Action": "DescribeImage", "Region": "hk", "Limit": 50, "ImageIds": some, "PublicKey": DEMO_PUBLIC_KEY});
    let flat = ucloud_sim::protocol::parse_json(body.to_string().as_bytes()).unwrap();
    body["Signature"] = json!(sign(&flat, DEMO_PRIVATE_KEY));
    let r = send(
        &url,
        "POST",
        "/",
        Some("application/json; charset=utf-8"),
        body.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(r.json(), via_form);
    assert_eq!(r.headers["content-type"], "application/json");

    let log = sim.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(
        log.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(),
        ["POST", "GET", "POST"]
    );
    assert!(log[2].content_type.starts_with("application/json"));
    assert!(
        log.iter()
            .all(|r| !r.params.contains_key("Signature") && !r.params.contains_key("PublicKey"))
    );
    assert_eq!(log[0].params, log[2].params);
}

#[test]
fn success_shape_and_price_set() {
    let sim = spawn(SimConfig::new(example_catalog())).unwrap();
    let v = call(
        &sim.url(),
        &[
            ("Action", "DescribeImage"),
            ("Region", "cn-bj2"),
            ("Limit", "100"),
        ],
    );
    assert_eq!(v["Action"], "DescribeImageResponse");
    assert_eq!(v["RetCode"], 0);
    assert!(v["TotalCount"].as_u64().unwrap() > 10);
    assert!(
        v["ImageSet"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i.get("PriceSet").is_none())
    );
    let v = call(
        &sim.url(),
        &[
            ("Action", "DescribeImage"),
            ("Region", "cn-bj2"),
            ("Limit", "100"),
            ("PriceSet", "1"),
        ],
    );
    assert!(
        v["ImageSet"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i.get("PriceSet").is_some())
    );
    // An unknown region is not an error, just empty.
    let v = call(
        &sim.url(),
        &[("Action", "DescribeImage"), ("Region", "xx-nowhere")],
    );
    assert_eq!(
        (v["RetCode"].clone(), v["TotalCount"].clone()),
        (json!(0), json!(0))
    );
}

#[test]
fn every_filter() {
    let cat = example_catalog();
    let sim = spawn(SimConfig::new(cat.clone())).unwrap();
    let url = sim.url();
    let r = "cn-bj2";
    let q = |extra: &[(&str, &str)]| {
        let mut p = vec![("Action", "DescribeImage"), ("Region", r)];
        p.extend_from_slice(extra);
        list_all(&url, &p, 100).1
    };
    let no_project = |i: &Value| i.get("ProjectId").is_none();
    let field = |i: &Value, k: &str| i.get(k).and_then(Value::as_str).unwrap_or("").to_owned();

    assert_eq!(q(&[]), catalog_ids(&cat, r, no_project));
    let zoned = q(&[("Zone", "cn-bj2-04")]);
    let other = q(&[("Zone", "cn-bj2-03")]);
    assert_eq!(zoned.len(), other.len() + 1);
    assert_eq!(
        other,
        catalog_ids(&cat, r, |i| no_project(i) && field(i, "Zone").is_empty())
    );

    let with_project = q(&[("ProjectId", "org-demo")]);
    assert_eq!(with_project, catalog_ids(&cat, r, |_| true));
    assert_eq!(q(&[("ProjectId", "org-other")]), q(&[]));

    for (k, v) in [
        ("ImageType", "Base"),
        ("ImageType", "Business"),
        ("OsType", "Windows"),
        ("OsType", "Linux"),
        ("FuncType", "gpu"),
    ] {
        let want = catalog_ids(&cat, r, |i| no_project(i) && field(i, k) == v);
        assert!(!want.is_empty(), "{k}={v}");
        assert_eq!(q(&[(k, v)]), want, "{k}={v}");
    }
    let custom = q(&[("ImageType", "Custom"), ("ProjectId", "org-demo")]);
    assert_eq!(custom.len(), 1);
    assert!(q(&[("ImageType", "Custom")]).is_empty());

    let all = q(&[]);
    assert_eq!(q(&[("ImageId", &all[3])]), vec![all[3].clone()]);
    assert_eq!(
        q(&[("ImageIds.0", &all[5]), ("ImageIds.1", &all[1])]),
        vec![all[1].clone(), all[5].clone()]
    );
    assert!(q(&[("ImageId", "uimage-nothere")]).is_empty());

    // The library answers the same as the server.
    let mut lib_q = Query::region(r);
    lib_q.os_type = Some("Linux".into());
    lib_q.limit = 1000;
    let (total, page) = cat.query(&lib_q, 1000);
    assert_eq!(total, page.len());
    assert_eq!(q(&[("OsType", "Linux")]).len(), total);
}

#[test]
fn paging_respects_the_page_cap_and_is_stable() {
    let cat = example_catalog();
    let mut cfg = SimConfig::new(cat.clone());
    cfg.page_cap = 7;
    let sim = spawn(cfg).unwrap();
    let url = sim.url();
    let v = call(
        &url,
        &[
            ("Action", "DescribeImage"),
            ("Region", "hk"),
            ("Limit", "50"),
        ],
    );
    assert_eq!(ids(&v).len(), 7);
    let want = catalog_ids(&cat, "hk", |i| i.get("ProjectId").is_none());
    assert_eq!(v["TotalCount"].as_u64().unwrap() as usize, want.len());
    for limit in [1, 3, 7, 20, 100] {
        let (total, got) = list_all(
            &url,
            &[("Action", "DescribeImage"), ("Region", "hk")],
            limit,
        );
        assert_eq!((total, &got), (want.len(), &want), "limit {limit}");
    }
    // Default limit is 20 (capped at 7 here); Offset past the end gives an empty page.
    let v = call(
        &url,
        &[
            ("Action", "DescribeImage"),
            ("Region", "hk"),
            ("Offset", "1000"),
        ],
    );
    assert_eq!((v["RetCode"].clone(), ids(&v).len()), (json!(0), 0));
    // One pass of list_all never fetches the same page twice; the log can prove it.
    sim.reset_stats();
    list_all(&url, &[("Action", "DescribeImage"), ("Region", "hk")], 7);
    let keys: Vec<String> = sim.requests().iter().map(|r| r.listing_key()).collect();
    let unique: std::collections::BTreeSet<&String> = keys.iter().collect();
    assert_eq!(keys.len(), want.len().div_ceil(7));
    assert_eq!(unique.len(), keys.len());
}

#[test]
fn error_retcodes() {
    let sim = spawn(SimConfig::new(example_catalog())).unwrap();
    let url = sim.url();
    // UCloud's docs: 160 is a missing Action. A missing Region is 230 (not published; our choice).
    let v = call(&url, &[("Region", "hk")]);
    assert_eq!(
        v,
        json!({"Action": "Response", "RetCode": 160, "Message": "Missing Action"})
    );
    let v = call(&url, &[("Action", "DescribeImage")]);
    assert_eq!(
        v,
        json!({"Action": "DescribeImageResponse", "RetCode": 230, "Message": "Missing params [Region]"})
    );
    // No signature at all is 170, not 171.
    let mut unsigned = signed(
        &[("Action", "DescribeImage"), ("Region", "hk")],
        DEMO_PUBLIC_KEY,
        DEMO_PRIVATE_KEY,
    );
    unsigned.remove("Signature");
    let r = send(
        &url,
        "POST",
        "/",
        Some("application/x-www-form-urlencoded"),
        form(&unsigned).as_bytes(),
    )
    .unwrap();
    assert_eq!(
        r.json(),
        json!({"Action": "DescribeImageResponse", "RetCode": 170, "Message": "Missing signature"})
    );
    let v = call(
        &url,
        &[
            ("Action", "DescribeImage"),
            ("Region", "hk"),
            ("Limit", "ten"),
        ],
    );
    assert_eq!(v["RetCode"], 230);
    assert!(v["Message"].as_str().unwrap().contains("Limit"));
    let v = call(&url, &[("Action", "DescribeNothing"), ("Region", "hk")]);
    assert_eq!(v["Action"], "DescribeNothingResponse");
    assert_eq!(v["RetCode"], 161);

    let bad = signed(
        &[("Action", "DescribeImage"), ("Region", "hk")],
        DEMO_PUBLIC_KEY,
        "wrong",
    );
    let r = send(
        &url,
        "POST",
        "/",
        Some("application/x-www-form-urlencoded"),
        form(&bad).as_bytes(),
    )
    .unwrap();
    assert_eq!(
        r.json(),
        json!({"Action": "DescribeImageResponse", "RetCode": 171, "Message": "Signature VerifyAC Error"})
    );
    let unknown = signed(
        &[("Action", "DescribeImage"), ("Region", "hk")],
        "nobody",
        "x",
    );
    let r = send(
        &url,
        "POST",
        "/",
        Some("application/x-www-form-urlencoded"),
        form(&unknown).as_bytes(),
    )
    .unwrap();
    assert_eq!(r.json()["RetCode"], 172);
    assert_eq!(r.json()["Message"], "User Not Exists");

    // Tampering after signing is caught.
    let mut tampered = signed(
        &[("Action", "DescribeImage"), ("Region", "hk")],
        DEMO_PUBLIC_KEY,
        DEMO_PRIVATE_KEY,
    );
    tampered.insert("Region".into(), "cn-bj2".into());
    let r = send(
        &url,
        "POST",
        "/",
        Some("application/x-www-form-urlencoded"),
        form(&tampered).as_bytes(),
    )
    .unwrap();
    assert_eq!(r.json()["RetCode"], 171);

    // Garbage never takes the server down.
    for (ct, body) in [
        ("application/json", &b"{not json"[..]),
        ("application/json", b"[1,2]"),
        ("application/json", b"\xff\xfe"),
        ("application/x-www-form-urlencoded", b"\xff=\xfe&&=&Region"),
    ] {
        let r = send(&url, "POST", "/", Some(ct), body).unwrap();
        assert_eq!(r.status, 200);
        assert_ne!(r.json()["RetCode"], 0);
    }
    let stats = sim.stats();
    assert!(
        stats.by_retcode["171"] >= 2
            && stats.by_retcode["172"] >= 1
            && stats.by_retcode["160"] >= 1
    );
}

#[test]
fn extra_keys_and_catalog_updates() {
    let mut cfg = SimConfig::new(example_catalog());
    cfg.keys = vec![("alice".into(), "alice-secret".into())];
    let sim = spawn(cfg).unwrap();
    let url = sim.url();
    // The demo key is not accepted when explicit keys are configured.
    assert_eq!(
        call(&url, &[("Action", "DescribeImage"), ("Region", "hk")])["RetCode"],
        172
    );
    let p = signed(
        &[("Action", "DescribeImage"), ("Region", "sim-new")],
        "alice",
        "alice-secret",
    );
    let get = || {
        send(&url, "GET", &format!("/?{}", form(&p)), None, b"")
            .unwrap()
            .json()
    };
    assert_eq!(get()["TotalCount"], 0);
    sim.update_catalog(|c| {
        c.push(
            "sim-new",
            json!({"ImageId": "uimage-new00001", "State": "Available"}),
        );
        c.push(
            "sim-new",
            json!({"ImageId": "uimage-new00002", "State": "Available"}),
        );
    });
    assert_eq!(get()["TotalCount"], 2);
    sim.update_catalog(|c| {
        assert!(c.set_state("uimage-new00001", "Unavailable"));
        assert!(c.remove("uimage-new00002"));
    });
    let v = get();
    assert_eq!(
        v["ImageSet"],
        json!([{"ImageId": "uimage-new00001", "State": "Unavailable"}])
    );
    assert_eq!(sim.stats().total, 4);
    sim.reset_stats();
    assert_eq!(sim.stats().total, 0);
    assert!(sim.requests().is_empty());
}

/// A JSON body signed the way UCloud's Go SDK signs it: a list's values concatenated under the
/// list's own name (`ucloud/auth/signature.go` in `ucloud/ucloud-sdk-go`).
#[test]
fn go_sdk_json_signatures_are_accepted() {
    let catalog = example_catalog();
    let two: Vec<String> = catalog.images("hk")[..2]
        .iter()
        .map(|i| i["ImageId"].as_str().unwrap().to_owned())
        .collect();
    let sim = spawn(SimConfig::new(catalog)).unwrap();
    let mut go_style: std::collections::BTreeMap<String, String> = [
        ("Action", "DescribeImage".to_string()),
        ("PublicKey", DEMO_PUBLIC_KEY.to_string()),
        ("Region", "hk".to_string()),
        ("ImageIds", two.concat()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let signature = ucloud_sim::sign(&go_style, DEMO_PRIVATE_KEY);
    go_style.insert("Signature".into(), signature.clone());
    let body = json!({
        "Action": "DescribeImage", "PublicKey": DEMO_PUBLIC_KEY, "Region": "hk",
        "ImageIds": two, "Signature": signature,
    });
    let r = send(
        &sim.url(),
        "POST",
        "/",
        Some("application/json"),
        body.to_string().as_bytes(),
    )
    .unwrap();
    let v = r.json();
    assert_eq!(v["RetCode"], 0, "{v}");
    assert_eq!(ids(&v), two);
}

#[test]
fn string_codes_rate_limits_and_the_default_project() {
    let mut cfg = SimConfig::new(example_catalog());
    cfg.string_codes = true;
    cfg.max_in_flight = Some(1);
    cfg.latency = std::time::Duration::from_millis(300);
    let sim = spawn(cfg).unwrap();
    let url = sim.url();
    let v = call(
        &url,
        &[
            ("Action", "DescribeImage"),
            ("Region", "hk"),
            ("Limit", "1"),
        ],
    );
    assert_eq!(v["RetCode"], "0");
    assert!(
        v["TotalCount"].as_str().unwrap().parse::<u64>().unwrap() > 1,
        "{v}"
    );
    // Two at once with a limit of one: exactly one is refused with 153.
    let answers: Vec<Value> = std::thread::scope(|s| {
        let calls: Vec<_> = (0..2)
            .map(|_| s.spawn(|| call(&url, &[("Action", "DescribeImage"), ("Region", "hk")])))
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let mut codes: Vec<&str> = answers
        .iter()
        .map(|v| v["RetCode"].as_str().unwrap())
        .collect();
    codes.sort_unstable();
    assert_eq!(codes, ["0", "153"]);
    let refused = answers.iter().find(|v| v["RetCode"] == "153").unwrap();
    assert_eq!(refused["Message"], "API 请求被限流");
    assert_eq!(sim.stats().by_retcode.get("153"), Some(&1));

    // Custom images of the default project are seen without a ProjectId; answers never carry
    // the simulator's owner field.
    let sim = spawn(SimConfig::new(example_catalog())).unwrap();
    let owned = json!({"ImageId": "uimage-owned001", "CreateTime": 1, "ImageType": "Custom",
                       "ProjectId": ucloud_sim::DEFAULT_PROJECT});
    sim.update_catalog(|c| c.push("sim-p", owned));
    let v = call(
        &sim.url(),
        &[("Action", "DescribeImage"), ("Region", "sim-p")],
    );
    assert_eq!(
        v["ImageSet"],
        json!([{"ImageId": "uimage-owned001", "CreateTime": 1, "ImageType": "Custom"}])
    );
    let v = call(
        &sim.url(),
        &[
            ("Action", "DescribeImage"),
            ("Region", "sim-p"),
            ("ProjectId", "org-other"),
        ],
    );
    assert_eq!(v["TotalCount"], 0);
}

#[test]
fn the_catalog_changes_while_the_server_runs() {
    let sim = spawn(SimConfig::new(example_catalog())).unwrap();
    let url = sim.url();
    let edit = |body: &str| {
        send(
            &url,
            "POST",
            "/__sim/catalog",
            Some("application/json"),
            body.as_bytes(),
        )
        .unwrap()
    };
    let r = edit(
        r#"[{"op": "add", "region": "sim-new", "image": {"ImageId": "uimage-new00001", "CreateTime": 5}},
            {"op": "add", "region": "sim-new", "image": {"ImageId": "uimage-new00002", "CreateTime": 6}},
            {"op": "update", "image_id": "uimage-new00001", "fields": {"State": "Unavailable"}},
            {"op": "remove", "image_id": "uimage-new00002"}]"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["edits"], 4);
    let v = call(&url, &[("Action", "DescribeImage"), ("Region", "sim-new")]);
    assert_eq!(
        v["ImageSet"],
        json!([{"ImageId": "uimage-new00001", "CreateTime": 5, "State": "Unavailable"}])
    );
    // A failing batch changes nothing and says why.
    let before = sim.catalog();
    let r = edit(
        r#"[{"op": "remove", "image_id": "uimage-new00001"}, {"op": "remove", "image_id": "nope"}]"#,
    );
    assert_eq!(
        (r.status, r.json()),
        (400, json!({"error": "edit 1: no image \"nope\""}))
    );
    assert_eq!(sim.catalog(), before);
    let r = edit("{not json");
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("expected a JSON list of edits")
    );
    // Edits are not API requests.
    assert_eq!(sim.stats().total, 1);
}
