//! Shared helpers for the access-token tests: the fixed issuer key of
//! `es256_jwt.json`, standard claims, and tokens signed over any header and
//! claims text.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sigil_core::es256::generate_pkcs8;
use sigil_core::hash::sha256;
use sigil_core::jwt::{AccessClaims, Audience, ValidationRules, VerifiedClaims, validate};
use sigil_core::{Error, ErrorClass, Es256SigningKey, JwkSet, PublicKey};

pub const ISSUER: &str = "http://localhost:1911";
pub const AUDIENCE: &str = "https://api.yourservice.com";
pub const SUBJECT: &str = "0379be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
pub const IAT: u64 = 1_700_000_000;
pub const NOW: u64 = IAT + 100;

/// A P-256 key whose private scalar is SHA-256 of `seed`.
pub fn key_from(seed: &str) -> Es256SigningKey {
    Es256SigningKey::from_pkcs8(&generate_pkcs8(&sha256(seed.as_bytes())).unwrap()).unwrap()
}

/// The fixed key of `es256_jwt.json` (its `private_scalar_derivation`).
pub fn issuer_key() -> Es256SigningKey {
    key_from("sigil ES256 test issuer key (never use outside tests)")
}

/// A key set of signing keys' public halves under their kids.
pub fn set_of(keys: &[&Es256SigningKey]) -> JwkSet {
    JwkSet::from_keys(
        keys.iter()
            .map(|k| (k.kid().to_owned(), k.verifying_key().clone())),
    )
    .unwrap()
}

/// The vectors' issuer and exact audience, default leeway and lifetime.
pub fn rules() -> ValidationRules {
    ValidationRules::new(ISSUER, Audience::Exact(AUDIENCE.into()))
}

/// The claims of the vectors' `valid-access-token` (jti = bytes 0..16).
pub fn claims() -> AccessClaims {
    let jti: [u8; 16] = std::array::from_fn(|i| u8::try_from(i).unwrap());
    let sub = PublicKey::from_hex(SUBJECT).unwrap();
    AccessClaims::new(ISSUER, &sub, AUDIENCE, IAT, 1800, jti)
}

/// A token with any header and claims JSON text, signed by `key`.
pub fn signed(key: &Es256SigningKey, header: &str, claims: &str) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// `header` with every `KID` replaced by the issuer key's kid, over the
/// standard claims, signed by the issuer key.
pub fn with_header(header: &str) -> String {
    let key = issuer_key();
    signed(
        &key,
        &header.replace("KID", key.kid()),
        &claims_with(|_| {}),
    )
}

/// The standard claims with `change` applied, signed with the standard header.
pub fn with_claims(change: impl FnOnce(&mut Map<String, Value>)) -> String {
    let key = issuer_key();
    let header = format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{}"}}"#, key.kid());
    signed(&key, &header, &claims_with(change))
}

/// The standard claims' JSON text with `change` applied to the object.
pub fn claims_with(change: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut value = serde_json::to_value(claims()).unwrap();
    change(value.as_object_mut().unwrap());
    value.to_string()
}

/// Validates with the issuer key's set and [`rules`] at [`NOW`].
pub fn check(token: &str) -> Result<VerifiedClaims, Error> {
    validate(token, &set_of(&[&issuer_key()]), &rules(), NOW)
}

/// The refusal's message, after asserting it is a token refusal.
pub fn refusal(token: &str) -> String {
    let err = check(token).expect_err("token must be refused");
    assert_eq!(err.class(), ErrorClass::Token, "{err}");
    err.to_string()
}

/// Asserts each `(name, token, reason)` is a token refusal whose message
/// contains `reason`; reports every failing case by name.
pub fn assert_refusals(cases: Vec<(&str, String, &str)>) {
    assert!(!cases.is_empty());
    let failures: Vec<String> = cases
        .into_iter()
        .filter_map(|(name, token, reason)| match check(&token) {
            Ok(_) => Some(format!("  {name}: accepted")),
            Err(e) if e.class() != ErrorClass::Token => {
                Some(format!("  {name}: {e} is not a token refusal"))
            }
            Err(e) if !e.to_string().contains(reason) => {
                Some(format!("  {name}: {e:?} lacks {reason:?}"))
            }
            Err(_) => None,
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
