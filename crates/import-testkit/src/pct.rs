//! Percent-encoding for the URLs the stand-ins build (RFC 3986).

use std::fmt::Write as _;

/// Encodes one path segment or query value: everything but the unreserved
/// characters (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`.
pub(crate) fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Encodes a `/`-separated path, keeping the slashes.
pub(crate) fn encode_path(s: &str) -> String {
    s.split('/')
        .map(encode_component)
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_and_non_ascii() {
        assert_eq!(encode_component("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(encode_path("dir one/é.mp4"), "dir%20one/%C3%A9.mp4");
        assert_eq!(encode_path("plain/name-1_2.~"), "plain/name-1_2.~");
    }
}
