//! The claims of an id_token and of an OAuth access token
//! (docs/protocol.md §17, §4). Signing is sigil-core's; this says what is
//! signed.

use serde::Serialize;
use sigil_core::PublicKey;

use crate::scope::{Scope, Scopes};

/// How long an id_token lives, seconds.
pub const ID_TOKEN_LIFETIME_S: u64 = 600;

/// What the registry knows of the person, when it knows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// The BAP identity linked to the key.
    pub bap_id: Option<String>,
    /// The account's name.
    pub name: Option<String>,
}

/// An id_token's claims (OIDC Core §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdTokenClaims {
    /// The issuer.
    pub iss: String,
    /// The compressed public key, hex (as access tokens' `sub`).
    pub sub: String,
    /// The client id.
    pub aud: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Expires, Unix seconds: `iat` + [`ID_TOKEN_LIFETIME_S`].
    pub exp: u64,
    /// When the person signed in, Unix seconds.
    pub auth_time: u64,
    /// The authorization request's `nonce`, when one was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The same key (Sigma's clients read `pubkey`).
    pub pubkey: String,
    /// Its mainnet P2PKH address.
    pub address: String,
    /// With `profile`, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bap_id: Option<String>,
    /// With `profile`, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The inputs of an id_token.
#[derive(Debug, Clone)]
pub struct IdTokenInput<'a> {
    /// The issuer.
    pub issuer: &'a str,
    /// The client id.
    pub client_id: &'a str,
    /// The person's key.
    pub subject: &'a PublicKey,
    /// When it is issued, Unix seconds.
    pub now_s: u64,
    /// When the person signed in, Unix seconds.
    pub auth_time_s: u64,
    /// The nonce of the authorization request.
    pub nonce: Option<&'a str>,
    /// The scopes granted.
    pub scopes: &'a Scopes,
    /// What the registry knows.
    pub profile: &'a Profile,
}

/// The id_token's claims; `bap_id` and `name` only with the `profile`
/// scope.
#[must_use]
pub fn id_token(input: &IdTokenInput<'_>) -> IdTokenClaims {
    let profile = input.scopes.contains(Scope::Profile);
    IdTokenClaims {
        iss: input.issuer.to_owned(),
        sub: input.subject.to_hex(),
        aud: input.client_id.to_owned(),
        iat: input.now_s,
        exp: input.now_s + ID_TOKEN_LIFETIME_S,
        auth_time: input.auth_time_s,
        nonce: input.nonce.map(str::to_owned),
        pubkey: input.subject.to_hex(),
        address: sigil_core::Address::p2pkh(input.subject, sigil_core::Network::Mainnet)
            .to_string(),
        bap_id: input.profile.bap_id.clone().filter(|_| profile),
        name: input.profile.name.clone().filter(|_| profile),
    }
}

/// The audience of an OAuth access token: the `resource` asked for, or the
/// issuer's `/userinfo`.
#[must_use]
pub fn access_token_audience(issuer: &str, resource: Option<&str>) -> String {
    resource.map_or_else(
        || format!("{}/userinfo", issuer.trim_end_matches('/')),
        str::to_owned,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_core::{Network, PrivateKey};

    #[test]
    fn id_token_claims() {
        let key = PrivateKey::from_bytes([3; 32], Network::Mainnet, true)
            .unwrap()
            .public_key();
        let profile = Profile {
            bap_id: Some("bap".into()),
            name: Some("Ada".into()),
        };
        let claims_for = |scope: &str, nonce: Option<&str>| {
            id_token(&IdTokenInput {
                issuer: "https://sigil.example",
                client_id: "app",
                subject: &key,
                now_s: 1000,
                auth_time_s: 900,
                nonce,
                scopes: &Scopes::parse(Some(scope)).unwrap(),
                profile: &profile,
            })
        };
        let json = serde_json::to_value(claims_for("openid", Some("n"))).unwrap();
        assert_eq!(json["exp"], 1600);
        assert_eq!(json["sub"], key.to_hex());
        assert_eq!(json["pubkey"], key.to_hex());
        assert_eq!(json["nonce"], "n");
        assert!(json["address"].as_str().unwrap().starts_with('1'));
        assert!(json.get("bap_id").is_none() && json.get("name").is_none());
        let claims = claims_for("openid profile", None);
        assert_eq!(claims.bap_id.as_deref(), Some("bap"));
        assert!(
            serde_json::to_value(&claims)
                .unwrap()
                .get("nonce")
                .is_none()
        );
        assert_eq!(
            access_token_audience("https://s.example/", None),
            "https://s.example/userinfo"
        );
        assert_eq!(
            access_token_audience("https://s.example", Some("https://api.x/")),
            "https://api.x/"
        );
    }
}
