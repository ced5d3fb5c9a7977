//! What every signature-checking route (token-for-endpoint, payloads) does
//! before and around its checks, in docs/protocol.md §3's order: the per-address limit
//! and the body's size and type before any parsing, the per-key limit only
//! once a signature verified, and the `X-RateLimit-*` headers on every
//! answer (docs/protocol.md §10).

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use sigil_edge::{ClientKey, Decision, client_addr};

use crate::error::ApiError;
use crate::state::AppState;

/// The rate-limit decision closest to exhaustion so far, for the headers.
#[derive(Debug, Default)]
pub(crate) struct Limit(Option<Decision>);

impl Limit {
    /// `result` as a response, with the `X-RateLimit-*` headers when a
    /// limit was consulted.
    pub(crate) fn answer<T: IntoResponse>(self, result: Result<T, ApiError>) -> Response {
        let mut response = match result {
            Ok(answer) => answer.into_response(),
            Err(error) => error.into_response(),
        };
        if let Some(decision) = self.0 {
            decision.write_headers(response.headers_mut());
        }
        response
    }
}

/// Step 1 of a signature-checking route: the per-address limit, then
/// `Content-Type: application/json`, then the body, at most the configured
/// size. Nothing is parsed before these pass.
pub(crate) async fn admit(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
    limit: &mut Limit,
) -> Result<Bytes, ApiError> {
    check_address(state, peer, headers, limit).await?;
    require_json(headers)?;
    read_body(headers, body, state.settings().body_limit_bytes).await
}

/// [`admit`] for the form routes of docs/protocol.md §17 (token, login,
/// revocation): the per-address limit, then `Content-Type:
/// application/x-www-form-urlencoded`, then the body.
pub(crate) async fn admit_form(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
    limit: &mut Limit,
) -> Result<Bytes, ApiError> {
    check_address(state, peer, headers, limit).await?;
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(ApiError::InvalidRequest(
            "Content-Type must be application/x-www-form-urlencoded".into(),
        ));
    }
    read_body(headers, body, state.settings().body_limit_bytes).await
}

/// The per-address limit (docs/protocol.md §10), before anything is read.
async fn check_address(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    limit: &mut Limit,
) -> Result<(), ApiError> {
    let settings = state.settings();
    if let Some(limits) = state.limits() {
        let address = client_addr(peer.ip(), headers, &settings.trusted_proxies);
        let decision = limits.check_address(ClientKey::of(address)).await;
        limit.0 = Some(decision);
        if !decision.allowed {
            return Err(ApiError::RateLimited {
                retry_after_s: decision.retry_after_s,
            });
        }
    }
    Ok(())
}

/// The per-key limit, counted only for a key whose signature verified (so
/// forged requests cannot spend another key's budget, docs/security.md B8).
pub(crate) async fn charge_key(
    state: &AppState,
    key: &[u8; 33],
    limit: &mut Limit,
) -> Result<(), ApiError> {
    let Some(limits) = state.limits() else {
        return Ok(());
    };
    let decision = limits.check_key(key).await;
    limit.0 = Some(limit.0.map_or(decision, |d| d.tighter(decision)));
    if decision.allowed {
        Ok(())
    } else {
        Err(ApiError::RateLimited {
            retry_after_s: decision.retry_after_s,
        })
    }
}

fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

/// The body, at most `limit` bytes. A declared `Content-Length` over the
/// limit is refused at once, before a byte of the body is waited for.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(ApiError::BodyTooLarge { limit });
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::BodyTooLarge { limit }
        } else {
            ApiError::InvalidRequest(format!("the request body could not be read: {e}"))
        }
    })
}
