//! Glob patterns: parsing any pattern and matching it against any name
//! never panics (matching is bounded: the target checks it in the time
//! libFuzzer allows each input).
#![no_main]

use import_core::Glob;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is the pattern, the rest a name to match.
    let (pattern, name) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(glob) = Glob::parse(pattern) {
        let _ = glob.matches(name);
        let _ = glob.to_string();
    }
});
