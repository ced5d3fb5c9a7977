//! [`AccessToken`] and the exchange of docs/protocol.md §3: a signed statement in, an
//! access token out.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use serde::Serialize;
use sigil_core::api::TokenResponse;
use sigil_core::{MessageForm, TokenMessage};

use crate::client::Config;
use crate::error::{Error, Result};
use crate::signature::sign;

/// An access token for one audience, as the token service issued it.
///
/// `Debug` shows the audience and expiry, never the token; there is no
/// `Display`, so a token cannot end up in a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    value: Arc<str>,
    audience: Arc<str>,
    expires_at_ms: u64,
}

impl AccessToken {
    /// The compact JWT, for an `Authorization: Bearer` header.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The audience it was asked for (its `aud` claim).
    #[must_use]
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// When it expires by the client's clock, ms since the epoch: the local
    /// time its answer arrived plus `expires_in`.
    #[must_use]
    pub fn expires_at_ms(&self) -> u64 {
        self.expires_at_ms
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("audience", &self.audience)
            .field("expires_at_ms", &self.expires_at_ms)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// The request body, in the seed client's member order.
#[derive(Serialize)]
struct TokenRequestBody<'a> {
    endpoint: &'a str,
    signature: String,
    message: &'a str,
    pubkey: String,
    timestamp: u64,
}

/// Asks the token service for a token for `audience` (already validated),
/// signing `timestamp` (ms).
pub(crate) async fn fetch(config: &Config, audience: &str, timestamp: u64) -> Result<AccessToken> {
    let message = match config.form {
        MessageForm::Bound => TokenMessage::bound(&config.issuer, audience, timestamp),
        MessageForm::Compat => TokenMessage::compat(audience, timestamp),
    }
    .to_message();
    let signature = sign(config.scheme, &message, &config.key)?;
    let body = serde_json::to_vec(&TokenRequestBody {
        endpoint: audience,
        signature: STANDARD.encode(signature),
        message: &message,
        pubkey: config.key.public_key().to_hex(),
        timestamp,
    })?;
    let mut request = config
        .http
        .post(config.token_url.clone())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header(ACCEPT, HeaderValue::from_static("application/json"))
        .body(body);
    if let Some(timeout) = config.token_timeout {
        request = request.timeout(timeout);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    let received_at = config.now_ms();
    if status != 200 {
        tracing::debug!(audience, status, "token request refused");
        return Err(Error::from_body(status, &bytes));
    }
    let answer: TokenResponse =
        serde_json::from_slice(&bytes).map_err(|e| Error::InvalidResponse {
            status,
            reason: format!("not a token response: {e}"),
        })?;
    if !answer.token_type.eq_ignore_ascii_case("bearer") {
        return Err(Error::InvalidResponse {
            status,
            reason: format!("token_type {:?}, expected Bearer", answer.token_type),
        });
    }
    tracing::debug!(audience, expires_in = answer.expires_in, "token obtained");
    Ok(AccessToken {
        value: answer.access_token.into(),
        audience: audience.into(),
        expires_at_ms: received_at.saturating_add(answer.expires_in.saturating_mul(1000)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_token() {
        let token = AccessToken {
            value: "eyJhbGciOiJFUzI1NiJ9.e30.c2ln".into(),
            audience: "https://api.example.com".into(),
            expires_at_ms: 5,
        };
        let text = format!("{token:?}");
        assert!(!text.contains("eyJ"), "{text}");
        assert!(text.contains("https://api.example.com"), "{text}");
    }
}
