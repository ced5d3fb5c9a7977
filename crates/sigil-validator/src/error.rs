//! The two error types: [`Error`] for configuring the validator and fetching
//! keys, [`Rejection`] for refusing a request (docs/protocol.md §8).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sigil_core::api::{ErrorCode, Fault};
use sigil_edge::Decision;

/// Why a validator could not be built, or its keys not fetched.
///
/// Messages are lower case, name what was wrong and never contain secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is unusable (an issuer URL that is not https, a leeway over
    /// 30 s, a zero limit, …).
    #[error("config: {0}")]
    Config(String),
    /// The discovery document could not be fetched or is unusable.
    #[error("discovery: {0}")]
    Discovery(String),
    /// The JWKS could not be fetched (network, status, size, redirect).
    #[error("jwks fetch: {0}")]
    Fetch(String),
    /// The JWKS was fetched but refused (security catalogue T12); the
    /// previous good key set stays in use.
    #[error("jwks refused: {0}")]
    Jwks(String),
    /// The replay guard could not answer (or is full): the statement is
    /// refused with 503.
    #[error("replay guard: {0}")]
    ReplayGuard(String),
}

/// A refused request. [`IntoResponse`] renders docs/protocol.md §8's body
/// `{"error", "error_description"}` with `Cache-Control: no-store`, and on
/// 401 a `WWW-Authenticate` challenge (RFC 6750 section 3):
/// `Bearer error="invalid_token", error_description="…"` for a refused
/// token, plain `Bearer` otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// 401 `invalid_token`: no credentials at all (challenge: plain `Bearer`).
    #[error("no credentials")]
    MissingCredentials,
    /// 401 `invalid_token`: the bearer token is malformed, expired, for
    /// another audience or issuer, badly signed, or insufficient alone
    /// where signed requests are required. Holds the reason.
    #[error("{0}")]
    InvalidToken(String),
    /// 400 `invalid_request`: a malformed header (an undecodable signature,
    /// a timestamp that is not digits, a malformed `X-Auth-Token`, a signed
    /// request header missing while the others are present).
    #[error("{0}")]
    InvalidRequest(String),
    /// 413 `invalid_request`: the body is over the limit the validator
    /// buffers to hash it.
    #[error("request body too large: the limit is {limit} bytes")]
    BodyTooLarge {
        /// The limit, bytes.
        limit: usize,
    },
    /// 401 `invalid_signature`: the signature does not verify for the
    /// token's `sub` (or the `X-Auth-Token` key), or the body hash, target or
    /// method does not match what was received.
    #[error("{0}")]
    InvalidSignature(String),
    /// 401 `timestamp_expired`: outside the ±300 s window.
    #[error("{0}")]
    TimestampExpired(String),
    /// 401 `replay_detected`: the signed statement was already used.
    #[error("this signed statement was already used")]
    ReplayDetected,
    /// 403 `access_denied`: a verified statement that a policy refuses
    /// (a sigil-core policy error, e.g. a payload host not allowed). The
    /// token service answers the same (docs/protocol.md §8).
    #[error("{0}")]
    AccessDenied(String),
    /// Any other refusal of the one error table
    /// (`sigil_core::api::Fault`) that an application behind the
    /// validator answers with (404, 405, 408, 415, `invalid_target`):
    /// rendered exactly as the token service renders it.
    #[error("{}", .0.refusal().description)]
    Fault(Fault),
    /// 429 `rate_limit_exceeded`: this client address sent more signed
    /// requests and `X-Auth-Token`s than its limit, or holds its share of a
    /// full replay memory. `Retry-After` is set, and the `X-RateLimit-*`
    /// headers when the limit was consulted (docs/protocol.md §10).
    #[error("rate limit exceeded; retry after {retry_after_s} s")]
    RateLimited {
        /// What was exceeded, for the description (`None`: just "rate
        /// limit exceeded").
        reason: Option<String>,
        /// Seconds until a retry may succeed (`Retry-After`).
        retry_after_s: u64,
        /// The per-address bucket's state, for the `X-RateLimit-*`
        /// headers; `None` when the limit is off.
        limit: Option<Decision>,
    },
    /// 503 `temporarily_unavailable`: no usable key set (the JWKS cannot be
    /// fetched) or the replay guard cannot answer. Nothing is accepted then.
    /// The cause is logged, never sent.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// 500 `server_error`: a wiring bug, e.g. the [`Authenticated`]
    /// extractor used on a route the validator layer does not cover. The
    /// cause is logged, never sent.
    ///
    /// [`Authenticated`]: crate::Authenticated
    #[error("internal: {0}")]
    Internal(String),
}

impl Rejection {
    /// Maps a sigil-core error by its class through the one table
    /// ([`Fault::from_core`]): malformed → 400 `invalid_request`,
    /// verification → 401 `invalid_signature`, window → 401
    /// `timestamp_expired`, token → 401 `invalid_token`, policy → 403
    /// `access_denied`, as the token service does
    /// (`docs/decisions/0002-signature-error-classes.md`,
    /// `docs/decisions/0014-one-error-table.md`).
    #[must_use]
    pub fn from_core(error: &sigil_core::Error) -> Self {
        Self::from(Fault::from_core(error))
    }

    /// The fault of the one error table this rejection is; status, code,
    /// description and headers come from it.
    #[must_use]
    pub fn fault(&self) -> Fault {
        match self {
            Self::MissingCredentials => Fault::MissingCredentials { x_auth_token: true },
            Self::InvalidToken(d) => Fault::InvalidToken(d.clone()),
            Self::InvalidRequest(d) => Fault::InvalidRequest(d.clone()),
            Self::BodyTooLarge { limit } => Fault::BodyTooLarge { limit: *limit },
            Self::InvalidSignature(d) => Fault::InvalidSignature(d.clone()),
            Self::TimestampExpired(d) => Fault::TimestampExpired(d.clone()),
            Self::ReplayDetected => Fault::ReplayDetected,
            Self::AccessDenied(d) => Fault::AccessDenied(d.clone()),
            Self::Fault(fault) => fault.clone(),
            Self::RateLimited {
                reason,
                retry_after_s,
                ..
            } => Fault::RateLimited {
                reason: reason.clone(),
                retry_after_s: *retry_after_s,
            },
            Self::Unavailable(_) => Fault::Unavailable,
            Self::Internal(_) => Fault::Internal,
        }
    }

    /// The docs/protocol.md §8 code.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        self.fault().refusal().code
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.fault().refusal().status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The `error_description` sent: the reason, with docs/protocol.md §8's
    /// phrases (`token expired`, `signature verification failed`,
    /// `timestamp too old`, `already used`, `body too large`, `rate
    /// limit`); nothing internal for 5xx.
    #[must_use]
    pub fn description(&self) -> String {
        self.fault().refusal().description
    }
}

impl From<Fault> for Rejection {
    /// The validator's rejection for a fault of the table. A 503 or 500
    /// made this way has no cause to log beyond its kind.
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::MissingCredentials { .. } => Self::MissingCredentials,
            Fault::InvalidToken(d) => Self::InvalidToken(d),
            Fault::InvalidRequest(d) => Self::InvalidRequest(d),
            Fault::BodyTooLarge { limit } => Self::BodyTooLarge { limit },
            Fault::InvalidSignature(d) => Self::InvalidSignature(d),
            Fault::TimestampExpired(d) => Self::TimestampExpired(d),
            Fault::ReplayDetected => Self::ReplayDetected,
            Fault::AccessDenied(d) => Self::AccessDenied(d),
            Fault::RateLimited {
                reason,
                retry_after_s,
            } => Self::RateLimited {
                reason,
                retry_after_s,
                limit: None,
            },
            Fault::Unavailable => Self::Unavailable("unavailable".into()),
            Fault::Internal => Self::Internal("internal error".into()),
            other @ (Fault::UnsupportedMediaType
            | Fault::RequestTimeout { .. }
            | Fault::NotFound { .. }
            | Fault::MethodNotAllowed { .. }
            | Fault::InvalidTarget(_)
            | Fault::Connection(_)) => Self::Fault(other),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match &self {
            // The causes are logged where they happen (a failed JWKS fetch
            // once per cool-down, a replay guard error per request).
            Self::Unavailable(cause) => tracing::debug!(%cause, "sigil-validator: 503"),
            Self::Internal(cause) => tracing::error!(%cause, "sigil-validator: 500"),
            _ => {}
        }
        let mut response = sigil_edge::refusal(&self.fault());
        if let Self::RateLimited {
            limit: Some(decision),
            ..
        } = &self
        {
            decision.write_headers(response.headers_mut());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    #[test]
    fn every_variant_has_its_status_code_and_phrase() {
        let cases = [
            (
                Rejection::MissingCredentials,
                401,
                "invalid_token",
                "bearer token",
            ),
            (
                Rejection::InvalidToken("token expired: x".into()),
                401,
                "invalid_token",
                "token expired",
            ),
            (
                Rejection::InvalidRequest("signature: x".into()),
                400,
                "invalid_request",
                "signature",
            ),
            (
                Rejection::BodyTooLarge { limit: 10 },
                413,
                "invalid_request",
                "body too large",
            ),
            (
                Rejection::InvalidSignature("signature verification failed: x".into()),
                401,
                "invalid_signature",
                "signature verification failed",
            ),
            (
                Rejection::TimestampExpired("timestamp too old: x".into()),
                401,
                "timestamp_expired",
                "timestamp too old",
            ),
            (
                Rejection::ReplayDetected,
                401,
                "replay_detected",
                "already used",
            ),
            (
                Rejection::RateLimited {
                    reason: Some("too many".into()),
                    retry_after_s: 3,
                    limit: None,
                },
                429,
                "rate_limit_exceeded",
                "rate limit",
            ),
            (
                Rejection::Unavailable("issuer down at 10.0.0.1".into()),
                503,
                "temporarily_unavailable",
                "retry later",
            ),
            (
                Rejection::Internal("layer missing".into()),
                500,
                "server_error",
                "logged",
            ),
        ];
        for (rejection, status, code, phrase) in cases {
            assert_eq!(rejection.status().as_u16(), status, "{rejection:?}");
            assert_eq!(rejection.code().as_str(), code, "{rejection:?}");
            let description = rejection.description();
            assert!(description.contains(phrase), "{rejection:?}: {description}");
            assert!(!description.contains("10.0.0.1") && !description.contains("layer missing"));
        }
    }

    #[test]
    fn core_classes_map_to_spec_codes() {
        let cases = [
            (
                sigil_core::Error::SignatureEncoding("x".into()),
                ErrorCode::InvalidRequest,
            ),
            (
                sigil_core::Error::SignatureInvalid("x".into()),
                ErrorCode::InvalidSignature,
            ),
            (
                sigil_core::Window::SYMMETRIC_300S
                    .check(1_700_000_400_000, 1_700_000_000_000)
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
                sigil_core::Error::Token(sigil_core::TokenRefusal::UnknownKid {
                    kid: "x".into(),
                    issuer: None,
                }),
                ErrorCode::InvalidToken,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(Rejection::from_core(&error).code(), code, "{error}");
        }
    }

    #[test]
    fn challenges() {
        let challenge = |r: Rejection| {
            r.into_response()
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(challenge(Rejection::MissingCredentials).unwrap(), "Bearer");
        assert_eq!(
            challenge(Rejection::InvalidToken("wrong \"aud\"\n\\".into())).unwrap(),
            "Bearer error=\"invalid_token\", error_description=\"wrong 'aud'??\""
        );
        assert_eq!(challenge(Rejection::ReplayDetected).unwrap(), "Bearer");
        assert_eq!(challenge(Rejection::InvalidRequest("x".into())), None);
        assert_eq!(challenge(Rejection::Unavailable("x".into())), None);
    }

    #[test]
    fn rate_limited_answers_carry_retry_after_and_the_limit() {
        let header = |r: &Response, name: &str| {
            r.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let decision = Decision {
            allowed: false,
            limit: 300,
            remaining: 0,
            reset_s: 12,
            retry_after_s: 2,
        };
        let limited = Rejection::RateLimited {
            reason: Some("too many".into()),
            retry_after_s: 2,
            limit: Some(decision),
        }
        .into_response();
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        for (name, value) in [
            ("retry-after", "2"),
            ("x-ratelimit-limit", "300"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "12"),
        ] {
            assert_eq!(header(&limited, name).as_deref(), Some(value), "{name}");
        }
        let without = Rejection::RateLimited {
            reason: Some("full".into()),
            retry_after_s: 0,
            limit: None,
        }
        .into_response();
        assert_eq!(header(&without, "retry-after").as_deref(), Some("1"));
        assert_eq!(header(&without, "x-ratelimit-limit"), None);
    }
}
