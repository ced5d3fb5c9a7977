//! One named refusal per rule of `sigil_core::jwt::validate`, each with its
//! own reason in the message (security catalogue T1–T11, T15), and the
//! time boundaries with their leeway (T7, T8).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod token_support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sigil_core::hash::to_hex;
use sigil_core::jwt::{self, Audience, MAX_LEEWAY_S, ValidationRules, validate};
use sigil_core::{Error, ErrorClass, PublicKey, TokenRefusal};
use token_support::*;

#[test]
#[rustfmt::skip]
fn header_refusals_each_name_their_reason() {
    let attacker = key_from("attacker");
    let attacker_jwk = serde_json::to_string(&attacker.public_jwk()).unwrap();
    let key = issuer_key();
    let not_utf8 = {
        let token = with_header(r#"{"alg":"ES256","typ":"at+jwt","kid":"KID"}"#);
        let bad = URL_SAFE_NO_PAD.encode(b"{\"alg\":\"ES256\xff\"}");
        format!("{bad}{}", &token[token.find('.').unwrap()..])
    };
    assert_refusals(vec![
        ("duplicate alg", with_header(r#"{"alg":"none","alg":"ES256","typ":"at+jwt","kid":"KID"}"#), "duplicate member \"alg\""),
        ("duplicate kid", with_header(r#"{"alg":"ES256","typ":"at+jwt","kid":"x","kid":"KID"}"#), "duplicate member \"kid\""),
        ("alg missing", with_header(r#"{"typ":"at+jwt","kid":"KID"}"#), "alg must be ES256"),
        ("alg ES384", with_header(r#"{"alg":"ES384","typ":"at+jwt","kid":"KID"}"#), "alg must be ES256"),
        ("alg EdDSA", with_header(r#"{"alg":"EdDSA","typ":"at+jwt","kid":"KID"}"#), "alg must be ES256"),
        ("alg lower case", with_header(r#"{"alg":"es256","typ":"at+jwt","kid":"KID"}"#), "alg must be ES256"),
        ("crit empty", with_header(r#"{"alg":"ES256","typ":"at+jwt","kid":"KID","crit":[]}"#), "crit header not supported"),
        ("typ media type", with_header(r#"{"alg":"ES256","typ":"application/at+jwt","kid":"KID"}"#), "typ must be at+jwt"),
        ("typ upper case", with_header(r#"{"alg":"ES256","typ":"AT+JWT","kid":"KID"}"#), "typ must be at+jwt"),
        ("kid a number", with_header(r#"{"alg":"ES256","typ":"at+jwt","kid":1}"#), "kid must be a string"),
        ("kid missing", with_header(r#"{"alg":"ES256","typ":"at+jwt"}"#), "kid missing"),
        ("header an array", with_header(r#"["ES256"]"#), "header: not a JSON object"),
        ("header not UTF-8", not_utf8, "not valid UTF-8"),
        ("embedded jwk, our kid, attacker's signature", signed(&attacker, &format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{}","jwk":{attacker_jwk}}}"#, key.kid()), &claims_with(|_| {})), "signature verification failed"),
        ("signed by another key", signed(&attacker, &jwt::header_json(&key), &claims_with(|_| {})), "signature verification failed"),
    ]);
}

#[test]
fn key_selection_headers_are_ignored() {
    for extra in [
        r#""jku":"https://evil.example/jwks.json""#,
        r#""x5u":"https://evil.example/cert.pem""#,
        r#""x5c":["MIIBfDCCASKgAwIBAgIBATAKBggqhkjOPQQDAjAc"]"#,
        r#""jwk":{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}"#,
    ] {
        let header = format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"KID",{extra}}}"#);
        assert!(check(&with_header(&header)).is_ok(), "{extra}");
    }
}

#[test]
fn hostile_kids_are_only_map_keys() {
    let key = issuer_key();
    for kid in [
        "../../dev/null".to_string(),
        "' OR 1=1--".to_string(),
        "a\0b".to_string(),
        "k".repeat(5000),
    ] {
        let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": kid}).to_string();
        let err = check(&signed(&key, &header, &claims_with(|_| {}))).unwrap_err();
        assert!(
            matches!(err, Error::Token(TokenRefusal::UnknownKid { .. })),
            "{err}"
        );
        assert_eq!(err.class(), ErrorClass::Token);
        let message = err.to_string();
        assert!(
            message.starts_with("invalid token: unknown kid "),
            "{message}"
        );
        assert!(message.len() < 200 && !message.contains('\0'), "{message}");
    }
}

#[test]
#[rustfmt::skip]
fn structure_refusals() {
    let token = jwt::issue(&issuer_key(), &claims()).unwrap();
    let (head, sig) = token.rsplit_once('.').unwrap();
    assert_refusals(vec![
        ("two segments", head.to_string(), "3 segments"),
        ("four segments", format!("{token}.{sig}"), "3 segments"),
        ("five segments (JWE)", format!("{token}.a.b"), "3 segments"),
        ("empty", String::new(), "3 segments"),
        ("JSON serialization", format!(r#"{{"payload":"{head}","signature":"{sig}"}}"#), "3 segments"),
        ("padding", format!("{token}="), "padding"),
        ("plus", format!("{head}.+{}", &sig[1..]), "\"+\" and \"/\""),
        ("whitespace", format!("{head}. {sig}"), "not base64url"),
        ("too long", format!("{head}.{}", "A".repeat(8 * 1024)), "token too long"),
        ("empty signature", format!("{head}."), "signature must be 64 bytes (r ‖ s), got 0"),
    ]);
    // Exactly at the limit is not "too long".
    let at_limit = format!("{head}.{}", "A".repeat(8 * 1024 - head.len() - 1));
    assert_eq!(at_limit.len(), 8 * 1024);
    assert!(!refusal(&at_limit).contains("too long"));
}

#[test]
#[rustfmt::skip]
fn claim_refusals_each_name_their_reason() {
    let uncompressed = to_hex(&PublicKey::from_hex(SUBJECT).unwrap().serialize_uncompressed());
    let key = issuer_key();
    let duplicate_exp = claims_with(|_| {})
        .replacen("\"exp\":1700001800", "\"exp\":1700001800,\"exp\":9999999999", 1);
    assert_refusals(vec![
        ("duplicate exp", signed(&key, &jwt::header_json(&key), &duplicate_exp), "duplicate member \"exp\""),
        ("claims an array", signed(&key, &jwt::header_json(&key), "[1]"), "claims: not a JSON object"),
        ("exp missing", with_claims(|m| { m.remove("exp"); }), "exp missing"),
        ("nbf missing", with_claims(|m| { m.remove("nbf"); }), "nbf missing"),
        ("iat missing", with_claims(|m| { m.remove("iat"); }), "iat missing"),
        ("jti missing", with_claims(|m| { m.remove("jti"); }), "jti missing"),
        ("client_id missing", with_claims(|m| { m.remove("client_id"); }), "client_id missing"),
        ("iss missing", with_claims(|m| { m.remove("iss"); }), "iss missing"),
        ("sub missing", with_claims(|m| { m.remove("sub"); }), "sub missing"),
        ("aud missing", with_claims(|m| { m.remove("aud"); }), "aud missing"),
        ("exp a string", with_claims(|m| { m.insert("exp".into(), json!("1700001800")); }), "exp must be an integer"),
        ("exp a float", with_claims(|m| { m.insert("exp".into(), json!(1_700_001_800.0)); }), "exp must be an integer"),
        ("exp negative", with_claims(|m| { m.insert("exp".into(), json!(-1)); }), "exp must be an integer"),
        ("exp 2^53", with_claims(|m| { m.insert("exp".into(), json!(1u64 << 53)); }), "exp must be an integer"),
        ("exp 2^63", with_claims(|m| { m.insert("exp".into(), json!(1u64 << 63)); }), "exp must be an integer"),
        ("iat a float", with_claims(|m| { m.insert("iat".into(), json!(1.5)); }), "iat must be an integer"),
        ("nbf null", with_claims(|m| { m.insert("nbf".into(), json!(null)); }), "nbf must be an integer"),
        ("sub upper case", with_claims(|m| { m.insert("sub".into(), json!(SUBJECT.to_uppercase())); }), "sub must be a compressed public key"),
        ("sub uncompressed", with_claims(|m| { m.insert("sub".into(), json!(uncompressed)); }), "sub must be a compressed public key"),
        ("sub off the curve", with_claims(|m| { m.insert("sub".into(), json!(format!("02{:064x}", 5))); }), "sub must be a compressed public key"),
        ("aud empty array", with_claims(|m| { m.insert("aud".into(), json!([])); }), "aud must be a string or a non-empty array"),
        ("aud a number", with_claims(|m| { m.insert("aud".into(), json!(1)); }), "aud must be a string"),
        ("aud array without ours", with_claims(|m| { m.insert("aud".into(), json!(["https://other.example"])); }), "wrong audience"),
        ("aud longer than ours", with_claims(|m| { m.insert("aud".into(), json!("https://api.yourservice.com/v1")); }), "wrong audience"),
        ("iss other", with_claims(|m| { m.insert("iss".into(), json!("https://evil.example")); }), "wrong issuer"),
        ("iss trailing slash", with_claims(|m| { m.insert("iss".into(), json!("http://localhost:1911/")); }), "wrong issuer"),
        ("name not a string", with_claims(|m| { m.insert("name".into(), json!(["x"])); }), "name must be a string"),
        ("exp not after iat", with_claims(|m| { m.insert("exp".into(), json!(IAT)); }), "exp 1700000000 is not after iat"),
        ("lifetime too long", with_claims(|m| { m.insert("exp".into(), json!(IAT + 1801)); }), "exceeds the maximum 1800 s"),
        ("iat in the future", with_claims(|m| { m.insert("iat".into(), json!(NOW + 60)); m.insert("nbf".into(), json!(NOW)); }), "iat 1700000160 is in the future"),
    ]);
}

#[test]
fn time_boundaries_with_leeway() {
    let key = issuer_key();
    let keys = set_of(&[&key]);
    let token = jwt::issue(&key, &claims()).unwrap();
    let exp = IAT + 1800;
    for leeway in [0, 5, MAX_LEEWAY_S] {
        let rules = rules().with_leeway_s(leeway);
        assert!(validate(&token, &keys, &rules, exp + leeway - 1).is_ok());
        let err = validate(&token, &keys, &rules, exp + leeway).unwrap_err();
        assert!(
            matches!(err, Error::Token(TokenRefusal::Expired { .. })),
            "{err}"
        );
        assert!(err.to_string().starts_with("token expired: "), "{err}");
        assert_eq!(err.class(), ErrorClass::Token);
        // nbf = iat: valid from iat - leeway on.
        assert!(validate(&token, &keys, &rules, IAT - leeway).is_ok());
        let early = validate(&token, &keys, &rules, IAT - leeway - 1).unwrap_err();
        assert!(early.to_string().contains("token not yet valid"), "{early}");
    }
    // A leeway above 30 s is clamped to 30 s.
    let generous = rules().with_leeway_s(3600);
    assert!(validate(&token, &keys, &generous, IAT - 31).is_err());
    assert!(validate(&token, &keys, &generous, exp + 30).is_err());
    // A longer lifetime passes once the rules allow it.
    let long = with_claims(|m| {
        m.insert("exp".into(), json!(IAT + 3600));
    });
    assert!(check(&long).is_err());
    let rules = rules().with_max_lifetime_s(3600);
    assert!(validate(&long, &keys, &rules, NOW).is_ok());
}

#[test]
fn audiences_arrays_and_path_prefixes() {
    let keys = set_of(&[&issuer_key()]);
    let token_for = |aud: serde_json::Value| {
        with_claims(|m| {
            m.insert("aud".into(), aud);
        })
    };
    assert!(check(&token_for(json!(["https://other.example", AUDIENCE]))).is_ok());
    let deeper = token_for(json!(format!("{AUDIENCE}/v1/items?id=2")));
    let prefix = ValidationRules::new(ISSUER, Audience::PathPrefix(AUDIENCE.into()));
    assert!(validate(&deeper, &keys, &prefix, NOW).is_ok());
    assert!(
        check(&deeper).is_err(),
        "an exact audience refuses the longer URL"
    );
    let sibling = token_for(json!(format!("{AUDIENCE}.evil.com/x")));
    let err = validate(&sibling, &keys, &prefix, NOW).unwrap_err();
    assert!(err.to_string().contains("wrong audience"), "{err}");
    // The userinfo route's three audiences (docs/protocol.md §5).
    let userinfo = Audience::AnyOf(vec![
        ISSUER.into(),
        format!("{ISSUER}/userinfo"),
        format!("{ISSUER}/api/auth/oauth2/userinfo"),
    ]);
    let rules = ValidationRules::new(ISSUER, userinfo);
    let token = token_for(json!(format!("{ISSUER}/userinfo")));
    assert!(validate(&token, &keys, &rules, NOW).is_ok());
    let other = token_for(json!(format!("{ISSUER}/other")));
    assert!(validate(&other, &keys, &rules, NOW).is_err());
}
