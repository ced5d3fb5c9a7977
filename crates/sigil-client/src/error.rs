//! [`Error`]: everything that can go wrong, with the server's docs/protocol.md §8 code
//! kept as the server wrote it.

use serde::Deserialize;
use sigil_core::api::ErrorCode;

/// The result of every fallible call of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a call failed. Messages name what was wrong and never contain a
/// token or a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A server refused with a docs/protocol.md §8 body (RFC 6749 §5.2):
    /// the token service, or a resource server that refused the token twice.
    #[error("{status} {error}: {description}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's `error` code, exactly as sent (see [`Error::code`]
        /// for the typed form).
        error: String,
        /// The server's `error_description` (empty when absent).
        description: String,
    },
    /// A transport failure (connect, TLS, timeout, reading the body).
    /// Transparent: reqwest's message names the URL, and its causes follow
    /// as the error's sources, so `{:#}` prints each once.
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    /// A URL this crate cannot use: the issuer, a request URL or an audience.
    #[error("{what}: {reason}")]
    InvalidUrl {
        /// Which URL (`issuer_url`, `token_endpoint`, `url`, `audience`).
        what: &'static str,
        /// The rule it broke.
        reason: String,
    },
    /// An answer that is neither the expected body nor a docs/protocol.md §8 error body.
    #[error("invalid response (HTTP {status}): {reason}")]
    InvalidResponse {
        /// The HTTP status.
        status: u16,
        /// What was wrong with it.
        reason: String,
    },
    /// A request header name or value that HTTP does not allow.
    #[error("header: {0}")]
    InvalidHeader(String),
    /// The request body could not be serialised to JSON.
    #[error("json body: {0}")]
    Json(#[from] serde_json::Error),
    /// Signing failed (e.g. an `X-Auth-Token` path with `|` or without a
    /// leading `/`).
    #[error("signing: {0}")]
    Signing(#[from] sigil_core::Error),
    /// The operating system gave no randomness (for a BRC-77 keyID).
    #[error("randomness: {0}")]
    Random(String),
}

impl Error {
    /// The server's code as a docs/protocol.md §8 [`ErrorCode`], when the error came from
    /// a server and the code is one of the known ones.
    #[must_use]
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Server { error, .. } => parse_code(error),
            _ => None,
        }
    }

    /// The HTTP status of a server's answer, when there was one.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Server { status, .. } | Self::InvalidResponse { status, .. } => Some(*status),
            Self::Http(e) => e.status().map(|s| s.as_u16()),
            _ => None,
        }
    }

    /// Reads a refusal: a docs/protocol.md §8 body becomes [`Error::Server`], anything
    /// else [`Error::InvalidResponse`]. For answers of your own requests
    /// that you want as typed errors.
    pub async fn from_response(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        match response.bytes().await {
            Ok(body) => Self::from_body(status, &body),
            Err(e) => Self::Http(e),
        }
    }

    /// [`Error::from_response`] on a body already read.
    pub(crate) fn from_body(status: u16, body: &[u8]) -> Self {
        match parse_error_body(body) {
            Some(parsed) => Self::Server {
                status,
                error: parsed.error,
                description: parsed.error_description.unwrap_or_default(),
            },
            None => Self::InvalidResponse {
                status,
                reason: "not a JSON error body {\"error\", \"error_description\"}".into(),
            },
        }
    }
}

/// A docs/protocol.md §8 body read leniently: any code string is kept.
#[derive(Deserialize)]
pub(crate) struct LooseErrorBody {
    pub(crate) error: String,
    #[serde(default)]
    pub(crate) error_description: Option<String>,
}

pub(crate) fn parse_error_body(body: &[u8]) -> Option<LooseErrorBody> {
    serde_json::from_slice(body).ok()
}

fn parse_code(code: &str) -> Option<ErrorCode> {
    serde_json::from_value(serde_json::Value::String(code.to_owned())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_codes() {
        let known = Error::from_body(
            403,
            br#"{"error":"access_denied","error_description":"key not allowed"}"#,
        );
        assert_eq!(known.code(), Some(ErrorCode::AccessDenied));
        assert_eq!(known.status(), Some(403));
        assert_eq!(known.to_string(), "403 access_denied: key not allowed");

        let unknown = Error::from_body(400, br#"{"error":"invalid_grant"}"#);
        assert_eq!(unknown.code(), None);
        assert!(matches!(&unknown, Error::Server { error, description, .. }
            if error == "invalid_grant" && description.is_empty()));

        let html = Error::from_body(502, b"<html>bad gateway</html>");
        assert!(matches!(html, Error::InvalidResponse { status: 502, .. }));
        assert_eq!(html.code(), None);
    }
}
