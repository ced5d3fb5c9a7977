//! Key selection and key-set changes through HTTP: T3 (`kid`), T4 (header
//! keys and URLs), T12 (bad JWKS keep the good set), T14 (a removed key),
//! rotation, the cool-down, and concurrent misses sharing one fetch.

use std::time::Duration;

use serde_json::{Value, json};
use sigil_core::JwkSet;

use crate::support::tokens::{
    b64, claims, fixed_key, fresh_token, good_token, other_key, sign_raw, token_of,
    token_with_header,
};
use crate::support::{
    Expect, Failures, IAT, Issuer, Mode, Resource, SUB, TestClock, VECTOR_NOW_MS, bearer_table,
    builder, load, setup,
};

/// T3: a `kid` is only a map key. Path traversal, SQL, NUL bytes, a long
/// kid, a kid of another type, no kid while the JWKS has two keys: all
/// refused, and all of them together cost at most one refetch per
/// cool-down.
#[tokio::test]
async fn t3_kid_injection_and_one_refetch_per_cooldown() {
    let key = fixed_key();
    let second = other_key(2);
    let long = "k".repeat(5000);
    let header = |kid: &str| format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":{kid}}}"#);
    let kids = [
        ("path traversal", json!("../../dev/null").to_string()),
        ("sql", json!("' OR 1=1--").to_string()),
        ("nul bytes", json!("a\u{0}b\u{0}").to_string()),
        ("5000 characters", json!(long).to_string()),
        ("empty", json!("").to_string()),
        ("a prefix of ours", json!(&key.kid()[..10]).to_string()),
        (
            "ours with a NUL",
            json!(format!("{}\u{0}", key.kid())).to_string(),
        ),
    ];
    for mode in Mode::ALL {
        let issuer = Issuer::start(&[&key, &second]).await;
        let clock = TestClock::at(VECTOR_NOW_MS);
        let resource = Resource::start(builder(&issuer, &clock).build().unwrap(), mode).await;
        resource
            .bearer(&good_token())
            .await
            .assert_ok(SUB, "bearer");
        assert_eq!(issuer.jwks_fetches(), 1);
        let mut failures = Failures::default();
        for round in 0..2 {
            for (name, kid) in &kids {
                let answer = resource.bearer(&token_with_header(&header(kid))).await;
                failures.check(
                    name,
                    answer.check_refused(401, "invalid_token", "unknown kid"),
                );
            }
            let cases = [
                (
                    "kid 10 KB (token too long)",
                    header(&json!("k".repeat(10_240)).to_string()),
                    "token too long",
                ),
                ("kid a number", header("5"), "kid must be a string"),
                (
                    "kid an object",
                    header(r#"{"$ne":null}"#),
                    "kid must be a string",
                ),
                (
                    "no kid, two keys",
                    r#"{"alg":"ES256","typ":"at+jwt"}"#.to_owned(),
                    "kid missing",
                ),
            ];
            for (name, header, phrase) in cases {
                let answer = resource.bearer(&token_with_header(&header)).await;
                failures.check(name, answer.check_refused(401, "invalid_token", phrase));
            }
            // Round 0 is inside the cool-down of the first fetch: no
            // refetch. Round 1 is after it: exactly one, for all the kids.
            let want = 1 + round;
            failures.check(
                "fetch count",
                if issuer.jwks_fetches() == want {
                    Ok(())
                } else {
                    Err(format!(
                        "round {round}: {} fetches, want {want}",
                        issuer.jwks_fetches()
                    ))
                },
            );
            clock.advance_ms(30_000);
        }
        failures.assert_none(&format!("T3 {mode:?}"));
        // The second key of the set verifies its own tokens.
        resource
            .bearer(&token_of(&second, &claims(IAT)))
            .await
            .assert_ok(SUB, "bearer");
    }
}

/// T4: `jku`, `x5u`, `x5c` and `jwk` in a header are never used and never
/// fetched: with our kid and our signature the token is accepted and the
/// attacker's server sees nothing; signed by the attacker's key (named or
/// embedded) it is refused.
#[tokio::test]
async fn t4_header_keys_and_urls() {
    let key = fixed_key();
    let attacker_key = other_key(66);
    let attacker = Issuer::start(&[&attacker_key]).await;
    let evil = format!("{}/evil/jwks.json", attacker.base);
    let attacker_jwk = serde_json::to_value(attacker_key.public_jwk()).unwrap();
    let x5c = b64(attacker_key.certificate_der(IAT).unwrap());
    let header = |kid: &str, extra: &str| {
        format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{kid}"{extra}}}"#)
    };
    let body = claims(IAT).to_string();
    let ours = key.kid().to_owned();
    let theirs = attacker_key.kid().to_owned();
    let by = |signer: &sigil_core::Es256SigningKey, header: String| {
        sign_raw(signer, header.as_bytes(), body.as_bytes())
    };
    let cases = vec![
        (
            "jku, our key",
            by(&key, header(&ours, &format!(r#","jku":"{evil}""#))),
            Expect::Ok,
        ),
        (
            "x5u, our key",
            by(&key, header(&ours, &format!(r#","x5u":"{evil}""#))),
            Expect::Ok,
        ),
        (
            "x5c, our key",
            by(&key, header(&ours, &format!(r#","x5c":["{x5c}"]"#))),
            Expect::Ok,
        ),
        (
            "jwk, our key",
            by(&key, header(&ours, &format!(r#","jwk":{attacker_jwk}"#))),
            Expect::Ok,
        ),
        (
            "jku, attacker key and kid",
            by(
                &attacker_key,
                header(&theirs, &format!(r#","jku":"{evil}""#)),
            ),
            Expect::Refused("unknown kid"),
        ),
        (
            "x5u, attacker key and kid",
            by(
                &attacker_key,
                header(&theirs, &format!(r#","x5u":"{evil}""#)),
            ),
            Expect::Refused("unknown kid"),
        ),
        (
            "x5c, attacker key and kid",
            by(
                &attacker_key,
                header(&theirs, &format!(r#","x5c":["{x5c}"]"#)),
            ),
            Expect::Refused("unknown kid"),
        ),
        (
            "jwk, attacker key and kid",
            by(
                &attacker_key,
                header(&theirs, &format!(r#","jwk":{attacker_jwk}"#)),
            ),
            Expect::Refused("unknown kid"),
        ),
        (
            "jwk, attacker key, our kid",
            by(
                &attacker_key,
                header(&ours, &format!(r#","jwk":{attacker_jwk}"#)),
            ),
            Expect::Refused("signature verification failed"),
        ),
        (
            "jku, attacker key, our kid",
            by(&attacker_key, header(&ours, &format!(r#","jku":"{evil}""#))),
            Expect::Refused("signature verification failed"),
        ),
        (
            "jwk, no kid",
            by(
                &attacker_key,
                format!(r#"{{"alg":"ES256","typ":"at+jwt","jwk":{attacker_jwk}}}"#),
            ),
            Expect::Refused("kid missing"),
        ),
    ];
    bearer_table("T4", &cases).await;
    assert_eq!(
        attacker.other_hits(),
        0,
        "nothing fetched from a header URL"
    );
    assert_eq!(attacker.jwks_fetches() + attacker.discovery_fetches(), 0);
}

/// The Wycheproof JWK sets sigil refuses, and hand-made bad sets (T12).
fn bad_key_sets() -> Vec<(String, String)> {
    let good = serde_json::to_value(fixed_key().public_jwk()).unwrap();
    let with = |name: &str, value: Value| {
        let mut jwk = good.clone();
        jwk[name] = value;
        json!({ "keys": [jwk] }).to_string()
    };
    let mut sets = vec![
        (
            "private d".to_owned(),
            with("d", json!("ln5kck1m9OlXGgsyvXpuCaoQySgBMkkt8NBrRdtFMy0")),
        ),
        ("use enc".into(), with("use", json!("enc"))),
        (
            "key_ops encrypt".into(),
            with("key_ops", json!(["encrypt"])),
        ),
        ("alg ES384".into(), with("alg", json!("ES384"))),
        (
            "x not on the curve".into(),
            with("y", json!("ZooY3NOmsI8jcDlSex-fc8L-QIOeuXAKYekzwaRG26Q")),
        ),
        (
            "point at infinity".into(),
            with("x", json!(b64([0u8; 32])))
                .replace(&good["y"].as_str().unwrap().to_owned(), &b64([0u8; 32])),
        ),
        (
            "x >= p".into(),
            with("x", json!("_____wAAAAEAAAAAAAAAAAAAAAD_______________8")),
        ),
        ("x 31 bytes".into(), with("x", json!(b64([1u8; 31])))),
        (
            "compressed point".into(),
            with("x", json!(b64([&[2u8][..], &[1u8; 32]].concat()))),
        ),
        ("crv P-384".into(), with("crv", json!("P-384"))),
        (
            "duplicate kid".into(),
            json!({ "keys": [good.clone(), good.clone()] }).to_string(),
        ),
        (
            "mixed set".into(),
            json!({ "keys": [good.clone(), {"kty":"oct","k":"AAAA","kid":"h"}] }).to_string(),
        ),
        ("empty".into(), r#"{"keys":[]}"#.into()),
        ("not JSON".into(), "<html>".into()),
    ];
    let doc = load("wycheproof/json_web_key_test.json");
    for group in doc["testGroups"].as_array().unwrap() {
        let comment = group["comment"].as_str().unwrap();
        let material = if group["public"].is_null() {
            &group["private"]
        } else {
            &group["public"]
        };
        let set = if material.get("keys").is_some() {
            material.clone()
        } else {
            json!({ "keys": [material] })
        };
        let text = set.to_string();
        if JwkSet::from_json(text.as_bytes()).is_err() {
            sets.push((format!("wycheproof {comment}"), text));
        }
    }
    sets
}

/// T12: a refused JWKS is never used and the previous good set stays: the
/// good token is still accepted after each bad refresh (which did happen:
/// the fetch counter moves). With no good set at all: 503.
#[tokio::test]
async fn t12_bad_key_sets_keep_the_good_one() {
    let sets = bad_key_sets();
    let wycheproof = sets
        .iter()
        .filter(|(n, _)| n.starts_with("wycheproof"))
        .count();
    assert!(
        wycheproof >= 7,
        "Wycheproof JWK groups refused: {wycheproof}"
    );
    for (name, set) in &sets {
        assert!(
            JwkSet::from_json(set.as_bytes()).is_err(),
            "{name} must be refused"
        );
    }
    for mode in Mode::ALL {
        // Each bad refresh is 300 s after the last: allow a long staleness.
        let s = setup(mode, |b| b.max_stale(Duration::from_secs(86_400))).await;
        s.resource
            .bearer(&good_token())
            .await
            .assert_ok(SUB, "bearer");
        let mut failures = Failures::default();
        for (i, (name, set)) in sets.iter().enumerate() {
            s.issuer.set_jwks(set);
            s.clock.advance_ms(300_000); // past the TTL (and the cool-down)
            let answer = s.resource.bearer(&fresh_token(s.clock.now())).await;
            failures.check(name, answer.check_ok(SUB, "bearer"));
            if s.issuer.jwks_fetches() != i + 2 {
                failures.check(name, Err(format!("{} fetches", s.issuer.jwks_fetches())));
            }
        }
        failures.assert_none(&format!("T12 {mode:?}"));

        // No good set ever: 503, never a 200.
        for (name, set) in sets.iter().take(3) {
            let s = setup(mode, |b| b).await;
            s.issuer.set_jwks(set);
            let answer = s.resource.bearer(&good_token()).await;
            answer.assert_refused(503, "temporarily_unavailable", "retry later");
            assert!(
                !answer.text.contains("jwks"),
                "{name}: nothing internal: {}",
                answer.text
            );
        }
    }
}

/// T14: a key removed from the JWKS is refused after the next refresh
/// (and not before: the set is cached for its TTL).
#[tokio::test]
async fn t14_removed_key() {
    for mode in Mode::ALL {
        let s = setup(mode, |b| b).await;
        s.issuer.set_cache_control(Some("max-age=120"));
        s.resource
            .bearer(&good_token())
            .await
            .assert_ok(SUB, "bearer");
        s.issuer.set_keys(&[&other_key(3)]);
        s.clock.advance_ms(119_000);
        s.resource
            .bearer(&good_token())
            .await
            .assert_ok(SUB, "bearer");
        s.clock.advance_ms(1_000);
        s.resource
            .bearer(&good_token())
            .await
            .assert_refused(401, "invalid_token", "unknown kid");
        assert_eq!(s.issuer.jwks_fetches(), 2);
        // Later too, whatever the cool-down allows.
        s.clock.advance_ms(60_000);
        s.resource
            .bearer(&good_token())
            .await
            .assert_refused(401, "invalid_token", "unknown kid");
    }
}

/// Rotation: a token of a new key is refused until the cool-down allows a
/// refetch, then accepted after exactly one; concurrent requests with the
/// new kid share that one fetch.
#[tokio::test]
async fn rotation_is_picked_up_with_one_shared_refetch() {
    for mode in Mode::ALL {
        let s = setup(mode, |b| b.refetch_cooldown(Duration::from_secs(10))).await;
        s.resource
            .bearer(&good_token())
            .await
            .assert_ok(SUB, "bearer");
        let new_key = other_key(4);
        let new_token = token_of(&new_key, &claims(IAT));
        s.issuer.set_keys(&[&fixed_key(), &new_key]);
        s.resource
            .bearer(&new_token)
            .await
            .assert_refused(401, "invalid_token", "unknown kid");
        s.clock.advance_ms(9_999);
        s.resource
            .bearer(&new_token)
            .await
            .assert_refused(401, "invalid_token", "unknown kid");
        assert_eq!(
            s.issuer.jwks_fetches(),
            1,
            "no refetch inside the cool-down"
        );
        s.clock.advance_ms(1);
        s.issuer.set_delay(Duration::from_millis(300));
        let answers = futures_join(&s.resource, &new_token, 16).await;
        for answer in &answers {
            answer.assert_ok(SUB, "bearer");
        }
        assert_eq!(
            s.issuer.jwks_fetches(),
            2,
            "16 concurrent misses, one fetch"
        );
        s.resource
            .bearer(&good_token())
            .await
            .assert_ok(SUB, "bearer");
    }
}

/// Concurrent misses share one fetch even with no cool-down at all: the
/// requests that waited for the fetch in progress use its result.
#[tokio::test]
async fn concurrent_misses_share_one_fetch() {
    for mode in Mode::ALL {
        let s = setup(mode, |b| b.refetch_cooldown(Duration::ZERO)).await;
        s.resource
            .bearer(&good_token())
            .await
            .assert_ok(SUB, "bearer");
        let new_key = other_key(5);
        s.issuer.set_keys(&[&fixed_key(), &new_key]);
        s.issuer.set_delay(Duration::from_millis(300));
        let answers = futures_join(&s.resource, &token_of(&new_key, &claims(IAT)), 16).await;
        for answer in &answers {
            answer.assert_ok(SUB, "bearer");
        }
        assert_eq!(
            s.issuer.jwks_fetches(),
            2,
            "{mode:?}: 16 concurrent misses, one fetch"
        );
        // Without a cool-down, each later miss may fetch again.
        s.issuer.set_delay(Duration::ZERO);
        s.resource
            .bearer(&token_of(&other_key(6), &claims(IAT)))
            .await
            .assert_refused(401, "invalid_token", "unknown kid");
        assert_eq!(s.issuer.jwks_fetches(), 3);
    }
}

/// `n` concurrent bearer requests.
async fn futures_join(resource: &Resource, token: &str, n: usize) -> Vec<crate::support::Answer> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let resource = resource.clone();
            let token = token.to_owned();
            tokio::spawn(async move { resource.bearer(&token).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}
