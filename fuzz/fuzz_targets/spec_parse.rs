//! Any bytes given to the spec parser give a spec or an error, never a panic or a hang; every
//! problem of an error points inside the text, and its report stays small whatever the input.
#![no_main]

use std::path::Path;

use imagelock::Error;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // `spec::load` refuses non-UTF-8 before parsing; the parser itself only ever sees text.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match imagelock::spec::parse(text, Path::new("fuzz.yaml")) {
        Ok(_) => {}
        Err(Error::Spec(error)) => {
            assert!(!error.problems.is_empty(), "a spec error names a problem");
            // The parser drops a leading byte-order mark before placing problems.
            let placed = text.strip_prefix('\u{feff}').unwrap_or(text);
            for problem in &error.problems {
                assert!(problem.offset + problem.len <= placed.len());
                assert!(placed.is_char_boundary(problem.offset));
                assert!(problem.line >= 1 && problem.column >= 1);
                // Long values are shortened in messages (see docs/spec-errors.md).
                assert!(problem.message.chars().count() <= 1_100, "{}", problem.message);
                assert!(problem.path.chars().count() <= 100 * 90, "{}", problem.path);
            }
            // At most 50 problems are shown, each with a few cut lines: a bound that does not
            // grow with the input.
            let shown = error.problems.len().min(50);
            let rendered = error.render(false);
            assert!(rendered.len() <= 1_000 + shown * 20_000, "{} bytes", rendered.len());
        }
        Err(other) => panic!("a spec gives a spec or a spec error, not: {other}"),
    }
});
