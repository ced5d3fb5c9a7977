//! The axum extractors: [`Authenticated`] (behind the layer) and
//! [`AuthenticatedRequest`] (no layer: the validator in the router state).

use axum::BoxError;
use axum::body::{Bytes, HttpBody};
use axum::extract::{FromRef, FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use http::request::Parts;
use http::{HeaderMap, header};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};

use crate::authenticated::Authenticated;
use crate::error::Rejection;
use crate::validator::Validator;

/// Reads what [`Validator::layer`] put into the request. On a route the
/// layer does not cover this is a wiring bug: 500 `server_error` (logged).
impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Rejection> {
        parts.extensions.get::<Self>().cloned().ok_or_else(|| {
            Rejection::Internal(
                "the Authenticated extractor needs Validator::layer() on this route".into(),
            )
        })
    }
}

/// `Option<Authenticated>`: `None` where the layer did not run.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Rejection> {
        Ok(parts.extensions.get::<Self>().cloned())
    }
}

/// An authenticated request and its body, without the layer: the
/// [`Validator`] comes from the router state (`Validator: FromRef<S>`).
/// The body is read (up to [`Validator::max_body_bytes`], else 413) and
/// checked as received; use it in place of `Bytes`/`Json` (it consumes the
/// body, so it is the handler's last argument). A signed request or
/// `X-Auth-Token` is counted against its client address's rate limit before
/// the body is read (a 429 carries the `X-RateLimit-*` headers; other
/// answers do not, as the handler makes them). Behind the layer, it takes
/// the layer's result and does not check twice.
#[derive(Debug, Clone)]
pub struct AuthenticatedRequest {
    /// Who sent it, and how it was proved.
    pub auth: Authenticated,
    /// The body bytes exactly as received.
    pub body: Bytes,
}

impl<S> FromRequest<S> for AuthenticatedRequest
where
    Validator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Rejection> {
        let validator = Validator::from_ref(state);
        let (parts, body) = request.into_parts();
        if let Some(auth) = parts.extensions.get::<Authenticated>().cloned() {
            let body = read_body(&parts.headers, body, validator.max_body_bytes()).await?;
            return Ok(Self { auth, body });
        }
        let admission = validator.admit(&parts)?;
        let body = read_body(&parts.headers, body, validator.max_body_bytes()).await?;
        let auth = validator
            .authenticate_admitted(&parts, &body, &admission)
            .await?;
        Ok(Self { auth, body })
    }
}

/// Reads a body of at most `limit` bytes (a larger `Content-Length` is
/// refused before reading).
///
/// # Errors
/// [`Rejection::BodyTooLarge`]; [`Rejection::InvalidRequest`] when the body
/// cannot be read.
pub(crate) async fn read_body<B>(
    headers: &HeaderMap,
    body: B,
    limit: usize,
) -> Result<Bytes, Rejection>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(Rejection::BodyTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(Rejection::BodyTooLarge { limit }),
        Err(error) => Err(Rejection::InvalidRequest(format!(
            "the request body could not be read: {error}"
        ))),
    }
}
