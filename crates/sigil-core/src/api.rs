//! The HTTP API's shared vocabulary (docs/protocol.md §3, 5 and 8): well-known
//! paths, the closed list of error codes, and the bodies a server sends and
//! a client reads. Plain data: no I/O.
//!
//! With the `openapi` feature the bodies also derive `utoipa::ToSchema`, so
//! the server's `/openapi.json` is generated from these very types.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Every path the token service answers, in one place.
pub mod paths {
    /// `POST`: a signed statement in, an access token out (docs/protocol.md §3).
    pub const TOKEN_FOR_ENDPOINT: &str = "/api/auth/token-for-endpoint";
    /// `GET`: the JSON Web Key Set (docs/protocol.md §5).
    pub const JWKS: &str = "/.well-known/jwks.json";
    /// `GET`: alias of [`JWKS`].
    pub const JWKS_ALIAS: &str = "/api/auth/jwks";
    /// `GET`: OpenID Connect discovery document.
    pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
    /// `GET`: RFC 8414 authorization server metadata (same document).
    pub const OAUTH_AUTHORIZATION_SERVER: &str = "/.well-known/oauth-authorization-server";
    /// `GET`: who the bearer token belongs to.
    pub const USERINFO: &str = "/userinfo";
    /// `GET`: alias of [`USERINFO`].
    pub const USERINFO_ALIAS: &str = "/api/auth/oauth2/userinfo";
    /// `GET`: liveness.
    pub const HEALTH: &str = "/health";
    /// `GET`: readiness (the store answers).
    pub const READY: &str = "/ready";
    /// `GET`: Prometheus metrics.
    pub const METRICS: &str = "/metrics";
    /// `GET`: the OpenAPI document of the whole HTTP surface.
    pub const OPENAPI: &str = "/openapi.json";
    /// `POST`: verify a Signup signed payload, once (docs/protocol.md §11).
    pub const PAYLOADS_VERIFY: &str = "/api/payloads/verify";
    /// `POST`: alias of [`PAYLOADS_VERIFY`].
    pub const PAYLOADS_VERIFY_ALIAS: &str = "/api/verify";
}

/// What a route does: the token service has one handler for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A signed statement in, an access token out (docs/protocol.md §3).
    IssueToken,
    /// A Signup signed payload verified once (docs/protocol.md §11).
    VerifyPayload,
    /// The JSON Web Key Set (docs/protocol.md §5).
    Jwks,
    /// The discovery document (OpenID Connect and RFC 8414).
    Discovery,
    /// Who a bearer token belongs to.
    UserInfo,
    /// Liveness.
    Health,
    /// Readiness.
    Ready,
    /// Prometheus metrics.
    Metrics,
    /// The OpenAPI document.
    OpenApi,
}

/// One route of the token service's HTTP surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The path, one of [`paths`].
    pub path: &'static str,
    /// The methods it answers (upper case; `GET` answers `HEAD` too); any
    /// other method is 405 `method_not_allowed`.
    pub methods: &'static [&'static str],
    /// Its `route` label in `/metrics`.
    pub label: &'static str,
    /// What it does.
    pub operation: Operation,
    /// The route it is an alias of (same operation, same document in
    /// `/openapi.json`), or `None` for a canonical route.
    pub alias_of: Option<&'static str>,
}

impl Route {
    const fn new(
        path: &'static str,
        methods: &'static [&'static str],
        operation: Operation,
    ) -> Self {
        Self {
            path,
            methods,
            label: path,
            operation,
            alias_of: None,
        }
    }

    const fn alias(path: &'static str, of: Self) -> Self {
        Self {
            path,
            label: path,
            alias_of: Some(of.path),
            ..of
        }
    }
}

const GET: &[&str] = &["GET"];
const POST: &[&str] = &["POST"];
const TOKEN_FOR_ENDPOINT: Route =
    Route::new(paths::TOKEN_FOR_ENDPOINT, POST, Operation::IssueToken);
const PAYLOADS_VERIFY: Route = Route::new(paths::PAYLOADS_VERIFY, POST, Operation::VerifyPayload);
const JWKS: Route = Route::new(paths::JWKS, GET, Operation::Jwks);
const OPENID_CONFIGURATION: Route =
    Route::new(paths::OPENID_CONFIGURATION, GET, Operation::Discovery);
const USERINFO: Route = Route::new(paths::USERINFO, GET, Operation::UserInfo);

/// Every route of the token service, the one list its router, its
/// `/metrics` labels and its `/openapi.json` are made from.
pub const ROUTES: &[Route] = &[
    TOKEN_FOR_ENDPOINT,
    PAYLOADS_VERIFY,
    Route::alias(paths::PAYLOADS_VERIFY_ALIAS, PAYLOADS_VERIFY),
    JWKS,
    Route::alias(paths::JWKS_ALIAS, JWKS),
    OPENID_CONFIGURATION,
    Route::alias(paths::OAUTH_AUTHORIZATION_SERVER, OPENID_CONFIGURATION),
    USERINFO,
    Route::alias(paths::USERINFO_ALIAS, USERINFO),
    Route::new(paths::HEALTH, GET, Operation::Health),
    Route::new(paths::READY, GET, Operation::Ready),
    Route::new(paths::METRICS, GET, Operation::Metrics),
    Route::new(paths::OPENAPI, GET, Operation::OpenApi),
];

/// The closed list of error codes of docs/protocol.md §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// Malformed request: JSON, a field, a signature encoding, the message
    /// form, the body size or content type.
    InvalidRequest,
    /// No such route.
    NotFound,
    /// The route exists, the method does not.
    MethodNotAllowed,
    /// The endpoint is not an allowed absolute URL.
    InvalidTarget,
    /// A decodable signature that does not prove what it claims.
    InvalidSignature,
    /// The signed timestamp is outside the window.
    TimestampExpired,
    /// The signed statement was already used.
    ReplayDetected,
    /// A bearer token is missing, malformed, expired or not for us.
    InvalidToken,
    /// The key (or payload host) is not allowed.
    AccessDenied,
    /// A rate limit was hit.
    RateLimitExceeded,
    /// The store cannot answer.
    TemporarilyUnavailable,
    /// A bug.
    ServerError,
}

impl ErrorCode {
    /// Every code, in the order of docs/protocol.md §8.
    pub const ALL: [Self; 12] = [
        Self::InvalidRequest,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::InvalidTarget,
        Self::InvalidSignature,
        Self::TimestampExpired,
        Self::ReplayDetected,
        Self::InvalidToken,
        Self::AccessDenied,
        Self::RateLimitExceeded,
        Self::TemporarilyUnavailable,
        Self::ServerError,
    ];

    /// The wire string, e.g. `invalid_request`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidSignature => "invalid_signature",
            Self::TimestampExpired => "timestamp_expired",
            Self::ReplayDetected => "replay_detected",
            Self::InvalidToken => "invalid_token",
            Self::AccessDenied => "access_denied",
            Self::RateLimitExceeded => "rate_limit_exceeded",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::ServerError => "server_error",
        }
    }

    /// The HTTP status docs/protocol.md §8 gives the code. `invalid_request` is
    /// 400 here; a server answers 413 or 415 with it for the body size and
    /// content type.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidRequest | Self::InvalidTarget => 400,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::InvalidSignature
            | Self::TimestampExpired
            | Self::ReplayDetected
            | Self::InvalidToken => 401,
            Self::AccessDenied => 403,
            Self::RateLimitExceeded => 429,
            Self::TemporarilyUnavailable => 503,
            Self::ServerError => 500,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one error body of every refusal (docs/protocol.md §8, RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The code.
    pub error: ErrorCode,
    /// One sentence for a human, containing the phrases of docs/protocol.md §8.
    pub error_description: String,
}

/// The body of a successful `POST /api/auth/token-for-endpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    /// The ES256 `at+jwt` access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until `exp`.
    pub expires_in: u64,
}

/// The body of `GET /userinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserInfo {
    /// The token's subject: 66 lower-case hex characters.
    pub sub: String,
    /// The same key (the seed's clients read `pubkey`).
    pub pubkey: String,
    /// Mainnet P2PKH address of the key.
    pub address: String,
    /// BAP identity, when the account registry knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bap_id: Option<String>,
    /// Account name, when the account registry knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The body of a successful `POST /api/payloads/verify` (docs/protocol.md §11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PayloadVerification {
    /// Always `true`: every refusal is an [`ErrorBody`].
    pub verified: bool,
    /// The signer's address, normalised: CashAddr in any accepted spelling
    /// becomes lower-case CashAddr with its prefix; legacy stays legacy.
    pub address: String,
    /// The payload's `requestedBy`, one of the server's allowed hosts.
    #[serde(rename = "requestedBy")]
    pub requested_by: String,
    /// The payload's `signedBy`.
    #[serde(rename = "signedBy")]
    pub signed_by: String,
    /// The payload's `timestamp`, ms since the epoch.
    pub timestamp: u64,
    /// Lower-case hex SHA-256 of the payload bytes that were verified: the
    /// replay key, the same for every encoding of the signature.
    pub payload_sha256: String,
    /// `true` when the payload arrived as an object and was re-serialised
    /// as `JSON.stringify` writes it (and that text verified); `false` when
    /// it arrived as the exact signed text.
    pub reserialised: bool,
}

/// The `WWW-Authenticate` value of a refused bearer token (RFC 6750
/// §3): `Bearer error="invalid_token", error_description="…"`, the
/// description made safe for a quoted string: printable ASCII only (`"`
/// becomes `'`, `\` and anything else `?`), at most 200 characters. It is
/// always a valid header value.
#[must_use]
pub fn invalid_token_challenge(description: &str) -> String {
    let safe: String = description
        .chars()
        .map(|c| match c {
            '"' => '\'',
            c if (c.is_ascii_graphic() && c != '\\') || c == ' ' => c,
            _ => '?',
        })
        .take(200)
        .collect();
    format!("Bearer error=\"invalid_token\", error_description=\"{safe}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_wire_strings() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: ErrorCode = serde_json::from_str(&json).unwrap();
            assert_eq!(back, code);
        }
    }

    #[test]
    fn invalid_token_challenge_is_a_safe_quoted_string() {
        assert_eq!(
            invalid_token_challenge("wrong \"aud\"\n\\ é"),
            "Bearer error=\"invalid_token\", error_description=\"wrong 'aud'?? ?\""
        );
        let long = invalid_token_challenge(&"x".repeat(500));
        assert_eq!(long.matches('x').count(), 200);
    }

    #[test]
    fn the_route_list_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for route in ROUTES {
            assert!(seen.insert(route.path), "{} listed twice", route.path);
            assert!(route.path.starts_with('/'), "{}", route.path);
            assert!(
                !route.methods.is_empty(),
                "{} answers no method",
                route.path
            );
            assert!(
                route.methods.iter().all(|m| ["GET", "POST"].contains(m)),
                "{}: {:?}",
                route.path,
                route.methods
            );
            assert!(ROUTES.iter().filter(|r| r.label == route.label).count() == 1);
            if let Some(canonical) = route.alias_of {
                let of = ROUTES.iter().find(|r| r.path == canonical);
                let of = of.unwrap_or_else(|| panic!("{} aliases no route", route.path));
                assert!(
                    of.alias_of.is_none(),
                    "{}: an alias of an alias",
                    route.path
                );
                assert_eq!(
                    (of.operation, of.methods),
                    (route.operation, route.methods),
                    "{}",
                    route.path
                );
            } else {
                let canonical = ROUTES
                    .iter()
                    .filter(|r| r.operation == route.operation && r.alias_of.is_none());
                assert_eq!(canonical.count(), 1, "{:?}", route.operation);
            }
        }
    }

    #[test]
    fn statuses_follow_spec_section_8() {
        let expected = [400, 404, 405, 400, 401, 401, 401, 401, 403, 429, 503, 500];
        let got: Vec<u16> = ErrorCode::ALL.iter().map(|c| c.status()).collect();
        assert_eq!(got, expected);
    }
}
