//! Signing and verifying payloads: the checks of docs/protocol.md §11 in order.

use super::parse::{self, Duplicates};
use super::{JsValue, Payload, stringify};
use crate::address::{Address, AddressKind};
use crate::bsm::{self, CompactSignature, HeaderKind};
use crate::error::{Error, PayloadFault, Result};
use crate::json::quoted;
use crate::keys::{Network, PrivateKey, PublicKey};
use crate::replay::ReplayKey;
use crate::timestamp::Window;

/// What a verifier accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The accepted `requestedBy` values, compared as exact strings
    /// (`host` or `host:port`, as the browser's origin writes them). Empty
    /// means no payload is accepted.
    pub allowed_hosts: Vec<String>,
    /// How far the payload's timestamp may be from the verifier's clock.
    pub window: Window,
    /// The network addresses must belong to.
    pub network: Network,
}

impl Policy {
    /// Mainnet, a ±300 s window ([`Window::SYMMETRIC_300S`]) and these hosts.
    #[must_use]
    pub fn new(allowed_hosts: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            allowed_hosts: allowed_hosts.into_iter().map(Into::into).collect(),
            window: Window::SYMMETRIC_300S,
            network: Network::Mainnet,
        }
    }

    /// Whether `requested_by` is exactly one of the allowed hosts.
    #[must_use]
    pub fn allows(&self, requested_by: &str) -> bool {
        self.allowed_hosts.iter().any(|host| host == requested_by)
    }
}

/// A payload whose signature, form, host and time were accepted. It is not
/// yet known to be fresh: insert [`VerifiedPayload::replay_key`] first.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedPayload {
    /// The address, normalised: a CashAddr in any accepted spelling becomes
    /// lower-case CashAddr with its prefix (`bitcoincash:q…`; token-aware
    /// `z…` becomes `q…`, the same key hash); legacy stays legacy; bech32
    /// becomes lower case.
    pub address: String,
    /// The public key recovered from the signature.
    pub signer: PublicKey,
    /// `signedBy`.
    pub signed_by: String,
    /// `requestedBy`, one of the allowed hosts.
    pub requested_by: String,
    /// `data`.
    pub data: JsValue,
    /// `timestamp`, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// SHA-256 of the payload bytes, lower-case hex.
    pub payload_sha256: String,
    /// `SHA-256(payload bytes)`: the caller inserts it into its replay store
    /// after verification and refuses the payload if it was already there.
    pub replay_key: ReplayKey,
    /// Whether the payload arrived as an object and was re-serialised with
    /// [`stringify()`] ([`verify_object`]) rather than given as its text.
    pub reserialised: bool,
}

/// Signs `payload_text` as the Signup wallet does: BSM over its UTF-8 bytes
/// with the compressed key (header 31–34, whatever form the WIF names), so
/// the signature verifies for the key's compressed P2PKH address.
#[must_use]
pub fn sign(payload_text: &str, key: &PrivateKey) -> CompactSignature {
    bsm::sign_as(payload_text.as_bytes(), key, HeaderKind::P2pkhCompressed)
}

/// Verifies a payload given as its exact signed text; the checks and their
/// order are in the [module documentation](super).
///
/// `address_text` is any spelling [`Address::parse`] accepts;
/// `signature_text` is base64, hex or a JSON byte array of a 65-byte BSM
/// signature ([`crate::signature::decode_text`]); `now_ms` is the
/// verifier's clock.
///
/// # Errors
/// - [`crate::ErrorClass::Malformed`]: the address ([`Error::Address`], e.g.
///   mixed-case CashAddr), the signature encoding
///   ([`Error::SignatureEncoding`]) or the payload's form ([`Error::Payload`]);
/// - [`crate::ErrorClass::Verification`]: the signature is not by the
///   address ([`Error::SignatureInvalid`]), or the address is of another
///   network ([`Error::NetworkMismatch`]) or kind ([`Error::KindMismatch`])
///   than the signature and policy say;
/// - [`crate::ErrorClass::Policy`]: `requestedBy` is not allowed
///   ([`Error::NotAllowed`]);
/// - [`crate::ErrorClass::Timestamp`]: outside the window
///   ([`Error::TimestampTooOld`], saying milliseconds are expected when the
///   timestamp looks like seconds, or [`Error::TimestampInFuture`]).
pub fn verify(
    payload_text: &str,
    address_text: &str,
    signature_text: &str,
    policy: &Policy,
    now_ms: u64,
) -> Result<VerifiedPayload> {
    let signed = Signed::check(payload_text, address_text, signature_text, policy)?;
    signed.accept(payload_text, policy, now_ms, false)
}

/// Verifies a payload that arrived as a parsed object: re-serialises it with
/// [`stringify()`], exactly as `JSON.stringify` would, and verifies those
/// bytes as [`verify`] does. The result has
/// [`reserialised`](VerifiedPayload::reserialised) set.
///
/// # Errors
/// As [`verify`]. A signature that does not verify over the re-serialised
/// text says that the re-serialisation may differ from the signed text.
pub fn verify_object(
    value: &JsValue,
    address_text: &str,
    signature_text: &str,
    policy: &Policy,
    now_ms: u64,
) -> Result<VerifiedPayload> {
    let text = stringify(value);
    let signed =
        Signed::check(&text, address_text, signature_text, policy).map_err(|e| match e {
            Error::SignatureInvalid(reason) => Error::SignatureInvalid(format!(
                "{reason}; the payload was given as an object and re-serialised as JSON.stringify \
             writes it, which may differ from the text that was signed: send the exact signed text"
            )),
            other => other,
        })?;
    signed.accept(&text, policy, now_ms, true)
}

/// Verifies the `payload` member of a request body given as its JSON text:
/// a JSON string is the exact signed text ([`verify`]), an object is
/// re-serialised ([`verify_object`]). A repeated key anywhere in an object
/// is refused.
///
/// # Errors
/// [`Error::Payload`] when the JSON is malformed, has a repeated key, or is
/// neither a string nor an object; otherwise as [`verify`].
pub fn verify_json(
    payload_json: &str,
    address_text: &str,
    signature_text: &str,
    policy: &Policy,
    now_ms: u64,
) -> Result<VerifiedPayload> {
    let value = parse::parse(payload_json, Duplicates::Refuse)
        .map_err(|reason| PayloadFault::NotJson {
            reason: reason.to_string(),
        })?
        .value;
    match value {
        JsValue::String(text) => {
            let text = text
                .as_str()
                .ok_or(PayloadFault::LoneSurrogate { key: None })?;
            verify(text, address_text, signature_text, policy, now_ms)
        }
        JsValue::Object(_) => verify_object(&value, address_text, signature_text, policy, now_ms),
        other => Err(PayloadFault::NeitherTextNorObject {
            found: other.type_name(),
        }
        .into()),
    }
}

/// The outcome of the signature checks (steps 1–3).
struct Signed {
    address: String,
    signer: PublicKey,
}

impl Signed {
    fn check(
        text: &str,
        address_text: &str,
        signature_text: &str,
        policy: &Policy,
    ) -> Result<Self> {
        let address = Address::parse(address_text)?;
        let bytes = crate::signature::decode_text(signature_text)?;
        if bytes.starts_with(&crate::brc77::VERSION) {
            return Err(Error::encoding(
                "a BRC-77 envelope; a signed payload carries a 65-byte BSM signature",
            ));
        }
        let signature = CompactSignature::from_bytes(&bytes)?;
        let signer = signature.verify_address(text.as_bytes(), &address, policy.network)?;
        Ok(Self {
            address: normalised(address_text, &address),
            signer,
        })
    }

    /// Steps 4–6 over the verified text.
    fn accept(
        self,
        text: &str,
        policy: &Policy,
        now_ms: u64,
        reserialised: bool,
    ) -> Result<VerifiedPayload> {
        let payload = Payload::parse(text)?;
        if !policy.allows(&payload.requested_by) {
            // The allowed hosts are named: the app sees what to ask for.
            let allowed = if policy.allowed_hosts.is_empty() {
                "none is configured".to_owned()
            } else {
                policy
                    .allowed_hosts
                    .iter()
                    .map(|host| quoted(host))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(Error::NotAllowed(format!(
                "requestedBy {} is not an allowed host (allowed: {allowed})",
                quoted(&payload.requested_by)
            )));
        }
        policy.window.check(payload.timestamp_ms, now_ms)?;
        let replay_key = ReplayKey::for_payload(text.as_bytes());
        Ok(VerifiedPayload {
            address: self.address,
            signer: self.signer,
            signed_by: payload.signed_by,
            requested_by: payload.requested_by,
            data: payload.data,
            timestamp_ms: payload.timestamp_ms,
            payload_sha256: replay_key.to_hex(),
            replay_key,
            reserialised,
        })
    }
}

/// Legacy text stays as given; bech32 is written in lower case; any CashAddr
/// spelling becomes canonical lower-case CashAddr with prefix.
fn normalised(text: &str, address: &Address) -> String {
    if address.kind == AddressKind::P2wpkh {
        return address.to_string();
    }
    if address.to_legacy().as_deref() == Some(text) {
        return text.to_owned();
    }
    address
        .to_cashaddr()
        .expect("P2PKH and P2SH addresses have a CashAddr form")
}
