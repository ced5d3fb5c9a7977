//! The JWKS and the two discovery documents (docs/protocol.md §5).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sigil_core::api::paths;

use crate::state::AppState;

/// The discovery document for `issuer`, serialised once at start-up.
///
/// Only what the server does (docs/protocol.md §5): no authorization
/// endpoint, no ID token, so no `response_types_supported`,
/// `id_token_signing_alg_values_supported` or `subject_types_supported`.
/// Every URL member names a route of [`crate::routes`]. With the wallet on
/// (`sdk_integrity` given), its page, its SDK and the SDK's `sha384`
/// integrity too (docs/protocol.md §16).
pub(crate) fn document(issuer: &str, sdk_integrity: Option<&str>) -> Vec<u8> {
    let url = |path: &str| format!("{issuer}{path}");
    let mut document = json!({
        "issuer": issuer,
        "jwks_uri": url(paths::JWKS),
        "token_endpoint": url(paths::TOKEN_FOR_ENDPOINT),
        "userinfo_endpoint": url(paths::USERINFO),
        "access_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "claims_supported": [
            "iss", "sub", "aud", "client_id", "iat", "nbf", "exp", "jti", "address", "bap_id", "name"
        ],
        "service_documentation": url(paths::OPENAPI),
        "sigil_token_for_endpoint_endpoint": url(paths::TOKEN_FOR_ENDPOINT),
        "sigil_payload_verify_endpoint": url(paths::PAYLOADS_VERIFY),
        "sigil_openapi_uri": url(paths::OPENAPI),
        "sigil_token_request_message_forms": ["compat", "bound"],
        "sigil_signature_schemes_supported": ["bsm", "brc77"],
    });
    if let (Some(integrity), Some(fields)) = (sdk_integrity, document.as_object_mut()) {
        fields.insert("sigil_wallet_url".into(), url(paths::WALLET).into());
        fields.insert("sigil_sdk_url".into(), url(paths::SDK_JS).into());
        fields.insert("sigil_sdk_integrity".into(), integrity.into());
    }
    serde_json::to_vec(&document).expect("a json! value serialises")
}

fn public_json(body: Bytes) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// The JSON Web Key Set: every key that signed a still-valid token.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "discovery",
    responses((status = 200, description = "JWKS (RFC 7517) with x5c; Cache-Control: public, max-age=300; CORS open", content_type = "application/json"))
)]
pub(crate) async fn jwks(State(state): State<AppState>) -> Response {
    public_json(state.keys().jwks_json().clone())
}

/// OpenID Connect / RFC 8414 discovery document.
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    tag = "discovery",
    responses((status = 200, description = "issuer, jwks_uri, token_endpoint, userinfo_endpoint, access-token signing algorithms, the sigil extension URLs", content_type = "application/json"))
)]
pub(crate) async fn openid_configuration(State(state): State<AppState>) -> Response {
    public_json(state.discovery_json().clone())
}
