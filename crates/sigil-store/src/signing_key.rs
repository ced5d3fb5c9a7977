//! Token-signing keys and their life cycle (docs/protocol.md §13): one current key signs,
//! a retiring key still verifies until its tokens have expired, a retired
//! key does neither.
//!
//! The PKCS#8 bytes are opaque here. Encrypting them at rest with
//! `SIGIL_MASTER_KEY` (docs/protocol.md §12) is the caller's job: this crate stores and
//! returns exactly the bytes it is given, replaces them only when asked
//! ([`SigningKeyStore::replace_key_bytes`], to seal stored keys), and
//! erases them when the key is retired.
//!
//! Each key also carries its `x5c` certificate (public DER bytes, never
//! sealed): made once by the key's creator, or once for a key stored
//! before the column existed ([`SigningKeyStore::set_certificate`]), so
//! every instance publishes the same bytes.

use std::fmt;
use std::str::FromStr;

use zeroize::Zeroizing;

use crate::backend::{Backend, BoxFuture};
use crate::column::{ms_from_db, opt_ms_from_db};
use crate::error::{Error, Result};

/// Where a signing key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyState {
    /// Signs new tokens and is published in the JWKS. At most one key is
    /// current at any time.
    Current,
    /// No longer signs; stays published until `retires_at_ms`, when every
    /// token it signed has expired.
    Retiring,
    /// Neither signs nor is published; its private key has been erased.
    Retired,
}

impl KeyState {
    /// The stored and displayed name: `current`, `retiring` or `retired`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Retiring => "retiring",
            Self::Retired => "retired",
        }
    }

    /// True for keys the JWKS lists (current and retiring).
    #[must_use]
    pub fn is_published(self) -> bool {
        matches!(self, Self::Current | Self::Retiring)
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyState {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "current" => Ok(Self::Current),
            "retiring" => Ok(Self::Retiring),
            "retired" => Ok(Self::Retired),
            _ => Err(Error::InvalidArgument {
                field: "state",
                reason: "expected current, retiring or retired".into(),
            }),
        }
    }
}

/// A key to add, as the new current key.
#[derive(Clone, PartialEq, Eq)]
pub struct NewSigningKey {
    kid: String,
    pkcs8: Zeroizing<Vec<u8>>,
    created_at_ms: u64,
    certificate: Option<Vec<u8>>,
}

impl NewSigningKey {
    /// A key with id `kid` (the RFC 7638 thumbprint), its PKCS#8 document
    /// (encrypted or not: opaque here) and its creation time.
    #[must_use]
    pub fn new(kid: impl Into<String>, pkcs8: Vec<u8>, created_at_ms: u64) -> Self {
        Self {
            kid: kid.into(),
            pkcs8: Zeroizing::new(pkcs8),
            created_at_ms,
            certificate: None,
        }
    }

    /// The same key with its `x5c` certificate (DER), stored with it.
    #[must_use]
    pub fn with_certificate(mut self, der: Vec<u8>) -> Self {
        self.certificate = Some(der);
        self
    }

    /// The certificate to store with the key, if any.
    #[must_use]
    pub fn certificate(&self) -> Option<&[u8]> {
        self.certificate.as_deref()
    }

    /// The key id.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The stored bytes.
    #[must_use]
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// When the key was made, ms.
    #[must_use]
    pub fn created_at_ms(&self) -> u64 {
        self.created_at_ms
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.kid.is_empty() {
            return Err(Error::InvalidArgument {
                field: "kid",
                reason: "empty".into(),
            });
        }
        if self.pkcs8.is_empty() {
            return Err(Error::InvalidArgument {
                field: "pkcs8",
                reason: "empty".into(),
            });
        }
        if self.certificate.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::InvalidArgument {
                field: "certificate",
                reason: "empty".into(),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for NewSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSigningKey")
            .field("kid", &self.kid)
            .field("pkcs8", &format_args!("<{} bytes>", self.pkcs8.len()))
            .field("created_at_ms", &self.created_at_ms)
            .field(
                "certificate",
                &self
                    .certificate
                    .as_ref()
                    .map(|der| format!("<{} bytes>", der.len())),
            )
            .finish()
    }
}

/// A stored signing key. The key bytes are wiped from memory on drop and
/// never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SigningKeyRecord {
    /// The key id.
    pub kid: String,
    /// Where the key is in its life.
    pub state: KeyState,
    /// When the key was made, ms.
    pub created_at_ms: u64,
    /// For a retiring key, when it stops being published; for a retired
    /// key, when it did; `None` for the current key.
    pub retires_at_ms: Option<u64>,
    /// The key's `x5c` certificate (DER), published as stored; `None` for
    /// a key stored before schema version 5 (SQLite) or 3 (PostgreSQL)
    /// until [`set_certificate`](SigningKeyStore::set_certificate) gives
    /// it one. Public: never sealed.
    pub certificate: Option<Vec<u8>>,
    pkcs8: Option<Zeroizing<Vec<u8>>>,
}

impl SigningKeyRecord {
    pub(crate) fn new(
        kid: String,
        pkcs8: Option<Vec<u8>>,
        state: KeyState,
        created_at_ms: u64,
        retires_at_ms: Option<u64>,
        certificate: Option<Vec<u8>>,
    ) -> Self {
        Self {
            kid,
            state,
            created_at_ms,
            retires_at_ms,
            certificate,
            pkcs8: pkcs8.map(Zeroizing::new),
        }
    }

    /// A record from its stored columns, as every backend stores them
    /// (state as text, times as signed milliseconds).
    ///
    /// # Errors
    /// [`Error::Corrupt`] for an unknown state, a retired key that still has
    /// its private key or any other key without one, or a time out of range.
    pub(crate) fn from_columns(
        kid: String,
        pkcs8: Option<Vec<u8>>,
        state: &str,
        created_at_ms: i64,
        retires_at_ms: Option<i64>,
        certificate: Option<Vec<u8>>,
    ) -> Result<Self> {
        let state: KeyState = state
            .parse()
            .map_err(|_| Error::corrupt(format!("signing key {kid} has state {state:?}")))?;
        if (state == KeyState::Retired) != pkcs8.is_none() {
            return Err(Error::corrupt(format!(
                "signing key {kid} is {state} but its private key is {}",
                if pkcs8.is_none() {
                    "missing"
                } else {
                    "still stored"
                }
            )));
        }
        Ok(Self::new(
            kid,
            pkcs8,
            state,
            ms_from_db(created_at_ms, "signing_keys.created_at_ms")?,
            opt_ms_from_db(retires_at_ms, "signing_keys.retires_at_ms")?,
            certificate,
        ))
    }

    /// The stored bytes, exactly as given to
    /// [`insert_key`](SigningKeyStore::insert_key),
    /// [`rotate_key`](SigningKeyStore::rotate_key) or
    /// [`replace_key_bytes`](SigningKeyStore::replace_key_bytes); `None`
    /// for a retired key, whose private key was erased when it retired.
    #[must_use]
    pub fn pkcs8(&self) -> Option<&[u8]> {
        self.pkcs8.as_deref().map(Vec::as_slice)
    }
}

impl fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("state", &self.state)
            .field("created_at_ms", &self.created_at_ms)
            .field("retires_at_ms", &self.retires_at_ms)
            .field(
                "certificate",
                &self
                    .certificate
                    .as_ref()
                    .map(|der| format!("<{} bytes>", der.len())),
            )
            .field(
                "pkcs8",
                &match &self.pkcs8 {
                    Some(bytes) => format!("<{} bytes>", bytes.len()),
                    None => "<erased>".to_owned(),
                },
            )
            .finish()
    }
}

/// New bytes for a stored key: what [`SigningKeyStore::replace_key_bytes`]
/// writes (e.g. a plain PKCS#8 document sealed with the master key). The
/// bytes are wiped from memory on drop and never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBytesUpdate {
    kid: String,
    expected: Zeroizing<Vec<u8>>,
    replacement: Zeroizing<Vec<u8>>,
}

impl KeyBytesUpdate {
    /// Replace the bytes of key `kid`, provided they are still `expected`
    /// (as last read), with `replacement`.
    #[must_use]
    pub fn new(kid: impl Into<String>, expected: Vec<u8>, replacement: Vec<u8>) -> Self {
        Self {
            kid: kid.into(),
            expected: Zeroizing::new(expected),
            replacement: Zeroizing::new(replacement),
        }
    }

    /// The key id.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The bytes the key must hold now.
    #[must_use]
    pub fn expected(&self) -> &[u8] {
        &self.expected
    }

    /// The bytes it holds afterwards.
    #[must_use]
    pub fn replacement(&self) -> &[u8] {
        &self.replacement
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.replacement.is_empty() {
            return Err(Error::InvalidArgument {
                field: "replacement",
                reason: format!("empty bytes for signing key {}", self.kid),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for KeyBytesUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyBytesUpdate")
            .field("kid", &self.kid)
            .field("expected", &format_args!("<{} bytes>", self.expected.len()))
            .field(
                "replacement",
                &format_args!("<{} bytes>", self.replacement.len()),
            )
            .finish()
    }
}

/// Stores signing keys. Every change is atomic, and at most one key is
/// current at any time, also across processes sharing the backend.
pub trait SigningKeyStore: Backend {
    /// Adds `key` as the current key when there is none (first start).
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] when a current key exists (e.g. another instance
    /// won the race: read [`list_keys`](Self::list_keys) and use its key) or
    /// the kid is taken; [`Error::InvalidArgument`] for an empty kid or key;
    /// or the store cannot answer.
    fn insert_key(&self, key: NewSigningKey) -> BoxFuture<'_, Result<()>>;

    /// Every key, retired ones included, oldest first.
    ///
    /// # Errors
    ///
    /// When the store cannot answer, or a row is not one this crate wrote.
    fn list_keys(&self) -> BoxFuture<'_, Result<Vec<SigningKeyRecord>>>;

    /// In one step: the current key (if any) becomes retiring until
    /// `retires_at_ms`, and `key` becomes current. Returns the kid of the
    /// key that is now retiring.
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`] when the kid is taken (nothing changes);
    /// [`Error::InvalidArgument`] for an empty kid or key; or the store
    /// cannot answer.
    fn rotate_key(
        &self,
        key: NewSigningKey,
        retires_at_ms: u64,
    ) -> BoxFuture<'_, Result<Option<String>>>;

    /// Marks every retiring key with `retires_at_ms <= now_ms` retired and
    /// erases its private key (every token it signed has expired: docs/protocol.md
    /// §13), in one step; returns how many. The kid, state and times stay
    /// listed.
    ///
    /// # Errors
    ///
    /// When the store cannot answer.
    fn retire_expired_keys(&self, now_ms: u64) -> BoxFuture<'_, Result<u64>>;

    /// In one step, replaces the stored bytes of each key named in
    /// `updates` (e.g. to seal plain keys with the master key). Nothing
    /// changes unless every key exists and still holds its
    /// [`expected`](KeyBytesUpdate::expected) bytes.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown kid; [`Error::Conflict`] when a
    /// key's bytes changed since they were read, or it was retired (read
    /// the keys again); [`Error::InvalidArgument`] for empty bytes; or the
    /// store cannot answer.
    fn replace_key_bytes(&self, updates: Vec<KeyBytesUpdate>) -> BoxFuture<'_, Result<()>>;

    /// Gives key `kid` the certificate `der` if it has none yet (a key
    /// stored before the certificate column), as one compare-and-set:
    /// `true` when `der` was stored, `false` when the key already had a
    /// certificate (another instance stored one first: read the keys again
    /// and publish the stored bytes). The stored certificate never changes.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown kid; [`Error::InvalidArgument`]
    /// for empty bytes; or the store cannot answer.
    fn set_certificate(&self, kid: &str, der: Vec<u8>) -> BoxFuture<'_, Result<bool>>;
}

/// Refuses empty certificate bytes.
pub(crate) fn validate_certificate(kid: &str, der: &[u8]) -> Result<()> {
    if der.is_empty() {
        return Err(Error::InvalidArgument {
            field: "certificate",
            reason: format!("empty certificate for signing key {kid}"),
        });
    }
    Ok(())
}
