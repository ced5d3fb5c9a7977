//! Access tokens end to end: the exact header and claims sigil writes,
//! issue → validate round trips, the published JWKS, key rotation and the
//! high-S twin. Refusals are in `token_refusals.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;
mod token_support;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use sigil_core::jwt::{self, AccessClaims, Audience, ValidationRules, validate};
use sigil_core::{Error, JwkSet, Jwks, Network, PrivateKey, PublicKey, TokenRefusal};
use token_support::*;

/// The P-256 group order n.
const N: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
];

#[test]
fn header_and_claims_are_byte_identical_to_the_vector_token() {
    let key = issuer_key();
    assert_eq!(
        jwt::header_json(&key),
        r#"{"alg":"ES256","typ":"at+jwt","kid":"MeFfMgxYJMsz5_cT69a8V53p400KwNYhQELpNqyX-Xo"}"#
    );
    assert_eq!(
        serde_json::to_string(&claims()).unwrap(),
        concat!(
            r#"{"iss":"http://localhost:1911","#,
            r#""sub":"0379be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798","#,
            r#""aud":"https://api.yourservice.com","#,
            r#""client_id":"0379be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798","#,
            r#""iat":1700000000,"nbf":1700000000,"exp":1700001800,"#,
            r#""jti":"AAECAwQFBgcICQoLDA0ODw","address":"1GrLCmVQXoyJXaPJQdqssNqwxvha1eUo2E"}"#
        )
    );
    let token = jwt::issue(&key, &claims()).unwrap();
    let vectors = support::load("es256_jwt.json");
    let reference = vectors["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "valid-access-token")
        .unwrap()["input"]["token"]
        .as_str()
        .unwrap();
    let ours: Vec<&str> = token.split('.').collect();
    let theirs: Vec<&str> = reference.split('.').collect();
    assert_eq!(ours[..2], theirs[..2], "header and claims segments");
    assert_eq!(URL_SAFE_NO_PAD.decode(ours[2]).unwrap().len(), 64);

    let verified = check(&token).unwrap();
    assert_eq!(verified.kid, key.kid());
    assert_eq!(verified.iss, ISSUER);
    assert_eq!(verified.sub.to_hex(), SUBJECT);
    assert_eq!(verified.client_id, SUBJECT);
    assert_eq!(verified.aud, vec![AUDIENCE]);
    assert_eq!(
        (verified.iat, verified.nbf, verified.exp),
        (IAT, IAT, IAT + 1800)
    );
    assert_eq!(verified.jti, "AAECAwQFBgcICQoLDA0ODw");
    assert_eq!(
        verified.address.as_deref(),
        Some("1GrLCmVQXoyJXaPJQdqssNqwxvha1eUo2E")
    );
    assert_eq!((verified.bap_id, verified.name), (None, None));
}

#[test]
fn account_claims_are_written_last_and_read_back() {
    let mut claims = claims();
    claims.bap_id = Some("3SyWUZXvhidNcEHbAC3HkBnKoHCx".into());
    claims.name = Some("Satoshi".into());
    let text = serde_json::to_string(&claims).unwrap();
    assert!(text.ends_with(r#","bap_id":"3SyWUZXvhidNcEHbAC3HkBnKoHCx","name":"Satoshi"}"#));
    let verified = check(&jwt::issue(&issuer_key(), &claims).unwrap()).unwrap();
    assert_eq!(
        verified.bap_id.as_deref(),
        Some("3SyWUZXvhidNcEHbAC3HkBnKoHCx")
    );
    assert_eq!(verified.name.as_deref(), Some("Satoshi"));
}

#[test]
fn published_jwks_loads_and_verifies_its_tokens() {
    let key = issuer_key();
    let jwk = key.jwk(IAT).unwrap();
    let document = serde_json::to_string(&Jwks {
        keys: vec![jwk.clone()],
    })
    .unwrap();
    let prefix = format!(
        r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"{}","y":"{}","kid":"{}","use":"sig","alg":"ES256","x5c":[""#,
        jwk.x,
        jwk.y,
        key.kid()
    );
    assert!(document.starts_with(&prefix), "{document}");
    let cert = STANDARD.decode(&jwk.x5c[0]).unwrap();
    let point = key.verifying_key().to_sec1_uncompressed();
    assert!(cert.windows(65).any(|w| w == point));
    let set = JwkSet::from_json(document.as_bytes()).unwrap();
    let token = jwt::issue(&key, &claims()).unwrap();
    assert!(validate(&token, &set, &rules(), NOW).is_ok());
}

#[test]
fn rotation_keeps_old_tokens_until_the_old_key_goes() {
    let (old, new) = (issuer_key(), key_from("rotated"));
    let old_token = jwt::issue(&old, &claims()).unwrap();
    let new_token = jwt::issue(&new, &claims()).unwrap();
    let both = set_of(&[&old, &new]);
    assert!(validate(&old_token, &both, &rules(), NOW).is_ok());
    assert!(validate(&new_token, &both, &rules(), NOW).is_ok());
    let retired = validate(&old_token, &set_of(&[&new]), &rules(), NOW);
    assert!(
        matches!(retired, Err(Error::Token(TokenRefusal::UnknownKid { .. }))),
        "{retired:?}"
    );
    // Another key listed under the old kid does not verify the old tokens.
    let impostor =
        JwkSet::from_keys([(old.kid().to_owned(), new.verifying_key().clone())]).unwrap();
    let err = validate(&old_token, &impostor, &rules(), NOW).unwrap_err();
    assert_eq!(err, Error::Token(TokenRefusal::Signature));
    let duplicate = JwkSet::from_keys([
        (old.kid().to_owned(), old.verifying_key().clone()),
        (old.kid().to_owned(), new.verifying_key().clone()),
    ]);
    assert!(matches!(duplicate, Err(Error::Jwks(_))));
}

/// `n - s`, the high-S twin of a signature's s.
fn negate(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0u16;
    for i in (0..32).rev() {
        let subtrahend = u16::from(s[i]) + borrow;
        let minuend = u16::from(N[i]);
        borrow = u16::from(minuend < subtrahend);
        out[i] = u8::try_from((minuend + 256 * borrow) - subtrahend).unwrap();
    }
    out
}

#[test]
fn the_high_s_twin_of_an_issued_token_is_valid() {
    let token = jwt::issue(&issuer_key(), &claims()).unwrap();
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let twin = negate(&bytes[32..]);
    assert_ne!(twin.as_slice(), &bytes[32..]);
    bytes[32..].copy_from_slice(&twin);
    let twin_token = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&bytes));
    assert!(check(&twin_token).is_ok());
}

fn subject_strategy() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_filter_map("scalar in range", |bytes| {
        PrivateKey::from_bytes(bytes, Network::Mainnet, true)
            .ok()
            .map(|k| k.public_key())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn issue_then_validate(
        subject in subject_strategy(),
        iat in 0u64..(1 << 40),
        lifetime in 1u64..=1800,
        age in any::<prop::sample::Index>(),
        jti in any::<[u8; 16]>(),
        path in "(/[a-z0-9]{0,8}){0,3}",
    ) {
        let key = issuer_key();
        let keys = set_of(&[&key]);
        let aud = format!("{AUDIENCE}{path}");
        let claims = AccessClaims::new(ISSUER, &subject, &aud, iat, lifetime, jti);
        let token = jwt::issue(&key, &claims).unwrap();
        let rules = ValidationRules::new(ISSUER, Audience::PathPrefix(AUDIENCE.into()))
            .with_leeway_s(0);
        let now = iat + u64::try_from(age.index(usize::try_from(lifetime).unwrap())).unwrap();
        let verified = validate(&token, &keys, &rules, now).unwrap();
        prop_assert_eq!(verified.sub, subject);
        prop_assert_eq!(&verified.client_id, &subject.to_hex());
        prop_assert_eq!(verified.aud, vec![aud]);
        prop_assert_eq!(verified.exp, iat + lifetime);
        prop_assert_eq!(URL_SAFE_NO_PAD.decode(&verified.jti).unwrap(), jti.to_vec());
        prop_assert_eq!(verified.address, Some(subject.to_address().to_string()));
        let expired = validate(&token, &keys, &rules, iat + lifetime);
        prop_assert!(
            matches!(expired, Err(Error::Token(TokenRefusal::Expired { .. }))),
            "{:?}",
            expired
        );
    }

    #[test]
    fn any_changed_character_is_refused(
        position in any::<prop::sample::Index>(),
        replacement in "[A-Za-z0-9_.=+/ -]",
    ) {
        let token = jwt::issue(&issuer_key(), &claims()).unwrap();
        let i = position.index(token.len());
        prop_assume!(token[i..=i] != replacement);
        let mut changed = token.clone();
        changed.replace_range(i..=i, &replacement);
        prop_assert!(check(&changed).is_err(), "{} accepted", changed);
    }
}
