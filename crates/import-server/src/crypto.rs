//! Secrets at rest, API key hashing and random ids.

use std::fmt;
use std::io::Write;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::error::StartupError;

/// Fill a buffer with random bytes from the operating system.
#[expect(
    clippy::expect_used,
    reason = "the system generator fails only on an OS without an entropy source, where no key or id can be made safely"
)]
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The system generator only fails when the OS has no entropy source at all.
    SystemRandom::new()
        .fill(&mut buf)
        .expect("the operating system's random number generator is available");
    buf
}

/// Lower-case hex of some bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Hex SHA-256 of some bytes.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    sha256_hex_of(&[bytes])
}

/// The SHA-256 of `parts` one after the other, in lowercase hex, without
/// joining them first.
pub(crate) fn sha256_hex_of(parts: &[&[u8]]) -> String {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in parts {
        context.update(part);
    }
    hex(context.finish().as_ref())
}

/// A new API key: `vk_` and 64 hex characters (256 random bits).
pub(crate) fn new_api_key() -> String {
    format!("vk_{}", hex(&random_bytes::<32>()))
}

/// How an API key is stored: its SHA-256. Keys carry 256 random bits, so a fast
/// hash is enough; the key itself is never stored.
pub(crate) fn hash_api_key(key: &str) -> String {
    sha256_hex(key.as_bytes())
}

/// Seals and opens integration secrets with AES-256-GCM.
///
/// The key comes from `VIMPORT_SECRET_KEY` (64 hex characters) or from a key
/// file created with mode 0600 on first start. `Debug` never shows it.
pub struct SecretBox {
    key: LessSafeKey,
}

impl fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretBox(<redacted>)")
    }
}

impl SecretBox {
    /// A box from 32 key bytes.
    #[expect(
        clippy::expect_used,
        reason = "AES-256-GCM takes exactly 32 key bytes, which the type guarantees"
    )]
    pub fn from_key(key: &[u8; 32]) -> SecretBox {
        let unbound = UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte key fits AES-256-GCM");
        SecretBox {
            key: LessSafeKey::new(unbound),
        }
    }

    /// A box from a hex key (`VIMPORT_SECRET_KEY`).
    pub fn from_hex(hex_key: &str) -> Result<SecretBox, StartupError> {
        let bytes = unhex(hex_key).filter(|b| b.len() == 32).ok_or_else(|| StartupError::Config {
            what: "VIMPORT_SECRET_KEY".into(),
            fix: "set it to 64 hex characters (32 random bytes), e.g. the output of `openssl rand -hex 32`, or unset it to use the key file in the data folder".into(),
        })?;
        let mut key = [0u8; 32];
        key.copy_from_slice(&bytes);
        Ok(SecretBox::from_key(&key))
    }

    /// Read the key file, or create it (mode 0600) with a new random key.
    pub fn from_key_file(path: &Path) -> Result<SecretBox, StartupError> {
        match std::fs::read_to_string(path) {
            Ok(text) => SecretBox::from_hex(&text).map_err(|_| StartupError::Config {
                what: format!("the secret key file {}", path.display()),
                fix: "it must hold 64 hex characters; restore it from your backup (integrations saved with another key cannot be opened)".into(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = random_bytes::<32>();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                let mut file = options.open(path).map_err(|e| StartupError::Io {
                    what: format!("creating the secret key file {}", path.display()),
                    source: e,
                })?;
                file.write_all(hex(&key).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| StartupError::Io {
                        what: format!("writing the secret key file {}", path.display()),
                        source: e,
                    })?;
                Ok(SecretBox::from_key(&key))
            }
            Err(e) => Err(StartupError::Io {
                what: format!("reading the secret key file {}", path.display()),
                source: e,
            }),
        }
    }

    /// Encrypt: a fresh random nonce followed by the ciphertext and tag.
    /// `aad` (associated data) is authenticated, not stored: the same bytes
    /// must be given to [`SecretBox::open`].
    #[expect(
        clippy::expect_used,
        reason = "sealing in memory fails only for a buffer over AES-GCM's 64 GiB limit, far above any secret"
    )]
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut out = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(aad),
                &mut out,
            )
            .expect("sealing a buffer in memory cannot fail");
        let mut sealed = nonce_bytes.to_vec();
        sealed.extend_from_slice(&out);
        sealed
    }

    /// Decrypt what [`SecretBox::seal`] made; `None` if it was made with
    /// another key or other associated data, or altered.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open() {
        let a = SecretBox::from_key(&[7; 32]);
        let sealed = a.seal(b"secret-access-key", b"row 1");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(a.open(&sealed, b"row 1").unwrap(), b"secret-access-key");
        // Bound to its associated data: another row's cannot open it.
        assert!(a.open(&sealed, b"row 2").is_none());
        assert!(a.open(&sealed, b"").is_none());
        let b = SecretBox::from_key(&[8; 32]);
        assert!(b.open(&sealed, b"row 1").is_none());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(a.open(&tampered, b"row 1").is_none());
        assert_eq!(format!("{a:?}"), "SecretBox(<redacted>)");
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let a = SecretBox::from_key_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let b = SecretBox::from_key_file(&path).unwrap();
        assert_eq!(b.open(&a.seal(b"x", b""), b"").unwrap(), b"x");
        std::fs::write(&path, "nothex").unwrap();
        let err = SecretBox::from_key_file(&path).unwrap_err().to_string();
        assert!(err.contains("64 hex characters"), "{err}");
        assert!(
            SecretBox::from_hex("abc")
                .unwrap_err()
                .to_string()
                .contains("openssl rand -hex 32")
        );
    }

    #[test]
    fn api_keys() {
        let k = new_api_key();
        assert!(k.starts_with("vk_") && k.len() == 67);
        assert_eq!(hash_api_key(&k).len(), 64);
        assert_ne!(hash_api_key(&k), k);
    }
}
