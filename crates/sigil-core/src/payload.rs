//! Signed payloads in the style of Signup (docs/protocol.md §11).
//!
//! A wallet signs, with Bitcoin Signed Message, the exact text
//! `JSON.stringify({signedBy, requestedBy, data, timestamp})`; the address
//! travels beside it. [`verify`] checks, in this order:
//!
//! 1. the address parses (legacy base58check, CashAddr with or without
//!    prefix, all lower or all upper case, or a BIP-137 segwit form);
//! 2. the signature decodes to a 65-byte BSM signature (base64, hex or a
//!    byte array);
//! 3. it verifies over the exact payload bytes for the address's
//!    `(network, kind, hash160)` tuple (high-S twins verify too);
//! 4. the payload is a JSON object of exactly `signedBy`, `requestedBy`,
//!    `data` and `timestamp`, without repeated keys ([`Payload::parse`]);
//! 5. `requestedBy` is one of the [`Policy`]'s allowed hosts;
//! 6. the timestamp (milliseconds) is inside the policy's window (±300 s).
//!
//! **Replay protection is the caller's job**: verification is pure, so it
//! returns [`VerifiedPayload::replay_key`], `SHA-256(payload bytes)`, and the
//! caller must insert it into its replay store, insert-if-absent, *after*
//! `verify` succeeds and before acting on the payload; a key already present
//! means `replay_detected`. The record must outlive the window: keep it at
//! least until `timestamp_ms + policy.window.max_age_ms` has passed. The key
//! is computed from the payload, never from the signature, so a high-S twin
//! or another encoding of the signature is the same statement.
//!
//! Verify the exact text whenever it is available. A payload that arrives as
//! a parsed object is re-serialised with [`stringify()`] (`JSON.stringify`
//! exactly as V8 writes it) by [`verify_object`]; that only verifies when the
//! signed text was itself written by `JSON.stringify`, which is what the
//! Signup wallet does.
//!
//! # Examples
//! ```
//! use sigil_core::payload::{self, JsValue, Payload, Policy};
//! use sigil_core::PrivateKey;
//!
//! let key = PrivateKey::from_wif("L4WVo4zZ8QC795KtwPyqgH92T7Q23FC4p4wGkFeZiaWeyewugte7")?;
//! let data = JsValue::parse(r#"{"foo":"bar"}"#)?;
//! let text = Payload::new("Signup.cash", "domain.tld", data, 1_599_640_414_562).to_text();
//! assert_eq!(
//!     text,
//!     r#"{"signedBy":"Signup.cash","requestedBy":"domain.tld","data":{"foo":"bar"},"timestamp":1599640414562}"#
//! );
//! let signature = base64_of(&payload::sign(&text, &key).to_bytes());
//!
//! let policy = Policy::new(["domain.tld"]);
//! let now_ms = 1_599_640_420_000;
//! let verified = payload::verify(&text, &key.address().to_string(), &signature, &policy, now_ms)?;
//! assert_eq!(verified.requested_by, "domain.tld");
//! // Now insert verified.replay_key into the replay store; refuse if it was there.
//! # fn base64_of(b: &[u8]) -> String { use base64::Engine; base64::engine::general_purpose::STANDARD.encode(b) }
//! # Ok::<(), sigil_core::Error>(())
//! ```

mod number;
mod parse;
mod stringify;
mod value;
mod verification;

pub use stringify::stringify;
pub use value::{JsString, JsValue};
pub use verification::{Policy, VerifiedPayload, sign, verify, verify_json, verify_object};

use crate::error::{PayloadFault, Result};
use parse::Duplicates;

/// The four keys of a payload, in the order the wallet writes them.
pub const KEYS: [&str; 4] = ["signedBy", "requestedBy", "data", "timestamp"];

/// The `signedBy` value the Signup wallet writes.
pub const SIGNUP_WALLET: &str = "Signup.cash";

/// A payload's four fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// `signedBy`: names the wallet (the Signup wallet writes `Signup.cash`).
    pub signed_by: String,
    /// `requestedBy`: host, and `:port` when not the default, of the app that
    /// asked for the signature (`localhost:5000`).
    pub requested_by: String,
    /// `data`: the app's value, as `JSON.parse` reads it.
    pub data: JsValue,
    /// `timestamp`: milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

impl Payload {
    /// A payload from its fields.
    #[must_use]
    pub fn new(
        signed_by: impl Into<String>,
        requested_by: impl Into<String>,
        data: JsValue,
        timestamp_ms: u64,
    ) -> Self {
        Self {
            signed_by: signed_by.into(),
            requested_by: requested_by.into(),
            data,
            timestamp_ms,
        }
    }

    /// Reads a payload text strictly: a JSON object with exactly the keys
    /// `signedBy` and `requestedBy` (strings), `data` (any JSON value) and
    /// `timestamp` (an integer of milliseconds, decimal digits only), in any
    /// order. A key repeated anywhere in the text is refused: `JSON.parse`
    /// would keep the last one, and `JSON.stringify` never writes one.
    ///
    /// # Errors
    /// [`crate::Error::Payload`] naming the key: not JSON, not an object, duplicate
    /// key, unexpected key, missing key, or a value of the wrong type.
    pub fn parse(text: &str) -> Result<Self> {
        let parsed =
            parse::parse(text, Duplicates::Refuse).map_err(|reason| PayloadFault::NotJson {
                reason: reason.to_string(),
            })?;
        let JsValue::Object(members) = parsed.value else {
            return Err(PayloadFault::NotObject {
                found: parsed.value.type_name(),
            }
            .into());
        };
        if let Some((key, _)) = members
            .iter()
            .find(|(key, _)| !key.as_str().is_some_and(|k| KEYS.contains(&k)))
        {
            return Err(PayloadFault::UnexpectedKey {
                key: key.to_string_lossy().into_owned(),
            }
            .into());
        }
        let take = |name: &'static str| -> Result<JsValue> {
            members
                .iter()
                .find(|(key, _)| key.as_str() == Some(name))
                .map(|(_, value)| value.clone())
                .ok_or_else(|| PayloadFault::MissingKey { key: name }.into())
        };
        let (signed_by, requested_by, data, timestamp) = (
            take("signedBy")?,
            take("requestedBy")?,
            take("data")?,
            take("timestamp")?,
        );
        let raw_timestamp = parsed
            .member_spans
            .iter()
            .find(|(key, _)| key.as_str() == Some("timestamp"))
            .map(|(_, span)| &text[span.clone()])
            .expect("every top-level member has its span");
        Ok(Self {
            signed_by: text_of("signedBy", &signed_by)?,
            requested_by: text_of("requestedBy", &requested_by)?,
            data,
            timestamp_ms: timestamp_of(&timestamp, raw_timestamp)?,
        })
    }

    /// The payload text exactly as
    /// `JSON.stringify({signedBy, requestedBy, data, timestamp})` writes it:
    /// the text to sign. (A timestamp above 2⁵³ is rounded to a double, as
    /// in JavaScript.) For a payload read by [`Payload::parse`] this equals
    /// the text read only if that text was written by `JSON.stringify`.
    #[must_use]
    pub fn to_text(&self) -> String {
        #[allow(clippy::cast_precision_loss)] // JavaScript numbers are doubles; Date.now() < 2^53
        let timestamp = self.timestamp_ms as f64;
        stringify(&JsValue::Object(vec![
            ("signedBy".into(), self.signed_by.as_str().into()),
            ("requestedBy".into(), self.requested_by.as_str().into()),
            ("data".into(), self.data.clone()),
            ("timestamp".into(), JsValue::Number(timestamp)),
        ]))
    }
}

fn text_of(name: &'static str, value: &JsValue) -> Result<String> {
    match value {
        JsValue::String(text) => text
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| PayloadFault::LoneSurrogate { key: Some(name) }.into()),
        other => Err(PayloadFault::NotAString {
            key: name,
            found: other.type_name(),
        }
        .into()),
    }
}

fn timestamp_of(value: &JsValue, raw: &str) -> Result<u64> {
    if !matches!(value, JsValue::Number(_)) {
        return Err(PayloadFault::TimestampNotANumber {
            found: value.type_name(),
        }
        .into());
    }
    crate::timestamp::parse_ms(raw).map_err(|_| {
        PayloadFault::TimestampNotAnInteger {
            raw: raw.to_owned(),
        }
        .into()
    })
}
