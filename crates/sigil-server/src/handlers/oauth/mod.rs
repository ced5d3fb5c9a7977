//! The OAuth 2.0 / OpenID Connect provider's routes (docs/protocol.md §17):
//! thin handlers over sigil-oauth's rules and the store's
//! [`OAuthStore`](sigil_store::OAuthStore).

pub(crate) mod account;
pub(crate) mod authorize;
pub(crate) mod consent;
pub(crate) mod login;
pub(crate) mod pages;
pub(crate) mod register;
pub(crate) mod revoke;
pub(crate) mod session;
pub(crate) mod signing;
pub(crate) mod token;

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sigil_oauth::{OAuthError, RegisteredClient};

use crate::error::ApiError;
use crate::middleware::OwnBody;
use crate::state::AppState;

/// A refusal of an OAuth route: an RFC 6749 error body (the §8 shape) or
/// one of the §8 refusals the other routes give.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// `{"error", "error_description"}` with an OAuth code: 401 for
    /// `invalid_client`, 400 otherwise; `Cache-Control: no-store`.
    OAuth(OAuthError),
    /// A §8 refusal (rate limit, body size, store unavailable, …).
    Api(ApiError),
}

impl From<OAuthError> for Refusal {
    fn from(error: OAuthError) -> Self {
        Self::OAuth(error)
    }
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<sigil_store::Error> for Refusal {
    fn from(error: sigil_store::Error) -> Self {
        Self::Api(ApiError::from_store(&error))
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Api(error) => error.into_response(),
            Self::OAuth(error) => {
                let status =
                    StatusCode::from_u16(error.error.status()).unwrap_or(StatusCode::BAD_REQUEST);
                let mut response = (
                    status,
                    Json(json!({
                        "error": error.error.as_str(),
                        "error_description": error.error_description,
                    })),
                )
                    .into_response();
                let headers = response.headers_mut();
                no_store(headers);
                if status == StatusCode::UNAUTHORIZED {
                    headers.insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"sigil\""),
                    );
                }
                response.extensions_mut().insert(OwnBody);
                response
            }
        }
    }
}

impl Refusal {
    /// What [`Limit::answer`](crate::handlers::admission::Limit::answer)
    /// takes: an OAuth refusal is an answer of its own (its RFC 6749 body),
    /// a §8 refusal goes through the shared error path.
    pub(crate) fn settle(result: Result<Response, Self>) -> Result<Response, ApiError> {
        match result {
            Ok(response) => Ok(response),
            Err(Self::Api(error)) => Err(error),
            Err(refusal @ Self::OAuth(_)) => Ok(refusal.into_response()),
        }
    }
}

/// The path and query of a request: what a client's `X-Auth-Token` signs
/// (docs/protocol.md §7).
pub(crate) fn signed_target(uri: &Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned())
}

/// The value of the parameter `name` in decoded query or form `params`
/// (the first, where a rule has not already refused repeats).
pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub(crate) fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// 32 random bytes (codes, refresh tokens, session ids, client ids).
pub(crate) fn random32() -> Result<[u8; 32], ApiError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| ApiError::Internal("no randomness for an OAuth handle".into()))?;
    Ok(bytes)
}

/// A new random 256-bit handle, base64url.
pub(crate) fn new_handle() -> Result<String, ApiError> {
    Ok(sigil_oauth::grant::new_handle(random32()?))
}

/// The registered client of `client_id`, if any.
pub(crate) async fn find_client(
    state: &AppState,
    client_id: &str,
) -> Result<Option<RegisteredClient>, ApiError> {
    let Some(record) = state
        .store()
        .oauth()
        .get_client(client_id.to_owned())
        .await
        .map_err(|e| ApiError::from_store(&e))?
    else {
        return Ok(None);
    };
    serde_json::from_str(&record.document)
        .map(Some)
        .map_err(|e| ApiError::Internal(format!("stored client {client_id} is unreadable: {e}")))
}

/// The query string's parameters, percent-decoded, in order.
pub(crate) fn query_params(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A 303 to `location`.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    no_store(response.headers_mut());
    response
}
