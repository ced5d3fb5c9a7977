//! BRC-77 signed messages ("anyone" envelopes of @bsv/sdk `SignedMessage`).
//!
//! Layout: `42 42 33 01 ‖ sender (33) ‖ 00 ‖ keyID (32) ‖ DER signature`.
//! The signature is made with the sender's BRC-42 "anyone" child key for the
//! invoice `"2-message signing-" + base64(keyID)` over SHA-256(message).
//! Unlike the reference verifier, [`Envelope::verify`] requires the sender to
//! be the claimed key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secp256k1::Message;
use secp256k1::ecdsa::Signature;

use crate::brc42;
use crate::bsm::in_scalar_range;
use crate::error::{Error, Result};
use crate::hash::{sha256, to_hex};
use crate::keys::{PrivateKey, PublicKey};

/// The four version bytes that open every BRC-77 signature envelope.
pub const VERSION: [u8; 4] = [0x42, 0x42, 0x33, 0x01];

const ANYONE: u8 = 0x00;
const HEADER_LEN: usize = 4 + 33 + 1 + 32;

/// The BRC-42 invoice for `key_id`.
#[must_use]
pub fn invoice(key_id: &[u8; 32]) -> String {
    format!("2-message signing-{}", STANDARD.encode(key_id))
}

/// A parsed "anyone" envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    sender: PublicKey,
    key_id: [u8; 32],
    signature: Signature,
}

impl Envelope {
    /// Parses an envelope.
    ///
    /// # Errors
    /// [`Error::SignatureEncoding`] for an unknown version, a truncated
    /// envelope or an invalid sender key; [`Error::RecipientEnvelope`] for an
    /// envelope addressed to a specific recipient; [`Error::SignatureInvalid`]
    /// for a DER signature that is not strict DER or whose r or s is out of range.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let version = bytes
            .get(..4)
            .ok_or_else(|| Error::encoding("malformed envelope: BRC-77 envelope is truncated"))?;
        if version != VERSION {
            return Err(Error::encoding(format!(
                "unknown version {} of a BRC-77 envelope (expected 42423301)",
                to_hex(version)
            )));
        }
        if bytes.len() < 4 + 33 + 1 {
            return Err(Error::encoding(
                "malformed envelope: BRC-77 envelope is truncated",
            ));
        }
        let sender = PublicKey::from_slice(&bytes[4..37])
            .map_err(|e| Error::encoding(format!("BRC-77 sender is not a valid key ({e})")))?;
        match bytes[37] {
            ANYONE => {}
            0x02 | 0x03 if bytes.len() >= 37 + 33 => {
                return Err(Error::RecipientEnvelope {
                    recipient: to_hex(&bytes[37..70]),
                });
            }
            other => {
                return Err(Error::encoding(format!(
                    "malformed envelope: BRC-77 recipient byte 0x{other:02x} is neither 00 (anyone) nor a key"
                )));
            }
        }
        if bytes.len() <= HEADER_LEN {
            return Err(Error::encoding(
                "malformed envelope: BRC-77 envelope is truncated",
            ));
        }
        let key_id: [u8; 32] = bytes[38..HEADER_LEN]
            .try_into()
            .expect("length checked above");
        let signature = parse_strict_der(&bytes[HEADER_LEN..])?;
        Ok(Self {
            sender,
            key_id,
            signature,
        })
    }

    /// The sender key written in the envelope.
    #[must_use]
    pub fn sender(&self) -> &PublicKey {
        &self.sender
    }

    /// The keyID.
    #[must_use]
    pub fn key_id(&self) -> &[u8; 32] {
        &self.key_id
    }

    /// Checks that `claimed` signed `message` with this envelope.
    ///
    /// # Errors
    /// [`Error::SignerMismatch`] when the envelope names another sender;
    /// [`Error::SignatureInvalid`] when the signature does not verify.
    pub fn verify(&self, message: &[u8], claimed: &PublicKey) -> Result<()> {
        if self.sender != *claimed {
            return Err(Error::SignerMismatch {
                sender: self.sender.to_hex(),
                claimed: claimed.to_hex(),
            });
        }
        let child = brc42::anyone_child_public_key(&self.sender, &invoice(&self.key_id))?;
        verify_signature(self.signature, message, &child).map_err(|_| {
            Error::invalid("the BRC-77 signature does not match the message and sender")
        })
    }
}

/// Checks a strict-DER ECDSA signature by `key` over SHA-256(`message`): the
/// check inside every BRC-77 envelope, on its own (the Wycheproof
/// `ecdsa_secp256k1_sha256_bitcoin` file runs through it).
///
/// A high-S signature is accepted: JS signers and verifiers accept it, and
/// since replay keys never name signature bytes (§2), its low-S twin is the
/// same statement, not a new one.
///
/// # Errors
/// [`Error::SignatureInvalid`] for a signature that is not strict DER, has r
/// or s outside [1, n − 1], or does not verify.
pub fn verify_der(message: &[u8], der: &[u8], key: &PublicKey) -> Result<()> {
    let signature = parse_strict_der(der)?;
    verify_signature(signature, message, key)
}

fn verify_signature(mut signature: Signature, message: &[u8], key: &PublicKey) -> Result<()> {
    // libsecp256k1 verifies low-S only; normalise first (see `verify_der`).
    signature.normalize_s();
    signature
        .verify(Message::from_digest(sha256(message)), &key.0)
        .map_err(|_| Error::invalid("the ECDSA signature does not match the message and key"))
}

/// Strict DER `30 L 02 Lr r 02 Ls s`: exact lengths, minimal positive
/// integers, no trailing bytes, r and s in [1, n − 1].
fn parse_strict_der(der: &[u8]) -> Result<Signature> {
    let bad = |why: &str| Error::invalid(format!("malformed DER signature: {why}"));
    if der.len() < 8 || der.len() > 72 {
        return Err(bad("length outside 8-72 bytes"));
    }
    if der[0] != 0x30 {
        return Err(bad("not a SEQUENCE"));
    }
    if usize::from(der[1]) != der.len() - 2 {
        return Err(bad(
            "sequence length does not match (trailing or missing bytes)",
        ));
    }
    let (r, rest) =
        der_integer(&der[2..]).ok_or_else(|| bad("r is not a minimal positive INTEGER"))?;
    let (s, rest) = der_integer(rest).ok_or_else(|| bad("s is not a minimal positive INTEGER"))?;
    if !rest.is_empty() {
        return Err(bad("trailing bytes after s"));
    }
    if !in_scalar_range(&r) {
        return Err(Error::invalid("r out of range [1, n-1]"));
    }
    if !in_scalar_range(&s) {
        return Err(Error::invalid("s out of range [1, n-1]"));
    }
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&r);
    compact[32..].copy_from_slice(&s);
    Signature::from_compact(&compact).map_err(|_| bad("r or s out of range"))
}

/// One DER INTEGER of at most 32 value bytes, returned left-padded.
fn der_integer(input: &[u8]) -> Option<([u8; 32], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&len, rest) = rest.split_first()?;
    let len = usize::from(len);
    if tag != 0x02 || len == 0 || len > 33 || rest.len() < len {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    if value[0] & 0x80 != 0 {
        return None; // negative
    }
    if len > 1 && value[0] == 0 && value[1] & 0x80 == 0 {
        return None; // non-minimal leading zero
    }
    let value = if len == 33 {
        if value[0] != 0 {
            return None;
        }
        &value[1..]
    } else {
        value
    };
    let mut out = [0u8; 32];
    out[32 - value.len()..].copy_from_slice(value);
    Some((out, rest))
}

/// Signs `message` as @bsv/sdk `SignedMessage.sign(message, key)` does, with
/// an explicit keyID (the library draws it at random; the caller supplies
/// randomness, which keeps this crate free of I/O and makes tests exact).
///
/// # Errors
/// [`Error::SignatureInvalid`] in the negligible case that the derived child
/// key is out of range.
pub fn sign(message: &[u8], key: &PrivateKey, key_id: [u8; 32]) -> Result<Vec<u8>> {
    let child = brc42::anyone_child_private_key(key, &invoice(&key_id))?;
    let sig = child
        .secret()
        .sign_ecdsa(Message::from_digest(sha256(message)));
    let der = sig.serialize_der();
    let mut out = Vec::with_capacity(HEADER_LEN + der.len());
    out.extend_from_slice(&VERSION);
    out.extend_from_slice(&key.public_key().serialize());
    out.push(ANYONE);
    out.extend_from_slice(&key_id);
    out.extend_from_slice(&der);
    Ok(out)
}
