//! `POST /oauth2/consent` (docs/protocol.md §17): the consent page's
//! answer. `Allow` remembers the consent (person, client, scopes) and
//! redirects with a code; `Deny` redirects with `access_denied`. The
//! session and its CSRF token are required.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use sigil_oauth::error::OAuthErrorCode;
use sigil_oauth::token::parse_form;
use sigil_store::ConsentRecord;

use super::authorize::{issue_code, parse, redirect_error};
use super::{Refusal, session};
use crate::error::ApiError;
use crate::state::AppState;

/// The consent form's answer.
#[utoipa::path(
    post,
    path = "/oauth2/consent",
    tag = "oauth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "csrf_token, request (the authorization request), decision=allow|deny"),
    responses(
        (status = 303, description = "back to the redirect_uri with a code (allow) or access_denied (deny), state and iss"),
        (status = 401, description = "invalid_token: not signed in", body = sigil_core::api::ErrorBody),
        (status = 403, description = "access_denied: the CSRF token is missing or wrong", body = sigil_core::api::ErrorBody),
    )
)]
pub(crate) async fn consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match run(&state, &headers, body).await {
        Ok(response) | Err(response) => response,
    }
}

async fn run(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Response, Response> {
    let api = |e: ApiError| Refusal::Api(e).into_response();
    let bytes = axum::body::to_bytes(body, state.settings().body_limit_bytes)
        .await
        .map_err(|_| {
            api(ApiError::BodyTooLarge {
                limit: state.settings().body_limit_bytes,
            })
        })?;
    let params =
        parse_form(&bytes).map_err(|e| api(ApiError::InvalidRequest(e.error_description)))?;
    let get = |name: &str| super::param(&params, name);
    let session = session::current(state, headers).await.map_err(api)?;
    let Some(session) = session else {
        // A cross-site post carries no session cookie (SameSite=Lax):
        // refused as a CSRF attempt, like a post without the token.
        return Err(api(session::csrf_refused()));
    };
    if !session::csrf_matches(get("csrf_token"), &session.csrf_token) {
        return Err(api(session::csrf_refused()));
    }
    let (request, client) = parse(state, get("request").unwrap_or("")).await?;
    match get("decision") {
        Some("allow") => {
            state
                .store()
                .oauth()
                .put_consent(ConsentRecord {
                    subject: session.subject.clone(),
                    client_id: client.client_id.clone(),
                    scopes: request.scopes.to_string(),
                    granted_at_ms: state.now_ms(),
                })
                .await
                .map_err(|e| Refusal::from(e).into_response())?;
            issue_code(state, &request, &session).await
        }
        _ => Ok(redirect_error(
            state,
            &request,
            OAuthErrorCode::AccessDenied,
            "the person denied the app access",
        )),
    }
}
