//! The tokens a code exchange or a refresh issues (docs/protocol.md §17):
//! an access token in section 4's format (`typ` `at+jwt`, `client_id` the
//! OAuth client, plus `scope` and the grant it belongs to) and an ES256
//! id_token (`typ` `JWT`), both signed by the current key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sigil_core::es256::Es256SigningKey;
use sigil_core::jwt::AccessClaims;
use sigil_core::{Address, PublicKey};
use sigil_oauth::claims::{self, IdTokenInput, Profile};
use sigil_oauth::grant::CodeGrant;
use sigil_oauth::{Scopes, grant};

use crate::error::ApiError;
use crate::state::AppState;

/// The claim naming the grant an access token belongs to: `/userinfo`
/// refuses the token once that grant is revoked.
pub(crate) const GRANT_CLAIM: &str = "sigil_grant";

#[derive(Serialize)]
struct OAuthAccessClaims<'a> {
    #[serde(flatten)]
    base: &'a AccessClaims,
    scope: String,
    sigil_grant: &'a str,
}

fn sign_compact(key: &Es256SigningKey, typ: &str, payload: &[u8]) -> Result<String, ApiError> {
    let header = serde_json::to_vec(&serde_json::json!({
        "alg": sigil_core::jws::ALG,
        "typ": typ,
        "kid": key.kid(),
    }))
    .expect("a json! value serialises");
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = key
        .sign(token.as_bytes())
        .map_err(|e| ApiError::Internal(format!("signing failed: {e}")))?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// What one issuance is about.
pub(crate) struct Issue<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) scopes: &'a Scopes,
    pub(crate) resource: Option<&'a str>,
    pub(crate) grant_id: &'a str,
    pub(crate) auth_time_s: u64,
    /// `Some` for a code exchange (with its nonce); `None` on refresh.
    pub(crate) nonce: Option<Option<&'a str>>,
}

/// The signed access token and, with `openid`, the id_token.
pub(crate) fn tokens(
    state: &AppState,
    issue: &Issue<'_>,
) -> Result<(String, Option<String>), ApiError> {
    let settings = state.settings();
    let issuer = &settings.issuer;
    let subject = PublicKey::from_hex(issue.subject)
        .map_err(|e| ApiError::Internal(format!("stored subject unreadable: {e}")))?;
    let now_s = state.now_ms() / 1000;
    let mut jti = [0u8; 16];
    jti.copy_from_slice(&super::random32()?[..16]);
    let audience = claims::access_token_audience(issuer, issue.resource);
    let mut base = AccessClaims::new(
        issuer,
        &subject,
        &audience,
        now_s,
        settings.oauth.access_token_lifetime_s,
        jti,
    );
    base.client_id = issue.client_id.to_owned();
    let profile = profile_of(state, &subject);
    if issue.scopes.contains(sigil_oauth::Scope::Profile) {
        base.name.clone_from(&profile.name);
        base.bap_id.clone_from(&profile.bap_id);
    }
    let claims = OAuthAccessClaims {
        base: &base,
        scope: issue.scopes.to_string(),
        sigil_grant: issue.grant_id,
    };
    let keys = state.keys();
    let key = keys.current();
    let access = sign_compact(
        key,
        sigil_core::jwt::ACCESS_TOKEN_TYP,
        &serde_json::to_vec(&claims).expect("claims serialise"),
    )?;
    let id_token = if issue.scopes.contains(sigil_oauth::Scope::OpenId) {
        let mut id = claims::id_token(&IdTokenInput {
            issuer,
            client_id: issue.client_id,
            subject: &subject,
            now_s,
            auth_time_s: issue.auth_time_s,
            nonce: issue.nonce.flatten(),
            scopes: issue.scopes,
            profile: &profile,
        });
        id.exp = now_s + settings.oauth.id_token_lifetime_s;
        Some(sign_compact(
            key,
            "JWT",
            &serde_json::to_vec(&id).expect("claims serialise"),
        )?)
    } else {
        None
    };
    Ok((access, id_token))
}

/// What the registry knows of `subject`.
fn profile_of(state: &AppState, subject: &PublicKey) -> Profile {
    let accounts = state.accounts();
    accounts
        .get(subject)
        .map_or_else(Profile::default, |a| Profile {
            bap_id: a.bap_id.clone(),
            name: a.name.clone(),
        })
}

/// The `sigil_grant` claim of a token whose signature was already
/// verified; `None` for a token-for-endpoint token (which has none).
pub(crate) fn grant_of(verified_token: &str) -> Option<String> {
    let payload = verified_token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get(GRANT_CLAIM)?.as_str().map(str::to_owned)
}

/// The `address` of a subject, for pages: the cashaddr with prefix, as
/// the wallet shows it.
pub(crate) fn address_of(subject: &str) -> String {
    PublicKey::from_hex(subject).map_or_else(
        |_| String::new(),
        |key| {
            let address = Address::p2pkh(&key, sigil_core::Network::Mainnet);
            address.to_cashaddr().unwrap_or_else(|| address.to_string())
        },
    )
}

/// A code grant's stored JSON back, or a 500.
pub(crate) fn read_grant(json: &str) -> Result<CodeGrant, ApiError> {
    CodeGrant::from_json(json)
        .map_err(|e| ApiError::Internal(format!("stored code unreadable: {e}")))
}

/// The hash the store keeps of a handle.
pub(crate) fn hash(handle: &str) -> String {
    grant::handle_hash(handle)
}
