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

use crate::error::{Error, Result};
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
            return Err(Error::Message(format!(
                "message is bound to another issuer ({}); this issuer is {issuer}",
                parsed.issuer.unwrap_or_default()
            )));
        }
        Err(Error::Message(
            "message must equal endpoint + \":\" + timestamp exactly, or the bound form sigil-token-request:v1 with this issuer, endpoint and timestamp".into(),
        ))
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
                return Err(Error::Message("bound form has more than four lines".into()));
            }
            validate_endpoint(issuer)
                .map_err(|_| Error::Message("bound form issuer is not an http(s) URL".into()))?;
            validate_endpoint(endpoint)?;
            return Ok(Self::bound(issuer, endpoint, parse_ms(timestamp)?));
        }
        let (endpoint, timestamp) = message
            .rsplit_once(':')
            .ok_or_else(|| Error::Message("compat form needs endpoint:timestamp".into()))?;
        validate_endpoint(endpoint)?;
        Ok(Self::compat(endpoint, parse_ms(timestamp)?))
    }
}

fn field<'a>(line: Option<&'a str>, name: &str) -> Result<&'a str> {
    line.and_then(|l| l.strip_prefix(name))
        .ok_or_else(|| Error::Message(format!("bound form line {name:?} missing or out of order")))
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

#[cfg(test)]
mod tests {
    use super::*;

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
