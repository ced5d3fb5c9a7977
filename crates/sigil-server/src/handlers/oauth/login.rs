//! `GET /oauth2/login`: a fresh single-use challenge, bound to this
//! browser by the login cookie; `POST /oauth2/login`: the challenge signed
//! with the person's key in, a session cookie out (docs/protocol.md §17).
//! Rate-limited like the other signature-checking routes.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use sigil_core::api::paths;
use sigil_oauth::RegisteredClient;
use sigil_oauth::login::{CHALLENGE_LIFETIME_MS, LoginChallenge, recover_signer};
use sigil_oauth::token::parse_form;
use sigil_store::SessionRecord;

use super::{Refusal, new_handle, pages, random32, see_other, session};
use crate::error::ApiError;
use crate::handlers::admission::{Limit, admit_form, charge_key};
use crate::state::AppState;

/// The login page (GET) and the signed challenge (POST).
#[utoipa::path(
    method(get, post),
    path = "/oauth2/login",
    tag = "oauth",
    responses(
        (status = 200, description = "the login page with a fresh challenge (sets the login cookie)", content_type = "text/html"),
        (status = 303, description = "POST: signed in (sets the session cookie), back to return_to"),
        (status = 400, description = "invalid_request: not a challenge of this issuer, or expired", body = sigil_core::api::ErrorBody),
        (status = 401, description = "invalid_signature or replay_detected (the challenge was used)", body = sigil_core::api::ErrorBody),
        (status = 403, description = "access_denied: the CSRF token is missing or wrong", body = sigil_core::api::ErrorBody),
        (status = 429, description = "rate_limit_exceeded", body = sigil_core::api::ErrorBody),
    )
)]
pub(crate) async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if method == Method::POST {
        let mut limit = Limit::default();
        let result = sign_in(&state, peer, &headers, body, &mut limit).await;
        return limit.answer(result);
    }
    match page(&state, query.as_deref()).await {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    }
}

/// Only paths of this server's own pages may be returned to.
fn safe_return(return_to: Option<&str>) -> String {
    match return_to {
        Some(path)
            if (path.starts_with(paths::OAUTH_AUTHORIZE) || path.starts_with(paths::ACCOUNT))
                && !path.contains("//")
                && !path.contains('\\') =>
        {
            path.to_owned()
        }
        _ => paths::ACCOUNT.to_owned(),
    }
}

/// The app a login for `return_to` is for, `(client name, redirect
/// host)`, when `return_to` is an authorization request that passes its
/// checks (so the page names only a registered client and one of its
/// registered redirect URIs).
async fn asking(state: &AppState, return_to: &str) -> Option<(String, String)> {
    let query = return_to
        .strip_prefix(paths::OAUTH_AUTHORIZE)?
        .strip_prefix('?')?;
    let (request, client) = super::authorize::parse(state, query).await.ok()?;
    let host = RegisteredClient::redirect_host(&request.redirect_uri)?;
    Some((client.client_name, host))
}

async fn page(state: &AppState, query: Option<&str>) -> Result<Response, Refusal> {
    let params = super::query_params(query);
    let return_to = safe_return(super::param(&params, "return_to"));
    let now_ms = state.now_ms();
    let mut nonce = [0u8; 16];
    nonce.copy_from_slice(&random32()?[..16]);
    let challenge = LoginChallenge::new(&state.settings().issuer, nonce, now_ms);
    let cookie = new_handle()?;
    state
        .store()
        .oauth()
        .insert_challenge(
            challenge.nonce.clone(),
            super::signing::hash(&cookie),
            now_ms + CHALLENGE_LIFETIME_MS,
        )
        .await?;
    let asking = asking(state, &return_to).await;
    let mut response = pages::login_page(
        state,
        &pages::Login {
            message: &challenge.message(),
            csrf: &session::login_csrf(&cookie),
            return_to: &return_to,
            asking: asking
                .as_ref()
                .map(|(name, host)| (name.as_str(), host.as_str())),
        },
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(state, session::LOGIN, &cookie, CHALLENGE_LIFETIME_MS / 1000),
    );
    Ok(response)
}

async fn sign_in(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
    limit: &mut Limit,
) -> Result<Response, ApiError> {
    let bytes = admit_form(state, peer, headers, body, limit).await?;
    let params = parse_form(&bytes).map_err(|e| ApiError::InvalidRequest(e.error_description))?;
    let get = |name: &str| super::param(&params, name);
    // CSRF first: a cross-site post carries neither the cookie nor the
    // token derived from it.
    let cookie = session::cookie(headers, &session::name(state, session::LOGIN));
    let Some(cookie) = cookie else {
        return Err(session::csrf_refused());
    };
    if !session::csrf_matches(get("csrf_token"), &session::login_csrf(&cookie)) {
        return Err(session::csrf_refused());
    }
    let message =
        get("message").ok_or_else(|| ApiError::InvalidRequest("message is missing".into()))?;
    let signature =
        get("signature").ok_or_else(|| ApiError::InvalidRequest("signature is missing".into()))?;
    let now_ms = state.now_ms();
    let challenge = LoginChallenge::parse(message)
        .map_err(|e| ApiError::InvalidRequest(e.error_description))?;
    challenge
        .check(&state.settings().issuer, now_ms)
        .map_err(|e| ApiError::InvalidRequest(e.error_description))?;
    state.metrics().signature_checked();
    let signer = recover_signer(message, signature.trim()).map_err(|e| {
        ApiError::InvalidSignature(format!(
            "signature verification failed: {}",
            e.error_description
        ))
    })?;
    let fresh = state
        .store()
        .oauth()
        .consume_challenge(
            challenge.nonce.clone(),
            super::signing::hash(&cookie),
            now_ms,
        )
        .await
        .map_err(|e| ApiError::from_store(&e))?;
    if !fresh {
        return Err(ApiError::ReplayDetected);
    }
    charge_key(state, &signer.serialize(), limit).await?;
    let id = new_handle()?;
    let lifetime_s = state.settings().oauth.session_lifetime_s;
    state
        .store()
        .oauth()
        .create_session(SessionRecord {
            id_hash: super::signing::hash(&id),
            subject: signer.to_hex(),
            auth_time_ms: now_ms,
            csrf_token: new_handle()?,
            expires_at_ms: now_ms + lifetime_s * 1000,
        })
        .await
        .map_err(|e| ApiError::from_store(&e))?;
    let mut response = see_other(&safe_return(get("return_to")));
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        session::set_cookie(state, session::SESSION, &id, lifetime_s),
    );
    headers.append(
        header::SET_COOKIE,
        session::set_cookie(state, session::LOGIN, "", 0),
    );
    Ok(response)
}
