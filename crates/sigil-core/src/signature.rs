//! Signature input forms and scheme recognition (docs/protocol.md §2).
//!
//! A signature arrives as standard base64, as hex, as a JSON array of byte
//! values, or (in HTTP headers) as comma-separated decimal bytes. The scheme
//! is recognised from the decoded bytes: `42 42 33 01 …` is a BRC-77
//! envelope, anything else must be a 65-byte BSM signature.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::brc77::{self, Envelope};
use crate::bsm::CompactSignature;
use crate::error::{Error, Result};
use crate::hash::from_hex;
use crate::keys::PublicKey;

/// The shortest well-formed BRC-77 envelope: header fields plus an 8-byte DER signature.
const MIN_ENVELOPE_LEN: usize = 4 + 33 + 1 + 32 + 8;

/// A signature scheme sigil accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Bitcoin Signed Message (65-byte compact signature).
    Bsm,
    /// BRC-77 signed message envelope ("anyone").
    Brc77,
}

impl Scheme {
    /// `bsm` or `brc77`, as bitcoin-auth writes it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bsm => "bsm",
            Self::Brc77 => "brc77",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scheme {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "bsm" => Ok(Self::Bsm),
            "brc77" => Ok(Self::Brc77),
            other => Err(Error::encoding(format!(
                "unknown scheme {other:?} (bsm or brc77)"
            ))),
        }
    }
}

/// A decoded signature of either scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// A BSM compact signature.
    Bsm(CompactSignature),
    /// A BRC-77 "anyone" envelope.
    Brc77(Envelope),
}

impl Signature {
    /// Recognises the scheme from the bytes and parses them.
    ///
    /// # Errors
    /// [`Error::SignatureEncoding`] (or the errors of the scheme's parser).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        // Every BRC envelope family starts "BB" (0x42 0x42), 0x42 is not a BSM
        // header, and no envelope is 65 bytes long (the shortest valid one has
        // 78), so the two cannot collide. Long inputs are envelopes whose
        // version is then checked; short ones are BSM with a wrong length.
        if bytes.len() >= MIN_ENVELOPE_LEN
            || (bytes.len() != 65 && bytes.starts_with(&brc77::VERSION[..2]))
        {
            return Envelope::from_bytes(bytes).map(Self::Brc77);
        }
        CompactSignature::from_bytes(bytes).map(Self::Bsm)
    }

    /// Decodes a text form ([`decode_text`]) and parses the bytes.
    ///
    /// # Errors
    /// As [`decode_text`] and [`Signature::from_bytes`].
    pub fn from_text(text: &str) -> Result<Self> {
        Self::from_bytes(&decode_text(text)?)
    }

    /// The scheme.
    #[must_use]
    pub fn scheme(&self) -> Scheme {
        match self {
            Self::Bsm(_) => Scheme::Bsm,
            Self::Brc77(_) => Scheme::Brc77,
        }
    }

    /// Checks that `key` signed `message`. For BRC-77 the envelope's sender
    /// must be `key`.
    ///
    /// # Errors
    /// The verification errors of [`CompactSignature::verify_public_key`] and
    /// [`Envelope::verify`].
    pub fn verify(&self, message: &[u8], key: &PublicKey) -> Result<()> {
        match self {
            Self::Bsm(sig) => sig.verify_public_key(message, key),
            Self::Brc77(env) => env.verify(message, key),
        }
    }
}

/// Decodes a signature given as text: a JSON array of bytes (`[66,66,…]`),
/// comma-separated decimal bytes (`66,66,…`), hex (130 characters for BSM,
/// or starting `42423301`), or standard base64 with padding.
///
/// # Errors
/// [`Error::SignatureEncoding`] saying which form was assumed and what is wrong.
pub fn decode_text(text: &str) -> Result<Vec<u8>> {
    if text.is_empty() {
        return Err(Error::encoding("empty signature"));
    }
    if text.starts_with('[') {
        let values: Vec<serde_json::Value> = serde_json::from_str(text)
            .map_err(|_| Error::encoding("not a JSON array of byte values"))?;
        return decode_byte_values(&values);
    }
    if text.contains(',') && text.bytes().all(|b| b.is_ascii_digit() || b == b',') {
        return decode_decimal_list(text);
    }
    let is_hex = text.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hex
        && (text.len() == 130 || (text.len().is_multiple_of(2) && text.starts_with("42423301")))
    {
        return from_hex(text).ok_or_else(|| Error::encoding("invalid hex"));
    }
    if is_hex && !text.len().is_multiple_of(2) && (text.len() == 129 || text.starts_with("4242")) {
        return Err(Error::encoding("hex of odd length"));
    }
    STANDARD
        .decode(text)
        .map_err(|_| Error::encoding("not standard base64 (alphabet A-Z a-z 0-9 + /, '=' padding, no whitespace), hex or a byte array"))
}

/// Decodes a JSON array of byte values (what `JSON.stringify` makes of the
/// `number[]` returned by `SignedMessage.sign`).
///
/// # Errors
/// [`Error::SignatureEncoding`] for any element that is not an integer 0–255.
pub fn decode_byte_values(values: &[serde_json::Value]) -> Result<Vec<u8>> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(|| {
                    Error::encoding(format!("byte array element {i} is not an integer 0-255"))
                })
        })
        .collect()
}

/// Decodes comma-separated decimal bytes (`66,66,51,1,…`), what a JS byte
/// array becomes when set as an HTTP header value.
///
/// # Errors
/// [`Error::SignatureEncoding`] for an empty item, a non-digit or a value over 255.
pub fn decode_decimal_list(text: &str) -> Result<Vec<u8>> {
    text.split(',')
        .enumerate()
        .map(|(i, item)| {
            if item.is_empty() || item.len() > 3 || !item.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::encoding(format!(
                    "decimal byte list item {i} is not 1-3 digits"
                )));
            }
            item.parse::<u8>()
                .map_err(|_| Error::encoding(format!("decimal byte list item {i} is over 255")))
        })
        .collect()
}

/// Decodes a signature given in JSON: a string in any text form, or an array
/// of byte values.
///
/// # Errors
/// [`Error::SignatureEncoding`] for any other JSON type or a bad encoding.
pub fn decode_json(value: &serde_json::Value) -> Result<Vec<u8>> {
    match value {
        serde_json::Value::String(text) => decode_text(text),
        serde_json::Value::Array(values) => decode_byte_values(values),
        _ => Err(Error::encoding(
            "must be a string or an array of byte values",
        )),
    }
}
