//! [`router`]: every route of docs/protocol.md §3, §5, §11 and §16, and the middleware around them.

use axum::Router;
use axum::http::{Method, header};
use axum::routing::{MethodFilter, MethodRouter, on};
use sigil_core::api::{Operation, ROUTES, Route};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;

use crate::handlers::oauth::{account, authorize, consent, login, register, revoke};
use crate::handlers::{discovery, health, oauth, openapi, payload, token, userinfo, wallet};
use crate::middleware;
use crate::state::AppState;

/// The application: every route of [`sigil_core::api::ROUTES`], inside
/// [`with_middleware`].
pub fn router(state: AppState) -> Router {
    let routes = ROUTES.iter().fold(Router::new(), |routes, route| {
        routes.route(route.path, method_router(route))
    });
    with_middleware(routes, state)
}

/// The handler of `route`'s operation, for exactly its methods.
fn method_router(route: &Route) -> MethodRouter<AppState> {
    let filter = route
        .methods
        .iter()
        .map(|name| {
            Method::from_bytes(name.as_bytes())
                .ok()
                .and_then(|method| MethodFilter::try_from(method).ok())
                .unwrap_or_else(|| panic!("{}: no such method {name}", route.path))
        })
        .reduce(MethodFilter::or)
        .unwrap_or_else(|| panic!("{} lists no method", route.path));
    // One arm per operation: a new operation does not compile until it has
    // its handler.
    match route.operation {
        Operation::IssueToken => on(filter, token::token_for_endpoint),
        Operation::VerifyPayload => on(filter, payload::verify_payload),
        Operation::Jwks => on(filter, discovery::jwks),
        Operation::Discovery => on(filter, discovery::openid_configuration),
        Operation::UserInfo => on(filter, userinfo::userinfo),
        Operation::Health => on(filter, health::health),
        Operation::Ready => on(filter, health::ready),
        Operation::Metrics => on(filter, health::metrics),
        Operation::OpenApi => on(filter, openapi::openapi),
        Operation::Wallet => on(filter, wallet::page),
        Operation::WalletAsset => on(filter, wallet::asset),
        Operation::Sdk => on(filter, wallet::sdk),
        Operation::SdkModule => on(filter, wallet::sdk_module),
        Operation::OAuthAuthorize => on(filter, authorize::authorize),
        Operation::OAuthToken => on(filter, oauth::token::token),
        Operation::OAuthRevoke => on(filter, revoke::revoke),
        Operation::OAuthRegister => on(filter, register::register),
        Operation::OAuthLogin => on(filter, login::login),
        Operation::OAuthConsent => on(filter, consent::consent),
        Operation::Account => on(filter, account::account),
        Operation::AccountRevoke => on(filter, account::revoke),
        Operation::AccountSignOut => on(filter, account::sign_out),
    }
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
