//! `/account` (docs/protocol.md §17): the apps with access, each with
//! `Revoke` (forgets the consent and revokes every grant of that person
//! and client, with their tokens), and `Sign out`.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use sigil_core::api::paths;
use sigil_oauth::token::parse_form;

use super::pages::{self, App};
use super::{Refusal, find_client, see_other, session};
use crate::error::ApiError;
use crate::state::AppState;

/// The account page.
#[utoipa::path(
    get,
    path = "/account",
    tag = "oauth",
    responses(
        (status = 200, description = "the apps with access, Revoke, Sign out", content_type = "text/html"),
        (status = 303, description = "not signed in: to the login page"),
    )
)]
pub(crate) async fn account(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match show(&state, &headers).await {
        Ok(response) => response,
        Err(error) => Refusal::Api(error).into_response(),
    }
}

fn to_login() -> Response {
    see_other(&format!(
        "{}?return_to={}",
        paths::OAUTH_LOGIN,
        paths::ACCOUNT.replace('/', "%2F")
    ))
}

async fn show(state: &AppState, headers: &HeaderMap) -> Result<Response, ApiError> {
    let Some(session) = session::current(state, headers).await? else {
        return Ok(to_login());
    };
    let consents = state
        .store()
        .oauth()
        .list_consents(session.subject.clone())
        .await
        .map_err(|e| ApiError::from_store(&e))?;
    let mut apps = Vec::with_capacity(consents.len());
    for consent in consents {
        let name = find_client(state, &consent.client_id)
            .await?
            .map_or_else(|| consent.client_id.clone(), |c| c.client_name);
        apps.push(App {
            client_id: consent.client_id,
            client_name: name,
            scopes: consent.scopes,
        });
    }
    let address = super::signing::address_of(&session.subject);
    Ok(pages::account_page(
        state,
        &address,
        &apps,
        &session.csrf_token,
    ))
}

/// The session of a form post to the account page, its CSRF token
/// checked, and the form.
async fn form(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(sigil_store::SessionRecord, Vec<(String, String)>), ApiError> {
    let limit = state.settings().body_limit_bytes;
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::BodyTooLarge { limit })?;
    let params = parse_form(&bytes).map_err(|e| ApiError::InvalidRequest(e.error_description))?;
    let session = session::current(state, headers)
        .await?
        .ok_or_else(session::csrf_refused)?;
    let token = super::param(&params, "csrf_token");
    if !session::csrf_matches(token, &session.csrf_token) {
        return Err(session::csrf_refused());
    }
    Ok((session, params))
}

/// Revoke an app: its consent and every grant of this person to it.
#[utoipa::path(
    post,
    path = "/account/revoke",
    tag = "oauth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "csrf_token, client_id"),
    responses(
        (status = 303, description = "revoked; back to /account"),
        (status = 403, description = "access_denied: the CSRF token is missing or wrong", body = sigil_core::api::ErrorBody),
    )
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (session, params) = form(&state, &headers, body).await?;
        let client_id = super::param(&params, "client_id")
            .map(str::to_owned)
            .ok_or_else(|| ApiError::InvalidRequest("client_id is missing".into()))?;
        state
            .store()
            .oauth()
            .revoke_consent(session.subject, client_id)
            .await
            .map_err(|e| ApiError::from_store(&e))?;
        Ok::<_, ApiError>(see_other(paths::ACCOUNT))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Sign out: the session ends and its cookie is cleared.
#[utoipa::path(
    post,
    path = "/account/sign-out",
    tag = "oauth",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "csrf_token"),
    responses(
        (status = 303, description = "signed out; to the login page"),
        (status = 403, description = "access_denied: the CSRF token is missing or wrong", body = sigil_core::api::ErrorBody),
    )
)]
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let (session, _) = form(&state, &headers, body).await?;
        state
            .store()
            .oauth()
            .delete_session(session.id_hash)
            .await
            .map_err(|e| ApiError::from_store(&e))?;
        let mut response = to_login();
        response.headers_mut().append(
            header::SET_COOKIE,
            session::set_cookie(&state, session::SESSION, "", 0),
        );
        Ok::<_, ApiError>(response)
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
