//! Any bytes given to the spec parser give a spec or an error, never a panic or a hang.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // `spec::load` refuses non-UTF-8 before parsing; the parser itself only ever sees text.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = imagelock::spec::parse(text, Path::new("fuzz.yaml"));
    }
});
