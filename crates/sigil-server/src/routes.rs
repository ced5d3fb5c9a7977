//! [`router`]: every route of docs/protocol.md §3, §5 and §11, and the middleware around them.

use axum::Router;
use axum::http::header;
use axum::routing::{get, post};
use sigil_core::api::paths;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;

use crate::handlers::{discovery, health, openapi, payload, token, userinfo};
use crate::middleware;
use crate::state::AppState;

/// The application: every route, inside [`with_middleware`].
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route(paths::TOKEN_FOR_ENDPOINT, post(token::token_for_endpoint))
        .route(paths::PAYLOADS_VERIFY, post(payload::verify_payload))
        .route(paths::PAYLOADS_VERIFY_ALIAS, post(payload::verify_payload))
        .route(paths::JWKS, get(discovery::jwks))
        .route(paths::JWKS_ALIAS, get(discovery::jwks))
        .route(
            paths::OPENID_CONFIGURATION,
            get(discovery::openid_configuration),
        )
        .route(
            paths::OAUTH_AUTHORIZATION_SERVER,
            get(discovery::openid_configuration),
        )
        .route(paths::USERINFO, get(userinfo::userinfo))
        .route(paths::USERINFO_ALIAS, get(userinfo::userinfo))
        .route(paths::HEALTH, get(health::health))
        .route(paths::READY, get(health::ready))
        .route(paths::METRICS, get(health::metrics))
        .route(paths::OPENAPI, get(openapi::openapi));
    with_middleware(routes, state)
}

/// Wraps `routes` in the one stack of layers (outermost first): request
/// id, timeout, error normalisation, access log and metrics
/// (`middleware::edge`); sensitive headers redacted; panics caught as 500
/// `server_error`. Body size and rate limits are enforced in the handlers,
/// in docs/protocol.md §3's order.
pub fn with_middleware(routes: Router<AppState>, state: AppState) -> Router {
    // The layers wrap the routed application as a whole (not each route),
    // so they see its final answers, with the `Allow` header axum's method
    // router adds to a 405 after the route's own layers have run.
    Router::new()
        .fallback_service(routes.with_state(state.clone()))
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    middleware::edge,
                ))
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                    header::COOKIE,
                ]))
                .layer(CatchPanicLayer::new()),
        )
}
