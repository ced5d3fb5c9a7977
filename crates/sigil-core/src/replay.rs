//! Replay keys: computed from the signed statement, never from signature bytes.
//!
//! One statement has many valid encodings (high-S twin, other BSM headers,
//! hex or base64 or a byte array, BSM or BRC-77 over the same message), so a
//! store keyed on signature bytes would accept each of them once. A store
//! keyed on [`ReplayKey`] accepts the statement once.

use std::fmt;

use crate::hash::{sha256, sha256_concat, to_hex};
use crate::keys::PublicKey;

/// SHA-256 of a signed statement; what a replay store records.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplayKey([u8; 32]);

impl ReplayKey {
    /// `SHA-256(33-byte compressed signer key ‖ message bytes)`: token
    /// requests, signed requests and `X-Auth-Token` statements (docs/protocol.md §3, 6, 7).
    #[must_use]
    pub fn for_statement(signer: &PublicKey, message: &[u8]) -> Self {
        Self(sha256_concat(&[&signer.serialize(), message]))
    }

    /// `SHA-256(payload bytes)`: signed payloads (docs/protocol.md §11).
    #[must_use]
    pub fn for_payload(payload: &[u8]) -> Self {
        Self(sha256(payload))
    }

    /// Wraps 32 bytes read back from a store.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex.
    #[must_use]
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }
}

impl fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplayKey({})", self.to_hex())
    }
}

impl fmt::Display for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
