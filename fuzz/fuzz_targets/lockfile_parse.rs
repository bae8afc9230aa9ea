//! Any bytes given to the lockfile parser give a lockfile or an error, never a panic; whatever
//! parses renders to canonical text that parses and renders to itself. (Not back to the same
//! value: rendering sorts and dedupes hand-edited feature lists, as `lock` would.) Whatever
//! parses also survives the checksum check and merges with itself into itself.
#![no_main]

use std::path::Path;

use imagelock::lockfile::Lockfile;
use imagelock::lockfile::merge::merge;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.lock");
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(lock) = Lockfile::parse(text, path)
    {
        let rendered = lock.render();
        let again = Lockfile::parse(&rendered, path).expect("a rendered lockfile parses");
        assert_eq!(again.render(), rendered, "rendering is a fixed point");
        for entry in lock.images.values() {
            let _ = entry.is_hand_edited();
        }
        let outcome = merge(&lock, &lock, &lock);
        assert!(outcome.left_out.is_empty());
        assert_eq!(outcome.merged, lock, "a lockfile merged with itself is itself");
    }
});
