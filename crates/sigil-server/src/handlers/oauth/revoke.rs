//! `POST /oauth2/revoke` (RFC 7009, docs/protocol.md §17): the client
//! authenticates as at the token endpoint; a refresh token or an access
//! token of its own revokes the grant it belongs to (the whole family and
//! its access tokens). The answer is 200 for any well-formed request, so
//! nobody learns which tokens exist.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sigil_oauth::OAuthError;
use sigil_oauth::token::parse_form;

use super::signing::{grant_of, hash};
use super::{Refusal, no_store, signed_target};
use crate::handlers::admission::{Limit, admit_form};
use crate::state::AppState;

/// Revoke a refresh or access token.
#[utoipa::path(
    post,
    path = "/oauth2/revoke",
    tag = "oauth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "token, token_type_hint?; client_id and the client's credentials"),
    responses(
        (status = 200, description = "revoked, or nothing to revoke"),
        (status = 400, description = "invalid_request: no token", body = sigil_core::api::ErrorBody),
        (status = 401, description = "invalid_client", body = sigil_core::api::ErrorBody),
    )
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut limit = Limit::default();
    let path = signed_target(&uri);
    let result = run(&state, peer, &path, &headers, body, &mut limit)
        .await
        .map(|()| {
            let mut response = StatusCode::OK.into_response();
            no_store(response.headers_mut());
            response
        });
    limit.answer(Refusal::settle(result))
}

async fn run(
    state: &AppState,
    peer: SocketAddr,
    path: &str,
    headers: &HeaderMap,
    body: Body,
    limit: &mut Limit,
) -> Result<(), Refusal> {
    let bytes = admit_form(state, peer, headers, body, limit).await?;
    let params = parse_form(&bytes)?;
    let client =
        super::token::authenticate_client(state, path, headers, &bytes, &params, limit).await?;
    let token = super::param(&params, "token")
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    let oauth = state.store().oauth();
    let grant = match oauth.grant_by_refresh(hash(&token)).await? {
        Some(grant) => Some(grant),
        None => match access_token_grant(state, &token) {
            Some(id) => oauth.get_grant(id).await?,
            None => None,
        },
    };
    if let Some(grant) = grant
        && grant.client_id == client.client_id
    {
        oauth.revoke_grant(grant.grant_id).await?;
    }
    Ok(())
}

/// The grant of one of this server's OAuth access tokens, if `token` is
/// one (signed by one of its keys; expired or not, whatever its audience).
fn access_token_grant(state: &AppState, token: &str) -> Option<String> {
    let keys = state.keys();
    sigil_core::jws::verify(token, keys.verify_set()).ok()?;
    grant_of(token)
}
