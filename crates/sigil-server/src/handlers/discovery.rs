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
/// Only what the server does (docs/protocol.md §5, §17): the OAuth /
/// OpenID Connect provider's endpoints and choices, then the sigil
/// extensions. `registration_endpoint` only while `dynamic_registration`
/// is on. With the wallet on (`sdk_integrity` given), its page, its SDK
/// and the SDK's `sha384` integrity too (docs/protocol.md §16). Every URL
/// member names a route of [`crate::routes`].
pub(crate) fn document(
    issuer: &str,
    dynamic_registration: bool,
    sdk_integrity: Option<&str>,
) -> Vec<u8> {
    let url = |path: &str| format!("{issuer}{path}");
    let mut document = json!({
        "issuer": issuer,
        "authorization_endpoint": url(paths::OAUTH_AUTHORIZE),
        "token_endpoint": url(paths::OAUTH_TOKEN),
        "userinfo_endpoint": url(paths::USERINFO),
        "jwks_uri": url(paths::JWKS),
        "revocation_endpoint": url(paths::OAUTH_REVOKE),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "access_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "none", "client_secret_basic", "client_secret_post", "private_key_jwt", "bitcoin_auth_token"
        ],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
        "revocation_endpoint_auth_methods_supported": [
            "none", "client_secret_basic", "client_secret_post", "private_key_jwt", "bitcoin_auth_token"
        ],
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": ["openid", "profile", "offline_access"],
        "claims_supported": [
            "iss", "sub", "aud", "client_id", "iat", "nbf", "exp", "jti", "auth_time", "nonce",
            "scope", "pubkey", "address", "bap_id", "name"
        ],
        "prompt_values_supported": ["none", "login", "consent"],
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
    if dynamic_registration && let Some(members) = document.as_object_mut() {
        members.insert(
            "registration_endpoint".into(),
            json!(url(paths::OAUTH_REGISTER)),
        );
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
