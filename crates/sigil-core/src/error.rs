//! The one error type of sigil-core.

use crate::address::AddressKind;
use crate::keys::Network;

/// How a caller should treat an [`Error`]: it maps onto docs/protocol.md §8 and
/// onto the CLI's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The input could not be decoded or is not of the expected form
    /// (HTTP 400 `invalid_request`, exit code 2).
    Malformed,
    /// The input is well-formed but the signature does not prove what it
    /// claims (HTTP 401 `invalid_signature`, exit code 1).
    Verification,
    /// The signed timestamp is outside the accepted window
    /// (HTTP 401 `timestamp_expired`, exit code 1).
    Timestamp,
    /// An access token is malformed, expired, for another audience or
    /// issuer, or its signature does not verify
    /// (HTTP 401 `invalid_token`, exit code 1).
    Token,
    /// The input is well-formed and its signature verifies, but a configured
    /// policy refuses it: a signed payload's `requestedBy` is not among the
    /// allowed hosts (HTTP 403 `access_denied`, exit code 1).
    Policy,
}

/// Everything that can go wrong in sigil-core.
///
/// Messages are lower case, name the field or item that was wrong, and never
/// contain secret material. Verification failures contain
/// `signature verification failed` and window failures `timestamp too old` or
/// `timestamp in the future`: clients written for the reference systems match
/// on those phrases (docs/protocol.md §8).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A WIF private key could not be decoded.
    #[error("wif: {0}")]
    Wif(String),
    /// A private key is 0 or not below the curve order n.
    #[error("private key: out of range [1, n-1]")]
    PrivateKeyRange,
    /// A public key is not a valid SEC1 point.
    #[error("public key: {0}")]
    PublicKey(String),
    /// An address could not be decoded, or is of a kind sigil cannot use.
    #[error("address: {0}")]
    Address(String),
    /// A signature could not be decoded: bad text encoding, wrong length,
    /// unknown BSM header or BRC-77 version.
    #[error("signature: {0}")]
    SignatureEncoding(String),
    /// A decodable signature does not verify for the claimed key or address.
    #[error("signature verification failed: {0}")]
    SignatureInvalid(String),
    /// The BRC-77 envelope was made by another key than the one claimed.
    #[error(
        "signature verification failed: the BRC-77 envelope was signed by {sender}, not by the claimed key {claimed}"
    )]
    SignerMismatch {
        /// The sender public key written in the envelope (hex).
        sender: String,
        /// The public key the request claims (hex).
        claimed: String,
    },
    /// The BRC-77 envelope is addressed to a specific recipient.
    #[error(
        "signature verification failed: envelope addressed to a specific recipient ({recipient}); only envelopes for \"anyone\" are accepted"
    )]
    RecipientEnvelope {
        /// The recipient public key written in the envelope (hex).
        recipient: String,
    },
    /// The address is of another network than the verifier expects.
    #[error(
        "signature verification failed: network mismatch: the address is a {found} address, {expected} was expected"
    )]
    NetworkMismatch {
        /// The network the verifier is configured for.
        expected: Network,
        /// The network of the address.
        found: Network,
    },
    /// The signature's header denotes another kind of address than the one given.
    #[error(
        "signature verification failed: address kind mismatch: the signature header denotes a {signature} address but the address is {address}"
    )]
    KindMismatch {
        /// The kind the signature header (BIP-137) denotes.
        signature: AddressKind,
        /// The kind of the claimed address.
        address: AddressKind,
    },
    /// A timestamp could not be parsed.
    #[error("timestamp: {0}")]
    TimestampFormat(String),
    /// The signed timestamp is older than the window allows.
    #[error("timestamp too old: {0}")]
    TimestampTooOld(String),
    /// The signed timestamp is further in the future than the window allows.
    #[error("timestamp in the future: {0}")]
    TimestampInFuture(String),
    /// An `X-Auth-Token` header value is not of the bitcoin-auth form.
    #[error("x-auth-token: {0}")]
    AuthToken(String),
    /// A signed statement does not match the request it came with
    /// (path, body hash, message fields).
    #[error("signature verification failed: {0}")]
    StatementMismatch(String),
    /// A token-request `message` is neither the compat nor the bound form.
    #[error("message: {0}")]
    Message(String),
    /// A token-request `endpoint` is not an acceptable absolute URL.
    #[error("endpoint: {0}")]
    Endpoint(String),
    /// An access token was refused: malformed, wrong `alg`/`typ`/`iss`/`aud`,
    /// `crit` present, not yet valid, or a signature that does not verify.
    #[error("invalid token: {0}")]
    Token(String),
    /// An access token's `exp` has passed (the description contains
    /// `token expired`, docs/protocol.md §8).
    #[error("token expired: {0}")]
    TokenExpired(String),
    /// A token's `kid` names no key of the key set: refresh the JWKS once,
    /// then refuse. Holds the `kid`, quoted and cut to 64 characters.
    #[error("invalid token: unknown kid {0}")]
    UnknownKid(String),
    /// A JWKS document or one of its keys was refused (security catalogue
    /// T12); the caller keeps its previous key set.
    #[error("jwks: {0}")]
    Jwks(String),
    /// A signing key could not be parsed or made, or signing failed.
    #[error("signing key: {0}")]
    SigningKey(String),
    /// A signed payload (docs/protocol.md §11) is not a JSON object of exactly
    /// `signedBy`, `requestedBy`, `data` and `timestamp` with the right
    /// types, or a JSON text could not be parsed as `JSON.parse` would.
    #[error("payload: {0}")]
    Payload(String),
    /// A verified statement that a configured policy refuses, e.g. a payload
    /// whose `requestedBy` is not an allowed host (docs/protocol.md §8
    /// `access_denied`; the message contains `not allowed`).
    #[error("not allowed: {0}")]
    NotAllowed(String),
}

impl Error {
    /// The class of this error: malformed input, failed verification, a
    /// timestamp outside the window, a refused access token, or a policy
    /// refusal.
    #[must_use]
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::SignatureInvalid(_)
            | Self::SignerMismatch { .. }
            | Self::RecipientEnvelope { .. }
            | Self::NetworkMismatch { .. }
            | Self::KindMismatch { .. }
            | Self::StatementMismatch(_) => ErrorClass::Verification,
            Self::TimestampTooOld(_) | Self::TimestampInFuture(_) => ErrorClass::Timestamp,
            Self::Token(_) | Self::TokenExpired(_) | Self::UnknownKid(_) => ErrorClass::Token,
            Self::NotAllowed(_) => ErrorClass::Policy,
            Self::Wif(_)
            | Self::PrivateKeyRange
            | Self::PublicKey(_)
            | Self::Address(_)
            | Self::SignatureEncoding(_)
            | Self::TimestampFormat(_)
            | Self::AuthToken(_)
            | Self::Message(_)
            | Self::Endpoint(_)
            | Self::Jwks(_)
            | Self::SigningKey(_)
            | Self::Payload(_) => ErrorClass::Malformed,
        }
    }

    /// One example of every variant (tests enumerate the edges' mapping
    /// through it; [`Error::index`] checks it is complete).
    #[must_use]
    pub fn examples() -> Vec<Self> {
        vec![
            Self::Wif("checksum".into()),
            Self::PrivateKeyRange,
            Self::PublicKey("not a point".into()),
            Self::Address("checksum".into()),
            Self::SignatureEncoding("not base64".into()),
            Self::SignatureInvalid("other key".into()),
            Self::SignerMismatch {
                sender: "02aa".into(),
                claimed: "02bb".into(),
            },
            Self::RecipientEnvelope {
                recipient: "02cc".into(),
            },
            Self::NetworkMismatch {
                expected: Network::Mainnet,
                found: Network::Testnet,
            },
            Self::KindMismatch {
                signature: AddressKind::P2sh,
                address: AddressKind::P2pkh,
            },
            Self::TimestampFormat("not digits".into()),
            Self::TimestampTooOld("400 s".into()),
            Self::TimestampInFuture("90 s".into()),
            Self::AuthToken("four fields".into()),
            Self::StatementMismatch("path mismatch".into()),
            Self::Message("neither form".into()),
            Self::Endpoint("not absolute".into()),
            Self::Token("wrong audience".into()),
            Self::TokenExpired("exp 1".into()),
            Self::UnknownKid("\"k\"".into()),
            Self::Jwks("no keys".into()),
            Self::SigningKey("bad pkcs8".into()),
            Self::Payload("missing data".into()),
            Self::NotAllowed("requestedBy".into()),
        ]
    }

    /// The number of variants: [`Error::index`] is below it.
    pub const VARIANTS: usize = 24;

    /// This error's variant as a number in `0..VARIANTS` (an exhaustive
    /// match: a new variant does not compile until it has one).
    #[must_use]
    pub fn index(&self) -> usize {
        match self {
            Self::Wif(_) => 0,
            Self::PrivateKeyRange => 1,
            Self::PublicKey(_) => 2,
            Self::Address(_) => 3,
            Self::SignatureEncoding(_) => 4,
            Self::SignatureInvalid(_) => 5,
            Self::SignerMismatch { .. } => 6,
            Self::RecipientEnvelope { .. } => 7,
            Self::NetworkMismatch { .. } => 8,
            Self::KindMismatch { .. } => 9,
            Self::TimestampFormat(_) => 10,
            Self::TimestampTooOld(_) => 11,
            Self::TimestampInFuture(_) => 12,
            Self::AuthToken(_) => 13,
            Self::StatementMismatch(_) => 14,
            Self::Message(_) => 15,
            Self::Endpoint(_) => 16,
            Self::Token(_) => 17,
            Self::TokenExpired(_) => 18,
            Self::UnknownKid(_) => 19,
            Self::Jwks(_) => 20,
            Self::SigningKey(_) => 21,
            Self::Payload(_) => 22,
            Self::NotAllowed(_) => 23,
        }
    }

    pub(crate) fn address(reason: impl Into<String>) -> Self {
        Self::Address(reason.into())
    }

    pub(crate) fn encoding(reason: impl Into<String>) -> Self {
        Self::SignatureEncoding(reason.into())
    }

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::SignatureInvalid(reason.into())
    }
}

/// `Result` with sigil-core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_cover_every_variant_once() {
        let mut seen = [0_usize; Error::VARIANTS];
        for error in Error::examples() {
            seen[error.index()] += 1;
        }
        assert_eq!(seen, [1; Error::VARIANTS], "one example of each variant");
    }
}
