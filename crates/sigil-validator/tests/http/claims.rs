//! The claims of an access token through HTTP: T7 (`exp` and the
//! leeway), T8 (`nbf`, `iat`, lifetime), T9 (`aud`, `iss`, `sub`) and T15
//! (audience substitution).

use serde_json::{Value, json};
use sigil_validator::{Audience, Validator};

use crate::support::tokens::{claims, claims_with, fixed_key, good_token, token};
use crate::support::{
    AUDIENCE, Expect, IAT, Issuer, Mode, Resource, SUB, TestClock, VECTOR_NOW_MS, bearer_table,
    builder, setup,
};

/// T7: `exp` in the past, at the boundary with the explicit leeway, and
/// ill-typed (missing, string, float, 2^63, negative, 2^53).
#[tokio::test]
async fn t7_exp() {
    let cases = [
        ("missing", claims_with("exp", None), "exp missing"),
        (
            "string",
            claims_with("exp", Some(json!("1700001800"))),
            "exp must be an integer",
        ),
        (
            "float",
            claims_with("exp", Some(json!(1_700_001_800.0))),
            "exp must be an integer",
        ),
        (
            "2^63",
            claims_with("exp", Some(json!(9_223_372_036_854_775_808_u64))),
            "exp must be an integer",
        ),
        (
            "2^53",
            claims_with("exp", Some(json!(9_007_199_254_740_992_u64))),
            "exp must be an integer",
        ),
        (
            "negative",
            claims_with("exp", Some(json!(-1))),
            "exp must be an integer",
        ),
        (
            "null",
            claims_with("exp", Some(Value::Null)),
            "exp must be an integer",
        ),
        (
            "past",
            claims_with("exp", Some(json!(IAT + 60))),
            "token expired",
        ),
    ];
    let cases: Vec<_> = cases
        .iter()
        .map(|(name, claims, phrase)| (*name, token(claims), Expect::Refused(phrase)))
        .collect();
    bearer_table("T7 shapes", &cases).await;

    // The boundary: expired when now >= exp + leeway (leeway 5 s by default,
    // 0 here when asked; at most 30 s, a larger value fails the build).
    let exp_ms = (IAT + 1800) * 1000;
    for mode in Mode::ALL {
        for (leeway_s, accepted_until_ms) in
            [(5, exp_ms + 4_999), (0, exp_ms - 1), (30, exp_ms + 29_999)]
        {
            let s = setup(mode, |b| b.leeway_s(leeway_s)).await;
            s.clock.set(accepted_until_ms);
            s.resource
                .bearer(&good_token())
                .await
                .assert_ok(SUB, "bearer");
            s.clock.set(accepted_until_ms + 1);
            s.resource.bearer(&good_token()).await.assert_refused(
                401,
                "invalid_token",
                "token expired",
            );
        }
    }
    let issuer = Issuer::start(&[]).await;
    let err = builder(&issuer, &TestClock::at(0))
        .leeway_s(31)
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("leeway 31 s is over the maximum 30 s"),
        "{err}"
    );
}

/// T8: `nbf` in the future, `iat` in the future beyond the leeway, a
/// lifetime longer than the maximum; the leeway edge is accepted.
#[tokio::test]
async fn t8_nbf_iat_lifetime() {
    let now = VECTOR_NOW_MS / 1000;
    let with = |iat: u64, nbf: u64, exp: u64| {
        let mut c = claims(IAT);
        c["iat"] = json!(iat);
        c["nbf"] = json!(nbf);
        c["exp"] = json!(exp);
        token(&c)
    };
    let cases = vec![
        (
            "nbf 60 s ahead",
            with(IAT, now + 60, IAT + 1800),
            Expect::Refused("token not yet valid"),
        ),
        (
            "nbf 6 s ahead",
            with(IAT, now + 6, IAT + 1800),
            Expect::Refused("token not yet valid"),
        ),
        (
            "nbf 5 s ahead (leeway)",
            with(IAT, now + 5, IAT + 1800),
            Expect::Ok,
        ),
        (
            "iat 60 s ahead",
            with(now + 60, now, now + 1000),
            Expect::Refused("in the future"),
        ),
        (
            "iat 5 s ahead (leeway)",
            with(now + 5, now, now + 1000),
            Expect::Ok,
        ),
        (
            "lifetime 3600 s",
            with(now - 10, now - 10, now + 3590),
            Expect::Refused("exceeds the maximum"),
        ),
        (
            "exp before iat",
            with(now, now, now - 1),
            Expect::Refused("is not after iat"),
        ),
        (
            "nbf missing",
            token(&claims_with("nbf", None)),
            Expect::Refused("nbf missing"),
        ),
        (
            "iat missing",
            token(&claims_with("iat", None)),
            Expect::Refused("iat missing"),
        ),
        (
            "iat string",
            token(&claims_with("iat", Some(json!("1")))),
            Expect::Refused("iat must be an integer"),
        ),
    ];
    bearer_table("T8", &cases).await;
}

/// T9: `aud` missing, wrong, empty array, non-string; an array containing
/// ours is accepted; `iss` wrong or missing; `sub` not 66 lower-case hex of
/// a compressed key.
#[tokio::test]
async fn t9_aud_iss_sub() {
    let uncompressed = "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8";
    let c = |name: &str, value: Option<Value>| token(&claims_with(name, value));
    let cases = vec![
        (
            "aud missing",
            c("aud", None),
            Expect::Refused("aud missing"),
        ),
        (
            "aud wrong",
            c("aud", Some(json!("https://other.example"))),
            Expect::Refused("wrong audience"),
        ),
        (
            "aud []",
            c("aud", Some(json!([]))),
            Expect::Refused("aud must be a string or a non-empty array"),
        ),
        (
            "aud 5",
            c("aud", Some(json!(5))),
            Expect::Refused("aud must be a string"),
        ),
        (
            "aud [ours, 1]",
            c("aud", Some(json!([AUDIENCE, 1]))),
            Expect::Refused("aud must be a string"),
        ),
        (
            "aud [\"\"]",
            c("aud", Some(json!([""]))),
            Expect::Refused("wrong audience"),
        ),
        (
            "aud [other]",
            c("aud", Some(json!(["https://other.example"]))),
            Expect::Refused("wrong audience"),
        ),
        (
            "aud [other, ours]",
            c("aud", Some(json!(["https://other.example", AUDIENCE]))),
            Expect::Ok,
        ),
        (
            "iss wrong",
            c("iss", Some(json!("https://evil.example"))),
            Expect::Refused("wrong issuer"),
        ),
        (
            "iss trailing slash",
            c("iss", Some(json!("http://localhost:1911/"))),
            Expect::Refused("wrong issuer"),
        ),
        (
            "iss missing",
            c("iss", None),
            Expect::Refused("iss missing"),
        ),
        (
            "sub missing",
            c("sub", None),
            Expect::Refused("sub missing"),
        ),
        (
            "sub upper case",
            c("sub", Some(json!(SUB.to_uppercase()))),
            Expect::Refused("sub must be a compressed public key"),
        ),
        (
            "sub uncompressed",
            c("sub", Some(json!(uncompressed))),
            Expect::Refused("sub must be a compressed public key"),
        ),
        (
            "sub 64 hex",
            c("sub", Some(json!(&SUB[..64]))),
            Expect::Refused("sub must be a compressed public key"),
        ),
        (
            "sub address",
            c("sub", Some(json!("1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"))),
            Expect::Refused("sub must be a compressed public key"),
        ),
        (
            "sub not on curve",
            c("sub", Some(json!(format!("02{}", "00".repeat(32))))),
            Expect::Refused("sub must be a compressed public key"),
        ),
    ];
    bearer_table("T9", &cases).await;
}

/// T15: a token of our issuer for audience A is refused by service B; the
/// path-prefix rule does not match a longer host name or a user-info trick;
/// an exact rule refuses a sub-path that the prefix rule accepts.
#[tokio::test]
async fn t15_audience_substitution() {
    let for_aud = |aud: &str| token(&claims_with("aud", Some(json!(aud))));
    let cases = vec![
        (
            "A/path",
            for_aud(&format!("{AUDIENCE}/v1/items?id=1")),
            Expect::Ok,
        ),
        ("A?query", for_aud(&format!("{AUDIENCE}?x=1")), Expect::Ok),
        (
            "A.evil.com",
            for_aud(&format!("{AUDIENCE}.evil.com")),
            Expect::Refused("wrong audience"),
        ),
        (
            "A@evil.com",
            for_aud(&format!("{AUDIENCE}@evil.com")),
            Expect::Refused("wrong audience"),
        ),
        (
            "A:8443",
            for_aud(&format!("{AUDIENCE}:8443")),
            Expect::Refused("wrong audience"),
        ),
        (
            "http A",
            for_aud("http://api.yourservice.com"),
            Expect::Refused("wrong audience"),
        ),
    ];
    bearer_table("T15 path prefix", &cases).await;

    for mode in Mode::ALL {
        // Service B, same issuer and keys, another audience.
        let issuer = Issuer::start(&[&fixed_key()]).await;
        let clock = TestClock::at(VECTOR_NOW_MS);
        let b = Validator::builder(crate::support::ISSUER, "https://b.example")
            .jwks_uri(issuer.jwks_url())
            .clock(clock.source())
            .build()
            .unwrap();
        let service_b = Resource::start(b, mode).await;
        service_b.bearer(&good_token()).await.assert_refused(
            401,
            "invalid_token",
            "wrong audience",
        );
        service_b
            .bearer(&for_aud("https://b.example/x"))
            .await
            .assert_ok(SUB, "bearer");
        // An exact rule refuses what the prefix rule accepts.
        let exact = builder(&issuer, &clock)
            .audience(Audience::Exact(AUDIENCE.into()))
            .build()
            .unwrap();
        let exact = Resource::start(exact, mode).await;
        exact.bearer(&good_token()).await.assert_ok(SUB, "bearer");
        exact
            .bearer(&for_aud(&format!("{AUDIENCE}/v1")))
            .await
            .assert_refused(401, "invalid_token", "wrong audience");
    }
}
