//! `GET /openapi.json`: the whole HTTP surface, generated from the handlers'
//! annotations and the API types of `sigil_core::api`.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sigil_core::api::{ErrorBody, ErrorCode, PayloadVerification, ROUTES, TokenResponse, UserInfo};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::oauth::{account, authorize, consent, login, register, revoke};
use super::{discovery, health, oauth, payload, token, userinfo, wallet};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "sigil",
        description = "Authentication for holders of Bitcoin keys: a signed statement in, a short-lived ES256 access token out. Every error is {\"error\", \"error_description\"} with a code of docs/protocol.md §8."
    ),
    paths(
        token::token_for_endpoint,
        payload::verify_payload,
        discovery::jwks,
        discovery::openid_configuration,
        userinfo::userinfo,
        health::health,
        health::ready,
        health::metrics,
        openapi,
        wallet::page,
        wallet::asset,
        wallet::sdk,
        wallet::sdk_module,
        authorize::authorize,
        oauth::token::token,
        revoke::revoke,
        register::register,
        login::login,
        consent::consent,
        account::account,
        account::revoke,
        account::sign_out,
    ),
    components(schemas(ErrorBody, ErrorCode, PayloadVerification, TokenResponse, UserInfo, oauth::token::OAuthTokenResponse)),
    modifiers(&Aliases),
    tags(
        (name = "tokens", description = "Token issuing and user info"),
        (name = "payloads", description = "Signup signed payloads, each verified once"),
        (name = "discovery", description = "JWKS and discovery documents"),
        (name = "oauth", description = "The OAuth 2.0 / OpenID Connect provider (docs/protocol.md §17)"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
        (name = "wallet", description = "The browser wallet and its SDK"),
    )
)]
struct ApiDoc;

/// Adds the alias paths of [`ROUTES`] (their canonical route's operation)
/// and the bearer scheme.
struct Aliases;

impl Modify for Aliases {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for route in ROUTES {
            if let Some(canonical) = route.alias_of
                && let Some(item) = openapi.paths.paths.get(canonical).cloned()
            {
                openapi.paths.paths.insert(route.path.to_owned(), item);
            }
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The OpenAPI document.
#[must_use]
pub(crate) fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub(crate) async fn openapi() -> Response {
    static JSON: OnceLock<Bytes> = OnceLock::new();
    let body = JSON
        .get_or_init(|| {
            Bytes::from(
                document()
                    .to_json()
                    .expect("the generated OpenAPI document serialises"),
            )
        })
        .clone();
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
