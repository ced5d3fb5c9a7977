//! ES256 access-token vectors: every case of `es256_jwt.json` by name, and
//! the Wycheproof JWS, JWK and P-256 P1363 files run through sigil's ES256
//! layer. `expected` is sigil's answer; `library_results` is never used.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sigil_core::es256::generate_pkcs8;
use sigil_core::jwt::{Audience, ValidationRules, validate};
use sigil_core::{
    Error, ErrorClass, Es256SigningKey, Es256VerifyingKey, JwkSet, TokenRefusal, jws,
};
use support::{each_case, load};

const ISSUER: &str = "http://localhost:1911";
const AUDIENCE: &str = "https://api.yourservice.com";
const SUBJECT: &str = "0379be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

/// The `key` block of `es256_jwt.json`.
fn key_block() -> Value {
    load("es256_jwt.json")["key"].clone()
}

/// The fixed test key, made from the file's private scalar `d`.
fn signing_key() -> Es256SigningKey {
    let d = URL_SAFE_NO_PAD
        .decode(
            key_block()["jwk_private_for_tests_only"]["d"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    Es256SigningKey::from_pkcs8(&generate_pkcs8(&d.try_into().unwrap()).unwrap()).unwrap()
}

/// The file's public JWK plus its kid, as a one-key JWKS.
fn vector_key_set() -> JwkSet {
    let block = key_block();
    let mut jwk = block["jwk_public"].clone();
    jwk["kid"] = block["kid"].clone();
    JwkSet::from_json(json!({ "keys": [jwk] }).to_string().as_bytes()).unwrap()
}

fn rules() -> ValidationRules {
    ValidationRules::new(ISSUER, Audience::Exact(AUDIENCE.into()))
}

/// The reason sigil gives for each refused case: one distinct check each.
fn expected_reasons() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("expired", "token expired"),
        ("nbf-in-future", "token not yet valid"),
        ("wrong-audience", "wrong audience"),
        ("wrong-issuer", "wrong issuer"),
        ("typ-jwt", "typ must be at+jwt"),
        ("typ-missing", "typ must be at+jwt"),
        ("crit-header", "crit header not supported"),
        ("unknown-kid", "unknown kid"),
        // No kid at all: the attacker's embedded key is never looked at.
        ("embedded-jwk-attacker-key", "kid missing"),
        ("alg-none", "alg must be ES256"),
        ("alg-None", "alg must be ES256"),
        ("alg-NONE", "alg must be ES256"),
        ("alg-nOnE", "alg must be ES256"),
        ("hs256-public-key-as-secret-pem", "alg must be ES256"),
        (
            "hs256-public-key-as-secret-sec1-uncompressed",
            "alg must be ES256",
        ),
        ("hs256-public-key-as-secret-jwk-json", "alg must be ES256"),
        ("der-signature", "signature must be 64 bytes"),
        ("signature-65-bytes", "signature must be 64 bytes"),
        ("signature-r-zero-s-zero", "r and s must be in [1, n-1]"),
        ("two-segments", "token must have 3 segments"),
        ("padded-base64url", "padding"),
    ])
}

#[test]
fn the_fixed_key_matches_its_jwk_kid_and_pem() {
    let block = key_block();
    let key = signing_key();
    let jwk = key.public_jwk();
    assert_eq!(jwk.x, block["jwk_public"]["x"].as_str().unwrap());
    assert_eq!(jwk.y, block["jwk_public"]["y"].as_str().unwrap());
    assert_eq!(key.kid(), block["kid"].as_str().unwrap());
    assert_eq!(
        key.verifying_key().thumbprint(),
        block["kid"].as_str().unwrap()
    );
    // The thumbprint input of the file is exactly what RFC 7638 hashes.
    let input = block["thumbprint_input"].as_str().unwrap();
    let digest = sigil_core::hash::sha256(input.as_bytes());
    assert_eq!(URL_SAFE_NO_PAD.encode(digest), key.kid());
    // The PEM's SubjectPublicKeyInfo ends with the uncompressed point.
    let pem_body: String = block["public_key_pem"]
        .as_str()
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let spki = STANDARD.decode(pem_body).unwrap();
    assert!(spki.ends_with(&key.verifying_key().to_sec1_uncompressed()));
    // And the file's x5c certificate carries the same point.
    let cert = STANDARD
        .decode(block["x5c_certificate_base64_der"].as_str().unwrap())
        .unwrap();
    let point = key.verifying_key().to_sec1_uncompressed();
    assert!(cert.windows(65).any(|w| w == point));
}

#[test]
fn every_es256_jwt_case() {
    let reasons = expected_reasons();
    let keys = vector_key_set();
    let our_kid = key_block()["kid"].as_str().unwrap().to_owned();
    let description = load("es256_jwt.json")["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(description.contains(ISSUER) && description.contains(AUDIENCE));

    let ran = each_case("es256_jwt.json", |name, case| {
        let input = &case["input"];
        let expected = &case["expected"];
        let token = input["token"].as_str().ok_or("no token")?;
        let now = input["validate_at"].as_u64().ok_or("no validate_at")?;
        if let Some(kids) = input.get("jwks_kids") {
            let listed: Vec<&str> = kids
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap())
                .collect();
            if listed != keys.kids().collect::<Vec<_>>() {
                return Err(format!("jwks_kids {listed:?} differ from the key set"));
            }
        }
        let result = validate(token, &keys, &rules(), now);

        if expected["valid"] == true || expected["valid_if_ignored"] == true {
            // jku-header: the jku is ignored (sigil-core does no I/O, so
            // nothing can be fetched) and the real key verifies.
            let claims = result.map_err(|e| format!("want valid, got {e}"))?;
            support::expect_eq("sub", claims.sub.to_hex().as_str(), SUBJECT)?;
            support::expect_eq("kid", claims.kid.as_str(), our_kid.as_str())?;
            return Ok(());
        }
        if expected["token_valid_via_jwks"] == true {
            return jwks_and_x5c(input, expected, now);
        }
        if expected["valid"] != false || expected["error"] != "invalid_token" {
            return Err(format!("unknown expectation {expected}"));
        }
        let err = match result {
            Ok(_) => return Err("want invalid_token, got valid".into()),
            Err(e) => e,
        };
        if err.class() != ErrorClass::Token {
            return Err(format!("{err}: class {:?}, not Token", err.class()));
        }
        let message = err.to_string();
        if let Some(phrase) = expected["description_contains"].as_str()
            && !message.contains(phrase)
        {
            return Err(format!("{message:?} lacks {phrase:?}"));
        }
        let reason = reasons
            .get(name)
            .ok_or("no expected reason listed for this case")?;
        if !message.contains(reason) {
            return Err(format!("{message:?} lacks the reason {reason:?}"));
        }
        if name == "unknown-kid" && !matches!(err, Error::Token(TokenRefusal::UnknownKid { .. })) {
            return Err(
                "unknown kid must be TokenRefusal::UnknownKid (the caller refreshes once)".into(),
            );
        }
        Ok(())
    });
    assert_eq!(ran, 26);
}

/// `jwks-and-x5c`: the document loads, its kid is the RFC 7638 thumbprint,
/// its x5c certificate holds the same key, and the token verifies with it.
fn jwks_and_x5c(input: &Value, expected: &Value, now: u64) -> Result<(), String> {
    let document = &input["jwks"];
    let set = JwkSet::from_json(document.to_string().as_bytes()).map_err(|e| e.to_string())?;
    let entry = &document["keys"][0];
    let kid = entry["kid"].as_str().unwrap();
    let key = set.get(kid).ok_or("kid not in the loaded set")?;
    if expected["kid_is_rfc7638_thumbprint"] == true {
        support::expect_eq("thumbprint", key.thumbprint().as_str(), kid)?;
    }
    let cert = STANDARD
        .decode(entry["x5c"][0].as_str().unwrap())
        .map_err(|e| e.to_string())?;
    if !cert.windows(65).any(|w| w == key.to_sec1_uncompressed()) {
        return Err("x5c certificate does not carry the JWK's point".into());
    }
    validate(input["token"].as_str().unwrap(), &set, &rules(), now)
        .map(|_| ())
        .map_err(|e| format!("token via the JWKS: {e}"))
}

/// What sigil answered for one Wycheproof JWS: `Ok` or the refusal.
fn outcome(keyset: &Value, token: &str) -> Result<(), Error> {
    let set = JwkSet::from_json(keyset.to_string().as_bytes())?;
    jws::verify(token, &set).map(|_| ())
}

/// A group's key material as a JWKS document: its `public` if it has one,
/// else its `private` (symmetric keys only, which the loader refuses).
fn keyset_of(group: &Value) -> Value {
    let material = if group["public"].is_null() {
        &group["private"]
    } else {
        &group["public"]
    };
    if material.get("keys").is_some() {
        material.clone()
    } else {
        json!({ "keys": [material] })
    }
}

/// Runs a Wycheproof JWS-style file. Groups named in `es256_groups` are
/// ES256 / P-256 and must give exactly `result`. Every other group uses an
/// algorithm sigil never accepts (HS*, RS*, PS*, ES512, RSA and AES keys):
/// their `invalid` cases must still be refused, and their `valid` cases are
/// skipped by name, since a valid HS256/RS256/PS256/ES512 token is one sigil
/// refuses on purpose. Returns (ES256 cases run, other refusals run, skipped).
fn run_jose_file(file: &str, es256_groups: &[&str]) -> (usize, usize, Vec<String>) {
    let doc = load(&format!("wycheproof/{file}"));
    let (mut es256, mut others) = (0, 0);
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    for group in doc["testGroups"].as_array().unwrap() {
        let comment = group["comment"].as_str().unwrap();
        let keyset = keyset_of(group);
        for test in group["tests"].as_array().unwrap() {
            let id = test["tcId"].as_u64().unwrap();
            let label = format!("tcId {id} {comment}/{}", test["comment"].as_str().unwrap());
            let token = test["jws"].as_str().unwrap();
            let want_valid = match test["result"].as_str().unwrap() {
                "valid" => true,
                "invalid" => false,
                other => panic!("{label}: result {other} not handled"),
            };
            let got = outcome(&keyset, token);
            if es256_groups.contains(&comment) {
                es256 += 1;
            } else if want_valid {
                skipped.push(label);
                continue;
            } else {
                others += 1;
            }
            if got.is_ok() != want_valid {
                failures.push(format!("{label}: want valid={want_valid}, got {got:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{file}:\n{}", failures.join("\n"));
    (es256, others, skipped)
}

#[test]
fn wycheproof_json_web_signature() {
    let (es256, others, skipped) = run_jose_file(
        "json_web_signature_test.json",
        &["es256", "SpecialCaseEs256", "ec_key_for_encryption"],
    );
    // 15 es256 + 24 SpecialCaseEs256 + 2 keys whose use / key_ops forbid signing.
    assert_eq!(es256, 41);
    assert_eq!(others + skipped.len() + es256, 401);
    assert!(others > 300, "other-algorithm refusals ran: {others}");
    // Only valid tokens of other algorithms are skipped.
    assert!(
        skipped
            .iter()
            .all(|s| !s.contains(" es256/") && !s.contains("SpecialCaseEs256")),
        "{skipped:?}"
    );
}

#[test]
fn wycheproof_json_web_key() {
    let (es256, others, skipped) = run_jose_file(
        "json_web_key_test.json",
        &[
            "jws_mixedSymmetryKeyset",
            "wrong_algorithm",
            "invalid_algorithm",
            "invalid_use",
            "invalid_point",
            "wrong_curve",
            "wrong_kty",
        ],
    );
    assert_eq!(es256, 7);
    // tcId 2 (HS256 key set), 5 (RS256) and 13–15 (long HMAC keys).
    assert_eq!(skipped.len(), 5, "{skipped:?}");
    assert_eq!(es256 + others + skipped.len(), 26);
}

#[test]
fn wycheproof_json_web_key_refusals_name_their_reason() {
    let doc = load("wycheproof/json_web_key_test.json");
    let reasons = BTreeMap::from([
        ("jws_mixedSymmetryKeyset", "kty must be \"EC\""),
        ("wrong_algorithm", "alg must be absent or \"ES256\""),
        ("invalid_algorithm", "alg must be absent or \"ES256\""),
        ("invalid_use", "use must be absent or \"sig\""),
        ("invalid_point", "not a point on P-256"),
        ("wrong_curve", "crv must be \"P-256\""),
        ("wrong_kty", "kty must be \"EC\""),
    ]);
    for group in doc["testGroups"].as_array().unwrap() {
        let comment = group["comment"].as_str().unwrap();
        if let Some(reason) = reasons.get(comment) {
            let keyset = keyset_of(group);
            let err = JwkSet::from_json(keyset.to_string().as_bytes()).unwrap_err();
            assert!(
                matches!(err, Error::Jwks(_)) && err.to_string().contains(reason),
                "{comment}: {err}"
            );
        }
    }
}

#[test]
fn wycheproof_p256_p1363() {
    let doc = load("wycheproof/ecdsa_secp256r1_sha256_p1363_test.json");
    assert_eq!(doc["algorithm"], "ECDSA");
    let (mut valid, mut invalid) = (0, 0);
    let mut failures = Vec::new();
    for group in doc["testGroups"].as_array().unwrap() {
        assert_eq!(group["sha"], "SHA-256");
        assert_eq!(group["publicKey"]["curve"], "secp256r1");
        let point = from_hex_or_panic(group["publicKey"]["uncompressed"].as_str().unwrap());
        let key = Es256VerifyingKey::from_sec1_uncompressed(&point).unwrap();
        for test in group["tests"].as_array().unwrap() {
            let id = test["tcId"].as_u64().unwrap();
            let msg = from_hex_or_panic(test["msg"].as_str().unwrap());
            let sig = from_hex_or_panic(test["sig"].as_str().unwrap());
            let got = key.verify(&msg, &sig);
            let want_valid = match test["result"].as_str().unwrap() {
                "valid" => {
                    valid += 1;
                    true
                }
                "invalid" => {
                    invalid += 1;
                    false
                }
                other => panic!("tcId {id}: result {other} not handled"),
            };
            if got.is_ok() != want_valid {
                failures.push(format!(
                    "tcId {id} {} {:?}: want valid={want_valid}, got {got:?}",
                    test["comment"], test["flags"]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!((valid, invalid), (173, 89));
}

fn from_hex_or_panic(text: &str) -> Vec<u8> {
    sigil_core::hash::from_hex(text).unwrap_or_else(|| panic!("not hex: {text}"))
}
