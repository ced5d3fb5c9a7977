//! Signup payloads verified **once** (docs/protocol.md §11): [`sigil_core::payload`]'s
//! pure verification, followed by the replay insert in a [`ReplayStore`].
//!
//! [`verify_payload_once`] does both. A caller that must act between the two
//! (the server counts a per-key rate limit once the signer is known, and
//! must not use up a payload it then refuses) calls
//! [`sigil_core::payload::verify_json`] and then [`record_payload`].

use sigil_core::payload::{self, Policy, VerifiedPayload};

use crate::error::Error;
use crate::replay::{Insertion, ReplayNamespace, ReplayRecord, ReplayStore};

/// How long a payload's replay record outlives its timestamp (or the
/// verification time, if later): a day, far past the ±300 s window, so a
/// clock set back (or a window widened later) cannot make a used payload
/// acceptable again.
pub const PAYLOAD_RECORD_TTL_MS: u64 = 24 * 60 * 60 * 1000;

/// Why a payload was not accepted once.
#[derive(Debug, thiserror::Error)]
pub enum PayloadRefusal {
    /// The payload, address, signature, host or time is wrong
    /// ([`sigil_core::Error::class`] says which kind).
    #[error(transparent)]
    Invalid(#[from] sigil_core::Error),
    /// This payload (the same bytes) was already verified.
    #[error("payload already used: this signed payload was already verified once")]
    Replay,
    /// The replay store could not answer: nothing was accepted.
    #[error(transparent)]
    Store(#[from] Error),
}

/// Verifies `payload_json` (a JSON string holding the exact signed text, or
/// the payload object) as [`sigil_core::payload::verify_json`] does, then
/// records it so that the same payload is never accepted again.
///
/// # Errors
/// [`PayloadRefusal::Invalid`] from verification, [`PayloadRefusal::Replay`]
/// when the payload was already recorded, [`PayloadRefusal::Store`] when the
/// store fails (fail closed).
pub async fn verify_payload_once(
    replay: &dyn ReplayStore,
    payload_json: &str,
    address: &str,
    signature: &str,
    policy: &Policy,
    now_ms: u64,
) -> Result<VerifiedPayload, PayloadRefusal> {
    let verified = payload::verify_json(payload_json, address, signature, policy, now_ms)?;
    record_payload(replay, &verified, now_ms).await?;
    Ok(verified)
}

/// Records a verified payload's replay key (SHA-256 of its bytes) in
/// [`ReplayNamespace::SignedPayload`] until [`PAYLOAD_RECORD_TTL_MS`] past
/// its timestamp. The insert is the check, committed before this returns.
///
/// # Errors
/// [`PayloadRefusal::Replay`] when a live record exists;
/// [`PayloadRefusal::Store`] when the store fails.
pub async fn record_payload(
    replay: &dyn ReplayStore,
    verified: &VerifiedPayload,
    now_ms: u64,
) -> Result<(), PayloadRefusal> {
    let record = ReplayRecord {
        namespace: ReplayNamespace::SignedPayload,
        key: verified.replay_key,
        signed_at_ms: verified.timestamp_ms,
        expires_at_ms: verified.timestamp_ms.max(now_ms) + PAYLOAD_RECORD_TTL_MS,
    };
    match replay.insert_if_absent(record, now_ms).await? {
        Insertion::Inserted => Ok(()),
        Insertion::AlreadyUsed => Err(PayloadRefusal::Replay),
    }
}
