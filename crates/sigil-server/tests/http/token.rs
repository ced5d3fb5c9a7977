//! `POST /api/auth/token-for-endpoint` over HTTP: the public vectors, the
//! issued token, replays in every encoding, concurrency, restarts.

use std::sync::Arc;

use serde_json::Value;
use sigil_core::jwt::{Audience, ValidationRules, validate};
use sigil_core::{JwkSet, bsm};
use tokio::sync::Barrier;

use crate::support::{
    ENDPOINT, TestServer, VECTOR_NOW_MS, base64, config_in, decode, key, request, vectors,
};

/// Every case of token_for_endpoint.json, in file order, on one server at
/// the vectors' time: accepted, refused with its code, or a replay of its
/// twin.
#[tokio::test]
async fn token_for_endpoint_vectors() {
    let server = TestServer::start("vectors", VECTOR_NOW_MS).await;
    let doc = vectors("token_for_endpoint.json");
    let mut failures = Vec::new();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let expected = &case["expected"];
        assert_eq!(case["input"]["server_now_ms"], VECTOR_NOW_MS, "{name}");
        let body = case["input"]["request_body"]
            .as_str()
            .or_else(|| expected["request_body"].as_str())
            .or_else(|| expected["request_body_bsm"].as_str())
            .unwrap_or_else(|| panic!("{name}: no request body"));
        let answer = server.post_token(body).await;
        let verdict = if expected["accepted"] == true {
            check_token(&answer, expected)
        } else if expected["accepted"] == false {
            let code = expected["error"].as_str();
            let status = expected["status"].as_u64();
            if answer.status == 200 {
                Err("accepted".into())
            } else if code.is_some_and(|c| answer.json()["error"] != c) {
                Err(format!("expected {code:?}, got {}", answer.text))
            } else if status.is_some_and(|s| u64::from(answer.status) != s) {
                Err(format!("expected status {status:?}, got {}", answer.status))
            } else {
                Ok(())
            }
        } else if expected.get("replay_equivalent_to").is_some() {
            // Its twin went first: the same statement in another encoding.
            if answer.status == 401 && answer.json()["error"] == "replay_detected" {
                Ok(())
            } else {
                Err(format!("expected replay_detected, got {}", answer.text))
            }
        } else if expected["accepted_if_first"] == true {
            // Same statement as the first case, sent later: a replay; the
            // accept path is shown on a fresh server below.
            if answer.json()["error"] == "replay_detected" {
                Ok(())
            } else {
                Err(format!("expected replay_detected, got {}", answer.text))
            }
        } else {
            Err("case without a verdict".into())
        };
        if let Err(why) = verdict {
            failures.push(format!("{name}: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "failed cases:\n{}",
        failures.join("\n")
    );
}

/// Every `accepted_if_first` case is accepted when it is first.
#[tokio::test]
async fn each_encoding_is_accepted_when_first() {
    let doc = vectors("token_for_endpoint.json");
    for case in doc["cases"].as_array().unwrap() {
        if case["expected"]["accepted_if_first"] != true {
            continue;
        }
        let name = case["name"].as_str().unwrap();
        let server = TestServer::start("first", VECTOR_NOW_MS).await;
        let answer = server
            .post_token(case["input"]["request_body"].as_str().unwrap())
            .await;
        assert_eq!(answer.status, 200, "{name}: {}", answer.text);
        server.stop().await;
    }
}

fn check_token(answer: &crate::support::Answer, expected: &Value) -> Result<(), String> {
    if answer.status != 200 {
        return Err(format!("status {}: {}", answer.status, answer.text));
    }
    let body = answer.json();
    if body["token_type"] != "Bearer" || body["expires_in"] != 1800 {
        return Err(format!("token response {body}"));
    }
    if answer.header("cache-control") != Some("no-store") {
        return Err("Cache-Control is not no-store".into());
    }
    let (header, claims) = decode(body["access_token"].as_str().unwrap_or_default());
    if header["alg"] != "ES256" || header["typ"] != "at+jwt" || !header["kid"].is_string() {
        return Err(format!("header {header}"));
    }
    if let Some(subset) = expected["token_claims_subset"].as_object() {
        for (name, value) in subset {
            if &claims[name] != value {
                return Err(format!("claim {name}: {} != {value}", claims[name]));
            }
        }
    }
    Ok(())
}

/// The issued token: docs/protocol.md §4's header and claims exactly, validated
/// against the server's own JWKS.
#[tokio::test]
async fn issued_token_has_spec_claims_and_validates_against_the_jwks() {
    let now = 1_795_000_000_000;
    let server = TestServer::start("claims", now).await;
    let signer = key(1);
    let answer = server.post_token(&request(&signer, ENDPOINT, now)).await;
    let token = answer.token();
    let (header, claims) = decode(&token);
    let raw_header = {
        use base64::Engine as _;
        let segment = token.split('.').next().unwrap();
        String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(segment)
                .unwrap(),
        )
        .unwrap()
    };
    let kid = header["kid"].as_str().unwrap();
    assert_eq!(
        raw_header,
        format!("{{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"{kid}\"}}"),
        "exactly docs/protocol.md §4's header"
    );
    let sub = signer.public_key().to_hex();
    assert_eq!(claims["iss"], "http://localhost:1911");
    assert_eq!(claims["sub"], sub.as_str());
    assert_eq!(claims["client_id"], sub.as_str());
    assert_eq!(claims["aud"], ENDPOINT);
    assert_eq!(claims["iat"], now / 1000);
    assert_eq!(claims["nbf"], now / 1000);
    assert_eq!(claims["exp"], now / 1000 + 1800);
    assert_eq!(
        claims["address"],
        signer.public_key().to_address().to_string()
    );
    assert_eq!(
        claims["jti"].as_str().unwrap().len(),
        22,
        "128 bits, base64url"
    );
    assert!(claims.get("bap_id").is_none() && claims.get("name").is_none());

    let jwks = server.get("/.well-known/jwks.json").await;
    let keys = JwkSet::from_json(jwks.text.as_bytes()).unwrap();
    let rules = ValidationRules::new("http://localhost:1911", Audience::Exact(ENDPOINT.into()));
    let verified = validate(&token, &keys, &rules, now / 1000 + 10).unwrap();
    assert_eq!(verified.sub, signer.public_key());
    assert_eq!(verified.kid, header["kid"].as_str().unwrap());
}

/// The same statement in another encoding is a replay: the high-S twin,
/// hex instead of base64, the byte-array form, and the uncompressed-key
/// header (+4 on the header byte) all hit the first request's record.
#[tokio::test]
async fn every_encoding_of_a_statement_is_one_replay() {
    let now = 1_795_000_000_000;
    let server = TestServer::start("twins", now).await;
    let signer = key(2);
    let message = format!("{ENDPOINT}:{now}");
    let signature = bsm::sign(message.as_bytes(), &signer).to_bytes();
    let body = |sig: Value| {
        serde_json::json!({
            "endpoint": ENDPOINT, "timestamp": now, "message": message,
            "pubkey": signer.public_key().to_hex(), "signature": sig,
        })
        .to_string()
    };
    let first = server
        .post_token(&body(Value::from(base64(&signature))))
        .await;
    assert_eq!(first.status, 200, "{}", first.text);

    let high_s = high_s_twin(&signature);
    assert_ne!(high_s, signature);
    let hex: String = signature.iter().map(|b| format!("{b:02x}")).collect();
    let array: Vec<Value> = signature.iter().map(|b| Value::from(*b)).collect();
    let twins = [
        ("high-S twin", Value::from(base64(&high_s))),
        ("hex", Value::from(hex)),
        ("byte array", Value::Array(array)),
        ("same base64 again", Value::from(base64(&signature))),
    ];
    for (name, sig) in twins {
        let answer = server.post_token(&body(sig)).await;
        assert_eq!(answer.status, 401, "{name}: {}", answer.text);
        answer.assert_error(401, "replay_detected", "already used");
    }
}

/// (r, n − s) with the recovery id flipped: recovers the same key.
fn high_s_twin(signature: &[u8; 65]) -> [u8; 65] {
    const N: [u8; 32] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFE, 0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36,
        0x41, 0x41,
    ];
    let mut twin = *signature;
    let header = signature[0];
    let base = header - (header - 27) % 4;
    twin[0] = base + ((header - base) ^ 1);
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(N[i]) - i16::from(signature[33 + i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        twin[33 + i] = u8::try_from(d).unwrap();
    }
    twin
}

/// 20 identical requests released together: exactly one token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_identical_requests_give_exactly_one_token() {
    let now = 1_795_000_000_000;
    let server = Arc::new(TestServer::start("concurrent", now).await);
    let body = Arc::new(request(&key(3), ENDPOINT, now));
    let barrier = Arc::new(Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (server, body, barrier) = (server.clone(), body.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                server.post_token(&body).await
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        let answer = task.await.unwrap();
        match answer.status {
            200 => ok += 1,
            _ => answer.assert_error(401, "replay_detected", "already used"),
        }
    }
    assert_eq!(
        ok, 1,
        "exactly one of 20 concurrent identical requests gets a token"
    );
}

/// Stop the server, start another on the same database file: a request
/// answered before is still a replay, and tokens issued before still
/// validate against the new server's JWKS (same signing key).
#[tokio::test]
async fn restart_keeps_replay_records_and_signing_keys() {
    let now = 1_795_000_000_000;
    let first = TestServer::start("restart", now).await;
    let dir = first.dir.clone();
    let body = request(&key(4), ENDPOINT, now);
    let token = first.post_token(&body).await.token();
    first.stop().await;

    let second = TestServer::start_with(config_in(&dir), dir, now + 1_000).await;
    second
        .post_token(&body)
        .await
        .assert_error(401, "replay_detected", "already used");
    let jwks = second.get("/.well-known/jwks.json").await;
    let keys = JwkSet::from_json(jwks.text.as_bytes()).unwrap();
    let rules = ValidationRules::new("http://localhost:1911", Audience::Exact(ENDPOINT.into()));
    validate(&token, &keys, &rules, now / 1000 + 60).expect("old token validates after restart");
    // And the restarted server issues for new statements.
    second
        .post_token(&request(&key(4), ENDPOINT, now + 1_000))
        .await
        .token();
}

/// A store that cannot answer: 503, and no token (fail closed).
#[tokio::test]
async fn store_failure_is_503_and_issues_nothing() {
    let now = 1_795_000_000_000;
    let server = TestServer::start("store-down", now).await;
    server.state.store().close().await.unwrap();
    let answer = server.post_token(&request(&key(5), ENDPOINT, now)).await;
    answer.assert_error(503, "temporarily_unavailable", "retry");
    assert!(
        !answer.text.contains("store"),
        "nothing internal: {}",
        answer.text
    );
    assert!(!answer.text.contains("access_token"));
    let ready = server.get("/ready").await;
    ready.assert_error(503, "temporarily_unavailable", "retry");
}

/// Expired replay records are purged (the background task calls the same
/// `purge`); live ones never are.
#[tokio::test]
async fn purge_removes_only_expired_replay_records() {
    let now = 1_795_000_000_000;
    let server = TestServer::start("purge", now).await;
    let old = request(&key(6), ENDPOINT, now);
    server.post_token(&old).await.token();
    assert_eq!(
        server.state.purge().await.unwrap(),
        0,
        "a live record stays"
    );
    server.clock.advance(200_000);
    let recent = request(&key(6), ENDPOINT, now + 200_000);
    server.post_token(&recent).await.token();
    // The first record outlives its window (300 s + 60 s + 1 s) and goes.
    server.clock.advance(170_000);
    assert_eq!(server.state.purge().await.unwrap(), 1);
    assert_eq!(server.state.purge().await.unwrap(), 0);
    server
        .post_token(&recent)
        .await
        .assert_error(401, "replay_detected", "already used");
    let metrics = server.get("/metrics").await.text;
    assert!(
        metrics
            .lines()
            .any(|l| l == "sigil_replay_records_purged_total 1"),
        "{metrics}"
    );
}
