//! Registered clients: what the provider knows of an app, how it
//! authenticates at the token endpoint, and dynamic registration's
//! metadata rules (RFC 7591; docs/protocol.md §17).

use serde::{Deserialize, Serialize};
use sigil_core::PublicKey;
use subtle::ConstantTimeEq as _;

use crate::error::{OAuthError, OAuthErrorCode, Result};
use crate::redirect;
use crate::scope::Scopes;
use sigil_core::quoted;

/// How a client authenticates at the token endpoint
/// (`token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A public client: no secret, PKCE only.
    None,
    /// `Authorization: Basic` with the client secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_secret` in the form body.
    ClientSecretPost,
    /// An ES256 JWT assertion by a key of the client's `jwks` (RFC 7523).
    PrivateKeyJwt,
    /// Sigma's `X-Auth-Token` by the client's registered Bitcoin key over
    /// the path and the raw body.
    BitcoinAuthToken,
}

impl AuthMethod {
    /// Every method, in the order of
    /// `token_endpoint_auth_methods_supported`.
    pub const ALL: [Self; 5] = [
        Self::None,
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::PrivateKeyJwt,
        Self::BitcoinAuthToken,
    ];

    /// The wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::BitcoinAuthToken => "bitcoin_auth_token",
        }
    }

    /// The method of this wire name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Whether the client holds a shared secret.
    #[must_use]
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }
}

/// A grant type a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// `authorization_code`.
    AuthorizationCode,
    /// `refresh_token`.
    RefreshToken,
}

impl GrantType {
    /// The wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
        }
    }

    /// The grant type of this wire name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [Self::AuthorizationCode, Self::RefreshToken]
            .into_iter()
            .find(|g| g.as_str() == name)
    }
}

/// What the provider keeps of a client (the store holds it; the secret
/// only as [`SecretHash`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredClient {
    /// The client's id: random, URL-safe.
    pub client_id: String,
    /// The name the consent screen shows.
    pub client_name: String,
    /// The redirect URIs, each checked by [`redirect::check_registered`].
    pub redirect_uris: Vec<String>,
    /// The grant types it may use (always `authorization_code`).
    pub grant_types: Vec<GrantType>,
    /// How it authenticates.
    pub auth_method: AuthMethod,
    /// The secret's hash, for the `client_secret_*` methods.
    pub secret_hash: Option<SecretHash>,
    /// The ES256 public keys, as a JWKS document, for `private_key_jwt`.
    pub jwks: Option<serde_json::Value>,
    /// The compressed public key (hex), for `bitcoin_auth_token`.
    pub bitcoin_pubkey: Option<String>,
    /// The scopes it may ask for (RFC 7591 `scope`), space-separated;
    /// `None`: any scope the server knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl RegisteredClient {
    /// Whether this client may use `grant`.
    #[must_use]
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The host of a redirect URI, for the consent screen ("…will send
    /// you back to app.example").
    #[must_use]
    pub fn redirect_host(redirect_uri: &str) -> Option<String> {
        let url = url::Url::parse(redirect_uri).ok()?;
        let host = url.host_str()?;
        Some(match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        })
    }
}

/// A client secret's SHA-256, hex. Secrets are 256 random bits made by the
/// provider (never chosen by a person), so one hash suffices; the
/// comparison is in constant time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretHash(String);

impl SecretHash {
    /// The hash of `secret`.
    #[must_use]
    pub fn of(secret: &str) -> Self {
        Self(crate::grant::handle_hash(secret))
    }

    /// A hash as stored (64 lower-case hex characters).
    ///
    /// # Errors
    /// When `hex` is not 64 lower-case hex characters.
    pub fn from_stored(hex: &str) -> std::result::Result<Self, String> {
        if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(hex.to_owned()))
        } else {
            Err("a client secret hash is 64 lower-case hex characters".into())
        }
    }

    /// The stored form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `secret` has this hash (constant time in the hash).
    #[must_use]
    pub fn matches(&self, secret: &str) -> bool {
        let presented = Self::of(secret);
        bool::from(presented.0.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

/// A new client secret from 32 random bytes the caller supplies
/// (unpadded base64url, 43 characters).
#[must_use]
pub fn new_secret(random: [u8; 32]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
}

/// Dynamic registration's request (RFC 7591 §2), the members sigil reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClientMetadata {
    /// Required, at least one.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Shown on the consent screen; defaults to the first redirect host.
    pub client_name: Option<String>,
    /// `authorization_code` (default) and optionally `refresh_token`.
    pub grant_types: Option<Vec<String>>,
    /// Only `["code"]`.
    pub response_types: Option<Vec<String>>,
    /// `none` (default), `private_key_jwt` (with `jwks`) or
    /// `bitcoin_auth_token` (with `bitcoin_pubkey`); a secret method is
    /// registered by an operator, not by anyone.
    pub token_endpoint_auth_method: Option<String>,
    /// The ES256 keys for `private_key_jwt`.
    pub jwks: Option<serde_json::Value>,
    /// The compressed key (hex) for `bitcoin_auth_token`.
    pub bitcoin_pubkey: Option<String>,
    /// The scopes the client may ask for (RFC 7591 §2); absent: any.
    pub scope: Option<String>,
}

/// The longest client name accepted, characters.
pub const MAX_CLIENT_NAME: usize = 100;

/// The most redirect URIs one client may register.
pub const MAX_REDIRECT_URIS: usize = 20;

fn metadata_error(description: String) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidClientMetadata, description)
}

/// Who is adding a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Registrar {
    /// Anyone, through dynamic registration: no secret methods.
    Anyone,
    /// The operator (`sigil clients add`): every method.
    Operator,
}

/// Checks dynamic registration metadata and gives the client to store
/// under `client_id` (the caller makes the id).
///
/// # Errors
/// `invalid_redirect_uri` for a redirect URI [`redirect::check_registered`]
/// refuses; `invalid_client_metadata` naming the member otherwise (a
/// secret method included: those are for [`add_by_operator`]).
pub fn register(metadata: &ClientMetadata, client_id: String) -> Result<RegisteredClient> {
    build(metadata, client_id, None, Registrar::Anyone)
}

/// Checks an operator's client (`sigil clients add`) by the rules of
/// [`register`], except that every method of [`AuthMethod::ALL`] is
/// allowed; a `client_secret_*` client needs `secret` (the hash of a
/// secret the caller made with [`new_secret`]), the other methods none.
///
/// # Errors
/// As [`register`]; `invalid_client_metadata` when `secret` is missing
/// for a secret method or given for another.
pub fn add_by_operator(
    metadata: &ClientMetadata,
    client_id: String,
    secret: Option<SecretHash>,
) -> Result<RegisteredClient> {
    build(metadata, client_id, secret, Registrar::Operator)
}

fn build(
    metadata: &ClientMetadata,
    client_id: String,
    secret_hash: Option<SecretHash>,
    by: Registrar,
) -> Result<RegisteredClient> {
    if metadata.redirect_uris.is_empty() {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidRedirectUri,
            "redirect_uris is required: at least one redirect URI",
        ));
    }
    if metadata.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::new(
            OAuthErrorCode::InvalidRedirectUri,
            format!("at most {MAX_REDIRECT_URIS} redirect URIs"),
        ));
    }
    for uri in &metadata.redirect_uris {
        redirect::check_registered(uri)?;
    }
    if let Some(types) = &metadata.response_types
        && types.as_slice() != ["code"]
    {
        return Err(metadata_error(
            "response_types must be [\"code\"]: only the authorization code flow is served".into(),
        ));
    }
    let grant_types = grant_types(metadata)?;
    let auth_method = auth_method(metadata, by)?;
    match (auth_method.uses_secret(), &secret_hash) {
        (true, None) => {
            return Err(metadata_error(format!(
                "{} needs a client secret",
                auth_method.as_str()
            )));
        }
        (false, Some(_)) => {
            return Err(metadata_error(format!(
                "{} takes no client secret",
                auth_method.as_str()
            )));
        }
        _ => {}
    }
    let jwks = match (auth_method, &metadata.jwks) {
        (AuthMethod::PrivateKeyJwt, Some(jwks)) => {
            check_jwks(jwks)?;
            Some(jwks.clone())
        }
        (AuthMethod::PrivateKeyJwt, None) => {
            return Err(metadata_error("private_key_jwt needs jwks".into()));
        }
        _ => None,
    };
    let bitcoin_pubkey = match (auth_method, &metadata.bitcoin_pubkey) {
        (AuthMethod::BitcoinAuthToken, Some(hex)) => {
            let key = PublicKey::from_hex(hex).map_err(|e| {
                metadata_error(format!(
                    "bitcoin_pubkey: {e}; a compressed public key in hex is expected"
                ))
            })?;
            Some(key.to_hex())
        }
        (AuthMethod::BitcoinAuthToken, None) => {
            return Err(metadata_error(
                "bitcoin_auth_token needs bitcoin_pubkey".into(),
            ));
        }
        _ => None,
    };
    let scope = match metadata.scope.as_deref() {
        None => None,
        Some(text) => {
            let scopes = Scopes::parse(Some(text))
                .map_err(|e| metadata_error(format!("scope: {}", e.error_description)))?;
            Some(scopes.to_string())
        }
    };
    let client_name = match &metadata.client_name {
        Some(name)
            if name.trim().is_empty()
                || name.chars().count() > MAX_CLIENT_NAME
                || name.chars().any(char::is_control) =>
        {
            return Err(metadata_error(format!(
                "client_name must be 1 to {MAX_CLIENT_NAME} characters without control characters"
            )));
        }
        Some(name) => name.trim().to_owned(),
        None => RegisteredClient::redirect_host(&metadata.redirect_uris[0]).unwrap_or_default(),
    };
    Ok(RegisteredClient {
        client_id,
        client_name,
        redirect_uris: metadata.redirect_uris.clone(),
        grant_types,
        auth_method,
        secret_hash,
        jwks,
        bitcoin_pubkey,
        scope,
    })
}

/// `grant_types`: `authorization_code` always, `refresh_token` when
/// listed.
fn grant_types(metadata: &ClientMetadata) -> Result<Vec<GrantType>> {
    let mut grant_types = vec![GrantType::AuthorizationCode];
    for name in metadata.grant_types.iter().flatten() {
        match GrantType::parse(name) {
            Some(GrantType::AuthorizationCode) => {}
            Some(GrantType::RefreshToken) => {
                if !grant_types.contains(&GrantType::RefreshToken) {
                    grant_types.push(GrantType::RefreshToken);
                }
            }
            None => {
                return Err(metadata_error(format!(
                    "grant_types: {} is not served (authorization_code, refresh_token)",
                    quoted(name)
                )));
            }
        }
    }
    Ok(grant_types)
}

/// `token_endpoint_auth_method` (absent: `none`); the secret methods only
/// for the operator.
fn auth_method(metadata: &ClientMetadata, by: Registrar) -> Result<AuthMethod> {
    let Some(name) = metadata.token_endpoint_auth_method.as_deref() else {
        return Ok(AuthMethod::None);
    };
    match (AuthMethod::parse(name), by) {
        (Some(m), Registrar::Operator) => Ok(m),
        (Some(m), Registrar::Anyone) if !m.uses_secret() => Ok(m),
        (Some(m), Registrar::Anyone) => Err(metadata_error(format!(
            "token_endpoint_auth_method {} is given to clients an operator adds (`sigil clients add`); register with none, private_key_jwt or bitcoin_auth_token",
            m.as_str()
        ))),
        (None, Registrar::Anyone) => Err(metadata_error(format!(
            "token_endpoint_auth_method {} is unknown (none, private_key_jwt, bitcoin_auth_token)",
            quoted(name)
        ))),
        (None, Registrar::Operator) => Err(metadata_error(format!(
            "token_endpoint_auth_method {} is unknown (none, client_secret_basic, client_secret_post, private_key_jwt, bitcoin_auth_token)",
            quoted(name)
        ))),
    }
}

/// A `jwks` for `private_key_jwt`: an object with a non-empty `keys`
/// array of EC P-256 keys.
fn check_jwks(jwks: &serde_json::Value) -> Result<()> {
    let keys = jwks
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .filter(|keys| !keys.is_empty())
        .ok_or_else(|| {
            metadata_error("jwks must be an object with a non-empty \"keys\" array".into())
        })?;
    for key in keys {
        let ok = key.get("kty").and_then(|v| v.as_str()) == Some("EC")
            && key.get("crv").and_then(|v| v.as_str()) == Some("P-256")
            && key.get("d").is_none();
        if !ok {
            return Err(metadata_error(
                "jwks: every key must be a public EC P-256 key (kty EC, crv P-256, no d) for ES256"
                    .into(),
            ));
        }
    }
    sigil_core::jwks::JwkSet::from_json(jwks.to_string().as_bytes())
        .map_err(|e| metadata_error(format!("jwks: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_hash_and_compare() {
        let secret = new_secret([9; 32]);
        assert_eq!(secret.len(), 43);
        let hash = SecretHash::of(&secret);
        assert!(hash.matches(&secret));
        assert!(!hash.matches(&new_secret([8; 32])));
        assert_eq!(SecretHash::from_stored(hash.as_str()).unwrap(), hash);
        assert!(SecretHash::from_stored("ABC").is_err());
    }

    fn metadata(json: serde_json::Value) -> ClientMetadata {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn registration_accepts_what_the_spec_lists() {
        let client = register(
            &metadata(serde_json::json!({
                "redirect_uris": ["https://app.example/cb"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
            })),
            "c1".into(),
        )
        .unwrap();
        assert_eq!(client.auth_method, AuthMethod::None);
        assert_eq!(client.client_name, "app.example");
        assert!(client.allows(GrantType::RefreshToken));
        let btc = register(
            &metadata(serde_json::json!({
                "redirect_uris": ["http://127.0.0.1/cb"],
                "client_name": "Native",
                "token_endpoint_auth_method": "bitcoin_auth_token",
                "bitcoin_pubkey": "03bbce95ff192e17a6d842cbafe14f7f192ac0466e7f0928c187398e627e66a84f",
            })),
            "c2".into(),
        )
        .unwrap();
        assert_eq!(btc.auth_method, AuthMethod::BitcoinAuthToken);
        assert!(!btc.allows(GrantType::RefreshToken));
    }

    #[test]
    fn the_operator_may_add_secret_clients_and_limit_scopes() {
        let secret = SecretHash::of(&new_secret([7; 32]));
        let client = add_by_operator(
            &metadata(serde_json::json!({
                "redirect_uris": ["https://app.example/cb"],
                "client_name": "Back office",
                "token_endpoint_auth_method": "client_secret_post",
                "scope": "profile openid",
            })),
            "c3".into(),
            Some(secret.clone()),
        )
        .unwrap();
        assert_eq!(client.auth_method, AuthMethod::ClientSecretPost);
        assert_eq!(client.secret_hash, Some(secret.clone()));
        assert_eq!(client.scope.as_deref(), Some("openid profile"));
        for (json, secret, phrase) in [
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_basic"}),
                None,
                "needs a client secret",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"]}),
                Some(secret.clone()),
                "takes no client secret",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "scope": "openid email"}),
                None,
                "scope: unknown scope \"email\"",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt",
                    "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}}),
                None,
                "jwks: ",
            ),
        ] {
            let err = add_by_operator(&metadata(json.clone()), "x".into(), secret).unwrap_err();
            assert_eq!(err.error, OAuthErrorCode::InvalidClientMetadata, "{json}");
            assert!(err.error_description.contains(phrase), "{json}: {err}");
        }
        // The same metadata by anyone: secret methods stay the operator's.
        let err = register(
            &metadata(serde_json::json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_post"})),
            "x".into(),
        )
        .unwrap_err();
        assert!(err.error_description.contains("sigil clients add"), "{err}");
    }

    #[test]
    fn registration_refuses_with_the_rfc7591_codes() {
        for (json, code, phrase) in [
            (
                serde_json::json!({}),
                OAuthErrorCode::InvalidRedirectUri,
                "required",
            ),
            (
                serde_json::json!({"redirect_uris": ["http://app.example/cb"]}),
                OAuthErrorCode::InvalidRedirectUri,
                "https",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
                OAuthErrorCode::InvalidClientMetadata,
                "response_types",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"]}),
                OAuthErrorCode::InvalidClientMetadata,
                "\"implicit\"",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "client_secret_basic"}),
                OAuthErrorCode::InvalidClientMetadata,
                "sigil clients add",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
                OAuthErrorCode::InvalidClientMetadata,
                "needs jwks",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt",
                    "jwks": {"keys": [{"kty": "RSA"}]}}),
                OAuthErrorCode::InvalidClientMetadata,
                "P-256",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "bitcoin_auth_token",
                    "bitcoin_pubkey": "zz"}),
                OAuthErrorCode::InvalidClientMetadata,
                "bitcoin_pubkey",
            ),
            (
                serde_json::json!({"redirect_uris": ["https://a.example/cb"], "client_name": "a\u{0}b"}),
                OAuthErrorCode::InvalidClientMetadata,
                "client_name",
            ),
        ] {
            let err = register(&metadata(json.clone()), "x".into()).unwrap_err();
            assert_eq!(err.error, code, "{json}: {err}");
            assert!(err.error_description.contains(phrase), "{json}: {err}");
        }
    }
}
