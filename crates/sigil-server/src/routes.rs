//! [`router`]: every route of SPEC §3 and §5, and the middleware around them.

use axum::Router;
use axum::http::header;
use axum::routing::{get, post};
use sigil_core::api::paths;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;

use crate::handlers::{discovery, health, openapi, token, userinfo};
use crate::middleware;
use crate::state::AppState;

/// The application: every route, inside [`with_middleware`].
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route(paths::TOKEN_FOR_ENDPOINT, post(token::token_for_endpoint))
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
/// in SPEC §3's order.
pub fn with_middleware(routes: Router<AppState>, state: AppState) -> Router {
    routes
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
        .with_state(state)
}
