//! Access tokens through HTTP: every `es256_jwt.json` case, then the
//! catalogue items about the token's header, signature and shape (T1, T2,
//! T5, T6, T10, T11) with tokens built here for what the vectors lack.

use std::collections::BTreeMap;

use serde_json::json;

use crate::support::tokens::{
    P256_N, b64, claims, der_of, fixed_key, good_token, header_of, sign_raw, signature_of, sub_be,
    token, token_with_header, with_signature,
};
use crate::support::{
    Expect, Failures, IAT, Issuer, Mode, Resource, SUB, bearer_table, builder, cases, setup,
};

/// The reason in each refused vector's description: one check each.
fn vector_reasons() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("expired", "token expired"),
        ("nbf-in-future", "token not yet valid"),
        ("wrong-audience", "wrong audience"),
        ("wrong-issuer", "wrong issuer"),
        ("typ-jwt", "typ must be at+jwt"),
        ("typ-missing", "typ must be at+jwt"),
        ("crit-header", "crit header not supported"),
        ("unknown-kid", "unknown kid"),
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

/// Every es256_jwt.json case gives its `expected` at its `validate_at`, in
/// both modes; nothing is fetched because of a header (`jku-header`), and
/// the unknown kid costs no fetch inside the cool-down (T1–T6, T9, T10, T11).
#[tokio::test]
async fn every_es256_jwt_case() {
    let reasons = vector_reasons();
    let mut failures = Failures::default();
    let mut ran = 0;
    for mode in Mode::ALL {
        let s = setup(mode, |b| b).await;
        for (name, case) in cases("es256_jwt.json") {
            let input = &case["input"];
            let expected = &case["expected"];
            let token = input["token"].as_str().unwrap();
            s.clock.set(input["validate_at"].as_u64().unwrap() * 1000);
            let result = if expected["token_valid_via_jwks"] == true {
                // The published form of the key (with x5c), served as the JWKS.
                let issuer = Issuer::start(&[]).await;
                issuer.set_jwks(&input["jwks"].to_string());
                let validator = builder(&issuer, &s.clock).build().unwrap();
                let resource = Resource::start(validator, mode).await;
                resource.bearer(token).await.check_ok(SUB, "bearer")
            } else if expected["valid"] == true || expected["valid_if_ignored"] == true {
                s.resource.bearer(token).await.check_ok(SUB, "bearer")
            } else {
                let reason = reasons
                    .get(name.as_str())
                    .copied()
                    .unwrap_or("no reason listed");
                let answer = s.resource.bearer(token).await;
                let phrase = expected["description_contains"].as_str().unwrap_or(reason);
                answer
                    .check_refused(401, "invalid_token", phrase)
                    .and_then(|()| answer.check_refused(401, "invalid_token", reason))
            };
            failures.check(&format!("{mode:?} {name}"), result);
            ran += 1;
        }
        assert_eq!(
            s.issuer.jwks_fetches(),
            1,
            "{mode:?}: one fetch, at first use"
        );
        assert_eq!(s.issuer.other_hits(), 0, "{mode:?}: nothing else fetched");
    }
    failures.assert_none("es256_jwt.json");
    assert_eq!(ran, 2 * 26);
}

/// T1: `alg: none` in any case, with or without a signature.
#[tokio::test]
async fn t1_alg_none() {
    let kid = fixed_key().kid().to_owned();
    let body = b64(claims(IAT).to_string());
    let mut cases = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64(format!(r#"{{"alg":"{alg}","typ":"at+jwt","kid":"{kid}"}}"#));
        cases.push((
            alg,
            format!("{header}.{body}."),
            Expect::Refused("alg must be ES256"),
        ));
    }
    let signed_none =
        token_with_header(&format!(r#"{{"alg":"none","typ":"at+jwt","kid":"{kid}"}}"#));
    cases.push((
        "none, signed",
        signed_none,
        Expect::Refused("alg must be ES256"),
    ));
    let no_alg = token_with_header(&format!(r#"{{"typ":"at+jwt","kid":"{kid}"}}"#));
    cases.push(("alg missing", no_alg, Expect::Refused("alg must be ES256")));
    let empty_sig = with_signature(&good_token(), b"");
    cases.push((
        "ES256, empty signature",
        empty_sig,
        Expect::Refused("signature"),
    ));
    cases.push(("control: the good token", good_token(), Expect::Ok));
    bearer_table("T1", &cases).await;
}

/// T2: only ES256; the key is bound to it. HS256 whose secret is the
/// public key, and RS256/PS256/ES384/ES512/EdDSA/ES256K headers, even
/// over a valid ES256 signature.
#[tokio::test]
async fn t2_other_algorithms() {
    let kid = fixed_key().kid().to_owned();
    let mut cases = Vec::new();
    for alg in [
        "HS256", "HS384", "RS256", "PS256", "ES384", "ES512", "EdDSA", "ES256K", "es256",
    ] {
        let header = format!(r#"{{"alg":"{alg}","typ":"at+jwt","kid":"{kid}"}}"#);
        cases.push((
            alg,
            token_with_header(&header),
            Expect::Refused("alg must be ES256"),
        ));
    }
    let array = format!(r#"{{"alg":["ES256"],"typ":"at+jwt","kid":"{kid}"}}"#);
    cases.push((
        "alg array",
        token_with_header(&array),
        Expect::Refused("alg must be ES256"),
    ));
    bearer_table("T2", &cases).await;
}

/// T5: any `crit` header is refused, even empty or naming a known claim.
#[tokio::test]
async fn t5_crit() {
    let kid = fixed_key().kid().to_owned();
    let cases: Vec<_> = [r#"["exp"]"#, "[]", r#"["b64"]"#, r#""exp""#]
        .into_iter()
        .map(|crit| {
            let header = format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{kid}","crit":{crit}}}"#);
            (
                crit,
                token_with_header(&header),
                Expect::Refused("crit header not supported"),
            )
        })
        .collect();
    bearer_table("T5", &cases).await;
}

/// T6: `typ` exactly `at+jwt`: `JWT`, missing, other spellings, an ID
/// token's header.
#[tokio::test]
async fn t6_typ() {
    let kid = fixed_key().kid().to_owned();
    let mut cases = Vec::new();
    for typ in [
        r#""JWT""#,
        r#""AT+JWT""#,
        r#""application/at+jwt""#,
        r#""at+jwt ""#,
        "null",
        r#"["at+jwt"]"#,
    ] {
        let header = format!(r#"{{"alg":"ES256","typ":{typ},"kid":"{kid}"}}"#);
        cases.push((
            typ,
            token_with_header(&header),
            Expect::Refused("typ must be at+jwt"),
        ));
    }
    let missing = format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#);
    cases.push((
        "missing",
        token_with_header(&missing),
        Expect::Refused("typ must be at+jwt"),
    ));
    // An ID token: typ JWT and a nonce; refused for its typ.
    let mut id_claims = claims(IAT);
    id_claims["nonce"] = json!("n-0S6_WzA2Mj");
    let id_token = sign_raw(
        &fixed_key(),
        format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{kid}"}}"#).as_bytes(),
        id_claims.to_string().as_bytes(),
    );
    cases.push(("id token", id_token, Expect::Refused("typ must be at+jwt")));
    bearer_table("T6", &cases).await;
}

/// T10: only a 64-byte `r ‖ s` with r, s in [1, n-1]: DER, 63/65/66 bytes,
/// zero, n, leading-zero padding refused; the high-S twin is valid.
#[tokio::test]
async fn t10_signature_shapes() {
    let good = good_token();
    let sig = signature_of(&good);
    let (r, s) = (&sig[..32], &sig[32..]);
    let cat = |a: &[u8], b: &[u8]| [a, b].concat();
    let high_s = cat(r, &sub_be(&P256_N, s));
    let mut flipped = sig.clone();
    flipped[10] ^= 1;
    let cases = vec![
        (
            "DER",
            with_signature(&good, &der_of(&sig)),
            Expect::Refused("signature must be 64 bytes"),
        ),
        (
            "63 bytes",
            with_signature(&good, &sig[..63]),
            Expect::Refused("signature must be 64 bytes"),
        ),
        (
            "65 bytes",
            with_signature(&good, &cat(&sig, &[0])),
            Expect::Refused("signature must be 64 bytes"),
        ),
        (
            "66 bytes",
            with_signature(&good, &cat(&sig, &[0, 0])),
            Expect::Refused("signature must be 64 bytes"),
        ),
        (
            "leading zero",
            with_signature(&good, &cat(&[0], &sig)),
            Expect::Refused("signature must be 64 bytes"),
        ),
        (
            "r = s = 0",
            with_signature(&good, &[0; 64]),
            Expect::Refused("r and s must be in [1, n-1]"),
        ),
        (
            "r = n",
            with_signature(&good, &cat(&P256_N, s)),
            Expect::Refused("r and s must be in [1, n-1]"),
        ),
        (
            "s = n",
            with_signature(&good, &cat(r, &P256_N)),
            Expect::Refused("r and s must be in [1, n-1]"),
        ),
        (
            "s = 0",
            with_signature(&good, &cat(r, &[0; 32])),
            Expect::Refused("r and s must be in [1, n-1]"),
        ),
        (
            "one bit flipped",
            with_signature(&good, &flipped),
            Expect::Refused("signature verification failed"),
        ),
        ("high-S twin", with_signature(&good, &high_s), Expect::Ok),
        ("original", good.clone(), Expect::Ok),
    ];
    bearer_table("T10", &cases).await;
}

/// T11: structure refused before any crypto: segment counts, JWE, JSON
/// serialization, base64 variants, whitespace, invalid UTF-8, duplicate
/// members, deep nesting, tokens over 8 KiB.
#[tokio::test]
async fn t11_structure() {
    let key = fixed_key();
    let good = good_token();
    let (h, rest) = good.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let kid = key.kid().to_owned();
    let claims_text = claims(IAT).to_string();
    let nested = format!(
        r#"{{"alg":"ES256","typ":"at+jwt","kid":"{kid}","x":{}{}}}"#,
        "[".repeat(1000),
        "]".repeat(1000)
    );
    let mut big_claims = claims(IAT);
    big_claims["pad"] = json!("x".repeat(9000));
    let json_serialization = json!({"protected": h, "payload": p, "signature": s}).to_string();
    let cases = vec![
        (
            "2 segments",
            format!("{h}.{p}"),
            Expect::Refused("token must have 3 segments"),
        ),
        (
            "4 segments",
            format!("{good}.{s}"),
            Expect::Refused("token must have 3 segments"),
        ),
        (
            "5-part JWE",
            format!("{h}.{p}.{s}.{p}.{s}"),
            Expect::Refused("token must have 3 segments"),
        ),
        (
            "JSON serialization",
            json_serialization,
            Expect::Refused("segments"),
        ),
        ("empty", ".".repeat(2), Expect::Refused("header")),
        (
            "padded",
            format!("{h}.{p}=.{s}"),
            Expect::Refused("padding"),
        ),
        (
            "+ in signature",
            format!("{h}.{p}.+{}", &s[1..]),
            Expect::Refused("are not base64url"),
        ),
        (
            "/ in payload",
            format!("{h}./{}.{s}", &p[1..]),
            Expect::Refused("are not base64url"),
        ),
        (
            "space inside",
            format!("{h}.{} {}.{s}", &p[..10], &p[10..]),
            Expect::Refused("not base64url"),
        ),
        (
            "invalid UTF-8 header",
            sign_raw(
                &key,
                b"{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"\xff\"}",
                claims_text.as_bytes(),
            ),
            Expect::Refused("header"),
        ),
        (
            "invalid UTF-8 claims",
            sign_raw(
                &key,
                header_of(&key).as_bytes(),
                &[claims_text.as_bytes(), b"\xc3"].concat(),
            ),
            Expect::Refused("claims"),
        ),
        (
            "duplicate alg",
            token_with_header(&format!(
                r#"{{"alg":"ES256","alg":"none","typ":"at+jwt","kid":"{kid}"}}"#
            )),
            Expect::Refused("duplicate"),
        ),
        (
            "duplicate sub",
            sign_raw(
                &key,
                header_of(&key).as_bytes(),
                claims_text
                    .replacen('{', &format!(r#"{{"sub":"{SUB}","#), 1)
                    .as_bytes(),
            ),
            Expect::Refused("duplicate"),
        ),
        (
            "header not an object",
            sign_raw(&key, b"[1]", claims_text.as_bytes()),
            Expect::Refused("header"),
        ),
        (
            "deeply nested header",
            token_with_header(&nested),
            Expect::Refused("header"),
        ),
        (
            "over 8 KiB",
            token(&big_claims),
            Expect::Refused("token too long"),
        ),
    ];
    bearer_table("T11", &cases).await;
}
