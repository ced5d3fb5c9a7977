//! [`Validator`]: the checks, in the order a request meets them.

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;
use http::request::Parts;
use sigil_core::auth_token::{self, BodyEncoding, Origin, PathBinding, RequestFacts};
use sigil_core::jwt::{self, ValidationRules, VerifiedClaims};
use sigil_core::signature::Signature;
use sigil_core::{PublicKey, ReplayKey, Window, signed_request, timestamp};

use crate::admission::{Admission, Gate};
use crate::authenticated::{AuthKind, Authenticated};
use crate::builder::ValidatorBuilder;
use crate::credentials::{
    SignedHeaders, X_AUTH_TOKEN_HEADER, bearer, has_signed_headers, signed_headers, single,
};
use crate::error::{Error, Rejection};
use crate::key_cache::KeyCache;
use crate::layer::AuthLayer;
use crate::replay::{Insertion, ReplayGuard, ReplayKind, ReplayRecord};
use crate::x_auth_mode::XAuthTokenMode;

/// The clock: ms since the Unix epoch.
#[derive(Clone)]
pub(crate) struct Clock(pub(crate) Arc<dyn Fn() -> u64 + Send + Sync>);

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// Checks sigil access tokens, signed requests and `X-Auth-Token`s for one
/// issuer and audience. Cheap to clone (one `Arc`); share one per audience.
///
/// Build with [`Validator::discover`] or [`Validator::builder`]; protect
/// routes with [`Validator::layer`] and read the caller with the
/// [`Authenticated`] extractor, or put the validator in the router state
/// and use [`AuthenticatedRequest`](crate::AuthenticatedRequest).
#[derive(Clone)]
pub struct Validator {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) rules: ValidationRules,
    pub(crate) keys: KeyCache,
    pub(crate) replay: Arc<dyn ReplayGuard>,
    pub(crate) gate: Gate,
    pub(crate) clock: Clock,
    pub(crate) require_signed_requests: bool,
    /// The effective mode (`path` raised to `url` by
    /// `require_signed_requests`).
    pub(crate) x_auth_token: XAuthTokenMode,
    /// The audience's origins, for the absolute-URL form.
    pub(crate) origins: Vec<Origin>,
    pub(crate) body_encoding: BodyEncoding,
    pub(crate) window: Window,
    pub(crate) max_body_bytes: usize,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("Validator")
            .field("rules", &inner.rules)
            .field("require_signed_requests", &inner.require_signed_requests)
            .field("x_auth_token", &inner.x_auth_token)
            .field("gate", &inner.gate)
            .field("window", &inner.window)
            .field("replay", &inner.replay)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// A builder for tokens of `issuer` (compared exactly with `iss`; its
    /// discovery document gives the JWKS) meant for `audience` (matched as
    /// a path prefix, docs/protocol.md §15).
    pub fn builder(issuer: impl Into<String>, audience: impl Into<String>) -> ValidatorBuilder {
        ValidatorBuilder::new(issuer.into(), audience.into())
    }

    /// A validator with every default, its keys fetched now:
    /// `Validator::builder(issuer, audience).discover().await`.
    ///
    /// # Errors
    /// As [`ValidatorBuilder::discover`].
    pub async fn discover(
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Result<Self, Error> {
        Self::builder(issuer, audience).discover().await
    }

    pub(crate) fn from_inner(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// A tower layer that authenticates every request of the routes it
    /// wraps (see [`AuthLayer`]).
    #[must_use]
    pub fn layer(&self) -> AuthLayer {
        AuthLayer::new(self.clone())
    }

    /// The configured issuer.
    #[must_use]
    pub fn issuer(&self) -> &str {
        self.inner.rules.issuer()
    }

    /// The validator's clock, ms since the Unix epoch.
    #[must_use]
    pub fn now_ms(&self) -> u64 {
        (self.inner.clock.0)()
    }

    /// The largest body buffered for a signed request or an `X-Auth-Token`.
    #[must_use]
    pub fn max_body_bytes(&self) -> usize {
        self.inner.max_body_bytes
    }

    /// Whether [`authenticate`](Self::authenticate) needs the body for
    /// these headers: a signed request or an `X-Auth-Token`. A bearer-only
    /// request is checked without reading (or buffering) the body. These
    /// are also the requests the per-address rate limit counts.
    #[must_use]
    pub fn needs_body(&self, headers: &HeaderMap) -> bool {
        has_signed_headers(headers)
            || (self.inner.x_auth_token != XAuthTokenMode::Off
                && headers.contains_key(X_AUTH_TOKEN_HEADER))
    }

    /// How `X-Auth-Token`s are taken: the configured mode, `path` raised to
    /// `url` when signed requests are required.
    #[must_use]
    pub fn x_auth_token_mode(&self) -> XAuthTokenMode {
        self.inner.x_auth_token
    }

    /// Step 1 of every request, before its body is read: the client
    /// address, and the per-address limit for a request that carries a
    /// per-request signature.
    pub(crate) fn admit(&self, parts: &Parts) -> Result<Admission, Rejection> {
        let limited = self.needs_body(&parts.headers);
        self.inner.gate.admit(parts, limited, self.now_ms())
    }

    /// Fetches the JWKS now (the discovery document first if needed),
    /// ignoring the cache and the cool-down. A failure keeps the previous
    /// key set. No-op for a validator with fixed keys.
    ///
    /// # Errors
    /// [`Error::Discovery`], [`Error::Fetch`] or [`Error::Jwks`].
    pub async fn refresh_keys(&self) -> Result<(), Error> {
        self.inner.keys.force_refresh(self.now_ms()).await
    }

    /// Checks a bearer access token: ES256 with a key of the issuer's JWKS
    /// (refetched at most once per cool-down for an unknown `kid`), `typ`
    /// `at+jwt`, no `crit`, `iss`, `aud`, `sub`, `exp`/`nbf`/`iat` with the
    /// leeway (see [`sigil_core::jwt::validate`]).
    ///
    /// # Errors
    /// [`Rejection::InvalidToken`] with the reason (`token expired` when
    /// expired); [`Rejection::Unavailable`] when no key set can be had.
    pub async fn validate_token(&self, token: &str) -> Result<VerifiedClaims, Rejection> {
        self.validate_token_at(token, self.now_ms()).await
    }

    async fn validate_token_at(
        &self,
        token: &str,
        now_ms: u64,
    ) -> Result<VerifiedClaims, Rejection> {
        let inner = &self.inner;
        let now_s = now_ms / 1000;
        let snapshot = inner.keys.usable(now_ms).await?;
        match jwt::validate(token, &snapshot.keys, &inner.rules, now_s) {
            Err(
                unknown @ sigil_core::Error::Token(sigil_core::TokenRefusal::UnknownKid { .. }),
            ) => {
                let newer = inner.keys.after_unknown_kid(now_ms, &snapshot).await?;
                if Arc::ptr_eq(&newer, &snapshot) {
                    return Err(Rejection::from_core(&unknown));
                }
                jwt::validate(token, &newer.keys, &inner.rules, now_s)
                    .map_err(|e| Rejection::from_core(&e))
            }
            other => other.map_err(|e| Rejection::from_core(&e)),
        }
    }

    /// Authenticates one request from its head and its body bytes exactly
    /// as received:
    ///
    /// 0. a request carrying a signed request or an `X-Auth-Token` is
    ///    counted against its client address's rate limit (see
    ///    [`ValidatorBuilder::rate_limit`]; the address comes from the
    ///    `ConnectInfo<SocketAddr>` extension in `parts`), before anything
    ///    is verified;
    /// 1. `Authorization: Bearer` → [`validate_token`](Self::validate_token);
    ///    then, when `X-Timestamp`/`X-Body-Hash`/`X-Signature` are present,
    ///    the signed request of docs/protocol.md §6 (signer = `sub`), else, when
    ///    signed requests are required, a refusal;
    /// 2. otherwise an `X-Auth-Token` (docs/protocol.md §7), when accepted;
    /// 3. otherwise 401 with a plain `Bearer` challenge.
    ///
    /// # Errors
    /// The [`Rejection`] of the first failed check.
    pub async fn authenticate(
        &self,
        parts: &Parts,
        body: &[u8],
    ) -> Result<Authenticated, Rejection> {
        let admission = self.admit(parts)?;
        self.authenticate_admitted(parts, body, &admission).await
    }

    /// [`authenticate`](Self::authenticate) after [`admit`](Self::admit).
    pub(crate) async fn authenticate_admitted(
        &self,
        parts: &Parts,
        body: &[u8],
        admission: &Admission,
    ) -> Result<Authenticated, Rejection> {
        let now_ms = self.now_ms();
        let headers = &parts.headers;
        if let Some(token) = bearer(headers)? {
            let claims = self.validate_token_at(token, now_ms).await?;
            return match signed_headers(headers)? {
                Some(signed) => {
                    let request = SignedRequest {
                        parts,
                        body,
                        sub: &claims.sub,
                        signed: &signed,
                    };
                    self.check_signed_request(&request, admission, now_ms)
                        .await?;
                    Ok(Authenticated::from_token(claims, AuthKind::Signed))
                }
                None if self.inner.require_signed_requests => Err(Rejection::InvalidToken(
                    "signed request required: a bearer token alone is not accepted here; send X-Timestamp, X-Body-Hash and X-Signature".into(),
                )),
                None => Ok(Authenticated::from_token(claims, AuthKind::Bearer)),
            };
        }
        if self.inner.x_auth_token != XAuthTokenMode::Off
            && let Some(value) = single(headers, X_AUTH_TOKEN_HEADER)?
        {
            return self
                .check_auth_token(parts, body, value, admission, now_ms)
                .await;
        }
        if has_signed_headers(headers) {
            return Err(Rejection::InvalidToken(
                "a signed request needs its access token: send Authorization: Bearer <token>"
                    .into(),
            ));
        }
        Err(Rejection::MissingCredentials)
    }

    /// docs/protocol.md §6, cheapest checks first: the headers decode; the body
    /// hash is the SHA-256 of the received body; the timestamp is inside the
    /// window; the signature over `METHOD:target:bodyHash:timestamp` (the
    /// method and target as received) is by the token's `sub` (a BRC-77
    /// sender must be `sub`); the statement was not used before.
    async fn check_signed_request(
        &self,
        request: &SignedRequest<'_>,
        admission: &Admission,
        now_ms: u64,
    ) -> Result<(), Rejection> {
        let SignedRequest {
            parts,
            body,
            sub,
            signed,
        } = *request;
        let timestamp_ms = timestamp::parse_ms(signed.timestamp)
            .map_err(|e| Rejection::InvalidRequest(format!("X-Timestamp: {e}")))?;
        let signature = Signature::from_text(signed.signature)
            .map_err(|e| Rejection::InvalidRequest(format!("X-Signature: {e}")))?;
        let body_hash = signed_request::body_hash(body);
        if signed.body_hash != body_hash {
            return Err(Rejection::InvalidSignature(
                "signature verification failed: X-Body-Hash is not the SHA-256 of the received body"
                    .into(),
            ));
        }
        self.inner
            .window
            .check(timestamp_ms, now_ms)
            .map_err(|e| Rejection::from_core(&e))?;
        let statement = signed_request::statement(
            parts.method.as_str(),
            request_target(parts),
            &body_hash,
            timestamp_ms,
        );
        signature
            .verify(statement.as_bytes(), sub)
            .map_err(|e| Rejection::from_core(&e))?;
        let key = ReplayKey::for_statement(sub, statement.as_bytes());
        self.spend(ReplayKind::SignedRequest, key, admission, now_ms)
            .await
    }

    /// docs/protocol.md §7 through [`sigil_core::auth_token::verify_bound`]
    /// (`requestPath` = the received target, or the absolute URL of it on
    /// the audience's origin, as the mode allows; two-sided window; BRC-77
    /// sender = `pubkey`), then the replay guard.
    async fn check_auth_token(
        &self,
        parts: &Parts,
        body: &[u8],
        value: &str,
        admission: &Admission,
        now_ms: u64,
    ) -> Result<Authenticated, Rejection> {
        let origins = &self.inner.origins;
        let binding = match self.inner.x_auth_token {
            XAuthTokenMode::Url => PathBinding::Url(origins),
            _ if origins.is_empty() => PathBinding::Path,
            _ => PathBinding::PathOrUrl(origins),
        };
        let facts = RequestFacts {
            request_path: request_target(parts),
            body: (!body.is_empty()).then_some(body),
            body_encoding: self.inner.body_encoding,
            now_ms,
            window: self.inner.window,
        };
        let verified = auth_token::verify_bound(value, &facts, binding)
            .map_err(|e| Rejection::from_core(&e))?;
        self.spend(
            ReplayKind::AuthToken,
            verified.replay_key,
            admission,
            now_ms,
        )
        .await?;
        Ok(Authenticated::from_auth_token(verified.signer))
    }

    /// Records a statement once, counted for the admitted client. The
    /// record lives for the window's whole span from now (≥ the
    /// statement's own remaining time in the window).
    async fn spend(
        &self,
        kind: ReplayKind,
        key: ReplayKey,
        admission: &Admission,
        now_ms: u64,
    ) -> Result<(), Rejection> {
        let expires_at_ms = now_ms.saturating_add(self.inner.window.span_ms());
        let record = ReplayRecord::new(kind, key, admission.client, expires_at_ms);
        match self.inner.replay.insert_once(record, now_ms).await {
            Ok(Insertion::Recorded) => Ok(()),
            Ok(Insertion::Replay) => Err(Rejection::ReplayDetected),
            Ok(Insertion::OverShare { retry_after_s }) => Err(Rejection::RateLimited {
                reason: Some(format!(
                    "client address {} holds its share of the full replay memory",
                    admission.client
                )),
                retry_after_s,
                limit: admission.decision,
            }),
            Err(error) => {
                tracing::warn!(%error, "sigil-validator: replay guard failed; request refused");
                Err(Rejection::Unavailable(error.to_string()))
            }
        }
    }
}

/// A signed request's parts, as received, and the token's `sub`.
#[derive(Clone, Copy)]
struct SignedRequest<'a> {
    parts: &'a Parts,
    body: &'a [u8],
    sub: &'a PublicKey,
    signed: &'a SignedHeaders<'a>,
}

/// The request target as received: path and query.
fn request_target(parts: &Parts) -> &str {
    parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path(), |pq| pq.as_str())
}
