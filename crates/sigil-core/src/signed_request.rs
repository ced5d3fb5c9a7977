//! Signed requests: the statement a client signs per HTTP request with the
//! key of its token (docs/protocol.md §6).
//!
//! `METHOD:target:bodyHash:timestamp`, with the method upper case, the
//! target the request target as sent (path and query), the body hash the
//! lower-case hex SHA-256 of the exact body bytes — of the empty string when
//! there is none (unlike `X-Auth-Token`, whose empty-body hash field is empty).

use crate::hash::{sha256, to_hex};

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-signature";
/// Header carrying the ms timestamp.
pub const TIMESTAMP_HEADER: &str = "x-timestamp";
/// Header carrying the body hash.
pub const BODY_HASH_HEADER: &str = "x-body-hash";

/// Lower-case hex SHA-256 of `body` (of the empty string for no body).
#[must_use]
pub fn body_hash(body: &[u8]) -> String {
    to_hex(&sha256(body))
}

/// The signed statement `METHOD:target:bodyHash:timestamp`.
#[must_use]
pub fn statement(method: &str, target: &str, body_hash: &str, timestamp_ms: u64) -> String {
    format!(
        "{}:{target}:{body_hash}:{timestamp_ms}",
        method.to_ascii_uppercase()
    )
}
