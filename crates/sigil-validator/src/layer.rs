//! The tower integration: [`AuthLayer`] and its [`AuthService`].

use std::task::{Context, Poll};

use axum::BoxError;
use axum::body::{Body, Bytes, HttpBody};
use axum::response::{IntoResponse, Response};
use http::Request;
use tower::{Layer, Service};

use crate::admission::Admission;
use crate::extract::read_body;
use crate::replay::BoxFuture;
use crate::validator::Validator;

/// Authenticates every request before the wrapped service sees it
/// ([`Validator::layer`]).
///
/// On success the [`Authenticated`](crate::Authenticated) caller is put
/// into the request's extensions (read it with the `Authenticated`
/// extractor) and the request goes on. A signed request or an
/// `X-Auth-Token` needs the body: it is buffered (up to
/// [`Validator::max_body_bytes`], else 413), checked, and handed on
/// unchanged; a bearer-only request is not buffered. Such a request is
/// first counted against its client address's rate limit
/// ([`ValidatorBuilder::rate_limit`](crate::ValidatorBuilder::rate_limit)),
/// before its body is read, and every answer to it carries the
/// `X-RateLimit-*` headers. On failure the answer is the
/// [`Rejection`](crate::Rejection) and the wrapped service is not called.
///
/// With axum, `Router::route_layer(validator.layer())` protects the routes
/// and leaves unknown paths answered 404.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    validator: Validator,
}

impl AuthLayer {
    pub(crate) fn new(validator: Validator) -> Self {
        Self { validator }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            validator: self.validator.clone(),
        }
    }
}

/// The service [`AuthLayer`] makes.
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    validator: Validator,
}

impl<S, B> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<Body>> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone is not ready; the instance that was polled ready is
        // taken (tower's usual pattern).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let validator = self.validator.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let admission = match validator.admit(&parts) {
                Ok(admission) => admission,
                Err(rejection) => return Ok(rejection.into_response()),
            };
            let (bytes, body) = if validator.needs_body(&parts.headers) {
                match read_body(&parts.headers, body, validator.max_body_bytes()).await {
                    Ok(bytes) => (bytes.clone(), Body::from(bytes)),
                    Err(rejection) => {
                        return Ok(with_limit(rejection.into_response(), &admission));
                    }
                }
            } else {
                (Bytes::new(), Body::new(body))
            };
            let response = match validator
                .authenticate_admitted(&parts, &bytes, &admission)
                .await
            {
                Ok(who) => {
                    parts.extensions.insert(who);
                    inner
                        .call(Request::from_parts(parts, body))
                        .await?
                        .into_response()
                }
                Err(rejection) => rejection.into_response(),
            };
            Ok(with_limit(response, &admission))
        })
    }
}

/// The `X-RateLimit-*` headers of the client's bucket on an answer to a
/// counted request (docs/protocol.md §10).
fn with_limit(mut response: Response, admission: &Admission) -> Response {
    // An admitted request's decision allows it, so `Retry-After` (of a
    // later refusal, e.g. a full replay memory) is left as it is.
    if let Some(decision) = admission.decision {
        decision.write_headers(response.headers_mut());
    }
    response
}
