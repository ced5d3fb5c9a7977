//! sigil's access tokens (docs/protocol.md §4, RFC 9068): [`AccessClaims`],
//! [`issue`] and [`validate`].
//!
//! A token is a compact JWS with the header exactly
//! `{"alg":"ES256","typ":"at+jwt","kid":"<kid>"}` and the claims
//! `iss, sub, aud, client_id, iat, nbf, exp, jti, address[, bap_id][, name]`
//! in that order. Issuing is hand-written on serde_json, base64 and
//! aws-lc-rs with the key parsed once (`docs/decisions/0004-hand-written-jwt.md`).

mod validation;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::es256::Es256SigningKey;
use crate::keys::PublicKey;

pub use validation::{
    Audience, DEFAULT_LEEWAY_S, DEFAULT_MAX_LIFETIME_S, MAX_LEEWAY_S, MAX_TIME, ValidationRules,
    VerifiedClaims, matches_at_path_boundary, validate,
};

/// The `typ` of every access token (RFC 9068 section 2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The default token lifetime, `exp - iat` (docs/protocol.md §4).
pub const DEFAULT_LIFETIME_S: u64 = 1800;

/// The claims of a sigil access token, serialised in docs/protocol.md §4's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The configured issuer URL.
    pub iss: String,
    /// The subject: 66 lower-case hex characters of the compressed key.
    pub sub: String,
    /// The audience: the endpoint the token was asked for.
    pub aud: String,
    /// The client: equal to `sub`.
    pub client_id: String,
    /// Issued at, Unix seconds.
    pub iat: u64,
    /// Not before, Unix seconds (= `iat`).
    pub nbf: u64,
    /// Expires at, Unix seconds.
    pub exp: u64,
    /// 128 random bits, unpadded base64url.
    pub jti: String,
    /// Mainnet P2PKH address of `sub`.
    pub address: String,
    /// The account's BAP identity, when the registry knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bap_id: Option<String>,
    /// The account's name, when the registry knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl AccessClaims {
    /// Claims for `subject` and `audience`: `client_id = sub`,
    /// `nbf = iat`, `exp = iat + lifetime_s`, `jti` = base64url of the
    /// caller's 16 random bytes, `address` = mainnet P2PKH of the subject;
    /// no `bap_id` or `name` (set the fields when the registry has them).
    #[must_use]
    pub fn new(
        issuer: &str,
        subject: &PublicKey,
        audience: &str,
        iat: u64,
        lifetime_s: u64,
        jti: [u8; 16],
    ) -> Self {
        let sub = subject.to_hex();
        Self {
            iss: issuer.to_owned(),
            client_id: sub.clone(),
            sub,
            aud: audience.to_owned(),
            iat,
            nbf: iat,
            exp: iat.saturating_add(lifetime_s),
            jti: URL_SAFE_NO_PAD.encode(jti),
            address: subject.to_address().to_string(),
            bap_id: None,
            name: None,
        }
    }
}

/// The protected header, members in the order docs/protocol.md §4 writes them.
#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// The JSON text of the header of every token `key` signs.
#[must_use]
pub fn header_json(key: &Es256SigningKey) -> String {
    let header = Header {
        alg: crate::jws::ALG,
        typ: ACCESS_TOKEN_TYP,
        kid: key.kid(),
    };
    serde_json::to_string(&header).expect("a struct of three strings serialises")
}

/// Signs `claims` with `key`: `base64url(header) . base64url(claims) .
/// base64url(r ‖ s)`.
///
/// # Errors
/// [`crate::Error::SigningKey`] if AWS-LC fails to sign (it does not for
/// a parsed key, short of running out of memory or randomness).
pub fn issue(key: &Es256SigningKey, claims: &AccessClaims) -> Result<String> {
    let payload = serde_json::to_vec(claims).expect("claims of strings and integers serialise");
    let header = header_json(key);
    let mut token = String::with_capacity(
        (header.len() + payload.len() + crate::es256::SIGNATURE_LEN) * 4 / 3 + 8,
    );
    URL_SAFE_NO_PAD.encode_string(header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}
