//! `POST /oauth2/token` (docs/protocol.md §17): client authentication by
//! the registered method first (a failure, a replayed assertion or
//! X-Auth-Token included, is 401 `invalid_client` and consumes nothing),
//! then the code exchange or the refresh, each decided by sigil-oauth and
//! made atomic by the store.

use std::net::SocketAddr;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, OriginalUri, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sigil_oauth::client_auth::{self, Proof, RequestContext};
use sigil_oauth::error::OAuthErrorCode;
use sigil_oauth::grant::{
    self, CodeExchange, CodeOutcome, CodeState, RefreshFamily, RefreshOutcome,
};
use sigil_oauth::token::{ClientCredentials, TokenGrant, parse_form, parse_grant};
use sigil_oauth::{GrantType, OAuthError, RegisteredClient, Scopes};
use sigil_store::{CodeConsumption, GrantRecord, Insertion, ReplayNamespace, ReplayRecord};
use tracing::instrument;

use super::signing::{self, Issue, hash};
use super::{Refusal, find_client, new_handle, no_store, signed_target};
use crate::handlers::admission::{Limit, admit_form, charge_key};
use crate::state::AppState;

/// The token endpoint's answer (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct OAuthTokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
}

/// Exchange a code, or refresh.
#[utoipa::path(
    post,
    path = "/oauth2/token",
    tag = "oauth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "grant_type=authorization_code (code, redirect_uri, code_verifier) or refresh_token (refresh_token, scope?); client_id and the client's credentials"),
    responses(
        (status = 200, description = "tokens (Cache-Control: no-store)", body = OAuthTokenResponse),
        (status = 400, description = "invalid_request, invalid_grant, unauthorized_client, unsupported_grant_type, invalid_scope", body = sigil_core::api::ErrorBody),
        (status = 401, description = "invalid_client: client authentication failed (nothing consumed)", body = sigil_core::api::ErrorBody),
        (status = 429, description = "rate_limit_exceeded", body = sigil_core::api::ErrorBody),
        (status = 503, description = "temporarily_unavailable", body = sigil_core::api::ErrorBody),
    )
)]
#[instrument(level = "debug", skip_all, fields(client = %peer.ip()))]
pub(crate) async fn token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut limit = Limit::default();
    let path = signed_target(&uri);
    let result = exchange(&state, peer, &path, &headers, body, &mut limit)
        .await
        .map(|answer| {
            let mut response = Json(answer).into_response();
            no_store(response.headers_mut());
            response
        });
    limit.answer(Refusal::settle(result))
}

/// The client of the request, authenticated, after anything that proves
/// it was recorded (so a replay is refused before a code is touched).
pub(crate) async fn authenticate_client(
    state: &AppState,
    path: &str,
    headers: &HeaderMap,
    bytes: &Bytes,
    params: &[(String, String)],
    limit: &mut Limit,
) -> Result<RegisteredClient, Refusal> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let credentials =
        ClientCredentials::from_request(header("authorization"), header("x-auth-token"), params)?;
    let client_id = credentials.claimed_client_id()?;
    let client = find_client(state, &client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
    let issuer = &state.settings().issuer;
    let endpoint_url = format!("{issuer}{}", path.split('?').next().unwrap_or(path));
    let now_ms = state.now_ms();
    let proof = client_auth::authenticate(
        &client,
        &credentials,
        &RequestContext {
            issuer,
            endpoint_url: &endpoint_url,
            request_path: path,
            body: bytes,
            now_ms,
        },
    )?;
    match proof {
        Proof::Nothing => {}
        Proof::Assertion { jti, expires_at_ms } => {
            let answer = state
                .store()
                .oauth()
                .use_assertion(client.client_id.clone(), jti, expires_at_ms, now_ms)
                .await?;
            if answer == Insertion::AlreadyUsed {
                return Err(OAuthError::invalid_client(
                    "client_assertion was already used (jti replayed)",
                )
                .into());
            }
        }
        Proof::AuthToken {
            key,
            expires_at_ms,
            signed_at_ms,
        } => {
            let record = ReplayRecord {
                namespace: ReplayNamespace::AuthToken,
                key,
                signed_at_ms,
                expires_at_ms,
            };
            let answer = state
                .store()
                .replay()
                .insert_if_absent(record, now_ms)
                .await?;
            if answer == Insertion::AlreadyUsed {
                return Err(
                    OAuthError::invalid_client("X-Auth-Token was already used (replayed)").into(),
                );
            }
            if let Some(pubkey) = client
                .bitcoin_pubkey
                .as_deref()
                .and_then(|hex| sigil_core::PublicKey::from_hex(hex).ok())
            {
                charge_key(state, &pubkey.serialize(), limit).await?;
            }
        }
    }
    Ok(client)
}

async fn exchange(
    state: &AppState,
    peer: SocketAddr,
    path: &str,
    headers: &HeaderMap,
    body: Body,
    limit: &mut Limit,
) -> Result<OAuthTokenResponse, Refusal> {
    let bytes = admit_form(state, peer, headers, body, limit).await?;
    let params = parse_form(&bytes)?;
    let client = authenticate_client(state, path, headers, &bytes, &params, limit).await?;
    match parse_grant(&params)? {
        TokenGrant::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            redeem(
                state,
                &client,
                &code,
                redirect_uri.as_deref(),
                code_verifier.as_deref(),
            )
            .await
        }
        TokenGrant::RefreshToken {
            refresh_token,
            scope,
        } => refresh(state, &client, &refresh_token, scope.as_deref()).await,
    }
}

async fn redeem(
    state: &AppState,
    client: &RegisteredClient,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
) -> Result<OAuthTokenResponse, Refusal> {
    let oauth = state.store().oauth();
    let (code_state, grant_id) = match oauth.consume_code(hash(code)).await? {
        CodeConsumption::Unknown => (CodeState::Unknown, None),
        CodeConsumption::Used { grant_id } => (
            CodeState::Used {
                family: Some(grant_id),
            },
            None,
        ),
        CodeConsumption::Fresh {
            grant_json,
            grant_id,
        } => (
            CodeState::Fresh(signing::read_grant(&grant_json)?),
            Some(grant_id),
        ),
    };
    let exchange = CodeExchange {
        client_id: &client.client_id,
        redirect_uri,
        code_verifier,
    };
    let grant = match grant::redeem_code(code_state, &exchange, state.now_ms()) {
        CodeOutcome::Issue(grant) => grant,
        CodeOutcome::Refuse { error, revoke } => {
            if let Some(family) = revoke {
                revoke_first_use(state, family).await?;
            }
            return Err(error.into());
        }
    };
    let grant_id = grant_id.unwrap_or_default();
    let refresh_token = if client.allows(GrantType::RefreshToken) {
        Some(new_handle()?)
    } else {
        None
    };
    let now_ms = state.now_ms();
    // A grant of this id exists only when a reuse of the code, racing
    // this first use (at this or another instance), revoked it first: the
    // store keeps that revocation as a revoked placeholder, and this use
    // issues nothing.
    let created = oauth
        .create_grant(GrantRecord {
            grant_id: grant_id.clone(),
            client_id: client.client_id.clone(),
            subject: grant.subject.clone(),
            scopes: grant.scopes.to_string(),
            resource: grant.resource.clone(),
            auth_time_s: grant.auth_time_s,
            current_hash: refresh_token.as_deref().map(hash),
            previous_hash: None,
            rotated_at_ms: now_ms,
            revoked: false,
        })
        .await;
    match created {
        Ok(()) => {}
        Err(sigil_store::Error::Conflict { .. }) => {
            return Err(OAuthError::invalid_grant(
                "the authorization code was used more than once; nothing is issued for it, request a new one",
            )
            .into());
        }
        Err(error) => return Err(error.into()),
    }
    let (access_token, id_token) = signing::tokens(
        state,
        &Issue {
            client_id: &client.client_id,
            subject: &grant.subject,
            scopes: &grant.scopes,
            resource: grant.resource.as_deref(),
            grant_id: &grant_id,
            auth_time_s: grant.auth_time_s,
            nonce: Some(grant.nonce.as_deref()),
        },
    )?;
    state.metrics().token_issued();
    Ok(OAuthTokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.settings().oauth.access_token_lifetime_s,
        scope: grant.scopes.to_string(),
        id_token,
        refresh_token,
    })
}

/// Revokes the grant the first use of a reused code created. When that
/// first use is still issuing (its grant not stored yet), a revoked grant
/// of that id is stored in its place, so the first use finds the id taken
/// and issues nothing.
async fn revoke_first_use(state: &AppState, grant_id: String) -> Result<(), Refusal> {
    // The store records a grant not created yet as a revoked placeholder
    // in the same step, so the first use's create_grant then conflicts.
    state.store().oauth().revoke_grant(grant_id).await?;
    Ok(())
}

async fn refresh(
    state: &AppState,
    client: &RegisteredClient,
    refresh_token: &str,
    scope: Option<&str>,
) -> Result<OAuthTokenResponse, Refusal> {
    if !client.allows(GrantType::RefreshToken) {
        return Err(OAuthError::new(
            OAuthErrorCode::UnauthorizedClient,
            "this client is not registered for the refresh_token grant",
        )
        .into());
    }
    let oauth = state.store().oauth();
    let presented = hash(refresh_token);
    let record = oauth
        .grant_by_refresh(presented.clone())
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the refresh token is not valid"))?;
    let scopes = Scopes::parse(Some(&record.scopes))
        .map_err(|e| crate::error::ApiError::Internal(format!("stored scopes: {e}")))?;
    let family = RefreshFamily {
        family_id: record.grant_id.clone(),
        client_id: record.client_id.clone(),
        subject: record.subject.clone(),
        scopes: scopes.clone(),
        resource: record.resource.clone(),
        auth_time_s: record.auth_time_s,
        current_hash: record.current_hash.clone().unwrap_or_default(),
        previous_hash: record.previous_hash.clone(),
        rotated_at_ms: record.rotated_at_ms,
        revoked: record.revoked,
    };
    let now_ms = state.now_ms();
    let expected = match grant::refresh(&family, &presented, &client.client_id, now_ms) {
        RefreshOutcome::Rotate { expected_current } => expected_current,
        RefreshOutcome::Refuse {
            error,
            revoke_family,
        } => {
            if revoke_family {
                oauth.revoke_grant(record.grant_id.clone()).await?;
            }
            return Err(error.into());
        }
    };
    let narrowed = match scope {
        None => scopes.clone(),
        Some(text) => {
            let asked = Scopes::parse(Some(text))?;
            if !scopes.covers(&asked) {
                return Err(OAuthError::new(
                    OAuthErrorCode::InvalidScope,
                    "scope asks for more than the original grant",
                )
                .into());
            }
            asked
        }
    };
    let new_token = new_handle()?;
    let swapped = oauth
        .rotate_refresh(record.grant_id.clone(), expected, hash(&new_token), now_ms)
        .await?;
    if !swapped {
        return Err(OAuthError::invalid_grant(
            "the refresh token was just rotated by a concurrent request; use the newest one",
        )
        .into());
    }
    let (access_token, id_token) = signing::tokens(
        state,
        &Issue {
            client_id: &client.client_id,
            subject: &record.subject,
            scopes: &narrowed,
            resource: record.resource.as_deref(),
            grant_id: &record.grant_id,
            auth_time_s: record.auth_time_s,
            nonce: None,
        },
    )?;
    state.metrics().token_issued();
    Ok(OAuthTokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.settings().oauth.access_token_lifetime_s,
        scope: narrowed.to_string(),
        id_token,
        refresh_token: Some(new_token),
    })
}
