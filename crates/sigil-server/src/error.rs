//! Errors: [`ApiError`], the one way every route refuses (docs/protocol.md §8), and the
//! errors of configuring and starting the server.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sigil_core::ErrorClass;
use sigil_core::api::{ErrorBody, ErrorCode, invalid_token_challenge};

/// A configuration that cannot be used: one line naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config: {0}")]
pub struct ConfigError(pub String);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be opened or answered wrongly at start-up.
    #[error("store: {0}")]
    Store(#[from] sigil_store::Error),
    /// The signing keys could not be loaded or made.
    #[error("signing keys: {0}")]
    Keys(String),
    /// Binding or serving the socket failed.
    #[error("listen: {0}")]
    Io(#[from] std::io::Error),
}

/// The real cause of a 500 or 503, kept out of the body and logged once,
/// with the request id, by the tracing middleware.
#[derive(Debug, Clone)]
pub(crate) struct HiddenCause(pub(crate) String);

/// Every refusal of the HTTP API. [`IntoResponse`] renders docs/protocol.md §8's body
/// `{"error", "error_description"}` in one `match`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// 400: malformed JSON, a missing or ill-typed field (named), an
    /// undecodable signature, a message of neither form.
    InvalidRequest(String),
    /// 413: the body is over the limit.
    BodyTooLarge {
        /// The limit, bytes.
        limit: usize,
    },
    /// 415: a JSON route without `Content-Type: application/json`.
    UnsupportedMediaType,
    /// 408: the request (its body, or the answer to it) did not complete
    /// within the request timeout. Never 503, which would say the store
    /// is down.
    RequestTimeout {
        /// The timeout, milliseconds.
        timeout_ms: u64,
    },
    /// 404: no route for the path.
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// 405: the route exists, the method does not.
    MethodNotAllowed {
        /// The methods the route has, e.g. `GET, HEAD`.
        allowed: String,
    },
    /// 400: the endpoint is not an allowed absolute URL.
    InvalidTarget(String),
    /// 401: the signature does not verify for the claimed key.
    InvalidSignature(String),
    /// 401: the timestamp is outside the window.
    TimestampExpired(String),
    /// 401: the signed statement was already used.
    ReplayDetected,
    /// 401: the bearer token is missing (`None`: plain `Bearer` challenge)
    /// or refused (the reason).
    InvalidToken(Option<String>),
    /// 403: not allowed by the account registry.
    AccessDenied(String),
    /// 429: a rate limit; retry after this many seconds.
    RateLimited {
        /// Seconds until a request would be admitted.
        retry_after_s: u64,
    },
    /// 503: the store cannot answer; the cause is logged, not sent.
    Unavailable(String),
    /// 500: a bug; the cause is logged, not sent.
    Internal(String),
}

impl ApiError {
    /// The docs/protocol.md §8 code.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        self.parts().1
    }

    /// Maps a sigil-core error by its class: malformed → 400
    /// `invalid_request`, verification → 401 `invalid_signature`, window →
    /// 401 `timestamp_expired`, token → 401 `invalid_token`, policy → 403
    /// `access_denied`.
    #[must_use]
    pub fn from_core(error: &sigil_core::Error) -> Self {
        let text = error.to_string();
        match error.class() {
            ErrorClass::Verification => Self::InvalidSignature(text),
            ErrorClass::Timestamp => Self::TimestampExpired(text),
            ErrorClass::Token => Self::InvalidToken(Some(text)),
            ErrorClass::Policy => Self::AccessDenied(text),
            _ => Self::InvalidRequest(text),
        }
    }

    /// Maps a store error: unavailable → 503, anything else → 500.
    #[must_use]
    pub fn from_store(error: &sigil_store::Error) -> Self {
        if error.is_unavailable() {
            Self::Unavailable(error.to_string())
        } else {
            Self::Internal(format!("store: {error}"))
        }
    }

    /// Status, code, description, and the cause to log (for 5xx).
    fn parts(&self) -> (StatusCode, ErrorCode, String, Option<&str>) {
        use ErrorCode as C;
        match self {
            Self::InvalidRequest(d) => {
                (StatusCode::BAD_REQUEST, C::InvalidRequest, d.clone(), None)
            }
            Self::BodyTooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                C::InvalidRequest,
                format!("request body too large: the limit is {limit} bytes"),
                None,
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                C::InvalidRequest,
                "the request body must be JSON, sent with Content-Type: application/json".into(),
                None,
            ),
            Self::RequestTimeout { timeout_ms } => (
                StatusCode::REQUEST_TIMEOUT,
                C::InvalidRequest,
                format!(
                    "request timed out: it did not complete within {timeout_ms} ms; send the whole body promptly and retry"
                ),
                None,
            ),
            Self::NotFound { path } => (
                StatusCode::NOT_FOUND,
                C::NotFound,
                format!("no route for path {}", quoted(path)),
                None,
            ),
            Self::MethodNotAllowed { allowed } => (
                StatusCode::METHOD_NOT_ALLOWED,
                C::MethodNotAllowed,
                format!("method not allowed here; allowed methods: {allowed}"),
                None,
            ),
            Self::InvalidTarget(d) => (StatusCode::BAD_REQUEST, C::InvalidTarget, d.clone(), None),
            Self::InvalidSignature(d) => (
                StatusCode::UNAUTHORIZED,
                C::InvalidSignature,
                d.clone(),
                None,
            ),
            Self::TimestampExpired(d) => (
                StatusCode::UNAUTHORIZED,
                C::TimestampExpired,
                d.clone(),
                None,
            ),
            Self::ReplayDetected => (
                StatusCode::UNAUTHORIZED,
                C::ReplayDetected,
                "this signed statement was already used; sign a new one with a fresh timestamp"
                    .into(),
                None,
            ),
            Self::InvalidToken(reason) => (
                StatusCode::UNAUTHORIZED,
                C::InvalidToken,
                reason.clone().unwrap_or_else(|| {
                    "a bearer token is required: send Authorization: Bearer <token>".into()
                }),
                None,
            ),
            Self::AccessDenied(d) => (StatusCode::FORBIDDEN, C::AccessDenied, d.clone(), None),
            Self::RateLimited { retry_after_s } => (
                StatusCode::TOO_MANY_REQUESTS,
                C::RateLimitExceeded,
                format!("rate limit exceeded; retry after {retry_after_s} s"),
                None,
            ),
            Self::Unavailable(cause) => (
                StatusCode::SERVICE_UNAVAILABLE,
                C::TemporarilyUnavailable,
                "the service cannot answer right now; nothing was issued, retry later".into(),
                Some(cause),
            ),
            Self::Internal(cause) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                C::ServerError,
                "internal error; it has been logged with this request's id".into(),
                Some(cause),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error, error_description, cause) = self.parts();
        let cause = cause.map(|c| HiddenCause(c.to_owned()));
        let mut response = (
            status,
            Json(ErrorBody {
                error,
                error_description: error_description.clone(),
            }),
        )
            .into_response();
        let headers = response.headers_mut();
        match &self {
            Self::InvalidToken(None) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::InvalidToken(Some(_)) => {
                let challenge = invalid_token_challenge(&error_description);
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
            }
            Self::RateLimited { retry_after_s } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
            }
            Self::MethodNotAllowed { allowed } => {
                if let Ok(value) = HeaderValue::from_str(allowed) {
                    headers.insert(header::ALLOW, value);
                }
            }
            _ => {}
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(cause) = cause {
            response.extensions_mut().insert(cause);
        }
        response.extensions_mut().insert(error);
        response
    }
}

/// A value quoted for a description, cut to 100 characters.
pub(crate) fn quoted(text: &str) -> String {
    let cut: String = text.chars().take(100).collect();
    if cut.len() < text.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_classes_map_to_spec_codes() {
        let cases = [
            (
                sigil_core::Error::Payload("x".into()),
                ErrorCode::InvalidRequest,
            ),
            (
                sigil_core::Error::SignatureInvalid("x".into()),
                ErrorCode::InvalidSignature,
            ),
            (
                sigil_core::Error::TimestampTooOld("x".into()),
                ErrorCode::TimestampExpired,
            ),
            (
                sigil_core::Error::TokenExpired("x".into()),
                ErrorCode::InvalidToken,
            ),
            (
                sigil_core::Error::NotAllowed("x".into()),
                ErrorCode::AccessDenied,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(ApiError::from_core(&error).code(), code, "{error}");
        }
    }

    #[test]
    fn every_variant_has_its_spec_status_and_phrase() {
        let cases = [
            (
                ApiError::InvalidRequest("pubkey: x".into()),
                400,
                "invalid_request",
                "pubkey",
            ),
            (
                ApiError::BodyTooLarge { limit: 16384 },
                413,
                "invalid_request",
                "body too large",
            ),
            (
                ApiError::UnsupportedMediaType,
                415,
                "invalid_request",
                "Content-Type",
            ),
            (
                ApiError::RequestTimeout { timeout_ms: 250 },
                408,
                "invalid_request",
                "timed out",
            ),
            (
                ApiError::NotFound { path: "/x".into() },
                404,
                "not_found",
                "/x",
            ),
            (
                ApiError::MethodNotAllowed {
                    allowed: "POST".into(),
                },
                405,
                "method_not_allowed",
                "POST",
            ),
            (
                ApiError::InvalidTarget("endpoint: x".into()),
                400,
                "invalid_target",
                "endpoint",
            ),
            (
                ApiError::InvalidSignature("signature verification failed: x".into()),
                401,
                "invalid_signature",
                "signature verification failed",
            ),
            (
                ApiError::TimestampExpired("timestamp too old: x".into()),
                401,
                "timestamp_expired",
                "timestamp too old",
            ),
            (
                ApiError::ReplayDetected,
                401,
                "replay_detected",
                "already used",
            ),
            (
                ApiError::InvalidToken(None),
                401,
                "invalid_token",
                "bearer token",
            ),
            (
                ApiError::AccessDenied("key not allowed".into()),
                403,
                "access_denied",
                "not allowed",
            ),
            (
                ApiError::RateLimited { retry_after_s: 3 },
                429,
                "rate_limit_exceeded",
                "rate limit",
            ),
            (
                ApiError::Unavailable("disk on fire".into()),
                503,
                "temporarily_unavailable",
                "retry",
            ),
            (
                ApiError::Internal("bug at line 3".into()),
                500,
                "server_error",
                "logged",
            ),
        ];
        for (error, status, code, phrase) in cases {
            let (s, c, description, _) = error.parts();
            assert_eq!(s.as_u16(), status, "{error:?}");
            assert_eq!(c.as_str(), code, "{error:?}");
            assert!(description.contains(phrase), "{error:?}: {description}");
            assert!(!description.contains("disk on fire") && !description.contains("line 3"));
        }
    }
}
