//! Errors: [`ApiError`], the one way every route refuses (docs/protocol.md §8), and the
//! errors of configuring and starting the server.

use axum::response::{IntoResponse, Response};
use sigil_core::api::{ConnectionFault, ErrorCode, Fault};

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
    /// The store could not be opened or answered wrongly at start-up. The
    /// message holds the cause, which is therefore not also the `source`:
    /// `{:#}` (the CLI) prints it once.
    #[error("store: {0}")]
    Store(sigil_store::Error),
    /// The signing keys could not be loaded or made.
    #[error("signing keys: {0}")]
    Keys(String),
    /// Binding or serving the socket failed (the message holds the I/O
    /// error, printed once by `{:#}`).
    #[error("listen: {0}")]
    Io(std::io::Error),
}

impl From<sigil_store::Error> for ServeError {
    fn from(error: sigil_store::Error) -> Self {
        Self::Store(error)
    }
}

impl From<std::io::Error> for ServeError {
    fn from(error: std::io::Error) -> Self {
        Self::Io(error)
    }
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
    /// Refused at the connection by sigil-edge's listener (503 for too
    /// many connections, 400/414/431 for a head it cannot take).
    Connection(ConnectionFault),
}

impl ApiError {
    /// The docs/protocol.md §8 code.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        self.fault().refusal().code
    }

    /// Maps a sigil-core error by its class through the one table
    /// ([`Fault::from_core`]): malformed → 400 `invalid_request`,
    /// verification → 401 `invalid_signature`, window → 401
    /// `timestamp_expired`, token → 401 `invalid_token`, policy → 403
    /// `access_denied`.
    #[must_use]
    pub fn from_core(error: &sigil_core::Error) -> Self {
        Self::from(Fault::from_core(error))
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

    /// The fault of the one error table (`sigil_core::api::Fault`) this
    /// refusal is; status, code, description and headers come from it.
    #[must_use]
    pub fn fault(&self) -> Fault {
        match self {
            Self::InvalidRequest(d) => Fault::InvalidRequest(d.clone()),
            Self::BodyTooLarge { limit } => Fault::BodyTooLarge { limit: *limit },
            Self::UnsupportedMediaType => Fault::UnsupportedMediaType,
            Self::RequestTimeout { timeout_ms } => Fault::RequestTimeout {
                timeout_ms: *timeout_ms,
            },
            Self::NotFound { path } => Fault::NotFound { path: path.clone() },
            Self::MethodNotAllowed { allowed } => Fault::MethodNotAllowed {
                allowed: allowed.clone(),
            },
            Self::InvalidTarget(d) => Fault::InvalidTarget(d.clone()),
            Self::InvalidSignature(d) => Fault::InvalidSignature(d.clone()),
            Self::TimestampExpired(d) => Fault::TimestampExpired(d.clone()),
            Self::ReplayDetected => Fault::ReplayDetected,
            Self::InvalidToken(None) => Fault::MissingCredentials {
                x_auth_token: false,
            },
            Self::InvalidToken(Some(d)) => Fault::InvalidToken(d.clone()),
            Self::AccessDenied(d) => Fault::AccessDenied(d.clone()),
            Self::RateLimited { retry_after_s } => Fault::RateLimited {
                reason: None,
                retry_after_s: *retry_after_s,
            },
            Self::Unavailable(_) => Fault::Unavailable,
            Self::Internal(_) => Fault::Internal,
            Self::Connection(fault) => Fault::Connection(*fault),
        }
    }

    /// The cause to log, for 5xx.
    fn cause(&self) -> Option<&str> {
        match self {
            Self::Unavailable(cause) | Self::Internal(cause) => Some(cause),
            _ => None,
        }
    }
}

impl From<Fault> for ApiError {
    /// The server's refusal for a fault of the table. A 503 or 500 made
    /// this way has no cause to log beyond its kind.
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::InvalidRequest(d) => Self::InvalidRequest(d),
            Fault::BodyTooLarge { limit } => Self::BodyTooLarge { limit },
            Fault::UnsupportedMediaType => Self::UnsupportedMediaType,
            Fault::RequestTimeout { timeout_ms } => Self::RequestTimeout { timeout_ms },
            Fault::NotFound { path } => Self::NotFound { path },
            Fault::MethodNotAllowed { allowed } => Self::MethodNotAllowed { allowed },
            Fault::InvalidTarget(d) => Self::InvalidTarget(d),
            Fault::InvalidSignature(d) => Self::InvalidSignature(d),
            Fault::TimestampExpired(d) => Self::TimestampExpired(d),
            Fault::ReplayDetected => Self::ReplayDetected,
            Fault::MissingCredentials { .. } => Self::InvalidToken(None),
            Fault::InvalidToken(d) => Self::InvalidToken(Some(d)),
            Fault::AccessDenied(d) => Self::AccessDenied(d),
            Fault::RateLimited { retry_after_s, .. } => Self::RateLimited { retry_after_s },
            Fault::Unavailable => Self::Unavailable("unavailable".into()),
            Fault::Internal => Self::Internal("internal error".into()),
            Fault::Connection(fault) => Self::Connection(fault),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = sigil_edge::refusal(&self.fault());
        if let Some(cause) = self.cause() {
            response
                .extensions_mut()
                .insert(HiddenCause(cause.to_owned()));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each cause once: the chain a CLI prints with `{:#}` (each message,
    /// then its sources, joined by `: `) does not repeat the inner message.
    #[test]
    fn serve_errors_print_each_cause_once() {
        fn chain(err: &dyn std::error::Error) -> String {
            let mut text = err.to_string();
            let mut source = err.source();
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
        let store = sigil_store::Error::Unavailable {
            reason: "disk full".into(),
        };
        assert_eq!(
            chain(&ServeError::from(store)),
            "store: store unavailable: disk full"
        );
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "address in use");
        assert_eq!(chain(&ServeError::from(io)), "listen: address in use");
        let keys = crate::keyring::KeyError::from(sigil_store::Error::Unavailable {
            reason: "locked".into(),
        });
        assert_eq!(chain(&keys), "store: store unavailable: locked");
    }

    #[test]
    fn core_classes_map_to_spec_codes() {
        let cases = [
            (
                sigil_core::Error::Payload(sigil_core::PayloadFault::MissingKey { key: "data" }),
                ErrorCode::InvalidRequest,
            ),
            (
                sigil_core::Error::SignatureInvalid("x".into()),
                ErrorCode::InvalidSignature,
            ),
            (
                sigil_core::Window::SYMMETRIC_300S
                    .check(1_700_000_000_000, 1_700_000_400_000)
                    .unwrap_err(),
                ErrorCode::TimestampExpired,
            ),
            (
                sigil_core::Error::Token(sigil_core::TokenRefusal::Expired {
                    exp: 1,
                    now: 9,
                    leeway: 0,
                }),
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
            let refusal = error.fault().refusal();
            let description = refusal.description;
            assert_eq!(refusal.status, status, "{error:?}");
            assert_eq!(refusal.code.as_str(), code, "{error:?}");
            assert!(description.contains(phrase), "{error:?}: {description}");
            assert!(!description.contains("disk on fire") && !description.contains("line 3"));
        }
    }
}
