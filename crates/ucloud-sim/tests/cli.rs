//! The `ucloud-sim` binary: `serve` prints its URL first and stops on SIGTERM; `generate` is
//! deterministic per seed.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use ucloud_sim::Catalog;

const BIN: &str = env!("CARGO_BIN_EXE_ucloud-sim");

#[test]
fn generate_is_deterministic_per_seed() {
    let run = |seed: &str| {
        let out = Command::new(BIN)
            .args([
                "generate",
                "--regions",
                "22",
                "--per-region",
                "30",
                "--seed",
                seed,
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let a = run("5");
    assert_eq!(a, run("5"));
    assert_ne!(a, run("6"));
    let cat = Catalog::from_json(&a).unwrap();
    assert_eq!(cat.regions().len(), 22);
    assert_eq!(cat.regions()[0], "cn-bj2");
    assert_eq!(cat.len(), 22 * 30);
    assert_eq!(cat, Catalog::generate(22, 30, 5));

    let dir = std::env::temp_dir().join(format!("ucloud-sim-gen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cat.json");
    let st = Command::new(BIN)
        .args([
            "generate",
            "--regions",
            "22",
            "--per-region",
            "30",
            "--seed",
            "5",
            "--out",
        ])
        .arg(&file)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(Catalog::load(&file).unwrap(), cat);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_prints_url_answers_and_stops_on_sigterm() {
    let catalog = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/catalog.json");
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--catalog",
            catalog,
            "--page-cap",
            "5",
            "--key",
            "k1:s1",
            "--key",
            "k2:s2",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect(&line)
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"));

    let p = common::signed(
        &[
            ("Action", "DescribeImage"),
            ("Region", "cn-sh2"),
            ("Limit", "50"),
        ],
        "k2",
        "s2",
    );
    let r = common::send(
        &url,
        "POST",
        "/",
        Some("application/x-www-form-urlencoded"),
        common::form(&p).as_bytes(),
    )
    .unwrap();
    let v = r.json();
    assert_eq!(v["RetCode"], 0);
    assert_eq!(common::ids(&v).len(), 5);

    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn serve_rejects_bad_arguments() {
    // A catalog that exists, so each case fails for its own reason and says which.
    let catalog = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/catalog.json");
    for (args, code, says) in [
        (
            &["serve", "--catalog", "/nonexistent/catalog.json"][..],
            1,
            "ucloud-sim: cannot read catalog /nonexistent/catalog.json",
        ),
        (
            &["serve", "--catalog", catalog, "--key", "nocolon"],
            2,
            "expected PUBLIC:PRIVATE",
        ),
        (
            &["serve", "--catalog", catalog, "--fault-rate", "2"],
            2,
            "expected a probability between 0 and 1",
        ),
        (
            &["serve", "--catalog", catalog, "--faults", "bogus"],
            1,
            "ucloud-sim: unknown fault \"bogus\"",
        ),
        (
            &["serve", "--catalog", catalog, "--max-in-flight", "0"],
            2,
            "invalid value '0' for '--max-in-flight <N>'",
        ),
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} must not start listening");
    }
}
