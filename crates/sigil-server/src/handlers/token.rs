//! `POST /api/auth/token-for-endpoint` (docs/protocol.md §3): a signed statement in,
//! an access token out. The checks run in the order of docs/protocol.md §3; each refusal is the
//! [`ApiError`] of docs/protocol.md §8.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sigil_core::api::TokenResponse;
use sigil_core::jwt::{self, AccessClaims, matches_at_path_boundary};
use sigil_core::token_request::ParsedTokenRequest;
use sigil_core::{MessageForm, ReplayKey, TokenMessage, validate_endpoint};
use sigil_store::{Insertion, ReplayNamespace, ReplayRecord};
use tracing::instrument;

use super::admission::{Limit, admit, charge_key};
use crate::error::ApiError;
use crate::state::AppState;

/// A statement signed with the caller's Bitcoin key (docs/protocol.md §3).
//
// This type only documents the body in /openapi.json: the handler parses
// the body field by hand so that each error names its field and the checks
// keep the order of docs/protocol.md §3 (docs/decisions/0006-token-service.md).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // never constructed: a schema for /openapi.json only
pub(crate) struct TokenRequestBody {
    /// Absolute http(s) URL without fragment, at most 2048 bytes: the token's `aud`.
    #[schema(example = "https://api.example.com")]
    endpoint: String,
    /// Milliseconds since the epoch, as an integer or a string of digits.
    #[schema(value_type = u64, example = 1_700_000_000_000_u64)]
    timestamp: Value,
    /// `endpoint + ":" + timestamp`, or the bound form
    /// `sigil-token-request:v1\nissuer:<issuer>\nendpoint:<endpoint>\ntimestamp:<ms>`.
    message: String,
    /// Hex SEC1 public key (66 or 130 characters).
    pubkey: String,
    /// BSM or BRC-77 signature of `message`: base64, hex, or a JSON array of byte values.
    #[schema(value_type = String)]
    signature: Value,
}

/// Obtain an access token for an endpoint by signing a statement.
#[utoipa::path(
    post,
    path = "/api/auth/token-for-endpoint",
    tag = "tokens",
    request_body(content = TokenRequestBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Token issued (Cache-Control: no-store)", body = TokenResponse),
        (status = 400, description = "invalid_request or invalid_target", body = sigil_core::api::ErrorBody),
        (status = 401, description = "invalid_signature, timestamp_expired or replay_detected", body = sigil_core::api::ErrorBody),
        (status = 403, description = "access_denied", body = sigil_core::api::ErrorBody),
        (status = 413, description = "body too large", body = sigil_core::api::ErrorBody),
        (status = 415, description = "Content-Type not application/json", body = sigil_core::api::ErrorBody),
        (status = 429, description = "rate_limit_exceeded (Retry-After)", body = sigil_core::api::ErrorBody),
        (status = 503, description = "temporarily_unavailable: store unreachable, nothing issued", body = sigil_core::api::ErrorBody),
    )
)]
#[instrument(level = "debug", skip_all, fields(client = %peer.ip()))]
pub(crate) async fn token_for_endpoint(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut limit = Limit::default();
    let result = issue(&state, peer, &headers, body, &mut limit)
        .await
        .map(|token| {
            let mut response = axum::Json(token).into_response();
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        });
    limit.answer(result)
}

async fn issue(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
    limit: &mut Limit,
) -> Result<TokenResponse, ApiError> {
    let settings = state.settings();
    // 1. Per-address limit and body size, before any parsing.
    let bytes = admit(state, peer, headers, body, limit).await?;

    // 2. Well-formed body.
    let request =
        ParsedTokenRequest::parse(&bytes).map_err(|e| ApiError::InvalidRequest(e.description))?;

    // 3. Endpoint syntax and the audience allowlist.
    validate_endpoint(&request.endpoint).map_err(|e| ApiError::InvalidTarget(e.to_string()))?;
    if !settings.audiences.is_empty()
        && !settings
            .audiences
            .iter()
            .any(|prefix| matches_at_path_boundary(prefix, &request.endpoint))
    {
        return Err(ApiError::InvalidTarget(format!(
            "endpoint {:?} is not among the audiences this server issues tokens for",
            request.endpoint
        )));
    }

    // 4. Message equality.
    let form = TokenMessage::check(
        &request.message,
        &request.endpoint,
        &request.timestamp_text,
        &settings.issuer,
    )
    .map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    if form == MessageForm::Compat && settings.require_bound_message {
        return Err(ApiError::InvalidRequest(format!(
            "message: this server requires the bound form (sigil-token-request:v1 with issuer {}); the compat endpoint:timestamp form is refused",
            settings.issuer
        )));
    }

    // 5. Time window.
    let now_ms = state.now_ms();
    settings
        .window
        .check(request.timestamp_ms, now_ms)
        .map_err(|e| ApiError::from_core(&e))?;

    // 6. Signature.
    state.metrics().signature_checked();
    request
        .signature
        .verify(request.message.as_bytes(), &request.pubkey)
        .map_err(|e| ApiError::from_core(&e))?;

    // 7. Account policy.
    let accounts = state.accounts();
    let account = accounts.admit(
        &request.pubkey,
        &request.endpoint,
        settings.open_registration,
    )?;

    // 8. Replay: the insert is the check, and it is committed before a
    //    token exists.
    let record = ReplayRecord {
        namespace: ReplayNamespace::TokenRequest,
        key: ReplayKey::for_statement(&request.pubkey, request.message.as_bytes()),
        signed_at_ms: request.timestamp_ms,
        expires_at_ms: now_ms + settings.window.span_ms() + 1_000,
    };
    match state
        .store()
        .replay()
        .insert_if_absent(record, now_ms)
        .await
    {
        Ok(Insertion::Inserted) => {}
        Ok(Insertion::AlreadyUsed) => return Err(ApiError::ReplayDetected),
        Err(e) => return Err(ApiError::from_store(&e)),
    }

    // 9. Per-key limit, charged only for a fresh statement whose signature
    //    verified: neither another key's forgeries nor replays of this
    //    key's old requests (from any address) spend its budget. A refusal
    //    here has used the statement; the client signs a new one.
    charge_key(state, &request.pubkey.serialize(), limit).await?;

    // 10. Sign.
    let mut jti = [0u8; 16];
    // AWS-LC's generator (the one that draws the ES256 nonces): seeded
    // from the OS, no system call per token as getrandom would be.
    aws_lc_rs::rand::fill(&mut jti)
        .map_err(|_| ApiError::Internal("no randomness for the jti".into()))?;
    let mut claims = AccessClaims::new(
        &settings.issuer,
        &request.pubkey,
        &request.endpoint,
        now_ms / 1000,
        settings.token_lifetime_s,
        jti,
    );
    if let Some(account) = account {
        claims.name.clone_from(&account.name);
        claims.bap_id.clone_from(&account.bap_id);
    }
    let keys = state.keys();
    let access_token = jwt::issue(keys.current(), &claims)
        .map_err(|e| ApiError::Internal(format!("signing failed: {e}")))?;
    state.metrics().token_issued();
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: settings.token_lifetime_s,
    })
}
