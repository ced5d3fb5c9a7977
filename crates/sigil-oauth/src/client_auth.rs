//! Client authentication at the token and revocation endpoints
//! (docs/protocol.md §17): by the client's registered method only, every
//! failure `invalid_client` (401). What must be remembered to refuse a
//! replay (a `private_key_jwt` `jti`, an `X-Auth-Token` statement) is
//! returned for the caller's store; the caller records it before it
//! consumes a code or a refresh token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sigil_core::auth_token::{self, BodyEncoding, Origin, PathBinding, RequestFacts};
use sigil_core::jwks::JwkSet;
use sigil_core::timestamp::Window;
use sigil_core::{ReplayKey, jws};

use crate::client::{AuthMethod, RegisteredClient};
use crate::error::{OAuthError, Result};
use crate::token::ClientCredentials;

/// The longest an assertion may live (`exp` − now), seconds: a long-lived
/// assertion would need a long replay memory.
pub const MAX_ASSERTION_LIFETIME_S: u64 = 600;

/// What the request was, for the checks that sign over it.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The issuer (the assertion's `aud`; the X-Auth-Token's origin).
    pub issuer: &'a str,
    /// The endpoint's absolute URL (also accepted as an assertion's `aud`).
    pub endpoint_url: &'a str,
    /// The path and query of the request as received.
    pub request_path: &'a str,
    /// The raw body bytes as received.
    pub body: &'a [u8],
    /// Now, ms.
    pub now_ms: u64,
}

/// What the caller must record before honouring the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// Nothing (`none`, a secret).
    Nothing,
    /// A `private_key_jwt` assertion: record `jti` for the client until
    /// `expires_at_ms`; a second use is a replay.
    Assertion {
        /// The assertion's `jti`.
        jti: String,
        /// Its `exp`, ms.
        expires_at_ms: u64,
    },
    /// An `X-Auth-Token`: insert `key` in the replay store until
    /// `expires_at_ms`.
    AuthToken {
        /// The statement's replay key.
        key: ReplayKey,
        /// When the record may go, ms.
        expires_at_ms: u64,
        /// When it was signed, ms.
        signed_at_ms: u64,
    },
}

fn refuse(description: impl Into<String>) -> OAuthError {
    OAuthError::invalid_client(description)
}

/// Checks `credentials` against `client`'s registered method.
///
/// # Errors
/// `invalid_client` saying what was wrong (never echoing a secret).
pub fn authenticate(
    client: &RegisteredClient,
    credentials: &ClientCredentials,
    request: &RequestContext<'_>,
) -> Result<Proof> {
    let method = client.auth_method;
    let wrong = |what: &str| {
        refuse(format!(
            "this client authenticates with {}; {what} is not accepted",
            method.as_str()
        ))
    };
    if method != AuthMethod::ClientSecretBasic && credentials.basic.is_some() {
        return Err(wrong("an Authorization Basic header"));
    }
    if method != AuthMethod::ClientSecretPost && credentials.client_secret.is_some() {
        return Err(wrong("client_secret in the body"));
    }
    if method != AuthMethod::PrivateKeyJwt && credentials.client_assertion.is_some() {
        return Err(wrong("a client_assertion"));
    }
    match method {
        AuthMethod::None => Ok(Proof::Nothing),
        AuthMethod::ClientSecretBasic => {
            let (_, secret) = credentials.basic.as_ref().ok_or_else(|| {
                refuse(
                    "this client authenticates with client_secret_basic: send Authorization: Basic",
                )
            })?;
            check_secret(client, secret)
        }
        AuthMethod::ClientSecretPost => {
            let secret = credentials.client_secret.as_deref().ok_or_else(|| {
                refuse("this client authenticates with client_secret_post: send client_secret")
            })?;
            check_secret(client, secret)
        }
        AuthMethod::PrivateKeyJwt => {
            let assertion = credentials.client_assertion.as_deref().ok_or_else(|| {
                refuse("this client authenticates with private_key_jwt: send client_assertion")
            })?;
            check_assertion(client, assertion, request)
        }
        AuthMethod::BitcoinAuthToken => {
            let token = credentials.x_auth_token.as_deref().ok_or_else(|| {
                refuse("this client authenticates with bitcoin_auth_token: send X-Auth-Token")
            })?;
            check_auth_token(client, token, request)
        }
    }
}

fn check_secret(client: &RegisteredClient, secret: &str) -> Result<Proof> {
    match &client.secret_hash {
        Some(hash) if hash.matches(secret) => Ok(Proof::Nothing),
        _ => Err(refuse("client authentication failed: wrong client secret")),
    }
}

/// The `iss` of an assertion, read without verifying it (to find the
/// client whose keys verify it).
#[must_use]
pub fn assertion_issuer(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// RFC 7523 §3: ES256 by a key of the client's `jwks`; `iss` = `sub` =
/// client_id; `aud` the issuer or the endpoint's URL; `exp` in the future
/// and at most [`MAX_ASSERTION_LIFETIME_S`] away; a `jti`.
fn check_assertion(
    client: &RegisteredClient,
    assertion: &str,
    request: &RequestContext<'_>,
) -> Result<Proof> {
    let jwks = client
        .jwks
        .as_ref()
        .ok_or_else(|| refuse("this client has no registered jwks"))?;
    let keys = JwkSet::from_json(jwks.to_string().as_bytes())
        .map_err(|e| refuse(format!("the client's registered jwks is unusable: {e}")))?;
    let verified = jws::verify(assertion, &keys)
        .map_err(|e| refuse(format!("client_assertion refused: {e}")))?;
    let claims: Value = serde_json::from_slice(&verified.payload)
        .map_err(|_| refuse("client_assertion: the claims are not JSON"))?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client.client_id.as_str())
        || text("sub") != Some(client.client_id.as_str())
    {
        return Err(refuse(
            "client_assertion: iss and sub must both be the client_id",
        ));
    }
    let audience_ok = |aud: &str| aud == request.issuer || aud == request.endpoint_url;
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => audience_ok(aud),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(audience_ok),
        _ => false,
    };
    if !aud_ok {
        return Err(refuse(format!(
            "client_assertion: aud must be the issuer {}",
            request.issuer
        )));
    }
    let now_s = request.now_ms / 1000;
    let exp = claims
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or_else(|| refuse("client_assertion: exp is missing"))?;
    if exp <= now_s {
        return Err(refuse("client_assertion expired"));
    }
    if exp - now_s > MAX_ASSERTION_LIFETIME_S {
        return Err(refuse(format!(
            "client_assertion: exp is more than {MAX_ASSERTION_LIFETIME_S} s away"
        )));
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| refuse("client_assertion: jti is missing"))?;
    Ok(Proof::Assertion {
        jti: jti.to_owned(),
        expires_at_ms: exp * 1000,
    })
}

/// Sigma's `bitcoin_auth_token`: an X-Auth-Token (docs/protocol.md §7) by
/// the client's registered key over the request path (or its absolute URL
/// on the issuer's origin) and the raw body bytes, inside ±300 s.
fn check_auth_token(
    client: &RegisteredClient,
    token: &str,
    request: &RequestContext<'_>,
) -> Result<Proof> {
    let registered = client
        .bitcoin_pubkey
        .as_deref()
        .ok_or_else(|| refuse("this client has no registered bitcoin_pubkey"))?;
    let origins: Vec<Origin> = Origin::of_url(request.issuer).into_iter().collect();
    let facts = RequestFacts {
        request_path: request.request_path,
        body: (!request.body.is_empty()).then_some(request.body),
        body_encoding: BodyEncoding::Utf8,
        now_ms: request.now_ms,
        window: Window::SYMMETRIC_300S,
    };
    let verified = auth_token::verify_bound(token, &facts, PathBinding::PathOrUrl(&origins))
        .map_err(|e| refuse(format!("X-Auth-Token refused: {e}")))?;
    if verified.signer.to_hex() != registered {
        return Err(refuse(
            "X-Auth-Token refused: signed by a key that is not the client's registered bitcoin_pubkey",
        ));
    }
    Ok(Proof::AuthToken {
        key: verified.replay_key,
        expires_at_ms: request.now_ms + Window::SYMMETRIC_300S.span_ms() + 1_000,
        signed_at_ms: verified.timestamp_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{GrantType, SecretHash};
    use crate::error::OAuthErrorCode;

    fn client(method: AuthMethod) -> RegisteredClient {
        RegisteredClient {
            client_id: "app".into(),
            client_name: "App".into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            grant_types: vec![GrantType::AuthorizationCode],
            auth_method: method,
            secret_hash: Some(SecretHash::of("s3cret")),
            jwks: None,
            bitcoin_pubkey: None,
            scope: None,
        }
    }

    fn ctx() -> RequestContext<'static> {
        RequestContext {
            issuer: "https://sigil.example",
            endpoint_url: "https://sigil.example/oauth2/token",
            request_path: "/oauth2/token",
            body: b"grant_type=authorization_code",
            now_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn secrets_by_the_registered_method_only() {
        let basic = ClientCredentials {
            basic: Some(("app".into(), "s3cret".into())),
            ..Default::default()
        };
        let post = ClientCredentials {
            client_id: Some("app".into()),
            client_secret: Some("s3cret".into()),
            ..Default::default()
        };
        let wrong = ClientCredentials {
            basic: Some(("app".into(), "guess".into())),
            ..Default::default()
        };
        let c = client(AuthMethod::ClientSecretBasic);
        assert_eq!(authenticate(&c, &basic, &ctx()), Ok(Proof::Nothing));
        for creds in [&post, &wrong, &ClientCredentials::default()] {
            let err = authenticate(&c, creds, &ctx()).unwrap_err();
            assert_eq!(err.error, OAuthErrorCode::InvalidClient, "{creds:?}");
        }
        let c = client(AuthMethod::ClientSecretPost);
        assert_eq!(authenticate(&c, &post, &ctx()), Ok(Proof::Nothing));
        assert!(authenticate(&c, &basic, &ctx()).is_err());
        let c = client(AuthMethod::None);
        assert!(authenticate(&c, &basic, &ctx()).is_err());
        assert_eq!(
            authenticate(&c, &ClientCredentials::default(), &ctx()),
            Ok(Proof::Nothing)
        );
    }
}
