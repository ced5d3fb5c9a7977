//! BRC-42 key derivation and its "anyone" special case (used by BRC-77).
//!
//! Shared point `S = a·B` (compressed); `t = HMAC-SHA256(key = S, data =
//! invoice)`; own child private key `(a + t) mod n`; the other party computes
//! the matching child public key `A + t·G`.

use secp256k1::Scalar;

use crate::error::{Error, Result};
use crate::hash::hmac_sha256;
use crate::keys::{PrivateKey, PublicKey};

/// The ECDH shared point `own · other`, compressed (33 bytes).
///
/// # Errors
/// [`Error::PrivateKeyRange`] only if the key bytes are not a scalar, which a
/// valid [`PrivateKey`] excludes.
pub fn shared_secret(own: &PrivateKey, other: &PublicKey) -> Result<[u8; 33]> {
    let scalar = Scalar::from_be_bytes(own.to_bytes()).map_err(|_| Error::PrivateKeyRange)?;
    let point = other
        .0
        .mul_tweak(&scalar)
        .map_err(|_| Error::PrivateKeyRange)?;
    Ok(point.serialize())
}

/// `t = HMAC-SHA256(shared point, invoice)`.
#[must_use]
pub fn invoice_hmac(shared: &[u8; 33], invoice: &str) -> [u8; 32] {
    hmac_sha256(shared, invoice.as_bytes())
}

fn tweak(t: [u8; 32]) -> Result<Scalar> {
    // t ≥ n has probability about 2^-128; refuse rather than reduce.
    Scalar::from_be_bytes(t).map_err(|_| Error::invalid("BRC-42 tweak out of range"))
}

/// The child private key of `own` towards `counterparty` for `invoice`.
///
/// # Errors
/// [`Error::SignatureInvalid`] in the negligible case that the tweak or the
/// child key is out of range.
pub fn child_private_key(
    own: &PrivateKey,
    counterparty: &PublicKey,
    invoice: &str,
) -> Result<PrivateKey> {
    let t = invoice_hmac(&shared_secret(own, counterparty)?, invoice);
    child_from_tweak(own, t)
}

pub(crate) fn child_from_tweak(own: &PrivateKey, t: [u8; 32]) -> Result<PrivateKey> {
    let child = own
        .secret()
        .add_tweak(&tweak(t)?)
        .map_err(|_| Error::invalid("BRC-42 child key out of range"))?;
    PrivateKey::from_bytes(child.to_secret_bytes(), own.network(), true)
}

/// The child public key of `counterparty` that `own` derives for `invoice`
/// (the counterparty's own [`child_private_key`] matches it).
///
/// # Errors
/// As [`child_private_key`].
pub fn child_public_key(
    own: &PrivateKey,
    counterparty: &PublicKey,
    invoice: &str,
) -> Result<PublicKey> {
    let t = invoice_hmac(&shared_secret(own, counterparty)?, invoice);
    public_from_tweak(counterparty, t)
}

pub(crate) fn public_from_tweak(key: &PublicKey, t: [u8; 32]) -> Result<PublicKey> {
    key.0
        .add_exp_tweak(&tweak(t)?)
        .map(PublicKey)
        .map_err(|_| Error::invalid("BRC-42 child key is the point at infinity"))
}

/// The "anyone" child public key of `key` for `invoice`: the counterparty is
/// private key 1, so the shared point is `key` itself and anybody can compute
/// `key + HMAC(key, invoice)·G`.
///
/// # Errors
/// As [`child_private_key`].
pub fn anyone_child_public_key(key: &PublicKey, invoice: &str) -> Result<PublicKey> {
    public_from_tweak(key, invoice_hmac(&key.serialize(), invoice))
}

/// The "anyone" child private key of `own` for `invoice`.
///
/// # Errors
/// As [`child_private_key`].
pub fn anyone_child_private_key(own: &PrivateKey, invoice: &str) -> Result<PrivateKey> {
    child_from_tweak(own, invoice_hmac(&own.public_key().serialize(), invoice))
}
