//! What a successful check yields: [`Authenticated`] and its [`AuthKind`].

use serde::Serialize;
use serde::ser::SerializeMap;
use sigil_core::PublicKey;
use sigil_core::jwt::VerifiedClaims;

/// Which mechanism proved the caller's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum AuthKind {
    /// A sigil access token alone (`Authorization: Bearer`).
    #[serde(rename = "bearer")]
    Bearer,
    /// A sigil access token plus a signed request by its `sub` (docs/protocol.md
    /// §6).
    #[serde(rename = "signed")]
    Signed,
    /// A bitcoin-auth `X-Auth-Token` (docs/protocol.md §7).
    #[serde(rename = "x-auth-token")]
    XAuthToken,
}

impl AuthKind {
    /// `bearer`, `signed` or `x-auth-token`, as docs/protocol.md §15 writes it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::Signed => "signed",
            Self::XAuthToken => "x-auth-token",
        }
    }
}

/// An authenticated caller: the key it proved, how, and the token's claims
/// when there was a token.
///
/// Serialises as docs/protocol.md §15's answer
/// `{"sub": "<pubkey hex>", "auth": "bearer" | "signed" | "x-auth-token", "bap_id"?}`,
/// so a handler may answer `Json(who)`.
///
/// Also an axum extractor (`FromRequestParts`) on routes behind
/// [`Validator::layer`](crate::Validator::layer).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Authenticated {
    /// The caller's compressed secp256k1 key: the token's `sub`, or the
    /// `X-Auth-Token`'s verified signer.
    pub sub: PublicKey,
    /// How it was proved.
    pub auth: AuthKind,
    /// The verified access-token claims ([`AuthKind::Bearer`] and
    /// [`AuthKind::Signed`]); `None` for an `X-Auth-Token`.
    pub claims: Option<VerifiedClaims>,
    /// The token's `bap_id` claim, when the issuer's registry knows it.
    pub bap_id: Option<String>,
}

impl Authenticated {
    /// `sub` as 66 lower-case hex characters.
    #[must_use]
    pub fn sub_hex(&self) -> String {
        self.sub.to_hex()
    }

    pub(crate) fn from_token(claims: VerifiedClaims, auth: AuthKind) -> Self {
        Self {
            sub: claims.sub,
            auth,
            bap_id: claims.bap_id.clone(),
            claims: Some(claims),
        }
    }

    pub(crate) fn from_auth_token(signer: PublicKey) -> Self {
        Self {
            sub: signer,
            auth: AuthKind::XAuthToken,
            claims: None,
            bap_id: None,
        }
    }
}

impl Serialize for Authenticated {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("sub", &self.sub_hex())?;
        map.serialize_entry("auth", self.auth.as_str())?;
        if let Some(bap_id) = &self.bap_id {
            map.serialize_entry("bap_id", bap_id)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_spec_section_15() {
        let sub = "0379be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
        let mut who = Authenticated::from_auth_token(PublicKey::from_hex(sub).unwrap());
        assert_eq!(
            serde_json::to_string(&who).unwrap(),
            format!(r#"{{"sub":"{sub}","auth":"x-auth-token"}}"#)
        );
        who.auth = AuthKind::Signed;
        who.bap_id = Some("bap".into());
        assert_eq!(
            serde_json::to_string(&who).unwrap(),
            format!(r#"{{"sub":"{sub}","auth":"signed","bap_id":"bap"}}"#)
        );
        assert_eq!(
            serde_json::to_string(&AuthKind::Bearer).unwrap(),
            "\"bearer\""
        );
    }
}
