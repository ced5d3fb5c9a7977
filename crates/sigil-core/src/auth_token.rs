//! bitcoin-auth `X-Auth-Token` (SPEC section 7, formats.md section 6).
//!
//! Value: `pubkey|scheme|timestamp|requestPath|signature`; signed string:
//! `requestPath|timestamp|bodyHash`, where bodyHash is the lower-case hex
//! SHA-256 of the body bytes or empty when there is no body. Unlike the
//! reference verifier, [`verify`] binds a BRC-77 sender to `pubkey`, checks
//! a two-sided window, refuses unparseable timestamps, requires the path to
//! match and returns a [`ReplayKey`] for the caller's replay store.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::brc77;
use crate::bsm;
use crate::error::{Error, Result};
use crate::hash::{from_hex, sha256, to_hex};
use crate::keys::{PrivateKey, PublicKey};
use crate::replay::ReplayKey;
use crate::signature::{Scheme, Signature};
use crate::timestamp::{Window, format_iso_ms, parse_iso_ms};

/// How the client turned its body text into the bytes it hashed
/// (bitcoin-auth's `bodyEncoding` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyEncoding {
    /// The body text's UTF-8 bytes (the default).
    #[default]
    Utf8,
    /// The body text is hex; its decoded bytes are hashed.
    Hex,
    /// The body text is standard base64; its decoded bytes are hashed.
    Base64,
}

impl std::str::FromStr for BodyEncoding {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "utf8" | "utf-8" => Ok(Self::Utf8),
            "hex" => Ok(Self::Hex),
            "base64" => Ok(Self::Base64),
            other => Err(Error::AuthToken(format!(
                "unknown body encoding {other:?} (utf8, hex or base64)"
            ))),
        }
    }
}

impl BodyEncoding {
    /// The bytes hashed for `body` (the body exactly as sent).
    ///
    /// # Errors
    /// [`Error::AuthToken`] when the body is not valid in this encoding.
    pub fn decode(self, body: &[u8]) -> Result<Vec<u8>> {
        match self {
            Self::Utf8 => Ok(body.to_vec()),
            Self::Hex => std::str::from_utf8(body)
                .ok()
                .and_then(from_hex)
                .ok_or_else(|| {
                    Error::AuthToken("body is not hex, as its body encoding says".into())
                }),
            Self::Base64 => STANDARD.decode(body).map_err(|_| {
                Error::AuthToken("body is not standard base64, as its body encoding says".into())
            }),
        }
    }
}

/// The body-hash field: lower-case hex SHA-256 of the body bytes, or empty
/// when there is no body or it is empty.
#[must_use]
pub fn body_hash(body: Option<&[u8]>) -> String {
    match body {
        Some(bytes) if !bytes.is_empty() => to_hex(&sha256(bytes)),
        _ => String::new(),
    }
}

/// The signed string `requestPath|timestamp|bodyHash`.
#[must_use]
pub fn signed_string(request_path: &str, timestamp_iso: &str, body_hash: &str) -> String {
    format!("{request_path}|{timestamp_iso}|{body_hash}")
}

/// A parsed `X-Auth-Token` (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthToken {
    /// The key the token claims.
    pub pubkey: PublicKey,
    /// The scheme field.
    pub scheme: Scheme,
    /// The timestamp text exactly as sent.
    pub timestamp: String,
    /// The timestamp in ms since the epoch.
    pub timestamp_ms: u64,
    /// The request path (and query) the client signed.
    pub request_path: String,
    /// The decoded signature.
    pub signature: Signature,
}

impl AuthToken {
    /// Parses a header value: exactly five `|`-separated fields, a valid
    /// compressed public key, scheme `bsm` or `brc77` matching the
    /// signature bytes, the 24-character ISO timestamp, base64 signature.
    ///
    /// # Errors
    /// [`Error::AuthToken`], [`Error::PublicKey`], [`Error::TimestampFormat`]
    /// or [`Error::SignatureEncoding`], naming what is wrong.
    pub fn parse(value: &str) -> Result<Self> {
        let fields: Vec<&str> = value.split('|').collect();
        let [pubkey, scheme, timestamp, request_path, signature] = fields[..] else {
            return Err(Error::AuthToken(format!(
                "malformed token: {} '|'-separated fields, expected 5 (pubkey|scheme|timestamp|requestPath|signature; a '|' in the path is not allowed)",
                fields.len()
            )));
        };
        let scheme: Scheme = scheme.parse().map_err(|_| {
            Error::AuthToken(format!(
                "malformed token: unknown scheme {scheme:?} (bsm or brc77)"
            ))
        })?;
        let pubkey = PublicKey::from_hex(pubkey)?;
        let timestamp_ms = parse_iso_ms(timestamp)?;
        if !request_path.starts_with('/') {
            return Err(Error::AuthToken(
                "malformed token: requestPath must start with '/'".into(),
            ));
        }
        let bytes = STANDARD
            .decode(signature)
            .map_err(|_| Error::encoding("malformed signature: not standard base64"))?;
        let signature = Signature::from_bytes(&bytes)?;
        if signature.scheme() != scheme {
            return Err(Error::AuthToken(format!(
                "malformed token: scheme field says {scheme} but the signature is {}",
                signature.scheme()
            )));
        }
        Ok(Self {
            pubkey,
            scheme,
            timestamp: timestamp.into(),
            timestamp_ms,
            request_path: request_path.into(),
            signature,
        })
    }

    /// The signed string for the body bytes the server received.
    #[must_use]
    pub fn signed_string(&self, body: Option<&[u8]>) -> String {
        signed_string(&self.request_path, &self.timestamp, &body_hash(body))
    }
}

/// What a verifier knows about the request the token came with.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// The path and query of the received request.
    pub request_path: &'a str,
    /// The received body bytes, `None` when there is none.
    pub body: Option<&'a [u8]>,
    /// How the client encoded its body text.
    pub body_encoding: BodyEncoding,
    /// The verifier's clock, ms since the epoch.
    pub now_ms: u64,
    /// The accepted window (SPEC: ±300 s).
    pub window: Window,
}

/// A verified token: who signed, and the replay key the caller must insert
/// into its store (and refuse the request if the key was already there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAuthToken {
    /// The signer, equal to the token's `pubkey` field.
    pub signer: PublicKey,
    /// SHA-256(signer ‖ signed string).
    pub replay_key: ReplayKey,
    /// When it was signed, ms since the epoch.
    pub timestamp_ms: u64,
}

/// Verifies an `X-Auth-Token` header value against the received request.
///
/// # Errors
/// Malformed tokens ([`crate::ErrorClass::Malformed`]); a path that differs
/// from the request's or a signature that does not verify
/// ([`crate::ErrorClass::Verification`]); a timestamp outside the window
/// ([`crate::ErrorClass::Timestamp`]).
pub fn verify(value: &str, facts: &RequestFacts<'_>) -> Result<VerifiedAuthToken> {
    let token = AuthToken::parse(value)?;
    if token.request_path != facts.request_path {
        return Err(Error::StatementMismatch(format!(
            "path mismatch: the token was signed for {:?}, the request is for {:?}",
            token.request_path, facts.request_path
        )));
    }
    facts.window.check(token.timestamp_ms, facts.now_ms)?;
    let body = facts
        .body
        .map(|b| facts.body_encoding.decode(b))
        .transpose()?;
    let statement = token.signed_string(body.as_deref());
    token
        .signature
        .verify(statement.as_bytes(), &token.pubkey)?;
    Ok(VerifiedAuthToken {
        signer: token.pubkey,
        replay_key: ReplayKey::for_statement(&token.pubkey, statement.as_bytes()),
        timestamp_ms: token.timestamp_ms,
    })
}

/// What to sign into a new token.
#[derive(Debug, Clone, Copy)]
pub struct NewAuthToken<'a> {
    /// Path and query of the request.
    pub request_path: &'a str,
    /// The body bytes to hash (already decoded per the body encoding).
    pub body: Option<&'a [u8]>,
    /// Signing time, ms since the epoch.
    pub timestamp_ms: u64,
    /// Signature scheme.
    pub scheme: Scheme,
    /// keyID for BRC-77 (random in real use; ignored for BSM).
    pub key_id: [u8; 32],
}

/// Builds an `X-Auth-Token` header value as bitcoin-auth's `getAuthToken` does.
///
/// # Errors
/// [`Error::AuthToken`] for a path containing `|` or not starting with `/`.
pub fn build(key: &PrivateKey, new: &NewAuthToken<'_>) -> Result<String> {
    if new.request_path.contains('|') || !new.request_path.starts_with('/') {
        return Err(Error::AuthToken(
            "requestPath must start with '/' and contain no '|'".into(),
        ));
    }
    let timestamp = format_iso_ms(new.timestamp_ms);
    let statement = signed_string(new.request_path, &timestamp, &body_hash(new.body));
    let signature = match new.scheme {
        Scheme::Bsm => bsm::sign(statement.as_bytes(), key).to_bytes().to_vec(),
        Scheme::Brc77 => brc77::sign(statement.as_bytes(), key, new.key_id)?,
    };
    Ok(format!(
        "{}|{}|{timestamp}|{}|{}",
        key.public_key().to_hex(),
        new.scheme,
        new.request_path,
        STANDARD.encode(signature)
    ))
}
