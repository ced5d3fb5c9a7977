//! `GET /userinfo` (docs/protocol.md §5): who the bearer token belongs to.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use sigil_core::api::{UserInfo, paths};
use sigil_core::jwt::{self, Audience, ValidationRules};

use crate::error::ApiError;
use crate::state::AppState;

/// The claims of the bearer token, and the registry's name and `bap_id`.
#[utoipa::path(
    method(get, post),
    path = "/userinfo",
    tag = "tokens",
    security(("bearer" = [])),
    responses(
        (status = 200, body = UserInfo),
        (status = 401, description = "invalid_token (WWW-Authenticate: Bearer): a bad, expired or revoked token", body = sigil_core::api::ErrorBody),
    )
)]
pub(crate) async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<UserInfo>, ApiError> {
    let token = bearer(&headers)?;
    let issuer = &state.settings().issuer;
    let rules = ValidationRules::new(
        issuer.clone(),
        Audience::AnyOf(vec![
            issuer.clone(),
            format!("{issuer}{}", paths::USERINFO),
            format!("{issuer}{}", paths::USERINFO_ALIAS),
        ]),
    )
    // This server's own lifetime: a longer configured lifetime must not
    // make its own tokens fail here.
    .with_max_lifetime_s(state.settings().token_lifetime_s);
    let keys = state.keys();
    let claims = jwt::validate(token, keys.verify_set(), &rules, state.now_ms() / 1000)
        .map_err(|e| ApiError::from_core(&e))?;
    // An OAuth access token stops working once its grant is revoked
    // (a reused code or refresh token, /account's Revoke, /oauth2/revoke).
    if let Some(grant_id) = crate::handlers::oauth::signing::grant_of(token) {
        let grant = state
            .store()
            .oauth()
            .get_grant(grant_id)
            .await
            .map_err(|e| ApiError::from_store(&e))?;
        if grant.is_none_or(|g| g.revoked) {
            return Err(ApiError::InvalidToken(Some(
                "token revoked: the sign-in it was issued for was revoked".into(),
            )));
        }
    }
    let accounts = state.accounts();
    let account = accounts.get(&claims.sub);
    // A revoked account's tokens stop answering at once (within the
    // registry's reload interval), not when they expire (RFC 6750 §3.1:
    // a revoked token is invalid_token).
    if account.is_some_and(sigil_store::Account::is_revoked) {
        return Err(ApiError::InvalidToken(Some(format!(
            "token revoked: the account of key {} was revoked; its tokens are no longer accepted",
            claims.sub.to_hex()
        ))));
    }
    let pubkey = claims.sub.to_hex();
    Ok(Json(UserInfo {
        sub: pubkey.clone(),
        pubkey,
        address: claims.sub.to_address().to_string(),
        bap_id: account.and_then(|a| a.bap_id.clone()).or(claims.bap_id),
        name: account.and_then(|a| a.name.clone()).or(claims.name),
    }))
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::InvalidToken(None));
    };
    let value = value.to_str().map_err(|_| {
        ApiError::InvalidToken(Some("the Authorization header is not ASCII".into()))
    })?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::InvalidToken(Some(
            "the Authorization header must be \"Bearer <token>\"".into(),
        ))),
    }
}
