//! Signed requests (docs/protocol.md §6) through HTTP: every case of
//! `signed_requests.json`, replays in any encoding, body hash / target /
//! method mismatches, the window, signer ≠ `sub`, forged BRC-77 senders,
//! malformed headers, and the "require signed requests" mode.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sigil_core::signed_request::{body_hash, statement};
use sigil_core::{PrivateKey, brc77, bsm, hash};

use crate::support::tokens::{claims, token};
use crate::support::{
    AUDIENCE, Answer, Failures, IAT, Mode, Resource, SIGNER_WIF, SUB, VECTOR_NOW_MS, cases, load,
    setup,
};

/// The es256_jwt.json `valid-access-token`: `sub` is the signer of
/// signed_requests.json.
pub(crate) fn vector_token() -> String {
    let doc = load("es256_jwt.json");
    let case = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "valid-access-token")
        .unwrap();
    case["input"]["token"].as_str().unwrap().to_owned()
}

pub(crate) fn signer() -> PrivateKey {
    let key = PrivateKey::from_wif(SIGNER_WIF).unwrap();
    assert_eq!(key.public_key().to_hex(), SUB);
    key
}

/// One signed request as a client builds it.
#[derive(Debug, Clone)]
pub(crate) struct Signed {
    method: &'static str,
    target: String,
    body: Vec<u8>,
    timestamp: String,
    body_hash: String,
    signature: String,
}

impl Signed {
    /// Signed with BSM (base64) by `key` at `timestamp_ms`.
    pub(crate) fn bsm(
        key: &PrivateKey,
        method: &'static str,
        target: &str,
        body: &[u8],
        timestamp_ms: u64,
    ) -> Self {
        let hash = body_hash(body);
        let text = statement(method, target, &hash, timestamp_ms);
        Self {
            method,
            target: target.into(),
            body: body.to_vec(),
            timestamp: timestamp_ms.to_string(),
            body_hash: hash,
            signature: STANDARD.encode(bsm::sign(text.as_bytes(), key).to_bytes()),
        }
    }

    /// Signed with BRC-77, sent as comma-separated decimal bytes (the
    /// seed's `signRequest` through fetch).
    fn brc77(
        key: &PrivateKey,
        method: &'static str,
        target: &str,
        body: &[u8],
        timestamp_ms: u64,
    ) -> Self {
        let mut signed = Self::bsm(key, method, target, body, timestamp_ms);
        let text = statement(method, target, &signed.body_hash, timestamp_ms);
        let envelope = brc77::sign(text.as_bytes(), key, [7; 32]).unwrap();
        signed.signature = decimal(&envelope);
        signed
    }

    pub(crate) async fn send(&self, resource: &Resource, token: &str) -> Answer {
        self.send_as(resource, token, self.method, &self.target)
            .await
    }

    /// Sent with another method or to another target than signed.
    async fn send_as(
        &self,
        resource: &Resource,
        token: &str,
        method: &str,
        target: &str,
    ) -> Answer {
        Answer::of(
            resource
                .request(method, target)
                .header("authorization", format!("Bearer {token}"))
                .header("x-timestamp", &self.timestamp)
                .header("x-body-hash", &self.body_hash)
                .header("x-signature", &self.signature)
                .body(self.body.clone()),
        )
        .await
    }
}

fn decimal(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Every case of signed_requests.json, with the headers exactly as the
/// vector's client sent them, answers 200 `signed` in both modes; the body
/// reaches the handler unchanged; the same request again is a replay.
#[tokio::test]
async fn every_signed_requests_case() {
    let token = vector_token();
    let mut failures = Failures::default();
    let mut ran = 0;
    for mode in Mode::ALL {
        for (name, case) in cases("signed_requests.json") {
            let input = &case["input"];
            let expected = &case["expected"];
            let body = input["body"].as_str().unwrap_or_default();
            let timestamp_ms = input["timestamp"].as_u64().unwrap();
            let method = input["method"].as_str().unwrap();
            let target = input["target"].as_str().unwrap();
            // The vector's statement is what the validator rebuilds.
            assert_eq!(
                body_hash(body.as_bytes()),
                expected["body_hash_hex"].as_str().unwrap()
            );
            assert_eq!(
                statement(method, target, &body_hash(body.as_bytes()), timestamp_ms),
                expected["signed_string"].as_str().unwrap()
            );
            let (signature, body_hash_header) = match expected.get("headers_on_the_wire") {
                Some(wire) => (
                    wire["x-signature"].as_str().unwrap().to_owned(),
                    wire["x-body-hash"].as_str().unwrap().to_owned(),
                ),
                None => (
                    expected["x_signature_bsm_base64"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    expected["body_hash_hex"].as_str().unwrap().to_owned(),
                ),
            };
            let s = setup(mode, |b| b).await;
            let request = || {
                let mut request = s
                    .resource
                    .request(method, target)
                    .header("authorization", format!("Bearer {token}"))
                    .header("x-timestamp", timestamp_ms.to_string())
                    .header("x-body-hash", &body_hash_header)
                    .header("x-signature", &signature);
                if input.get("body").is_some() {
                    request = request
                        .header("content-type", "application/json")
                        .body(body.to_owned());
                }
                request
            };
            let answer = Answer::of(request()).await;
            let result = answer.check_ok(SUB, "signed").and_then(|()| {
                if answer.body["body"] == body {
                    Ok(())
                } else {
                    Err(format!(
                        "body reached the handler as {}",
                        answer.body["body"]
                    ))
                }
            });
            failures.check(&format!("{mode:?} {name}"), result);
            let replay = Answer::of(request()).await;
            failures.check(
                &format!("{mode:?} {name} replayed"),
                replay.check_refused(401, "replay_detected", "already used"),
            );
            ran += 1;
        }
    }
    failures.assert_none("signed_requests.json");
    assert_eq!(ran, 2 * 2);
}

/// The refusals of docs/protocol.md §6, each with its code and phrase, and the
/// same statement in every encoding counted once.
#[tokio::test]
async fn signed_request_refusals() {
    let key = signer();
    let other = PrivateKey::from_bytes([2; 32], sigil_core::Network::Mainnet, true).unwrap();
    let token = token(&claims(IAT));
    let now = VECTOR_NOW_MS;
    let body = br#"{"message":"Hello from backend service"}"#;
    for mode in Mode::ALL {
        let s = setup(mode, |b| b).await;
        let r = &s.resource;
        let mut failures = Failures::default();
        let mut check = |name: &str, answer: Answer, want: Result<(u16, &str, &str), ()>| {
            let result = match want {
                Ok((status, code, phrase)) => answer.check_refused(status, code, phrase),
                Err(()) => answer.check_ok(SUB, "signed"),
            };
            failures.check(name, result);
        };
        let refused = |status, code, phrase| Ok((status, code, phrase));
        let bad_sig = refused(401, "invalid_signature", "signature verification failed");

        // A good one, then the same statement in four encodings: one use.
        let good = Signed::bsm(&key, "POST", "/api/data", body, now);
        check("good BSM", good.send(r, &token).await, Err(()));
        check(
            "replay",
            good.send(r, &token).await,
            refused(401, "replay_detected", "already used"),
        );
        let mut hex = good.clone();
        hex.signature = hash::to_hex(&STANDARD.decode(&good.signature).unwrap());
        check(
            "replay as hex",
            hex.send(r, &token).await,
            refused(401, "replay_detected", "already used"),
        );
        let mut array = good.clone();
        array.signature = format!("[{}]", decimal(&STANDARD.decode(&good.signature).unwrap()));
        check(
            "replay as JSON array",
            array.send(r, &token).await,
            refused(401, "replay_detected", "already used"),
        );
        let as_brc77 = Signed::brc77(&key, "POST", "/api/data", body, now);
        check(
            "replay as BRC-77",
            as_brc77.send(r, &token).await,
            refused(401, "replay_detected", "already used"),
        );

        // BRC-77 as the seed sends it (decimal bytes), GET with a query, no body.
        check(
            "BRC-77 decimal",
            Signed::brc77(&key, "POST", "/api/data", body, now - 1)
                .send(r, &token)
                .await,
            Err(()),
        );
        check(
            "GET ?query",
            Signed::bsm(&key, "GET", "/api/data?page=2&x=%20", b"", now)
                .send(r, &token)
                .await,
            Err(()),
        );

        // Body hash, body, target and method as received.
        let mut hash_of_other = Signed::bsm(&key, "POST", "/api/data", body, now - 2);
        hash_of_other.body_hash = body_hash(b"other");
        check(
            "X-Body-Hash of another body",
            hash_of_other.send(r, &token).await,
            refused(401, "invalid_signature", "X-Body-Hash"),
        );
        let mut tampered = Signed::bsm(&key, "POST", "/api/data", body, now - 3);
        tampered.body = b"{\"message\":\"tampered\"}".to_vec();
        check(
            "tampered body",
            tampered.send(r, &token).await,
            refused(401, "invalid_signature", "X-Body-Hash"),
        );
        let mut rehashed = tampered.clone();
        rehashed.body_hash = body_hash(&rehashed.body);
        check(
            "tampered body, hash recomputed",
            rehashed.send(r, &token).await,
            bad_sig,
        );
        let mut empty_hash = Signed::bsm(&key, "GET", "/api/data", b"", now - 4);
        empty_hash.body_hash = String::new();
        check(
            "no body, empty X-Body-Hash",
            empty_hash.send(r, &token).await,
            refused(401, "invalid_signature", "X-Body-Hash"),
        );
        let upper = Signed::bsm(&key, "POST", "/api/data", body, now - 5);
        let mut upper_hash = upper.clone();
        upper_hash.body_hash = upper.body_hash.to_uppercase();
        check(
            "upper-case X-Body-Hash",
            upper_hash.send(r, &token).await,
            refused(401, "invalid_signature", "X-Body-Hash"),
        );
        let target = Signed::bsm(&key, "POST", "/api/data", body, now - 6);
        check(
            "other query",
            target.send_as(r, &token, "POST", "/api/data?x=1").await,
            bad_sig,
        );
        check(
            "other path",
            target.send_as(r, &token, "POST", "/api/data2").await,
            bad_sig,
        );
        check(
            "other method",
            target.send_as(r, &token, "PUT", "/api/data").await,
            bad_sig,
        );
        check(
            "right method and target",
            target.send(r, &token).await,
            Err(()),
        );

        // The ±300 s window.
        check(
            "301 s old",
            Signed::bsm(&key, "GET", "/w", b"", now - 301_000)
                .send(r, &token)
                .await,
            refused(401, "timestamp_expired", "timestamp too old"),
        );
        check(
            "301 s ahead",
            Signed::bsm(&key, "GET", "/w", b"", now + 301_000)
                .send(r, &token)
                .await,
            refused(401, "timestamp_expired", "timestamp in the future"),
        );
        check(
            "300 s old",
            Signed::bsm(&key, "GET", "/w", b"", now - 300_000)
                .send(r, &token)
                .await,
            Err(()),
        );
        check(
            "seconds",
            Signed::bsm(&key, "GET", "/w", b"", now / 1000)
                .send(r, &token)
                .await,
            refused(401, "timestamp_expired", "milliseconds"),
        );

        // The signer must be the token's sub.
        check(
            "BSM by another key",
            Signed::bsm(&other, "GET", "/s", b"", now)
                .send(r, &token)
                .await,
            bad_sig,
        );
        check(
            "BRC-77 by another key",
            Signed::brc77(&other, "GET", "/s", b"", now)
                .send(r, &token)
                .await,
            refused(401, "invalid_signature", "not by the claimed key"),
        );
        // A forged envelope: the sender field says sub, the signature is by another key.
        let mut forged = Signed::brc77(&other, "GET", "/s", b"", now - 7);
        let mut envelope: Vec<u8> = forged
            .signature
            .split(',')
            .map(|b| b.parse().unwrap())
            .collect();
        envelope[4..37].copy_from_slice(&key.public_key().serialize());
        forged.signature = decimal(&envelope);
        check(
            "BRC-77 sender replaced by sub",
            forged.send(r, &token).await,
            bad_sig,
        );

        // Malformed headers: 400 naming the header.
        let mut garbage = Signed::bsm(&key, "GET", "/m", b"", now);
        garbage.signature = "not a signature!".into();
        check(
            "X-Signature garbage",
            garbage.send(r, &token).await,
            refused(400, "invalid_request", "X-Signature"),
        );
        garbage.signature = "1,2,,3".into();
        check(
            "X-Signature empty item",
            garbage.send(r, &token).await,
            refused(400, "invalid_request", "X-Signature"),
        );
        let mut short = Signed::bsm(&key, "GET", "/m", b"", now);
        short.signature = STANDARD.encode([31u8; 64]);
        check(
            "64-byte BSM",
            short.send(r, &token).await,
            refused(400, "invalid_request", "X-Signature"),
        );
        for bad in ["abc", "01700000100000", "-1", "1.5e12", ""] {
            let mut ts = Signed::bsm(&key, "GET", "/m", b"", now);
            ts.timestamp = bad.into();
            check(
                &format!("X-Timestamp {bad:?}"),
                ts.send(r, &token).await,
                refused(400, "invalid_request", "X-Timestamp"),
            );
        }
        let partial = Answer::of(
            r.request("GET", "/m")
                .header("authorization", format!("Bearer {token}"))
                .header("x-timestamp", now.to_string())
                .header("x-signature", &good.signature),
        )
        .await;
        check(
            "X-Body-Hash missing",
            partial,
            refused(400, "invalid_request", "X-Body-Hash header is missing"),
        );

        // The token is checked first; signed headers need one.
        let fresh = Signed::bsm(&key, "GET", "/t", b"", now - 8);
        check(
            "expired token",
            fresh.send(r, &token_expired()).await,
            refused(401, "invalid_token", "token expired"),
        );
        let no_token = Answer::of(
            r.request("GET", "/t")
                .header("x-timestamp", &fresh.timestamp)
                .header("x-body-hash", &fresh.body_hash)
                .header("x-signature", &fresh.signature),
        )
        .await;
        check(
            "no token",
            no_token,
            refused(401, "invalid_token", "Authorization: Bearer"),
        );
        check("then with the token", fresh.send(r, &token).await, Err(()));
        failures.assert_none(&format!("signed requests {mode:?}"));
    }
}

fn token_expired() -> String {
    let mut c = claims(IAT - 3600);
    c["exp"] = serde_json::json!(IAT - 1800);
    token(&c)
}

/// "Require signed requests": a bare bearer token is refused, the same
/// token with a signed request is accepted, and an `X-Auth-Token` (signed
/// per request itself) still is, but only in its absolute-URL form on the
/// audience's origin (it implies `x_auth_token = url`).
#[tokio::test]
async fn require_signed_requests_mode() {
    let key = signer();
    let token = token(&claims(IAT));
    for mode in Mode::ALL {
        let s = setup(mode, |b| b.require_signed_requests(true)).await;
        s.resource.bearer(&token).await.assert_refused(
            401,
            "invalid_token",
            "signed request required",
        );
        Signed::bsm(&key, "GET", "/api/protected", b"", VECTOR_NOW_MS)
            .send(&s.resource, &token)
            .await
            .assert_ok(SUB, "signed");
        let auth_token = |request_path: &str| {
            sigil_core::auth_token::build(
                &key,
                &sigil_core::auth_token::NewAuthToken {
                    request_path,
                    body: None,
                    timestamp_ms: VECTOR_NOW_MS,
                    scheme: sigil_core::Scheme::Bsm,
                    key_id: [0; 32],
                },
            )
            .unwrap()
        };
        Answer::of(
            s.resource
                .request("GET", "/api/x")
                .header("x-auth-token", auth_token("/api/x")),
        )
        .await
        .assert_refused(401, "invalid_signature", "only the absolute URL form");
        Answer::of(
            s.resource
                .request("GET", "/api/x")
                .header("x-auth-token", auth_token(&format!("{AUDIENCE}/api/x"))),
        )
        .await
        .assert_ok(SUB, "x-auth-token");
        // Off (the default), the bare token is enough.
        let s = setup(mode, |b| b).await;
        s.resource.bearer(&token).await.assert_ok(SUB, "bearer");
    }
}
