//! Reading a spec file and running the stages: YAML → schema → semantic checks → [`Spec`].

use std::collections::HashSet;
use std::io::Read as _;
use std::path::Path;

use super::Spec;
use serde_json::Value as Json;

use super::diagnostic::{Problem, SpecError};
use super::locate::{Index, Seg};
use super::yaml;
use super::{schema, semantic};
use crate::Error;

/// Specs are small; anything bigger is not a spec and would only waste memory.
pub const MAX_SPEC_BYTES: u64 = 4 * 1024 * 1024;

/// Reads and parses the spec at `path`.
pub fn load(path: &Path) -> Result<Spec, Error> {
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Invalid(format!(
            "no spec at {}; pass -f PATH or run `imagelock init`",
            path.display()
        )),
        _ => Error::Invalid(format!("cannot read spec {}: {e}", path.display())),
    })?;
    // A regular file says its size: one allocation instead of doubling a large buffer. Devices
    // and pipes say 0 and grow as read; `take` bounds them all.
    let hint = file.metadata().map_or(0, |m| m.len()).min(MAX_SPEC_BYTES) as usize;
    let mut bytes = Vec::with_capacity(hint + 1);
    file.take(MAX_SPEC_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Invalid(format!("cannot read spec {}: {e}", path.display())))?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(Error::Invalid(format!(
            "spec {} is larger than {} MiB; is it the right file?",
            path.display(),
            MAX_SPEC_BYTES / (1024 * 1024)
        )));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::Invalid(format!(
            "spec {} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    parse(&text, path)
}

/// Specs larger than this check their schema and build their queries on two threads.
const SIDE_BY_SIDE_BYTES: usize = 64 * 1024;

/// Parses spec text; `path` is only used in messages and kept in the [`Spec`].
pub fn parse(text: &str, path: &Path) -> Result<Spec, Error> {
    // Windows editors save a byte-order mark; it is not part of the document.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (doc, read_problems) = match yaml::to_json(text) {
        Ok(read) => read,
        // The reader places each of its problems itself; no index is needed.
        Err(problems) => {
            return Err(Error::Spec(Box::new(SpecError::new(
                path,
                text,
                &Index::default(),
                problems,
            ))));
        }
    };
    if !read_problems.is_empty() {
        return Err(with_read_problems(text, path, &doc, read_problems));
    }
    let mut problems = Vec::new();
    let mut unknown_key_maps = HashSet::new();
    let images = if text.len() < SIDE_BY_SIDE_BYTES {
        schema::check(&doc, &mut problems, &mut unknown_key_maps)?;
        semantic::build(&doc, &unknown_key_maps, &mut problems)
    } else {
        // On a large spec the schema check and the semantic build each take milliseconds and
        // only read `doc`, so they run side by side. The build needs the schema's verdict only
        // to quiet follow-on errors of a broken spec; in that rare case it is done again.
        let (checked, (images, semantic_problems)) = std::thread::scope(|scope| {
            let build = scope.spawn(|| {
                let mut found = Vec::new();
                let images = semantic::build(&doc, &HashSet::new(), &mut found);
                (images, found)
            });
            let checked = schema::check(&doc, &mut problems, &mut unknown_key_maps);
            let built = build
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (checked, built)
        });
        checked?;
        if problems.is_empty() {
            problems.extend(semantic_problems);
            images
        } else {
            semantic::build(&doc, &unknown_key_maps, &mut problems)
        }
    };
    if problems.is_empty() {
        let (deny, warnings) = semantic::policy(&doc, &images, path);
        if text.len() >= SIDE_BY_SIDE_BYTES {
            free_on_two_threads(doc);
        }
        return Ok(Spec {
            path: path.to_path_buf(),
            images,
            deny,
            warnings,
        });
    }
    // Only a failing spec pays for the second, span-keeping parse.
    let index = Index::build(text);
    Err(Error::Spec(Box::new(SpecError::new(
        path, text, &index, problems,
    ))))
}

/// Frees a large document half on this thread and half on a scoped one, joined before
/// returning (a library function leaves no thread behind). Freeing node by node is a cost worth
/// halving: about 13 ms for the 5,000-entry spec of BENCHMARKS.md, a fifth of `validate`.
fn free_on_two_threads(mut doc: Json) {
    let Some(Json::Object(images)) = doc.get_mut("images").map(Json::take) else {
        return;
    };
    let mut entries: Vec<Json> = images.into_iter().map(|(_, entry)| entry).collect();
    let second = entries.split_off(entries.len() / 2);
    std::thread::scope(|scope| {
        scope.spawn(move || drop(second));
        drop(entries);
    });
}

/// The error of a spec whose YAML the reader could read but found problems in (a repeated key,
/// a tag, a merge key): the checks still run, so that one run reports everything, but their
/// problems at or around a place the reader reported are left out, as they only echo it (the
/// value there is missing from `doc`).
fn with_read_problems(text: &str, path: &Path, doc: &Json, read: Vec<Problem>) -> Error {
    let mut checked = Vec::new();
    let mut unknown_key_maps = HashSet::new();
    if let Err(error) = schema::check(doc, &mut checked, &mut unknown_key_maps) {
        return error;
    }
    drop(semantic::build(doc, &unknown_key_maps, &mut checked));
    let related = |a: &[Seg], b: &[Seg]| a.starts_with(b) || b.starts_with(a);
    let mut problems = read;
    let reader_paths: Vec<Vec<Seg>> = problems.iter().map(|p| p.path.clone()).collect();
    problems.extend(
        checked
            .into_iter()
            .filter(|p| !reader_paths.iter().any(|r| related(&p.path, r))),
    );
    let index = Index::build(text);
    Error::Spec(Box::new(SpecError::new(path, text, &index, problems)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{OsType, Selection};

    /// A spec over the size where schema check and semantic build run side by side.
    fn large_spec(extra_entry: &str) -> String {
        let mut text = String::from("version: 1\ndefaults: { region: cn-bj2 }\nimages:\n");
        let mut n = 0;
        while text.len() < SIDE_BY_SIDE_BYTES + 1024 {
            text.push_str(&format!(
                "  entry-{n}: {{ filters: {{ name: \"^Ubuntu {n}\", os_type: Linux }} }}\n"
            ));
            n += 1;
        }
        text.push_str(extra_entry);
        text
    }

    #[test]
    fn large_specs_read_the_same_as_small_ones() {
        let text = large_spec("");
        let spec = parse(&text, Path::new("big.yaml")).expect("valid");
        assert!(spec.images.len() > 1000);
        let entry = &spec.images["entry-7"];
        assert_eq!(entry.filters.os_type, Some(OsType::Linux));
        assert_eq!(entry.filters.name.as_ref().unwrap().source, "^Ubuntu 7");
    }

    #[test]
    fn large_specs_report_schema_and_semantic_problems_alike() {
        // One schema problem (unknown key) and one semantic problem (bad regex), as in a small spec.
        let bad = "  zz-typo: { regoin: hk }\n  zz-regex: { filters: { name: \"(\" } }\n";
        let small = format!("version: 1\ndefaults: {{ region: cn-bj2 }}\nimages:\n{bad}");
        let messages = |text: &str| match parse(text, Path::new("s.yaml")) {
            Err(Error::Spec(report)) => report
                .problems
                .iter()
                .map(|p| (p.path.clone(), p.message.clone()))
                .collect::<Vec<_>>(),
            other => panic!("expected spec problems, got {other:?}"),
        };
        let large = messages(&large_spec(bad));
        assert_eq!(large, messages(&small));
        assert_eq!(large.len(), 2, "{large:?}");
    }

    const EXAMPLE: &str = r#"# yaml-language-server: $schema=./imagelock.schema.json
version: 1
defaults:
  region: cn-bj2
  project_id: org-abc123
  filters: { os_type: Linux }
images:
  web:
    filters:
      image_type: Base
      name: "^Ubuntu 22\\.04"
      features: { all: [IPv6, CloudInit], none: [Aarch64_Type] }
    select: newest
  gpu-worker:
    regions: [hk, cn-bj2]
    filters:
      func_type: gpu
      supported_gpu_types: { any: [A100, H100] }
      version: ">=22.04, <24"
    select: highest_version
"#;

    fn spec_error(result: Result<Spec, Error>) -> Box<SpecError> {
        match result {
            Err(Error::Spec(error)) => error,
            Err(other) => panic!("expected a spec error, got {other}"),
            Ok(spec) => panic!("expected a spec error, got {spec:?}"),
        }
    }

    #[test]
    fn parses_the_spec_example() {
        let spec = match parse(EXAMPLE, Path::new("imagelock.yaml")) {
            Ok(spec) => spec,
            Err(e) => panic!("{e}"),
        };
        let names: Vec<&str> = spec.images.keys().map(String::as_str).collect();
        assert_eq!(names, ["gpu-worker", "web"]);
        let gpu = &spec.images["gpu-worker"];
        assert_eq!(gpu.regions, ["cn-bj2", "hk"]);
        assert_eq!(gpu.select, Selection::HighestVersion);
        assert_eq!(gpu.filters.os_type, Some(OsType::Linux));
        assert_eq!(gpu.project_id.as_deref(), Some("org-abc123"));
        let web = &spec.images["web"];
        assert_eq!(web.regions, ["cn-bj2"]);
        assert!(
            web.filters
                .name
                .as_ref()
                .is_some_and(|p| p.regex.is_match("Ubuntu 22.04 64位"))
        );
    }

    #[test]
    fn display_is_one_line_per_problem_with_positions() {
        let text = EXAMPLE
            .replace("os_type: Linux", "os_type: linux")
            .replace("    select: newest", "    selct: newest");
        let error = spec_error(parse(&text, Path::new("imagelock.yaml")));
        assert_eq!(
            error.to_string(),
            "imagelock.yaml:6:23: defaults.filters.os_type: expected one of Linux, Windows, found \"linux\" (did you mean \"Linux\"?)\n\
             imagelock.yaml:13:5: images.web.selct: unknown key \"selct\", expected one of agree, filters, hold, project_id, region, regions, select, zone (did you mean \"select\"?)"
        );
    }

    #[test]
    fn duplicate_keys_point_at_the_second_one() {
        let error = spec_error(parse(
            "version: 1\nversion: 1\nimages: {web: {region: hk}}\n",
            Path::new("s.yaml"),
        ));
        assert_eq!(error.problems.len(), 1);
        assert_eq!((error.problems[0].line, error.problems[0].column), (2, 1));
    }

    #[test]
    fn syntax_errors_are_located() {
        let error = spec_error(parse(
            "version: 1\nimages:\n  web: [a, b\n",
            Path::new("s.yaml"),
        ));
        assert_eq!(error.problems.len(), 1);
        assert!(
            error.problems[0].message.starts_with("invalid YAML: "),
            "{error}"
        );
        assert!(error.problems[0].line >= 3, "{error}");
    }

    #[test]
    fn load_explains_missing_files_and_bad_bytes() {
        let dir = match tempfile::tempdir() {
            Ok(dir) => dir,
            Err(e) => panic!("{e}"),
        };
        let missing = dir.path().join("imagelock.yaml");
        let error = load(&missing).err().map(|e| (e.exit(), e.to_string()));
        let (exit, message) = error.unwrap_or((crate::Exit::Success, String::new()));
        assert_eq!(exit, crate::Exit::Invalid);
        assert!(
            message.contains("pass -f PATH or run `imagelock init`"),
            "{message}"
        );

        let binary = dir.path().join("bin.yaml");
        assert!(std::fs::write(&binary, b"version: 1\n\xff\xfe").is_ok());
        let message = load(&binary)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("not UTF-8"), "{message}");

        let big = dir.path().join("big.yaml");
        assert!(std::fs::write(&big, vec![b'#'; (MAX_SPEC_BYTES + 1) as usize]).is_ok());
        let message = load(&big).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("larger than 4 MiB"), "{message}");

        let good = dir.path().join("good.yaml");
        assert!(std::fs::write(&good, EXAMPLE).is_ok());
        assert!(load(&good).is_ok_and(|spec| spec.path == good));
    }

    #[test]
    fn reports_render_in_both_themes_whatever_the_line_holds() {
        let long = "镜".repeat(5000);
        for text in [
            format!("version: 1\nimages:\n  web: {{ region: \"{long}\", name: 1 }}\n"),
            "version: 1\nimages:\n  web:\n\t\tregion: hk # 镜像\n".to_owned(),
            "version: 1\r\nimages:\r\n  web: {region: hk, zone: x}\r\n".to_owned(),
        ] {
            let error = spec_error(parse(&text, Path::new("imagelock.yaml")));
            for color in [false, true] {
                let rendered = error.render(color);
                assert!(rendered.len() < 4_000, "{rendered}");
                assert!(!rendered.contains('\t'), "{rendered}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

        /// Any edit of a valid spec either parses or yields located problems inside the text.
        #[test]
        fn edits_never_panic_and_problems_stay_in_bounds(
            at in 0usize..EXAMPLE.len(),
            cut in 0usize..6,
            insert in "[ \t:\\[\\]{}a-zA-Z0-9&*!'\"\n<~.-]{0,4}",
        ) {
            let start = (0..=at).rev().find(|i| EXAMPLE.is_char_boundary(*i)).unwrap_or(0);
            let end = (start + cut..=EXAMPLE.len()).find(|i| EXAMPLE.is_char_boundary(*i)).unwrap_or(EXAMPLE.len());
            let text = format!("{}{insert}{}", &EXAMPLE[..start], &EXAMPLE[end..]);
            if let Err(error) = parse(&text, Path::new("imagelock.yaml")) {
                let Error::Spec(error) = error else { panic!("unexpected error kind: {error}") };
                proptest::prop_assert!(!error.problems.is_empty());
                for problem in &error.problems {
                    proptest::prop_assert!(problem.offset + problem.len <= text.len());
                    proptest::prop_assert!(text.is_char_boundary(problem.offset));
                    proptest::prop_assert!(problem.line >= 1 && problem.column >= 1);
                }
                let rendered = error.render(false);
                proptest::prop_assert!(rendered.starts_with("invalid spec imagelock.yaml: "));
            }
        }
    }
}
