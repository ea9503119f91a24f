//! Text from outside made safe to keep, log and show: a source's message,
//! the bytes of a video (box types, codec names), a request's method or path.
//!
//! Such text may hold anything: a NUL byte (which PostgreSQL refuses in
//! `TEXT`, so a row whose reason carries one could never be recorded),
//! terminal escapes, line breaks that forge log lines, or megabytes. Every
//! such string passes through [`outside`] (or [`four_cc`] for the four bytes
//! of a box type) before the server stores it in a row or writes it to a log.
//!
//! ```
//! use import_core::quote;
//!
//! // Control characters are written as escapes; the text is bounded.
//! assert_eq!(quote::outside("bad\0box\n\u{1b}[31m", 100), "bad\\0box\\n\\u{1b}[31m");
//! assert_eq!(quote::outside("ééé", 3), "é…");
//! // A box type of four NUL bytes, as some damaged files have.
//! assert_eq!(quote::four_cc(&[0, 0, 0, 0]), "\\x00\\x00\\x00\\x00");
//! assert_eq!(quote::four_cc(b"avc1"), "avc1");
//! ```

use std::borrow::Cow;

/// Longest text from outside kept on a row (a failure's reason, an upload
/// id): 2 KiB, room for an object name of [`MAX_OBJECT_NAME_BYTES`] and the
/// sentence around it.
///
/// [`MAX_OBJECT_NAME_BYTES`]: crate::fields::MAX_OBJECT_NAME_BYTES
pub const MAX_STORED_TEXT_BYTES: usize = 2048;

/// Longest text from outside quoted in one log line (a request's method or
/// path, a source's answer): 256 bytes, enough to recognise it.
pub const MAX_LOGGED_TEXT_BYTES: usize = 256;

/// `text` with every control character written as its Rust escape (`\0`,
/// `\n`, `\u{1b}`), cut at a character boundary to at most `max` bytes
/// (escapes counted) with `…` appended when cut. Borrowed when nothing
/// changes.
pub fn outside(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max && !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(max) + 3);
    for c in text.chars() {
        let start = out.len();
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
        if out.len() > max {
            out.truncate(start);
            out.push('…');
            break;
        }
    }
    Cow::Owned(out)
}

/// The four bytes of an MP4 box type (or a codec's fourcc) as text: printable
/// ASCII as it is, any other byte as `\xNN`.
pub fn four_cc(kind: &[u8; 4]) -> String {
    let mut out = String::with_capacity(4);
    for &b in kind {
        if (0x20..0x7f).contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_is_borrowed_and_bounded() {
        assert!(matches!(outside("trips/front.mp4", 100), Cow::Borrowed(_)));
        assert_eq!(outside("abcdef", 3), "abc…");
        assert_eq!(outside("", 0), "");
        // An escape is never cut in half.
        assert_eq!(outside("ab\0", 3), "ab…");
    }

    #[test]
    fn no_control_character_survives() {
        let nasty: String = (0u32..0x200).filter_map(char::from_u32).collect();
        let safe = outside(&nasty, 10_000);
        assert!(!safe.chars().any(char::is_control), "{safe}");
        assert!(!safe.contains('\0'));
    }

    #[test]
    fn box_types_never_carry_a_control_byte() {
        for b in 0..=255u8 {
            let text = four_cc(&[b, b'a', b, 0xff]);
            assert!(!text.chars().any(char::is_control), "{text}");
            assert!(text.is_ascii());
        }
        assert_eq!(four_cc(b"moov"), "moov");
        assert_eq!(four_cc(&[b'a', 0xa9, b'x', b'y']), "a\\xa9xy");
    }
}
