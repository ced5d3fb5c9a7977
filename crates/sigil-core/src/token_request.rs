//! The token-request message of `POST /api/auth/token-for-endpoint`
//! (docs/protocol.md §3).
//!
//! Two forms are accepted:
//! - compat: `endpoint + ":" + timestamp` (what Sigma Auth's client signs);
//! - bound: `sigil-token-request:v1\nissuer:<issuer>\nendpoint:<endpoint>\ntimestamp:<ms>`,
//!   which names the issuer so a signature shown to another token server
//!   cannot be spent here.
//!
//! Fields are never re-derived by splitting a message: a received message
//! is compared with the strings rebuilt from the received fields
//! ([`TokenMessage::check`]). [`TokenMessage::parse`] exists for tools and is
//! injective: it accepts exactly the strings [`TokenMessage::to_message`]
//! produces.
//!
//! [`ParsedTokenRequest::parse`] reads the JSON body of the route (docs/protocol.md
//! §3's step 2, "well-formed body"); a refusal is a [`BodyError`] that
//! names the field.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::error::{Error, MessageFault, Result};
use crate::keys::PublicKey;
use crate::signature::{Signature, decode_byte_values, decode_text};
use crate::timestamp::parse_ms;

/// First line of the bound form.
pub const BOUND_PREFIX: &str = "sigil-token-request:v1\n";
/// Longest accepted endpoint, in bytes.
pub const MAX_ENDPOINT_LEN: usize = 2048;

/// Which form a token-request message has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageForm {
    /// `endpoint:timestamp`.
    Compat,
    /// The issuer-bound form.
    Bound,
}

/// A token-request statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenMessage {
    /// The form.
    pub form: MessageForm,
    /// The issuer (bound form only).
    pub issuer: Option<String>,
    /// The endpoint: the token's future `aud`.
    pub endpoint: String,
    /// Milliseconds since the epoch.
    pub timestamp_ms: u64,
}

impl TokenMessage {
    /// The compat form for `endpoint` and `timestamp_ms`.
    #[must_use]
    pub fn compat(endpoint: &str, timestamp_ms: u64) -> Self {
        Self {
            form: MessageForm::Compat,
            issuer: None,
            endpoint: endpoint.into(),
            timestamp_ms,
        }
    }

    /// The bound form for `issuer`, `endpoint` and `timestamp_ms`.
    #[must_use]
    pub fn bound(issuer: &str, endpoint: &str, timestamp_ms: u64) -> Self {
        Self {
            form: MessageForm::Bound,
            issuer: Some(issuer.into()),
            endpoint: endpoint.into(),
            timestamp_ms,
        }
    }

    /// The exact text to sign.
    #[must_use]
    pub fn to_message(&self) -> String {
        match &self.issuer {
            Some(issuer) if self.form == MessageForm::Bound => format!(
                "{BOUND_PREFIX}issuer:{issuer}\nendpoint:{}\ntimestamp:{}",
                self.endpoint, self.timestamp_ms
            ),
            _ => format!("{}:{}", self.endpoint, self.timestamp_ms),
        }
    }

    /// Checks a received `message` against the received `endpoint` and
    /// timestamp text (digits exactly as sent) and this server's `issuer`.
    ///
    /// # Errors
    /// [`Error::Message`] when the message is neither form, or is bound to
    /// another issuer.
    pub fn check(
        message: &str,
        endpoint: &str,
        timestamp_text: &str,
        issuer: &str,
    ) -> Result<MessageForm> {
        if message.len() == endpoint.len() + 1 + timestamp_text.len()
            && message.starts_with(endpoint)
            && message[endpoint.len()..].starts_with(':')
            && message.ends_with(timestamp_text)
        {
            return Ok(MessageForm::Compat);
        }
        let bound = format!(
            "{BOUND_PREFIX}issuer:{issuer}\nendpoint:{endpoint}\ntimestamp:{timestamp_text}"
        );
        if message == bound {
            return Ok(MessageForm::Bound);
        }
        if let Ok(parsed) = Self::parse(message)
            && parsed.form == MessageForm::Bound
            && parsed.issuer.as_deref() != Some(issuer)
        {
            return Err(MessageFault::OtherIssuer {
                got: parsed.issuer.unwrap_or_default(),
                expected: issuer.to_owned(),
            }
            .into());
        }
        Err(MessageFault::NeitherForm.into())
    }

    /// Parses a message of either form.
    ///
    /// # Errors
    /// [`Error::Message`], [`Error::Endpoint`] or [`Error::TimestampFormat`]
    /// when `message` is not exactly what [`TokenMessage::to_message`] writes.
    pub fn parse(message: &str) -> Result<Self> {
        if let Some(rest) = message.strip_prefix(BOUND_PREFIX) {
            let mut lines = rest.split('\n');
            let issuer = field(lines.next(), "issuer:")?;
            let endpoint = field(lines.next(), "endpoint:")?;
            let timestamp = field(lines.next(), "timestamp:")?;
            if lines.next().is_some() {
                return Err(MessageFault::BoundExtraLines.into());
            }
            validate_endpoint(issuer).map_err(|_| MessageFault::BoundIssuer)?;
            validate_endpoint(endpoint)?;
            return Ok(Self::bound(issuer, endpoint, parse_ms(timestamp)?));
        }
        let (endpoint, timestamp) = message
            .rsplit_once(':')
            .ok_or(MessageFault::CompatSeparator)?;
        validate_endpoint(endpoint)?;
        Ok(Self::compat(endpoint, parse_ms(timestamp)?))
    }
}

fn field<'a>(line: Option<&'a str>, name: &'static str) -> Result<&'a str> {
    line.and_then(|l| l.strip_prefix(name))
        .ok_or_else(|| MessageFault::BoundLine { name }.into())
}

/// Checks that `endpoint` can become an `aud`: an absolute `http`/`https`
/// URL with a host, no fragment, printable ASCII only (no spaces or control
/// characters), at most [`MAX_ENDPOINT_LEN`] bytes.
///
/// # Errors
/// [`Error::Endpoint`] saying which rule failed.
pub fn validate_endpoint(endpoint: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::Endpoint(why.into()));
    if endpoint.len() > MAX_ENDPOINT_LEN {
        return bad("longer than 2048 bytes");
    }
    if !endpoint.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return bad("must be printable ASCII without spaces (percent-encode the rest)");
    }
    let rest = if let Some(rest) = endpoint.strip_prefix("https://") {
        rest
    } else if let Some(rest) = endpoint.strip_prefix("http://") {
        rest
    } else {
        return bad("must be an absolute http:// or https:// URL (lower-case scheme)");
    };
    if endpoint.contains('#') {
        return bad("must not contain a fragment ('#')");
    }
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if authority.contains('@') {
        return bad("must not contain user information ('user@host')");
    }
    if host.is_empty() || host.starts_with(':') {
        return bad("has no host");
    }
    Ok(())
}

/// A token-request body that is not well-formed (docs/protocol.md §3's
/// step 2): which field, and a description a server answers with as
/// `invalid_request` (docs/protocol.md §8).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{description}")]
pub struct BodyError {
    /// The field that was wrong, or `None` when the body is not a JSON
    /// object of the token request at all.
    pub field: Option<&'static str>,
    /// One sentence, naming the field.
    pub description: String,
}

impl BodyError {
    fn new(field: &'static str, description: String) -> Self {
        Self {
            field: Some(field),
            description,
        }
    }

    fn missing(field: &'static str) -> Self {
        Self::new(field, format!("{field} is missing"))
    }
}

/// The body with every field optional, each kept as the raw JSON text it
/// arrived as (borrowed from the body, nothing copied): serde refuses
/// duplicate members ("duplicate field") and ill-formed JSON and reads
/// `null` as absent; presence and types are checked one field at a time so
/// the description names the field.
#[derive(Deserialize)]
struct RawBody<'a> {
    #[serde(borrow)]
    endpoint: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    message: Option<&'a RawValue>,
    #[serde(borrow)]
    pubkey: Option<&'a RawValue>,
    #[serde(borrow)]
    signature: Option<&'a RawValue>,
}

/// A token request body whose fields have their types (docs/protocol.md
/// §3's step 2, "well-formed body"); the strings borrow from the body
/// unless they contained escapes. The token service's handler and
/// `sigil-bench`'s ceiling run this very parse.
#[derive(Debug)]
pub struct ParsedTokenRequest<'a> {
    /// `endpoint`, not yet checked as a URL.
    pub endpoint: Cow<'a, str>,
    /// `timestamp` in ms.
    pub timestamp_ms: u64,
    /// The timestamp's digits exactly as sent.
    pub timestamp_text: Cow<'a, str>,
    /// `message`, not yet compared with the endpoint and timestamp.
    pub message: Cow<'a, str>,
    /// `pubkey`, a valid point.
    pub pubkey: PublicKey,
    /// `signature`, decoded (BSM or BRC-77), not yet verified.
    pub signature: Signature,
}

impl ParsedTokenRequest<'_> {
    /// Reads the JSON body: each field present and of its type, duplicate
    /// members refused.
    ///
    /// # Errors
    ///
    /// A [`BodyError`] whose description names the field.
    pub fn parse(bytes: &[u8]) -> std::result::Result<ParsedTokenRequest<'_>, BodyError> {
        let raw: RawBody<'_> = serde_json::from_slice(bytes).map_err(|e| BodyError {
            field: None,
            description: format!("the body is not a JSON object of the token request: {e}"),
        })?;
        let endpoint = string_field(raw.endpoint, "endpoint")?;
        let (timestamp_ms, timestamp_text) = timestamp_field(raw.timestamp)?;
        let message = string_field(raw.message, "message")?;
        let pubkey_text = string_field(raw.pubkey, "pubkey")?;
        let pubkey = PublicKey::from_hex(&pubkey_text)
            .map_err(|e| BodyError::new("pubkey", format!("pubkey: {e}")))?;
        let signature = signature_field(raw.signature)?;
        Ok(ParsedTokenRequest {
            endpoint,
            timestamp_ms,
            timestamp_text,
            message,
            pubkey,
            signature,
        })
    }
}

/// The JSON string `raw` holds, borrowed when it has no escapes.
fn json_string(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    if !text.starts_with('"') {
        return None;
    }
    serde_json::from_str::<&str>(text)
        .map(Cow::Borrowed)
        .or_else(|_| serde_json::from_str::<String>(text).map(Cow::Owned))
        .ok()
}

fn string_field<'a>(
    raw: Option<&'a RawValue>,
    field: &'static str,
) -> std::result::Result<Cow<'a, str>, BodyError> {
    let raw = raw.ok_or_else(|| BodyError::missing(field))?;
    json_string(raw).ok_or_else(|| BodyError::new(field, format!("{field} must be a string")))
}

fn timestamp_field(raw: Option<&RawValue>) -> std::result::Result<(u64, Cow<'_, str>), BodyError> {
    let raw = raw.ok_or_else(|| BodyError::missing("timestamp"))?;
    let text = match json_string(raw) {
        Some(text) => text,
        None => match serde_json::from_str::<serde_json::Number>(raw.get()) {
            Ok(n) if n.is_u64() => Cow::Owned(n.to_string()),
            _ => {
                return Err(BodyError::new(
                    "timestamp",
                    "timestamp must be an integer of milliseconds or a string of digits".into(),
                ));
            }
        },
    };
    let ms = parse_ms(&text).map_err(|e| BodyError::new("timestamp", format!("timestamp: {e}")))?;
    Ok((ms, text))
}

fn signature_field(raw: Option<&RawValue>) -> std::result::Result<Signature, BodyError> {
    let raw = raw.ok_or_else(|| BodyError::missing("signature"))?;
    let bytes = if let Some(text) = json_string(raw) {
        decode_text(&text)
    } else if raw.get().starts_with('[') {
        // A JSON array of byte values (what JSON.stringify makes of the
        // byte array SignedMessage.sign returns): rare, parsed as values.
        let values: Vec<Value> = serde_json::from_str(raw.get()).map_err(|e| {
            BodyError::new(
                "signature",
                format!("signature: not an array of byte values: {e}"),
            )
        })?;
        decode_byte_values(&values)
    } else {
        return Err(BodyError::new(
            "signature",
            "signature must be a string (base64 or hex) or an array of byte values".into(),
        ));
    };
    bytes
        .and_then(|bytes| Signature::from_bytes(&bytes))
        .map_err(|e| BodyError::new("signature", format!("signature: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBKEY: &str = "03bbce95ff192e17a6d842cbafe14f7f192ac0466e7f0928c187398e627e66a84f";

    #[test]
    fn message_refusals_are_data() {
        assert_eq!(
            TokenMessage::parse("no-colon-here"),
            Err(Error::Message(MessageFault::CompatSeparator))
        );
        let bound = "sigil-token-request:v1\nissuer:https://a.example\nendpoint:https://a.example/x\ntimestamp:1\nextra";
        assert_eq!(
            TokenMessage::parse(bound),
            Err(Error::Message(MessageFault::BoundExtraLines))
        );
        assert_eq!(
            TokenMessage::parse("sigil-token-request:v1\nendpoint:https://a.example/x"),
            Err(Error::Message(MessageFault::BoundLine { name: "issuer:" }))
        );
    }

    #[test]
    fn body_errors_name_their_field() {
        let cases: [(&str, Option<&str>, &str); 7] = [
            (
                "[]",
                None,
                "the body is not a JSON object of the token request",
            ),
            (
                r#"{"endpoint":"e","endpoint":"e"}"#,
                None,
                "duplicate field `endpoint`",
            ),
            ("{}", Some("endpoint"), "endpoint is missing"),
            (
                r#"{"endpoint":1}"#,
                Some("endpoint"),
                "endpoint must be a string",
            ),
            (
                r#"{"endpoint":"e","timestamp":-1}"#,
                Some("timestamp"),
                "timestamp must be an integer of milliseconds or a string of digits",
            ),
            (
                r#"{"endpoint":"e","timestamp":"1","message":"m","pubkey":"00"}"#,
                Some("pubkey"),
                "pubkey: ",
            ),
            (
                &signature_true_body(),
                Some("signature"),
                "signature must be a string (base64 or hex) or an array of byte values",
            ),
        ];
        for (body, field, phrase) in cases {
            let error = ParsedTokenRequest::parse(body.as_bytes()).unwrap_err();
            assert_eq!(error.field, field, "{body}");
            assert!(error.to_string().contains(phrase), "{body}: {error}");
        }
    }

    fn signature_true_body() -> String {
        format!(
            r#"{{"endpoint":"e","timestamp":"1","message":"m","pubkey":"{PUBKEY}","signature":true}}"#
        )
    }

    #[test]
    fn compat_and_bound_round_trip() {
        let c = TokenMessage::compat("https://host:8443/x", 1_700_000_000_000);
        assert_eq!(c.to_message(), "https://host:8443/x:1700000000000");
        assert_eq!(TokenMessage::parse(&c.to_message()).unwrap(), c);
        let b = TokenMessage::bound(
            "http://localhost:1911",
            "https://api.yourservice.com",
            1_700_000_000_000,
        );
        assert_eq!(
            b.to_message(),
            "sigil-token-request:v1\nissuer:http://localhost:1911\nendpoint:https://api.yourservice.com\ntimestamp:1700000000000"
        );
        assert_eq!(TokenMessage::parse(&b.to_message()).unwrap(), b);
    }

    #[test]
    fn check_compares_rebuilt_strings() {
        let issuer = "http://localhost:1911";
        let m = "https://a.example:1700000000000";
        assert_eq!(
            TokenMessage::check(m, "https://a.example", "1700000000000", issuer).unwrap(),
            MessageForm::Compat
        );
        assert!(TokenMessage::check(m, "https://a.example:1", "700000000000", issuer).is_err());
        let other =
            TokenMessage::bound("https://evil.example", "https://a.example", 1).to_message();
        let err = TokenMessage::check(&other, "https://a.example", "1", issuer).unwrap_err();
        assert!(err.to_string().contains("another issuer"), "{err}");
    }

    #[test]
    fn endpoint_rules() {
        for ok in [
            "https://a.example",
            "http://localhost:1911/x?y=1",
            "https://h/p:q",
        ] {
            assert!(validate_endpoint(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://a.example",
            "https://",
            "https://a.example/#frag",
            "https://a.example/ x",
            "HTTPS://a.example",
            "https://user@a.example",
            "/relative",
        ] {
            assert!(validate_endpoint(bad).is_err(), "{bad}");
        }
        assert!(validate_endpoint(&format!("https://a.example/{}", "x".repeat(2100))).is_err());
    }
}
