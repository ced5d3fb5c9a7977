//! `POST /oauth2/register` (RFC 7591, docs/protocol.md §17): open dynamic
//! registration of public (`none` + PKCE), `private_key_jwt` and
//! `bitcoin_auth_token` clients; `dynamic_registration = false` turns it
//! off (404, and discovery leaves it out).

use std::net::SocketAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sigil_oauth::client::{ClientMetadata, register as register_client};
use sigil_oauth::{OAuthError, OAuthErrorCode};
use sigil_store::ClientRecord;

use super::{Refusal, new_handle, no_store};
use crate::error::ApiError;
use crate::handlers::admission::{Limit, admit};
use crate::state::AppState;

/// Register a client.
#[utoipa::path(
    post,
    path = "/oauth2/register",
    tag = "oauth",
    request_body(content = String, content_type = "application/json", description = "RFC 7591 client metadata: redirect_uris, client_name, grant_types, response_types, token_endpoint_auth_method (none, private_key_jwt with jwks, bitcoin_auth_token with bitcoin_pubkey), scope (the scopes the client may ask for)"),
    responses(
        (status = 201, description = "the registered client (RFC 7591 §3.2.1)", content_type = "application/json"),
        (status = 400, description = "invalid_redirect_uri or invalid_client_metadata", body = sigil_core::api::ErrorBody),
        (status = 404, description = "dynamic registration is off", body = sigil_core::api::ErrorBody),
    )
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !state.settings().oauth.dynamic_registration {
        return ApiError::NotFound {
            path: uri.path().to_owned(),
        }
        .into_response();
    }
    let mut limit = Limit::default();
    let result = run(&state, peer, &headers, body, &mut limit).await;
    limit.answer(Refusal::settle(result))
}

async fn run(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
    limit: &mut Limit,
) -> Result<Response, Refusal> {
    let bytes = admit(state, peer, headers, body, limit).await?;
    let metadata: ClientMetadata = serde_json::from_slice(&bytes).map_err(|e| {
        OAuthError::new(
            OAuthErrorCode::InvalidClientMetadata,
            format!("the body is not RFC 7591 client metadata: {e}"),
        )
    })?;
    let client = register_client(&metadata, new_handle()?)?;
    let now_ms = state.now_ms();
    let document = serde_json::to_string(&client)
        .map_err(|e| ApiError::Internal(format!("client serialises: {e}")))?;
    state
        .store()
        .oauth()
        .add_client(ClientRecord {
            client_id: client.client_id.clone(),
            document,
            created_at_ms: now_ms,
        })
        .await?;
    let mut answer = json!({
        "client_id": client.client_id,
        "client_id_issued_at": now_ms / 1000,
        "client_name": client.client_name,
        "redirect_uris": client.redirect_uris,
        "grant_types": client.grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": client.auth_method.as_str(),
    });
    if let Some(scope) = &client.scope {
        answer["scope"] = json!(scope);
    }
    let mut response = (StatusCode::CREATED, Json(answer)).into_response();
    no_store(response.headers_mut());
    Ok(response)
}
