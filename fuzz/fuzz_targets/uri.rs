//! `CloudUri` and `PrefixUri` parsing: no input panics, and what parses
//! prints back to a URI that parses to the same value.
#![no_main]

use import_core::{CloudUri, PrefixUri};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(uri) = CloudUri::parse(text) {
        let again = CloudUri::parse(&uri.to_string()).expect("a printed URI parses");
        assert_eq!(again, uri);
        let _ = import_core::check_object_name(uri.object());
    }
    if let Ok(prefix) = PrefixUri::parse(text) {
        let _ = prefix.to_string();
    }
});
