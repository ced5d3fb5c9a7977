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
    /// `GET`: the browser wallet's page (docs/protocol.md §16).
    pub const WALLET: &str = "/wallet";
    /// `GET`: the wallet page's scripts and styles, under content-hashed
    /// names (docs/protocol.md §16).
    pub const WALLET_ASSET: &str = "/wallet/{asset}";
    /// `GET`: the browser SDK as a classic script defining `sigil`.
    pub const SDK_JS: &str = "/sdk.js";
    /// `GET`: the browser SDK as an ES module.
    pub const SDK_MJS: &str = "/sdk.mjs";
    /// `GET`: the OAuth authorization endpoint (docs/protocol.md §17).
    pub const OAUTH_AUTHORIZE: &str = "/oauth2/authorize";
    /// `GET`: alias of [`OAUTH_AUTHORIZE`] under Sigma's prefix.
    pub const OAUTH_AUTHORIZE_ALIAS: &str = "/api/auth/oauth2/authorize";
    /// `POST`: the OAuth token endpoint.
    pub const OAUTH_TOKEN: &str = "/oauth2/token";
    /// `POST`: alias of [`OAUTH_TOKEN`].
    pub const OAUTH_TOKEN_ALIAS: &str = "/api/auth/oauth2/token";
    /// `POST`: RFC 7009 revocation.
    pub const OAUTH_REVOKE: &str = "/oauth2/revoke";
    /// `POST`: alias of [`OAUTH_REVOKE`].
    pub const OAUTH_REVOKE_ALIAS: &str = "/api/auth/oauth2/revoke";
    /// `POST`: RFC 7591 dynamic registration.
    pub const OAUTH_REGISTER: &str = "/oauth2/register";
    /// `POST`: alias of [`OAUTH_REGISTER`].
    pub const OAUTH_REGISTER_ALIAS: &str = "/api/auth/oauth2/register";
    /// `GET`: the login page; `POST`: the signed login challenge in, a
    /// session cookie out.
    pub const OAUTH_LOGIN: &str = "/oauth2/login";
    /// `POST`: the consent form's answer (Allow or Deny).
    pub const OAUTH_CONSENT: &str = "/oauth2/consent";
    /// `GET`: the signed-in person's page: apps with access, Sign out.
    pub const ACCOUNT: &str = "/account";
    /// `GET`: alias of [`ACCOUNT`].
    pub const ACCOUNT_ALIAS: &str = "/api/auth/account";
    /// `POST`: revoke an app's access (its consent and every token).
    pub const ACCOUNT_REVOKE: &str = "/account/revoke";
    /// `POST`: end the session.
    pub const ACCOUNT_SIGN_OUT: &str = "/account/sign-out";
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
    /// The browser wallet's page (docs/protocol.md §16).
    Wallet,
    /// One of the wallet page's scripts or styles.
    WalletAsset,
    /// The browser SDK as a classic script.
    Sdk,
    /// The browser SDK as an ES module.
    SdkModule,
    /// The OAuth authorization endpoint (docs/protocol.md §17).
    OAuthAuthorize,
    /// The OAuth token endpoint.
    OAuthToken,
    /// RFC 7009 revocation.
    OAuthRevoke,
    /// RFC 7591 dynamic registration.
    OAuthRegister,
    /// The login page and the signed challenge.
    OAuthLogin,
    /// The consent form's answer.
    OAuthConsent,
    /// The account page.
    Account,
    /// Revoking an app on the account page.
    AccountRevoke,
    /// Signing out.
    AccountSignOut,
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
const GET_POST: &[&str] = &["GET", "POST"];
const USERINFO: Route = Route::new(paths::USERINFO, GET_POST, Operation::UserInfo);
const OAUTH_AUTHORIZE: Route = Route::new(paths::OAUTH_AUTHORIZE, GET, Operation::OAuthAuthorize);
const OAUTH_TOKEN: Route = Route::new(paths::OAUTH_TOKEN, POST, Operation::OAuthToken);
const OAUTH_REVOKE: Route = Route::new(paths::OAUTH_REVOKE, POST, Operation::OAuthRevoke);
const OAUTH_REGISTER: Route = Route::new(paths::OAUTH_REGISTER, POST, Operation::OAuthRegister);
const ACCOUNT: Route = Route::new(paths::ACCOUNT, GET, Operation::Account);

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
    Route::new(paths::WALLET, GET, Operation::Wallet),
    Route::new(paths::WALLET_ASSET, GET, Operation::WalletAsset),
    Route::new(paths::SDK_JS, GET, Operation::Sdk),
    Route::new(paths::SDK_MJS, GET, Operation::SdkModule),
    OAUTH_AUTHORIZE,
    Route::alias(paths::OAUTH_AUTHORIZE_ALIAS, OAUTH_AUTHORIZE),
    OAUTH_TOKEN,
    Route::alias(paths::OAUTH_TOKEN_ALIAS, OAUTH_TOKEN),
    OAUTH_REVOKE,
    Route::alias(paths::OAUTH_REVOKE_ALIAS, OAUTH_REVOKE),
    OAUTH_REGISTER,
    Route::alias(paths::OAUTH_REGISTER_ALIAS, OAUTH_REGISTER),
    Route::new(paths::OAUTH_LOGIN, GET_POST, Operation::OAuthLogin),
    Route::new(paths::OAUTH_CONSENT, POST, Operation::OAuthConsent),
    ACCOUNT,
    Route::alias(paths::ACCOUNT_ALIAS, ACCOUNT),
    Route::new(paths::ACCOUNT_REVOKE, POST, Operation::AccountRevoke),
    Route::new(paths::ACCOUNT_SIGN_OUT, POST, Operation::AccountSignOut),
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

/// Which `WWW-Authenticate` challenge an answer carries (RFC 6750 §3,
/// RFC 9110 §15.5.2; docs/protocol.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Challenge {
    /// No challenge: every answer that is not a 401.
    None,
    /// Plain `Bearer`, no error attribute (RFC 6750 §3.1): no credentials
    /// were sent, or a 401 whose code RFC 6750 does not define
    /// (`invalid_signature`, `timestamp_expired`, `replay_detected`).
    Bearer,
    /// `Bearer error="invalid_token", error_description="…"`: the
    /// credentials sent were refused.
    InvalidToken,
}

/// One refusal a sigil process can answer with, as typed data: the row key
/// of the one error table ([`Fault::refusal`]). sigil-server's `ApiError`,
/// sigil-validator's `Rejection` and the CLI's exit codes all read it, so
/// the same fault gets the same status, code and headers from every
/// process. Not `#[non_exhaustive]` on purpose: a new fault must be mapped
/// wherever one is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// No credentials were sent (`x_auth_token`: the resource server also
    /// accepts an `X-Auth-Token`, which the description then names).
    MissingCredentials {
        /// Whether an `X-Auth-Token` would also have been accepted.
        x_auth_token: bool,
    },
    /// The bearer token was refused; the reason, rendered.
    InvalidToken(String),
    /// Malformed input (400); the description names the field.
    InvalidRequest(String),
    /// The body is over the limit (413).
    BodyTooLarge {
        /// The limit, bytes.
        limit: usize,
    },
    /// A JSON route without `Content-Type: application/json` (415).
    UnsupportedMediaType,
    /// The request did not complete within the request timeout (408).
    RequestTimeout {
        /// The timeout, milliseconds.
        timeout_ms: u64,
    },
    /// No route for the path (404).
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// The route exists, the method does not (405, `Allow` set).
    MethodNotAllowed {
        /// The methods the route has, e.g. `GET, HEAD`.
        allowed: String,
    },
    /// The endpoint is not an allowed absolute URL (400 `invalid_target`).
    InvalidTarget(String),
    /// A decodable signature that does not verify (401).
    InvalidSignature(String),
    /// The signed timestamp is outside the window (401).
    TimestampExpired(String),
    /// The signed statement was already used (401).
    ReplayDetected,
    /// A policy (account registry, payload hosts) refuses it (403).
    AccessDenied(String),
    /// A rate limit (429, `Retry-After`).
    RateLimited {
        /// What was exceeded, when the edge says more than "rate limit".
        reason: Option<String>,
        /// Seconds until a retry may succeed (at least 1 is sent).
        retry_after_s: u64,
    },
    /// The store, key set or replay memory cannot answer (503,
    /// `Retry-After: 1`); the cause is logged by the edge, never sent.
    Unavailable,
    /// A bug (500); the cause is logged by the edge, never sent.
    Internal,
    /// Refused at the connection, before any route runs (sigil-edge's
    /// listener): too many connections, or a request head hyper or the
    /// listener cannot take.
    Connection(ConnectionFault),
}

/// The refusals of the accept loop (docs/protocol.md §8,
/// `docs/decisions/0013-connection-limits.md`), made before any route
/// runs; each is one row of the table like every other [`Fault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionFault {
    /// More connections are open than `max_connections` (503,
    /// `Retry-After: 1`); the connection is closed after the answer.
    TooMany,
    /// HTTP/1.1 without `Host` (RFC 9112 §3.2; 400).
    MissingHost,
    /// The request line or a header could not be parsed (400).
    Malformed,
    /// The request target is longer than hyper takes (414).
    UriTooLong,
    /// The head is over `max_header_bytes` or has more than `max_headers`
    /// fields (431).
    HeadTooLarge,
}

/// What an edge sends for a [`Fault`]: docs/protocol.md §8's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// The `error` code.
    pub code: ErrorCode,
    /// The `WWW-Authenticate` challenge.
    pub challenge: Challenge,
    /// The `error_description`, with docs/protocol.md §8's phrases.
    pub description: String,
    /// `Retry-After`, seconds (429 and 503).
    pub retry_after_s: Option<u64>,
    /// `Allow` (405).
    pub allow: Option<String>,
}

impl Refusal {
    /// The `WWW-Authenticate` value, if any; always a valid header value.
    #[must_use]
    pub fn www_authenticate(&self) -> Option<String> {
        match self.challenge {
            Challenge::None => None,
            Challenge::Bearer => Some("Bearer".to_owned()),
            Challenge::InvalidToken => Some(invalid_token_challenge(&self.description)),
        }
    }

    /// The JSON body.
    #[must_use]
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code,
            error_description: self.description.clone(),
        }
    }

    /// Every header of the answer besides `Content-Type`, as (lower-case
    /// name, value): `cache-control: no-store` always, then
    /// `www-authenticate`, `retry-after` and `allow` when set.
    #[must_use]
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![("cache-control", "no-store".to_owned())];
        if let Some(challenge) = self.www_authenticate() {
            headers.push(("www-authenticate", challenge));
        }
        if let Some(seconds) = self.retry_after_s {
            headers.push(("retry-after", seconds.to_string()));
        }
        if let Some(allow) = &self.allow {
            headers.push(("allow", allow.clone()));
        }
        headers
    }
}

impl Fault {
    /// Every kind of fault, one example each, in the order of
    /// docs/protocol.md §8 (tests enumerate the table through it;
    /// [`Fault::index`] checks it is complete).
    #[must_use]
    pub fn examples() -> Vec<Self> {
        vec![
            Self::InvalidRequest("pubkey: not hex".into()),
            Self::BodyTooLarge { limit: 16_384 },
            Self::UnsupportedMediaType,
            Self::RequestTimeout { timeout_ms: 250 },
            Self::NotFound { path: "/x".into() },
            Self::MethodNotAllowed {
                allowed: "POST".into(),
            },
            Self::InvalidTarget("endpoint: not absolute".into()),
            Self::InvalidSignature("signature verification failed: other key".into()),
            Self::TimestampExpired("timestamp too old: 400 s".into()),
            Self::ReplayDetected,
            Self::MissingCredentials {
                x_auth_token: false,
            },
            Self::InvalidToken("token expired: exp 1 is 9 s before now 10".into()),
            Self::AccessDenied("key not allowed".into()),
            Self::RateLimited {
                reason: None,
                retry_after_s: 3,
            },
            Self::Unavailable,
            Self::Internal,
            Self::Connection(ConnectionFault::TooMany),
        ]
    }

    /// The number of kinds of fault: [`Fault::index`] is below it and
    /// [`Fault::examples`] has one of each.
    pub const KINDS: usize = 17;

    /// This fault's kind as a number in `0..KINDS` (an exhaustive match:
    /// a new variant does not compile until it has one).
    #[must_use]
    pub fn index(&self) -> usize {
        match self {
            Self::InvalidRequest(_) => 0,
            Self::BodyTooLarge { .. } => 1,
            Self::UnsupportedMediaType => 2,
            Self::RequestTimeout { .. } => 3,
            Self::NotFound { .. } => 4,
            Self::MethodNotAllowed { .. } => 5,
            Self::InvalidTarget(_) => 6,
            Self::InvalidSignature(_) => 7,
            Self::TimestampExpired(_) => 8,
            Self::ReplayDetected => 9,
            Self::MissingCredentials { .. } => 10,
            Self::InvalidToken(_) => 11,
            Self::AccessDenied(_) => 12,
            Self::RateLimited { .. } => 13,
            Self::Unavailable => 14,
            Self::Internal => 15,
            Self::Connection(_) => 16,
        }
    }

    /// A sigil-core error, by its class: malformed → `invalid_request`,
    /// verification → `invalid_signature`, window → `timestamp_expired`,
    /// token → `invalid_token`, policy → `access_denied`
    /// (docs/decisions/0002-signature-error-classes.md). The description
    /// is the error's `Display`.
    #[must_use]
    pub fn from_core(error: &crate::Error) -> Self {
        use crate::ErrorClass;
        let text = error.to_string();
        match error.class() {
            ErrorClass::Malformed => Self::InvalidRequest(text),
            ErrorClass::Verification => Self::InvalidSignature(text),
            ErrorClass::Timestamp => Self::TimestampExpired(text),
            ErrorClass::Token => Self::InvalidToken(text),
            ErrorClass::Policy => Self::AccessDenied(text),
        }
    }

    /// The one error table: status, code, challenge, description and
    /// headers of this fault (docs/protocol.md §8). A challenge is sent on
    /// every 401 and on nothing else: `error="invalid_token"` when a token
    /// was refused, plain `Bearer` when no credentials were sent or the
    /// 401 has a code RFC 6750 does not define.
    #[must_use]
    pub fn refusal(&self) -> Refusal {
        use {Challenge as H, ErrorCode as C};
        let row = |status, code, challenge, description: String| Refusal {
            status,
            code,
            challenge,
            description,
            retry_after_s: None,
            allow: None,
        };
        match self {
            Self::InvalidRequest(d) => row(400, C::InvalidRequest, H::None, d.clone()),
            Self::BodyTooLarge { limit } => row(
                413,
                C::InvalidRequest,
                H::None,
                format!("request body too large: the limit is {limit} bytes"),
            ),
            Self::UnsupportedMediaType => row(
                415,
                C::InvalidRequest,
                H::None,
                "the request body must be JSON, sent with Content-Type: application/json".into(),
            ),
            Self::RequestTimeout { timeout_ms } => row(
                408,
                C::InvalidRequest,
                H::None,
                format!(
                    "request timed out: it did not complete within {timeout_ms} ms; send the whole body promptly and retry"
                ),
            ),
            Self::NotFound { path } => row(
                404,
                C::NotFound,
                H::None,
                format!("no route for path {}", quoted_path(path)),
            ),
            Self::MethodNotAllowed { allowed } => Refusal {
                allow: Some(allowed.clone()),
                ..row(
                    405,
                    C::MethodNotAllowed,
                    H::None,
                    format!("method not allowed here; allowed methods: {allowed}"),
                )
            },
            Self::InvalidTarget(d) => row(400, C::InvalidTarget, H::None, d.clone()),
            Self::InvalidSignature(d) => row(401, C::InvalidSignature, H::Bearer, d.clone()),
            Self::TimestampExpired(d) => row(401, C::TimestampExpired, H::Bearer, d.clone()),
            Self::ReplayDetected => row(
                401,
                C::ReplayDetected,
                H::Bearer,
                "this signed statement was already used; sign a new one with a fresh timestamp"
                    .into(),
            ),
            Self::MissingCredentials { x_auth_token } => row(
                401,
                C::InvalidToken,
                H::Bearer,
                if *x_auth_token {
                    "a bearer token is required: send Authorization: Bearer <token> (or an X-Auth-Token)"
                } else {
                    "a bearer token is required: send Authorization: Bearer <token>"
                }
                .into(),
            ),
            Self::InvalidToken(d) => row(401, C::InvalidToken, H::InvalidToken, d.clone()),
            Self::AccessDenied(d) => row(403, C::AccessDenied, H::None, d.clone()),
            Self::RateLimited {
                reason,
                retry_after_s,
            } => {
                let retry_after_s = (*retry_after_s).max(1);
                let description = match reason {
                    Some(reason) => {
                        format!("rate limit exceeded: {reason}; retry after {retry_after_s} s")
                    }
                    None => format!("rate limit exceeded; retry after {retry_after_s} s"),
                };
                Refusal {
                    retry_after_s: Some(retry_after_s),
                    ..row(429, C::RateLimitExceeded, H::None, description)
                }
            }
            Self::Unavailable => Refusal {
                retry_after_s: Some(1),
                ..row(
                    503,
                    C::TemporarilyUnavailable,
                    H::None,
                    "the service cannot answer right now; nothing was issued or accepted, retry later"
                        .into(),
                )
            },
            Self::Internal => row(
                500,
                C::ServerError,
                H::None,
                "internal error; it has been logged with this request's id".into(),
            ),
            Self::Connection(fault) => match fault {
                ConnectionFault::TooMany => Refusal {
                    retry_after_s: Some(1),
                    ..row(
                        503,
                        C::TemporarilyUnavailable,
                        H::None,
                        "the server has too many open connections; retry in a moment".into(),
                    )
                },
                ConnectionFault::MissingHost => row(
                    400,
                    C::InvalidRequest,
                    H::None,
                    "the Host header is missing: HTTP/1.1 requests must name the host they are for"
                        .into(),
                ),
                ConnectionFault::Malformed => row(
                    400,
                    C::InvalidRequest,
                    H::None,
                    "the request could not be parsed as HTTP/1.1 (request line or a header is malformed)"
                        .into(),
                ),
                ConnectionFault::UriTooLong => row(
                    414,
                    C::InvalidRequest,
                    H::None,
                    "the request target (URL) is too long".into(),
                ),
                ConnectionFault::HeadTooLarge => row(
                    431,
                    C::InvalidRequest,
                    H::None,
                    "request header fields too large: the request head is over the size or count limit"
                        .into(),
                ),
            },
        }
    }
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

/// A path quoted for a description, cut to 100 characters.
fn quoted_path(text: &str) -> String {
    let cut: String = text.chars().take(100).collect();
    if cut.len() < text.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
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
    fn examples_cover_every_fault_once() {
        let mut seen = [0_usize; Fault::KINDS];
        for fault in Fault::examples() {
            seen[fault.index()] += 1;
        }
        assert_eq!(seen, [1; Fault::KINDS], "one example of each fault");
    }

    /// docs/protocol.md §8, written out: a broken mapping fails here.
    /// The accept loop's refusals are rows like the others.
    #[test]
    fn connection_refusals_are_rows_of_the_table() {
        use ConnectionFault as F;
        for (fault, status, phrase) in [
            (F::TooMany, 503, "too many open connections"),
            (F::MissingHost, 400, "Host header is missing"),
            (F::Malformed, 400, "could not be parsed"),
            (F::UriTooLong, 414, "too long"),
            (F::HeadTooLarge, 431, "header fields too large"),
        ] {
            let r = Fault::Connection(fault).refusal();
            assert_eq!(r.status, status, "{fault:?}");
            assert!(
                r.description.contains(phrase),
                "{fault:?}: {}",
                r.description
            );
            assert_eq!(r.challenge, Challenge::None);
            assert_eq!(r.retry_after_s, (status == 503).then_some(1), "{fault:?}");
        }
    }

    #[test]
    fn the_error_table() {
        use Challenge as H;
        let expected = [
            (400, "invalid_request", H::None, "pubkey"),
            (413, "invalid_request", H::None, "body too large"),
            (415, "invalid_request", H::None, "Content-Type"),
            (408, "invalid_request", H::None, "request timed out"),
            (404, "not_found", H::None, "/x"),
            (405, "method_not_allowed", H::None, "POST"),
            (400, "invalid_target", H::None, "endpoint"),
            (
                401,
                "invalid_signature",
                H::Bearer,
                "signature verification failed",
            ),
            (401, "timestamp_expired", H::Bearer, "timestamp too old"),
            (401, "replay_detected", H::Bearer, "already used"),
            (401, "invalid_token", H::Bearer, "bearer token"),
            (401, "invalid_token", H::InvalidToken, "token expired"),
            (403, "access_denied", H::None, "not allowed"),
            (429, "rate_limit_exceeded", H::None, "rate limit"),
            (503, "temporarily_unavailable", H::None, "retry later"),
            (500, "server_error", H::None, "logged"),
            (
                503,
                "temporarily_unavailable",
                H::None,
                "too many open connections",
            ),
        ];
        let faults = Fault::examples();
        assert_eq!(faults.len(), expected.len());
        for (fault, (status, code, challenge, phrase)) in faults.iter().zip(expected) {
            let r = fault.refusal();
            assert_eq!(
                (r.status, r.code.as_str(), r.challenge),
                (status, code, challenge),
                "{fault:?}"
            );
            assert!(
                r.description.contains(phrase),
                "{fault:?}: {}",
                r.description
            );
            // A challenge on every 401 and on nothing else.
            assert_eq!(r.status == 401, r.www_authenticate().is_some(), "{fault:?}");
            assert_eq!(
                r.retry_after_s.is_some(),
                matches!(r.status, 429 | 503),
                "{fault:?}"
            );
            assert_eq!(r.allow.is_some(), r.status == 405, "{fault:?}");
        }
        let refused = Fault::InvalidToken("wrong \"aud\"".into()).refusal();
        assert_eq!(
            refused.www_authenticate().unwrap(),
            "Bearer error=\"invalid_token\", error_description=\"wrong 'aud'\""
        );
        let limited = Fault::RateLimited {
            reason: Some("too many".into()),
            retry_after_s: 0,
        }
        .refusal();
        assert_eq!(limited.retry_after_s, Some(1));
        assert!(limited.description.contains("too many"));
    }

    #[test]
    fn core_classes_map_to_spec_codes() {
        use crate::Error;
        let cases = [
            (
                Error::Payload(crate::error::PayloadFault::MissingKey { key: "data" }),
                ErrorCode::InvalidRequest,
            ),
            (
                Error::SignatureInvalid("x".into()),
                ErrorCode::InvalidSignature,
            ),
            (
                crate::Window::SYMMETRIC_300S
                    .check(1_700_000_000_000, 1_700_000_400_000)
                    .unwrap_err(),
                ErrorCode::TimestampExpired,
            ),
            (
                Error::Token(crate::TokenRefusal::Expired {
                    exp: 1,
                    now: 9,
                    leeway: 0,
                }),
                ErrorCode::InvalidToken,
            ),
            (Error::NotAllowed("x".into()), ErrorCode::AccessDenied),
        ];
        for (error, code) in cases {
            assert_eq!(Fault::from_core(&error).refusal().code, code, "{error}");
        }
    }

    #[test]
    fn statuses_follow_spec_section_8() {
        let expected = [400, 404, 405, 400, 401, 401, 401, 401, 403, 429, 503, 500];
        let got: Vec<u16> = ErrorCode::ALL.iter().map(|c| c.status()).collect();
        assert_eq!(got, expected);
    }
}
