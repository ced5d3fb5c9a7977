//! Sessions and cookies on sigil's origin (docs/protocol.md §17): the
//! session cookie (`sigil_session`, `__Host-sigil_session` on https) and
//! the login cookie that binds a challenge to the browser that fetched it.
//! Both are random 256-bit values, stored hashed, `HttpOnly`,
//! `SameSite=Lax`, `Path=/`, `Secure` on https.

use axum::http::{HeaderMap, HeaderValue, header};
use sigil_store::SessionRecord;

use crate::error::ApiError;
use crate::state::AppState;

/// The session cookie's name on http issuers.
pub(crate) const SESSION: &str = "sigil_session";
/// The login-challenge cookie's name on http issuers.
pub(crate) const LOGIN: &str = "sigil_login";

fn secure(state: &AppState) -> bool {
    state.settings().issuer.starts_with("https://")
}

/// The cookie's name for this issuer (`__Host-` prefixed on https).
pub(crate) fn name(state: &AppState, base: &str) -> String {
    if secure(state) {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

/// The value of cookie `name` in the request, if sent.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value.
pub(crate) fn set_cookie(state: &AppState, base: &str, value: &str, max_age_s: u64) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    let text = format!(
        "{}={value}; Path=/; Max-Age={max_age_s}; HttpOnly; SameSite=Lax{secure}",
        name(state, base)
    );
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("x=; Max-Age=0"))
}

/// The live session of this request, if any.
pub(crate) async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SessionRecord>, ApiError> {
    let Some(id) = cookie(headers, &name(state, SESSION)) else {
        return Ok(None);
    };
    state
        .store()
        .oauth()
        .get_session(super::signing::hash(&id), state.now_ms())
        .await
        .map_err(|e| ApiError::from_store(&e))
}

/// The CSRF token the login form carries: derived from the login cookie,
/// which a cross-site page can neither read nor set.
pub(crate) fn login_csrf(login_cookie: &str) -> String {
    super::signing::hash(&format!("csrf:{login_cookie}"))
}

/// Compares a form's CSRF token with the expected one in constant time.
pub(crate) fn csrf_matches(presented: Option<&str>, expected: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(expected.as_bytes())))
}

/// The refusal of a form post without the right CSRF token.
pub(crate) fn csrf_refused() -> ApiError {
    ApiError::AccessDenied(
        "the form's CSRF token is missing or wrong: cross-site form posts are not allowed; reload the page"
            .into(),
    )
}
