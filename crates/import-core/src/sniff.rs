//! The MP4 signature rule: a file is an MP4 when it starts with an `ftyp` box.

/// Bytes to read from the start of an object to check its signature.
pub const SNIFF_LEN: usize = 64;

/// Why the first bytes of an object are not an MP4.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotMp4 {
    /// The object has no bytes.
    #[error("the object is empty (0 bytes); re-export the recording")]
    Empty,
    /// Too short to hold a box header.
    #[error(
        "the object is only {len} bytes long, too short to be an MP4 (no `ftyp` box); re-export the recording"
    )]
    TooShort {
        /// Its length.
        len: usize,
    },
    /// The first box is something else.
    #[error("the object is not an MP4: it does not start with an `ftyp` box{}; convert it to MP4", describe(.found))]
    NoFtyp {
        /// What the first bytes look like.
        found: String,
    },
}

fn describe(found: &str) -> String {
    if found.is_empty() {
        String::new()
    } else {
        format!(" (it looks like {found})")
    }
}

/// Check the first bytes of an object (at least 16, ideally [`SNIFF_LEN`]) for an
/// MP4 `ftyp` box and answer its major brand.
///
/// ```
/// let mut head = vec![0, 0, 0, 20];
/// head.extend_from_slice(b"ftypisom\0\0\x02\0isom");
/// assert_eq!(import_core::sniff_mp4(&head)?, "isom");
/// let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1];
/// assert!(import_core::sniff_mp4(&jpeg).unwrap_err().to_string().contains("JPEG"));
/// # Ok::<(), import_core::NotMp4>(())
/// ```
pub fn sniff_mp4(head: &[u8]) -> Result<String, NotMp4> {
    if head.is_empty() {
        return Err(NotMp4::Empty);
    }
    if head.len() < 12 {
        return Err(NotMp4::TooShort { len: head.len() });
    }
    let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let kind = &head[4..8];
    // size 1 means a 64-bit size follows; 0 means "to the end of the file".
    let size_ok = size == 0 || size == 1 || size >= 12;
    if kind != b"ftyp" || !size_ok {
        return Err(NotMp4::NoFtyp {
            found: guess(head).to_owned(),
        });
    }
    let brand = if size == 1 {
        head.get(16..20)
    } else {
        head.get(8..12)
    };
    Ok(brand
        .map(|b| String::from_utf8_lossy(b).trim_end().to_owned())
        .unwrap_or_default())
}

fn guess(head: &[u8]) -> &'static str {
    let starts = |sig: &[u8]| head.starts_with(sig);
    if starts(&[0xFF, 0xD8, 0xFF]) {
        "a JPEG image"
    } else if starts(b"\x89PNG") {
        "a PNG image"
    } else if starts(b"\x89MCAP") {
        "an MCAP recording"
    } else if starts(b"RIFF") {
        "a RIFF (AVI/WAV) file"
    } else if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
        "a Matroska/WebM video"
    } else if starts(&[0x47]) && head.get(188) == Some(&0x47) {
        "an MPEG transport stream"
    } else if head
        .get(4..8)
        .is_some_and(|k| k == b"moov" || k == b"mdat" || k == b"free" || k == b"wide")
    {
        "an MP4 without an `ftyp` box at its start"
    } else if starts(b"<") || starts(b"{") {
        "a text or HTML document"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(brand: &[u8; 4]) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 24];
        v.extend_from_slice(b"ftyp");
        v.extend_from_slice(brand);
        v.extend_from_slice(&[0, 0, 2, 0]);
        v.extend_from_slice(b"isomiso2");
        v
    }

    #[test]
    fn accepts_ftyp_boxes() {
        assert_eq!(sniff_mp4(&ftyp(b"mp42")).unwrap(), "mp42");
        let mut large = vec![0, 0, 0, 1];
        large.extend_from_slice(b"ftyp");
        large.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 32]);
        large.extend_from_slice(b"qt  ");
        assert_eq!(sniff_mp4(&large).unwrap(), "qt");
    }

    #[test]
    fn refuses_everything_else_with_a_reason() {
        assert_eq!(
            sniff_mp4(b"").unwrap_err().to_string(),
            "the object is empty (0 bytes); re-export the recording"
        );
        assert_eq!(
            sniff_mp4(b"\0\0\0\x08ftyp").unwrap_err().to_string(),
            "the object is only 8 bytes long, too short to be an MP4 (no `ftyp` box); re-export the recording"
        );
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0, 1, 1, 0, 0, 1,
        ];
        assert_eq!(
            sniff_mp4(&jpeg).unwrap_err().to_string(),
            "the object is not an MP4: it does not start with an `ftyp` box (it looks like a JPEG image); convert it to MP4"
        );
        let moov_first = b"\0\0\0\x10moov\0\0\0\0\0\0\0\0";
        assert!(
            sniff_mp4(moov_first)
                .unwrap_err()
                .to_string()
                .contains("without an `ftyp` box")
        );
        let text = b"<html><body>nope</body></html>";
        assert!(sniff_mp4(text).unwrap_err().to_string().contains("HTML"));
        let random = [7u8; 32];
        assert_eq!(
            sniff_mp4(&random).unwrap_err().to_string(),
            "the object is not an MP4: it does not start with an `ftyp` box; convert it to MP4"
        );
        let mut tiny_box = ftyp(b"isom");
        tiny_box[3] = 4;
        assert!(sniff_mp4(&tiny_box).is_err());
    }
}
