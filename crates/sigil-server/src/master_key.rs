//! Encryption of signing keys at rest with `SIGIL_MASTER_KEY` (docs/protocol.md §12).
//!
//! The master key is a secret text of at least 32 characters (e.g. the
//! output of `head -c 32 /dev/urandom | base64`). The AES-256-GCM key is
//! HKDF-SHA256 of that text; each stored key is
//! `"SGK1" ‖ nonce (12) ‖ ciphertext ‖ tag (16)` with the `kid` as
//! associated data, so a stored blob cannot be moved to another `kid`.
//! Unencrypted keys are stored as plain PKCS#8 DER (which starts with
//! `0x30`, never with the magic). See `docs/decisions/0006-token-service.md`.

use std::fmt;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use sigil_store::SigningKeyRecord;
use zeroize::Zeroizing;

/// First bytes of an encrypted stored key.
const MAGIC: &[u8; 4] = b"SGK1";
/// Shortest accepted master key text.
pub const MIN_MASTER_KEY_LEN: usize = 32;

/// The key that encrypts signing keys at rest. `Debug` never shows it.
pub struct MasterKey {
    key: LessSafeKey,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// Why a master key or a stored signing key cannot be used. Never contains
/// key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MasterKeyError(pub String);

impl MasterKey {
    /// Derives the key from the secret `text` (surrounding whitespace is
    /// ignored).
    ///
    /// # Errors
    ///
    /// When the text is shorter than [`MIN_MASTER_KEY_LEN`] characters.
    pub fn from_text(text: &str) -> Result<Self, MasterKeyError> {
        let text = text.trim();
        if text.chars().count() < MIN_MASTER_KEY_LEN {
            return Err(MasterKeyError(format!(
                "the master key must be at least {MIN_MASTER_KEY_LEN} characters (e.g. `head -c 32 /dev/urandom | base64`)"
            )));
        }
        let prk = Salt::new(HKDF_SHA256, b"sigil master key v1").extract(text.as_bytes());
        let okm = prk
            .expand(&[b"signing key encryption"], &AES_256_GCM)
            .map_err(|_| MasterKeyError("master key derivation failed".into()))?;
        let key = LessSafeKey::new(UnboundKey::from(okm));
        Ok(Self { key })
    }

    /// The master key from the environment: the first line of the file
    /// named by `SIGIL_MASTER_KEY_FILE`, else `SIGIL_MASTER_KEY`, else none.
    ///
    /// # Errors
    ///
    /// An unreadable file, or a key that is too short.
    pub fn from_env() -> Result<Option<Self>, MasterKeyError> {
        if let Some(path) = std::env::var_os("SIGIL_MASTER_KEY_FILE") {
            let path = Path::new(&path);
            let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                MasterKeyError(format!(
                    "SIGIL_MASTER_KEY_FILE {}: cannot read: {e}",
                    path.display()
                ))
            })?);
            let line = text.lines().next().unwrap_or_default();
            return Self::from_text(line).map(Some);
        }
        match std::env::var("SIGIL_MASTER_KEY") {
            Ok(text) => {
                let text = Zeroizing::new(text);
                Self::from_text(&text).map(Some)
            }
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(MasterKeyError("SIGIL_MASTER_KEY is not valid UTF-8".into()))
            }
        }
    }

    /// Encrypts a PKCS#8 document for storage under `kid`.
    ///
    /// # Errors
    ///
    /// When the system has no randomness for the nonce.
    pub fn seal(&self, kid: &str, pkcs8: &[u8]) -> Result<Vec<u8>, MasterKeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|e| MasterKeyError(format!("no randomness for the nonce: {e}")))?;
        let mut buffer = pkcs8.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| MasterKeyError("encryption failed".into()))?;
        let mut stored = Vec::with_capacity(MAGIC.len() + NONCE_LEN + buffer.len());
        stored.extend_from_slice(MAGIC);
        stored.extend_from_slice(&nonce);
        stored.extend_from_slice(&buffer);
        buffer.iter_mut().for_each(|b| *b = 0);
        Ok(stored)
    }

    fn open(&self, kid: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, MasterKeyError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(MasterKeyError(format!(
                "signing key {kid}: stored key is truncated"
            )));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| MasterKeyError("bad nonce".into()))?;
        let mut buffer = Zeroizing::new(ciphertext.to_vec());
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buffer)
            .map_err(|_| {
                MasterKeyError(format!(
                    "signing key {kid} cannot be decrypted: wrong SIGIL_MASTER_KEY, or the stored key was altered"
                ))
            })?
            .len();
        buffer.truncate(plain_len);
        Ok(buffer)
    }
}

/// True when `stored` is a sealed key (starts with the magic); false for a
/// plain PKCS#8 document.
#[must_use]
pub(crate) fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(MAGIC)
}

/// How a stored signing key's private key is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum AtRest {
    /// Encrypted with the master key.
    Encrypted,
    /// Plain PKCS#8: whoever reads the store can sign tokens.
    Plain,
    /// Erased: the key is retired (docs/protocol.md §13).
    Erased,
}

impl AtRest {
    /// Of the stored `record`.
    #[must_use]
    pub fn of(record: &SigningKeyRecord) -> Self {
        match record.pkcs8() {
            Some(stored) if is_sealed(stored) => Self::Encrypted,
            Some(_) => Self::Plain,
            None => Self::Erased,
        }
    }

    /// `encrypted`, `plain` or `erased`, as `sigil keys list` shows it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Encrypted => "encrypted",
            Self::Plain => "plain",
            Self::Erased => "erased",
        }
    }
}

/// What goes into the store for a new key: sealed when a master key is set.
///
/// # Errors
///
/// As [`MasterKey::seal`].
pub(crate) fn to_stored(
    master: Option<&MasterKey>,
    kid: &str,
    pkcs8: &[u8],
) -> Result<Vec<u8>, MasterKeyError> {
    match master {
        Some(master) => master.seal(kid, pkcs8),
        None => Ok(pkcs8.to_vec()),
    }
}

/// The PKCS#8 document of a stored key.
///
/// # Errors
///
/// A sealed key without a master key, or one that does not open; a plain
/// key when a master key is set (the store was meant to be encrypted: a
/// plain key there was written by mistake, or the store was never sealed).
pub(crate) fn from_stored(
    master: Option<&MasterKey>,
    kid: &str,
    stored: &[u8],
) -> Result<Zeroizing<Vec<u8>>, MasterKeyError> {
    match (stored.strip_prefix(MAGIC.as_slice()), master) {
        (Some(sealed), Some(master)) => master.open(kid, sealed),
        (Some(_), None) => Err(MasterKeyError(format!(
            "signing key {kid} is encrypted at rest: set SIGIL_MASTER_KEY or SIGIL_MASTER_KEY_FILE"
        ))),
        (None, Some(_)) => Err(MasterKeyError(format!(
            "signing key {kid} is stored unencrypted but SIGIL_MASTER_KEY is set: encrypt the stored keys with `sigil keys seal` (SIGIL_MASTER_KEY set), or unset SIGIL_MASTER_KEY"
        ))),
        (None, None) => Ok(Zeroizing::new(stored.to_vec())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "correct horse battery staple, 32+ characters long";

    #[test]
    fn seal_open_round_trip_bound_to_kid() {
        let master = MasterKey::from_text(TEXT).unwrap();
        let stored = to_stored(Some(&master), "kid-1", b"0\x81secret pkcs8").unwrap();
        assert!(stored.starts_with(MAGIC));
        assert!(!stored.windows(6).any(|w| w == b"secret"));
        let plain = from_stored(Some(&master), "kid-1", &stored).unwrap();
        assert_eq!(plain.as_slice(), b"0\x81secret pkcs8");
        let moved = from_stored(Some(&master), "kid-2", &stored).unwrap_err();
        assert!(moved.0.contains("cannot be decrypted"), "{moved}");
        let other = MasterKey::from_text(&format!("{TEXT}!")).unwrap();
        assert!(from_stored(Some(&other), "kid-1", &stored).is_err());
        let missing = from_stored(None, "kid-1", &stored).unwrap_err();
        assert!(missing.0.contains("SIGIL_MASTER_KEY"), "{missing}");
        let mut flipped = stored.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(from_stored(Some(&master), "kid-1", &flipped).is_err());
    }

    #[test]
    fn short_master_keys_are_refused_and_debug_is_redacted() {
        assert!(MasterKey::from_text("short").is_err());
        let master = MasterKey::from_text(TEXT).unwrap();
        assert_eq!(format!("{master:?}"), "MasterKey(<redacted>)");
    }

    #[test]
    fn plain_keys_pass_through() {
        let plain = from_stored(None, "k", b"0\x82plain").unwrap();
        assert_eq!(plain.as_slice(), b"0\x82plain");
        assert_eq!(to_stored(None, "k", b"0\x82plain").unwrap(), b"0\x82plain");
        assert!(!is_sealed(b"0\x82plain"));
    }

    /// With a master key set a plain stored key is refused, not used: the
    /// store was meant to be encrypted (issue 13, item 4).
    #[test]
    fn plain_key_under_a_master_key_is_refused_naming_the_fix() {
        let master = MasterKey::from_text(TEXT).unwrap();
        let error = from_stored(Some(&master), "k", b"0\x82plain").unwrap_err();
        assert!(error.0.contains("sigil keys seal"), "{error}");
        assert!(error.0.contains("signing key k"), "{error}");
        assert!(is_sealed(
            &to_stored(Some(&master), "k", b"0\x82plain").unwrap()
        ));
    }
}
