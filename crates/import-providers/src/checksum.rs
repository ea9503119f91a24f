//! What a source declares of an object's bytes, and the check of a copy
//! against it.
//!
//! The S3 and GCS stores opened by [`open_source`](crate::open_source) put a
//! [`DeclaredChecksums`] into the extensions of every successful answer
//! (`GetResult::extensions` of a `get`), read from the answer's headers:
//!
//! | source | header | checksum |
//! | --- | --- | --- |
//! | S3 | `ETag` of 32 hex digits, no `-N` part count, not SSE-KMS nor SSE-C | MD5 |
//! | S3 (checksum mode) | `x-amz-checksum-sha256`, unless `x-amz-checksum-type: COMPOSITE` | SHA-256 |
//! | S3 (checksum mode) | `x-amz-checksum-crc32c`, unless composite | CRC32C |
//! | GCS | `x-goog-hash: crc32c=…,md5=…` | CRC32C, MD5 |
//!
//! S3 requests carry `x-amz-checksum-mode: ENABLED` (signed), without which
//! S3 sends no `x-amz-checksum-*` header. The ETag of a multipart upload
//! (`"…-N"`) and of an object encrypted with SSE-KMS or SSE-C is not the MD5
//! of its bytes, so it is not used (AWS S3 documentation, "Checking object
//! integrity"; Google Cloud Storage documentation, "Hashes and ETags").

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use import_core::ChecksumAlgorithm;
use md5::Digest as _;
use reqwest::header::HeaderMap;

/// The checksums a source declared for an object, as raw digests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeclaredChecksums {
    /// MD5 of the whole object.
    pub md5: Option<[u8; 16]>,
    /// CRC32C (Castagnoli) of the whole object.
    pub crc32c: Option<u32>,
    /// SHA-256 of the whole object.
    pub sha256: Option<[u8; 32]>,
}

/// Which cloud's headers to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderDialect {
    S3,
    Gcs,
}

impl DeclaredChecksums {
    /// Read the checksums an S3 (or S3-compatible) answer declares.
    ///
    /// ```
    /// use import_providers::DeclaredChecksums;
    /// use reqwest::header::{HeaderMap, HeaderValue};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("etag", HeaderValue::from_static("\"9e107d9d372bb6826bd81d3542a419d6\""));
    /// let declared = DeclaredChecksums::from_s3_headers(&headers);
    /// assert!(declared.md5.is_some());
    /// headers.insert("etag", HeaderValue::from_static("\"9e107d9d372bb6826bd81d3542a419d6-3\""));
    /// assert_eq!(DeclaredChecksums::from_s3_headers(&headers).md5, None);
    /// ```
    pub fn from_s3_headers(headers: &HeaderMap) -> Self {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let encrypted_with_keys = text("x-amz-server-side-encryption")
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("aws:kms"))
            || headers.contains_key("x-amz-server-side-encryption-customer-algorithm");
        let md5 = if encrypted_with_keys {
            None
        } else {
            text("etag").and_then(|etag| {
                let etag = etag.trim().trim_start_matches("W/").trim_matches('"');
                hex_digest::<16>(etag)
            })
        };
        let composite =
            text("x-amz-checksum-type").is_some_and(|t| t.eq_ignore_ascii_case("COMPOSITE"));
        let (sha256, crc32c) = if composite {
            (None, None)
        } else {
            (
                text("x-amz-checksum-sha256").and_then(base64_digest::<32>),
                text("x-amz-checksum-crc32c")
                    .and_then(base64_digest::<4>)
                    .map(u32::from_be_bytes),
            )
        };
        DeclaredChecksums {
            md5,
            crc32c,
            sha256,
        }
    }

    /// Read the checksums a GCS answer declares in `x-goog-hash` (one header
    /// per hash, or both in one, comma-separated).
    ///
    /// ```
    /// use import_providers::DeclaredChecksums;
    /// use reqwest::header::{HeaderMap, HeaderValue};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-goog-hash", HeaderValue::from_static("crc32c=n03x6A==,md5=Ojk9c3dhfxgoKVVHYwFbHQ=="));
    /// let declared = DeclaredChecksums::from_gcs_headers(&headers);
    /// assert_eq!(declared.crc32c, Some(0x9f4df1e8));
    /// assert!(declared.md5.is_some());
    /// ```
    pub fn from_gcs_headers(headers: &HeaderMap) -> Self {
        let mut declared = DeclaredChecksums::default();
        for value in headers.get_all("x-goog-hash") {
            let Ok(value) = value.to_str() else { continue };
            for part in value.split(',') {
                let Some((name, digest)) = part.trim().split_once('=') else {
                    continue;
                };
                match name.trim().to_ascii_lowercase().as_str() {
                    "md5" => declared.md5 = base64_digest::<16>(digest.trim()),
                    "crc32c" => {
                        declared.crc32c = base64_digest::<4>(digest.trim()).map(u32::from_be_bytes);
                    }
                    _ => {}
                }
            }
        }
        declared
    }

    pub(crate) fn from_headers(dialect: HeaderDialect, headers: &HeaderMap) -> Self {
        match dialect {
            HeaderDialect::S3 => Self::from_s3_headers(headers),
            HeaderDialect::Gcs => Self::from_gcs_headers(headers),
        }
    }

    /// The strongest declared checksum: SHA-256, then MD5, then CRC32C.
    pub fn strongest(&self) -> Option<ChecksumAlgorithm> {
        if self.sha256.is_some() {
            Some(ChecksumAlgorithm::Sha256)
        } else if self.md5.is_some() {
            Some(ChecksumAlgorithm::Md5)
        } else if self.crc32c.is_some() {
            Some(ChecksumAlgorithm::Crc32c)
        } else {
            None
        }
    }
}

/// A copy's bytes do not match what the source declared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "checksum mismatch ({algorithm}): the copied bytes give {actual} but the source declared {declared}; the bytes were changed on the way or in the bucket, and the object will be read again"
)]
pub struct ChecksumMismatch {
    /// The algorithm that disagreed.
    pub algorithm: ChecksumAlgorithm,
    /// The declared digest, in hex.
    pub declared: String,
    /// The digest of the copied bytes, in hex.
    pub actual: String,
}

/// Checks a stream of bytes against the strongest checksum a source
/// declared. SHA-256 is not computed here: the caller already hashes every
/// copy with it and hands the digest to [`ChecksumCheck::finish`].
///
/// ```
/// use import_providers::{ChecksumCheck, DeclaredChecksums};
///
/// let declared = DeclaredChecksums { crc32c: Some(crc32c::crc32c(b"hello")), ..Default::default() };
/// let mut check = ChecksumCheck::new(&declared).expect("a checksum is declared");
/// check.update(b"hel");
/// check.update(b"lo");
/// assert_eq!(check.finish(&[0; 32]).unwrap().as_str(), "crc32c");
/// ```
#[derive(Debug)]
pub struct ChecksumCheck {
    state: CheckState,
}

#[derive(Debug)]
enum CheckState {
    Md5(md5::Md5, [u8; 16]),
    Crc32c(u32, u32),
    Sha256([u8; 32]),
}

impl ChecksumCheck {
    /// The check of the strongest declared checksum, or `None` when the
    /// source declared none.
    pub fn new(declared: &DeclaredChecksums) -> Option<Self> {
        let state = if let Some(sha) = declared.sha256 {
            CheckState::Sha256(sha)
        } else if let Some(md5) = declared.md5 {
            CheckState::Md5(md5::Md5::new(), md5)
        } else if let Some(crc) = declared.crc32c {
            CheckState::Crc32c(0, crc)
        } else {
            return None;
        };
        Some(ChecksumCheck { state })
    }

    /// Which algorithm is checked.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self.state {
            CheckState::Md5(..) => ChecksumAlgorithm::Md5,
            CheckState::Crc32c(..) => ChecksumAlgorithm::Crc32c,
            CheckState::Sha256(_) => ChecksumAlgorithm::Sha256,
        }
    }

    /// Feed the next bytes of the copy.
    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.state {
            CheckState::Md5(hasher, _) => hasher.update(bytes),
            CheckState::Crc32c(crc, _) => *crc = crc32c::crc32c_append(*crc, bytes),
            CheckState::Sha256(_) => {}
        }
    }

    /// Compare with the declaration, given the SHA-256 of every byte fed.
    pub fn finish(self, sha256: &[u8]) -> Result<ChecksumAlgorithm, ChecksumMismatch> {
        let algorithm = self.algorithm();
        let (actual, declared) = match self.state {
            CheckState::Md5(hasher, declared) => (hasher.finalize().to_vec(), declared.to_vec()),
            CheckState::Crc32c(crc, declared) => {
                (crc.to_be_bytes().to_vec(), declared.to_be_bytes().to_vec())
            }
            CheckState::Sha256(declared) => (sha256.to_vec(), declared.to_vec()),
        };
        if actual == declared {
            Ok(algorithm)
        } else {
            Err(ChecksumMismatch {
                algorithm,
                declared: hex(&declared),
                actual: hex(&actual),
            })
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_digest<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

fn base64_digest<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = BASE64.decode(text.trim()).ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn s3_etags_count_only_when_they_are_the_md5_of_the_bytes() {
        let md5 = "\"5d41402abc4b2a76b9719d911017c592\"";
        assert!(
            DeclaredChecksums::from_s3_headers(&headers(&[("etag", md5)]))
                .md5
                .is_some()
        );
        assert!(
            DeclaredChecksums::from_s3_headers(&headers(&[
                ("etag", md5),
                ("x-amz-server-side-encryption", "AES256")
            ]))
            .md5
            .is_some()
        );
        for refused in [
            headers(&[("etag", "\"5d41402abc4b2a76b9719d911017c592-2\"")]),
            headers(&[("etag", "\"not-an-md5\"")]),
            headers(&[("etag", md5), ("x-amz-server-side-encryption", "aws:kms")]),
            headers(&[
                ("etag", md5),
                ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
            ]),
        ] {
            assert_eq!(DeclaredChecksums::from_s3_headers(&refused).md5, None);
        }
    }

    #[test]
    fn s3_full_object_checksums_are_read_and_composite_ones_skipped() {
        // SHA-256 and CRC32C of "hello", base64.
        let sha = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=";
        let crc = "mnG7TA==";
        let full = DeclaredChecksums::from_s3_headers(&headers(&[
            ("x-amz-checksum-sha256", sha),
            ("x-amz-checksum-crc32c", crc),
        ]));
        assert_eq!(full.strongest(), Some(ChecksumAlgorithm::Sha256));
        assert_eq!(full.crc32c, Some(crc32c::crc32c(b"hello")));
        let composite = DeclaredChecksums::from_s3_headers(&headers(&[
            (
                "x-amz-checksum-sha256",
                "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=-2",
            ),
            ("x-amz-checksum-type", "COMPOSITE"),
        ]));
        assert_eq!(composite, DeclaredChecksums::default());
    }

    #[test]
    fn gcs_hashes_in_one_header_or_two() {
        let two = DeclaredChecksums::from_gcs_headers(&headers(&[
            ("x-goog-hash", "crc32c=mnG7TA=="),
            ("x-goog-hash", "md5=XUFAKrxLKna5cZ2REBfFkg=="),
        ]));
        assert_eq!(two.crc32c, Some(crc32c::crc32c(b"hello")));
        assert_eq!(two.strongest(), Some(ChecksumAlgorithm::Md5));
        let mut check = ChecksumCheck::new(&two).unwrap();
        check.update(b"hello");
        assert_eq!(check.finish(&[]), Ok(ChecksumAlgorithm::Md5));
    }

    #[test]
    fn a_flipped_byte_is_a_mismatch_that_names_the_algorithm() {
        let declared = DeclaredChecksums {
            md5: hex_digest::<16>("5d41402abc4b2a76b9719d911017c592"),
            ..Default::default()
        };
        let mut check = ChecksumCheck::new(&declared).unwrap();
        check.update(b"hellp");
        let err = check.finish(&[]).unwrap_err();
        assert_eq!(err.algorithm, ChecksumAlgorithm::Md5);
        assert!(
            err.to_string().starts_with("checksum mismatch (md5)"),
            "{err}"
        );
        let sha = DeclaredChecksums {
            sha256: Some([7; 32]),
            ..Default::default()
        };
        let check = ChecksumCheck::new(&sha).unwrap();
        assert!(check.finish(&[8; 32]).is_err());
        assert!(ChecksumCheck::new(&DeclaredChecksums::default()).is_none());
    }
}
