//! `GET /oauth2/authorize` (docs/protocol.md §17): an error page for an
//! unknown client or an unregistered redirect URI (never a redirect);
//! every other refusal redirected with `error`, `state` and `iss`; then
//! login, consent, and the code.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use sigil_core::api::paths;
use sigil_oauth::authorize::{self, AuthorizeRefusal, AuthorizeRequest};
use sigil_oauth::error::OAuthErrorCode;
use sigil_oauth::grant::{self, CODE_LIFETIME_MS, CodeGrant};
use sigil_oauth::{OAuthError, RegisteredClient, redirect};
use sigil_store::{CodeRecord, SessionRecord};

use super::pages::{self, Consent};
use super::{Refusal, find_client, new_handle, query_params, see_other, session};
use crate::error::ApiError;
use crate::state::AppState;

/// How long a used code's row is kept, so that a late second use is still
/// recognised (and revokes what the first issued), ms.
const CODE_ROW_LIFETIME_MS: u64 = 10 * 60_000;

/// The authorization endpoint: code flow with PKCE S256.
#[utoipa::path(
    get,
    path = "/oauth2/authorize",
    tag = "oauth",
    responses(
        (status = 303, description = "to the login page, or back to the redirect_uri with code or error, state and iss"),
        (status = 200, description = "the consent page", content_type = "text/html"),
        (status = 400, description = "an error page: unknown client or unregistered redirect_uri (never a redirect)", content_type = "text/html"),
    )
)]
pub(crate) async fn authorize(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query.unwrap_or_default();
    match run(&state, &query, &headers).await {
        Ok(response) => response,
        Err(refusal) => refusal,
    }
}

/// The request, checked, with its client.
pub(crate) async fn parse(
    state: &AppState,
    query: &str,
) -> Result<(AuthorizeRequest, RegisteredClient), Response> {
    let params = query_params(Some(query));
    let client_id = super::param(&params, "client_id")
        .unwrap_or_default()
        .to_owned();
    let client = if client_id.is_empty() {
        None
    } else {
        find_client(state, &client_id)
            .await
            .map_err(|e| Refusal::Api(e).into_response_ref())?
    };
    authorize::parse(&params, |_| client).map_err(|refusal| refuse(state, &refusal))
}

/// An authorization refusal as the page or the redirect it must be.
pub(crate) fn refuse(state: &AppState, refusal: &AuthorizeRefusal) -> Response {
    match refusal.redirect_url(&state.settings().issuer) {
        Some(url) => see_other(&url),
        None => pages::error_page(state, refusal.error()),
    }
}

/// A redirect back to the client with `error`.
pub(crate) fn redirect_error(
    state: &AppState,
    request: &AuthorizeRequest,
    code: OAuthErrorCode,
    description: &str,
) -> Response {
    refuse(
        state,
        &AuthorizeRefusal::Redirect {
            redirect_uri: request.redirect_uri.clone(),
            error: OAuthError::new(code, description),
            state: request.state.clone(),
        },
    )
}

async fn run(state: &AppState, query: &str, headers: &HeaderMap) -> Result<Response, Response> {
    let (request, client) = parse(state, query).await?;
    let now_ms = state.now_ms();
    let session = session::current(state, headers)
        .await
        .map_err(|e| Refusal::Api(e).into_response_ref())?;
    let session = session.filter(|s| {
        !request.prompt.login
            && grant::login_fresh_enough(s.auth_time_ms / 1000, request.max_age_s, now_ms / 1000)
    });
    let Some(session) = session else {
        if request.prompt.none {
            return Ok(redirect_error(
                state,
                &request,
                OAuthErrorCode::LoginRequired,
                "the person is not signed in to sigil (prompt=none)",
            ));
        }
        // After the login the request comes back without prompt=login (it
        // has been honoured) and with the fresh session.
        let back = format!(
            "{}?{}",
            paths::OAUTH_AUTHORIZE,
            without_prompt(query, "login")
        );
        let login = format!(
            "{}?{}",
            paths::OAUTH_LOGIN,
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", &back)
                .finish()
        );
        return Ok(see_other(&login));
    };
    let consent = state
        .store()
        .oauth()
        .get_consent(session.subject.clone(), client.client_id.clone())
        .await
        .map_err(|e| Refusal::from(e).into_response_ref())?;
    let remembered = consent.is_some_and(|c| {
        sigil_oauth::Scopes::parse(Some(&c.scopes)).is_ok_and(|s| s.covers(&request.scopes))
    });
    if remembered && !request.prompt.consent {
        return issue_code(state, &request, &session).await;
    }
    if request.prompt.none {
        return Ok(redirect_error(
            state,
            &request,
            OAuthErrorCode::ConsentRequired,
            "the person has not allowed this app yet (prompt=none)",
        ));
    }
    let host = RegisteredClient::redirect_host(&request.redirect_uri).unwrap_or_default();
    let origin = origin_of(&request.redirect_uri);
    let address = super::signing::address_of(&session.subject);
    Ok(pages::consent_page(
        state,
        &Consent {
            client_name: &client.client_name,
            redirect_host: &host,
            redirect_origin: &origin,
            scopes: &request.scopes,
            address: &address,
            csrf: &session.csrf_token,
            request: &without_prompt(query, "consent"),
        },
    ))
}

/// Makes a code for `request` and the signed-in person, and redirects
/// back with it, `state` and `iss`.
pub(crate) async fn issue_code(
    state: &AppState,
    request: &AuthorizeRequest,
    session: &SessionRecord,
) -> Result<Response, Response> {
    let fail = |e: ApiError| Refusal::Api(e).into_response_ref();
    let code = new_handle().map_err(fail)?;
    let grant_id = new_handle().map_err(fail)?;
    let now_ms = state.now_ms();
    let grant = CodeGrant {
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        scopes: request.scopes.clone(),
        resource: request.resource.clone(),
        subject: session.subject.clone(),
        auth_time_s: session.auth_time_ms / 1000,
        issued_at_ms: now_ms,
    };
    state
        .store()
        .oauth()
        .insert_code(CodeRecord {
            code_hash: super::signing::hash(&code),
            grant_json: grant.to_json(),
            grant_id,
            expires_at_ms: now_ms + CODE_LIFETIME_MS.max(CODE_ROW_LIFETIME_MS),
        })
        .await
        .map_err(|e| Refusal::from(e).into_response_ref())?;
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = &request.state {
        params.push(("state", s.as_str()));
    }
    let url = redirect::response_url(&request.redirect_uri, &params, &state.settings().issuer)
        .map_err(|e| pages::error_page(state, &e))?;
    Ok(see_other(&url))
}

/// The query without the `prompt` value `value` (honoured already).
pub(crate) fn without_prompt(query: &str, value: &str) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (name, v) in query_params(Some(query)) {
        if name == "prompt" {
            let kept: Vec<&str> = v
                .split(' ')
                .filter(|p| !p.is_empty() && *p != value)
                .collect();
            if !kept.is_empty() {
                out.append_pair("prompt", &kept.join(" "));
            }
        } else {
            out.append_pair(&name, &v);
        }
    }
    out.finish()
}

/// `scheme://host[:port]` of a URL, for the consent page's `form-action`.
fn origin_of(uri: &str) -> String {
    url::Url::parse(uri).map_or_else(|_| String::new(), |u| u.origin().ascii_serialization())
}

impl Refusal {
    /// This refusal as a response (for the page handlers' `Result<_,
    /// Response>`).
    pub(crate) fn into_response_ref(self) -> Response {
        axum::response::IntoResponse::into_response(self)
    }
}
