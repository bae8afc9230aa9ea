//! The sample sessions of README.md and docs/spec.md are real output: each one is replayed here
//! against the simulator, the same way it was made, and the page must contain exactly what the
//! binary prints today. When output changes on purpose, paste the new output into the page.

mod common;

use std::path::Path;

use common::{Project, example_catalog, output_of};
use ucloud_sim::{Catalog, SimConfig};

const README: &str = include_str!("../README.md");
const SPEC_PAGE: &str = include_str!("../docs/spec.md");
const EXAMPLE_SPEC: &str = include_str!("../examples/imagelock.yaml");
const EXAMPLE_LOCK: &str = include_str!("../examples/imagelock.lock");

/// One command as a page shows it: `$ LINE`, then what it printed (stdout, then stderr), then
/// `[exit N]` when N is not 0.
fn transcript(line: &str, (code, stdout, stderr): (i32, String, String)) -> String {
    let mut text = format!("$ {line}\n{stdout}{stderr}");
    if code != 0 {
        text.push_str(&format!("[exit {code}]\n"));
    }
    text
}

/// Runs `imagelock ARGS` in the project, shown on the page as `$ imagelock ARGS`.
fn session(project: &Project, args: &[&str]) -> String {
    let line = format!("imagelock {}", args.join(" "));
    transcript(&line, output_of(project.cmd_with_default_budgets(args)))
}

/// Fails with the session and a pointer to the page unless the page holds it verbatim.
fn assert_shown(page: &str, page_name: &str, session: &str) {
    assert!(
        page.contains(session),
        "{page_name} no longer shows what this session prints; paste it in:\n{session}"
    );
}

/// The example project: examples/imagelock.yaml with its committed lockfile.
fn example_project(catalog: Catalog) -> Project {
    let project = Project::with_config(EXAMPLE_SPEC, SimConfig::new(catalog));
    std::fs::write(project.lock_path(), EXAMPLE_LOCK).expect("write the example lockfile");
    project
}

/// examples/catalog.json a month later, as docs/simulator.md ("Make upstream move") makes it.
fn catalog_a_month_later() -> Catalog {
    let mut catalog = example_catalog();
    let image = |catalog: &Catalog, region: &str, id: &str| {
        catalog
            .images(region)
            .iter()
            .find(|image| image["ImageId"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} is in examples/catalog.json"))
    };
    let mut newer = image(&catalog, "cn-bj2", "uimage-gbjkf6j6");
    newer["ImageId"] = "uimage-q7x2m9ka".into();
    newer["CreateTime"] = 1_767_225_600.into();
    catalog.push("cn-bj2", newer);
    assert!(catalog.set_state("uimage-bkhn0zvc", "Unavailable"));
    let mut windows = image(&catalog, "hk", "uimage-vc8gbv5f");
    windows["ImageId"] = "uimage-m4ye8r2c".into();
    windows["CreateTime"] = 1_767_571_200.into();
    catalog.push("hk", windows);
    assert!(catalog.remove("uimage-vc8gbv5f"));
    catalog
}

#[test]
fn quick_tour() {
    let project = Project::new("");
    std::fs::remove_file(project.spec_path()).expect("start from an empty directory");
    let images = [
        "images",
        "--region",
        "cn-bj2",
        "--name",
        "^Ubuntu",
        "--features",
        "CloudInit",
        "--limit",
        "3",
    ];
    let images_line =
        "imagelock images --region cn-bj2 --name '^Ubuntu' --features CloudInit --limit 3";
    let shown = [
        session(&project, &["init", "--region", "cn-bj2"]),
        transcript(
            images_line,
            output_of(project.cmd_with_default_budgets(&images)),
        ),
        session(&project, &["lock"]),
        session(&project, &["lock"]),
        session(&project, &["check"]),
        session(&project, &["get", "web"]),
    ]
    .concat();
    assert_shown(README, "README.md (Quick tour)", &shown);
}

#[test]
fn locking_the_example_against_the_simulator() {
    let project = Project::new(EXAMPLE_SPEC);
    assert_shown(
        README,
        "README.md (Try everything against the bundled simulator)",
        &session(&project, &["lock"]),
    );
    // "Seven pins cost two requests".
    assert_eq!(project.requests(), 2);
}

#[test]
fn keeping_pins_current() {
    let project = example_project(catalog_a_month_later());
    for args in [
        &["outdated"][..],
        &["explain", "web", "--region", "cn-bj2", "--top", "3"],
        &["explain", "rocky"],
        &["update", "web"],
        &["verify"],
        &["update"],
        &["verify"],
    ] {
        assert_shown(
            README,
            "README.md (Keeping pins current)",
            &session(&project, args),
        );
    }
}

#[test]
fn relocking_an_edited_entry() {
    // A month later, so that `web cn-bj2` is kept although a newer build matches.
    let project = example_project(catalog_a_month_later());
    let web_features = "features: { all: [IPv6, CloudInit], none: [Aarch64_Type] }";
    let edited = EXAMPLE_SPEC
        .replacen(
            web_features,
            &format!("{web_features}\n      not_eol: true"),
            1,
        )
        .replace("version: \"=2022\"", "version: \"=2019\"");
    assert_eq!(edited.matches("not_eol: true").count(), 1);
    assert!(edited.contains("version: \"=2019\""));
    project.write_spec(&edited);
    assert_shown(
        README,
        "README.md (Relocking)",
        &session(&project, &["lock"]),
    );
}

#[test]
fn handing_pins_to_other_tools() {
    let project = example_project(example_catalog());
    let mut external = project.bare_cmd(&["terraform-external"]);
    external.write_stdin(r#"{"name": "web", "region": "hk"}"#);
    let external = transcript(
        r#"echo '{"name": "web", "region": "hk"}' | imagelock terraform-external"#,
        output_of(external),
    );
    // The README shows this one inside a list item, indented by two spaces.
    let indented: String = external.lines().map(|line| format!("  {line}\n")).collect();
    assert_shown(README, "README.md (Handing pins to other tools)", &indented);

    let export = session(&project, &["export", "--format", "env"]);
    project.write_spec(&EXAMPLE_SPEC.replace("version: \"=2022\"", "version: \"=2019\""));
    let stale = transcript(
        "imagelock export --format env        # after editing the windows entry, without relocking",
        output_of(project.bare_cmd(&["export", "--format", "env"])),
    );
    assert_shown(
        README,
        "README.md (Handing pins to other tools)",
        &(export + &stale),
    );
}

#[test]
fn a_misspelt_key() {
    let project = Project::new(
        "version: 1\nimages:\n  web:\n    region: cn-bj2\n    fitlers:\n      os_type: linux\n      name: \"^Ubuntu (22\\\\.04\"\n",
    );
    assert_shown(
        README,
        "README.md (The spec)",
        &session(&project, &["validate"]),
    );
}

#[test]
fn the_funnel_of_an_entry_that_matches_nothing() {
    let project = example_project(example_catalog());
    let edited = EXAMPLE_SPEC.replace("os_name: \"^Rocky Linux\"", "os_name: \"^Fedora\"");
    assert_ne!(edited, EXAMPLE_SPEC);
    project.write_spec(&edited);
    let before = project.lock_bytes();
    assert_shown(
        SPEC_PAGE,
        "docs/spec.md (When nothing matches)",
        &session(&project, &["lock"]),
    );
    assert_eq!(project.lock_bytes(), before, "a failed lock writes nothing");
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to dashes.
fn anchor_of(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == ' ' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The text of a Markdown page outside fenced code blocks.
fn prose(text: &str) -> String {
    let mut fenced = false;
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn anchors(text: &str) -> Vec<String> {
    let prose = prose(text);
    let headings = prose
        .lines()
        .filter_map(|line| {
            line.trim_start_matches('#')
                .strip_prefix(' ')
                .filter(|_| line.starts_with('#'))
        })
        .map(anchor_of);
    let ids = prose
        .split("<a id=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned);
    headings.chain(ids).collect()
}

#[test]
fn every_link_between_the_pages_leads_somewhere() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![
        root.join("README.md"),
        root.join("CONTRIBUTING.md"),
        root.join("BENCHMARKS.md"),
    ];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/ exists") {
        let path = entry.expect("a docs/ entry").path();
        if path.extension().is_some_and(|ext| ext == "md") {
            pages.push(path);
        }
    }
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).expect("read a page");
        let dir = page.parent().expect("a page is in a directory");
        for link in prose(&text).split("](").skip(1) {
            let Some(target) = link.split(')').next() else {
                continue;
            };
            if target.starts_with("http://") || target.starts_with("https://") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
            let file = if file.is_empty() {
                page.clone()
            } else {
                dir.join(file)
            };
            let Ok(file) = file.canonicalize() else {
                broken.push(format!("{}: {target} (no such file)", page.display()));
                continue;
            };
            if !anchor.is_empty() && file.extension().is_some_and(|ext| ext == "md") {
                let target_text = std::fs::read_to_string(&file).expect("read a linked page");
                if !anchors(&target_text).iter().any(|a| a == anchor) {
                    broken.push(format!("{}: {target} (no such heading)", page.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
