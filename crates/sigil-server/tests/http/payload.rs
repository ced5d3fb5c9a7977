//! `POST /api/payloads/verify` (docs/protocol.md §11, docs/security.md §4): every case of
//! `signup_payloads.json` through HTTP, as text and as an object, with
//! cashaddr and legacy addresses; replays (sequential, in another encoding,
//! 20 at once); each kind of refusal with its own description; the body's
//! fields; fail-closed store; the alias and the rate-limit headers.

use std::sync::Arc;

use serde_json::{Value, json};
use sigil_core::api::paths;
use sigil_core::payload::{self, JsValue, Payload, SIGNUP_WALLET};
use sigil_core::{Address, Network, PrivateKey};
use sigil_server::{Config, Switch};
use tokio::sync::Barrier;

use crate::support::*;

const WIF: &str = "L4WVo4zZ8QC795KtwPyqgH92T7Q23FC4p4wGkFeZiaWeyewugte7";
const HOSTS: [&str; 3] = ["localhost:5000", "domain.tld", "app.example.com"];

/// A server allowing every host the vectors allow, limits off unless asked.
async fn payload_server(name: &str, now_ms: u64, limits: bool) -> TestServer {
    let dir = fresh_dir(name);
    let config = Config {
        payload_hosts: HOSTS.iter().map(|h| (*h).to_owned()).collect(),
        rate_limits: if limits { Switch::On } else { Switch::Off },
        ..config_in(&dir)
    };
    TestServer::start_with(config, dir, now_ms).await
}

pub(crate) fn body(payload: &Value, address: &str, signature: &str) -> String {
    json!({"payload": payload, "address": address, "signature": signature}).to_string()
}

async fn submit(server: &TestServer, payload: &Value, address: &str, signature: &str) -> Answer {
    server
        .post_json(paths::PAYLOADS_VERIFY, &body(payload, address, signature))
        .await
}

/// A case as submitted: the exact text, the signature and both address
/// forms (legacy only when the case names it).
struct Case {
    name: String,
    text: String,
    signature: String,
    cashaddr: String,
    legacy: Option<String>,
    now_ms: u64,
    want: Value,
}

fn cases() -> Vec<Case> {
    let file = vectors("signup_payloads.json");
    let mut out = Vec::new();
    for case in file["cases"].as_array().unwrap() {
        let (input, want) = (&case["input"], &case["expected"]);
        let name = case["name"].as_str().unwrap().to_owned();
        let Some(now_ms) = input["server_now_ms"].as_u64() else {
            continue; // reserialised-sorted-keys-fails: its own test below
        };
        let (text, signature, cashaddr) = match input["payload"].as_str() {
            Some(text) => (
                text.to_owned(),
                input["signature"].as_str().unwrap().to_owned(),
                input["address"].as_str().unwrap().to_owned(),
            ),
            None => (
                want["payload"].as_str().unwrap().to_owned(),
                want["signature"].as_str().unwrap().to_owned(),
                want["address"].as_str().unwrap().to_owned(),
            ),
        };
        let legacy = want["legacy_address"].as_str().map(str::to_owned);
        out.push(Case {
            name,
            text,
            signature,
            cashaddr,
            legacy,
            now_ms,
            want: want.clone(),
        });
    }
    assert_eq!(out.len(), 14, "every case but the re-serialisation one");
    out
}

/// The code a case expects, `None` for acceptance.
fn expected_code(want: &Value) -> Option<&str> {
    if want["valid"] == true || (want["valid"].is_null() && want["signature_valid"] == true) {
        return None;
    }
    if want["error_reason"] == "requestedBy not allowed" {
        return Some("access_denied");
    }
    Some(want["error"].as_str().expect("an error code"))
}

fn phrase_of(code: &str) -> &'static str {
    match code {
        "invalid_signature" => "signature verification failed",
        "invalid_request" => "payload",
        "timestamp_expired" => "timestamp too old",
        "access_denied" => "not allowed",
        "replay_detected" => "already used",
        other => panic!("no phrase for {other}"),
    }
}

fn assert_verified(answer: &Answer, case: &Case, address: &str, reserialised: bool) {
    assert_eq!(answer.status, 200, "{}: {}", case.name, answer.text);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let got = answer.json();
    let parsed = Payload::parse(&case.text).unwrap();
    let expected = json!({
        "verified": true,
        "address": address,
        "requestedBy": parsed.requested_by,
        "signedBy": parsed.signed_by,
        "timestamp": parsed.timestamp_ms,
        "payload_sha256": sigil_core::hash::to_hex(&sigil_core::hash::sha256(case.text.as_bytes())),
        "reserialised": reserialised,
    });
    assert_eq!(got, expected, "{}", case.name);
    if let Some(sha) = case.want["payload_sha256_hex"].as_str() {
        assert_eq!(got["payload_sha256"], sha, "{}", case.name);
    }
    if let Some(response) = case.want.get("response") {
        for (field, value) in response.as_object().unwrap() {
            if field == "address" && !address.starts_with("bitcoincash:") {
                continue; // a legacy address stays legacy
            }
            assert_eq!(&got[field], value, "{}: {field}", case.name);
        }
    }
}

/// A body whose `payload` is the case's parsed object, written in the key
/// order JSON.parse gives it (as a browser posts the object it parsed; a
/// `serde_json::Value` would sort the keys).
fn object_body(case: &Case, address: &str) -> String {
    let object = payload::stringify(&JsValue::parse(&case.text).unwrap());
    format!(
        r#"{{"payload":{object},"address":"{address}","signature":"{}"}}"#,
        case.signature
    )
}

/// Every case in order on one server, as text with the cashaddr: accepted
/// cases answer the vector's response and are replays when sent again (as
/// the parsed object too); the high-S twin is a replay of the published
/// vector; refusals carry their code and phrase.
#[tokio::test]
async fn every_vector_case_through_http_as_text() {
    let server = payload_server("payload-vectors", 0, false).await;
    for case in cases() {
        server.clock.set(case.now_ms);
        let answer = submit(&server, &json!(case.text), &case.cashaddr, &case.signature).await;
        if let Some(twin) = case.want["replay_equivalent_to"].as_str() {
            assert_eq!(twin, "signup-utils-test-vector", "sent after its twin");
            answer.assert_error(401, "replay_detected", "already used");
            continue;
        }
        match expected_code(&case.want) {
            None => {
                let address = Address::parse(&case.cashaddr)
                    .unwrap()
                    .to_cashaddr()
                    .unwrap();
                assert_verified(&answer, &case, &address, false);
                let again =
                    submit(&server, &json!(case.text), &case.cashaddr, &case.signature).await;
                again.assert_error(401, "replay_detected", "already used");
                let as_object = server
                    .post_json(paths::PAYLOADS_VERIFY, &object_body(&case, &case.cashaddr))
                    .await;
                as_object.assert_error(401, "replay_detected", "already used");
            }
            Some(code) => {
                let status = match code {
                    "invalid_request" => 400,
                    "access_denied" => 403,
                    _ => 401,
                };
                answer.assert_error(status, code, phrase_of(code));
            }
        }
    }
}

/// The accepted cases on a fresh server, sent first as the parsed object
/// with the legacy address: each re-serialises to the signed bytes and
/// verifies once (`reserialised: true`); then the text is the replay.
#[tokio::test]
async fn accepted_cases_verify_as_objects_with_legacy_addresses() {
    let server = payload_server("payload-objects", 0, false).await;
    let mut accepted = 0;
    for case in cases() {
        if expected_code(&case.want).is_some() || case.want["replay_equivalent_to"].is_string() {
            continue;
        }
        server.clock.set(case.now_ms);
        let legacy = case.legacy.clone().unwrap();
        let answer = server
            .post_json(paths::PAYLOADS_VERIFY, &object_body(&case, &legacy))
            .await;
        assert_verified(&answer, &case, &legacy, true);
        let text = submit(&server, &json!(case.text), &case.cashaddr, &case.signature).await;
        text.assert_error(401, "replay_detected", "already used");
        accepted += 1;
    }
    assert_eq!(accepted, 6, "the published vector and five derived cases");
}

/// A payload given as an object verifies exactly when its re-serialisation
/// reproduces the signed bytes; when it does not, the answer says so.
#[tokio::test]
async fn object_that_does_not_reserialise_is_refused_and_says_why() {
    let file = vectors("signup_payloads.json");
    let case = file["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "reserialised-sorted-keys-fails")
        .unwrap();
    let input = &case["input"];
    let (signed, signature, address) = (
        input["signed_payload"].as_str().unwrap(),
        input["signature"].as_str().unwrap(),
        input["address"].as_str().unwrap(),
    );
    let server = payload_server("payload-reserialise", VECTOR_NOW_MS, false).await;
    for text in [
        input["sorted_keys_text"].as_str().unwrap(),
        input["pretty_text"].as_str().unwrap(),
    ] {
        submit(&server, &json!(text), address, signature)
            .await
            .assert_error(401, "invalid_signature", "signature verification failed");
    }
    // The sorted object: its key order is not the signed one.
    let sorted = input["sorted_keys_text"].as_str().unwrap();
    let sent = format!(r#"{{"payload":{sorted},"address":"{address}","signature":"{signature}"}}"#);
    let answer = server.post_json(paths::PAYLOADS_VERIFY, &sent).await;
    answer.assert_error(401, "invalid_signature", "re-serialised");
    assert!(
        answer.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("send the exact signed text"),
        "{}",
        answer.text
    );
    // The object in the signed order verifies, once.
    let sent = format!(r#"{{"payload":{signed},"address":"{address}","signature":"{signature}"}}"#);
    let answer = server.post_json(paths::PAYLOADS_VERIFY, &sent).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["reserialised"], true);
}

fn key() -> PrivateKey {
    PrivateKey::from_wif(WIF).unwrap()
}

/// A fresh payload signed now by the test key, as the wallet signs it.
pub(crate) fn signed(host: &str, data: &str, timestamp_ms: u64) -> (String, String) {
    let text = Payload::new(
        SIGNUP_WALLET,
        host,
        JsValue::parse(data).unwrap(),
        timestamp_ms,
    )
    .to_text();
    let signature = base64_of(&payload::sign(&text, &key()).to_bytes());
    (text, signature)
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn cashaddr() -> String {
    key().address().to_cashaddr().unwrap()
}

/// 20 identical submissions released together: exactly one is verified.
#[tokio::test]
async fn twenty_concurrent_submissions_verify_once() {
    let server = Arc::new(payload_server("payload-race", VECTOR_NOW_MS, false).await);
    let (text, signature) = signed("app.example.com", r#"{"race":true}"#, VECTOR_NOW_MS);
    let sent = Arc::new(body(&json!(text), &cashaddr(), &signature));
    let barrier = Arc::new(Barrier::new(20));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (server, sent, barrier) = (server.clone(), sent.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            server.post_json(paths::PAYLOADS_VERIFY, &sent).await
        }));
    }
    let mut verified = 0;
    for task in tasks {
        let answer = task.await.unwrap();
        if answer.status == 200 {
            assert_eq!(answer.json()["verified"], true);
            verified += 1;
        } else {
            answer.assert_error(401, "replay_detected", "already used");
        }
    }
    assert_eq!(verified, 1, "exactly one verified: true");
}

/// Wrong host, stale timestamp, extra key, duplicate key, mixed-case
/// cashaddr, a testnet address for a mainnet signature: each refused with
/// its code and a description of its own.
#[tokio::test]
async fn each_refusal_has_its_own_clear_description() {
    let now = VECTOR_NOW_MS;
    let server = payload_server("payload-refusals", now, false).await;
    let address = cashaddr();
    let mut descriptions = Vec::new();
    let mut check = |answer: Answer, status: u16, code: &str, phrases: &[&str]| {
        answer.assert_error(status, code, phrases[0]);
        let description = answer.json()["error_description"]
            .as_str()
            .unwrap()
            .to_owned();
        for phrase in phrases {
            assert!(
                description.contains(phrase),
                "{description:?} lacks {phrase:?}"
            );
        }
        descriptions.push(description);
    };

    let (text, sig) = signed("evil.example", "{}", now);
    check(
        submit(&server, &json!(text), &address, &sig).await,
        403,
        "access_denied",
        &[
            "not allowed",
            "evil.example",
            r#"(allowed: "localhost:5000", "domain.tld", "app.example.com")"#,
        ],
    );
    let (text, sig) = signed("app.example.com", "{}", now - 301_000);
    check(
        submit(&server, &json!(text), &address, &sig).await,
        401,
        "timestamp_expired",
        &["timestamp too old"],
    );
    let (text, sig) = signed("app.example.com", "{}", now / 1000);
    check(
        submit(&server, &json!(text), &address, &sig).await,
        401,
        "timestamp_expired",
        &["timestamp too old", "milliseconds"],
    );
    let extra = format!(
        r#"{{"signedBy":"Signup.cash","requestedBy":"app.example.com","data":{{}},"timestamp":{now},"admin":true}}"#
    );
    let sig = base64_of(&payload::sign(&extra, &key()).to_bytes());
    check(
        submit(&server, &json!(extra), &address, &sig).await,
        400,
        "invalid_request",
        &["payload", "admin"],
    );
    let duplicate = format!(
        r#"{{"signedBy":"Signup.cash","requestedBy":"app.example.com","data":{{}},"timestamp":1,"timestamp":{now}}}"#
    );
    let sig = base64_of(&payload::sign(&duplicate, &key()).to_bytes());
    check(
        submit(&server, &json!(duplicate), &address, &sig).await,
        400,
        "invalid_request",
        &["payload", "timestamp"],
    );
    let (text, sig) = signed("app.example.com", r#"{"n":1}"#, now);
    let mixed: String = address
        .char_indices()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    check(
        submit(&server, &json!(text), &mixed, &sig).await,
        400,
        "invalid_request",
        &["address"],
    );
    let mut testnet = Address::parse(&address).unwrap();
    testnet.network = Network::Testnet;
    check(
        submit(&server, &json!(text), &testnet.to_cashaddr().unwrap(), &sig).await,
        401,
        "invalid_signature",
        &["signature verification failed", "testnet"],
    );
    submit(&server, &json!(text), &testnet.to_legacy().unwrap(), &sig)
        .await
        .assert_error(401, "invalid_signature", "testnet");
    // The same payload with its real address still verifies: nothing above
    // used it up.
    let answer = submit(&server, &json!(text), &address, &sig).await;
    assert_eq!(answer.status, 200, "{}", answer.text);

    let distinct: std::collections::HashSet<&String> = descriptions.iter().collect();
    assert_eq!(
        distinct.len(),
        descriptions.len(),
        "every refusal reads differently: {descriptions:#?}"
    );
}

/// The request body itself: each malformed field is named; none of them
/// reaches the signature check.
#[tokio::test]
async fn malformed_bodies_name_their_field() {
    let server = payload_server("payload-body", VECTOR_NOW_MS, false).await;
    let (text, sig) = signed("app.example.com", "{}", VECTOR_NOW_MS);
    let address = cashaddr();
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "JSON object"),
        ("[]".into(), "JSON object"),
        (
            json!({"address": address, "signature": sig}).to_string(),
            "payload is missing",
        ),
        (
            json!({"payload": text, "signature": sig}).to_string(),
            "address is missing",
        ),
        (
            json!({"payload": text, "address": address}).to_string(),
            "signature is missing",
        ),
        (
            json!({"payload": text, "address": 7, "signature": sig}).to_string(),
            "address must be a string",
        ),
        (
            json!({"payload": text, "address": address, "signature": {}}).to_string(),
            "signature must be",
        ),
        (
            json!({"payload": 12, "address": address, "signature": sig}).to_string(),
            "payload",
        ),
        (
            format!(
                r#"{{"payload":{},"payload":{},"address":"{address}","signature":"{sig}"}}"#,
                json!(text),
                json!(text)
            ),
            "duplicate field",
        ),
        (
            json!({"payload": text, "address": address, "signature": "not-base64!"}).to_string(),
            "signature",
        ),
    ];
    let before = server.state.metrics().signature_checks();
    for (sent, phrase) in &cases {
        server
            .post_json(paths::PAYLOADS_VERIFY, sent)
            .await
            .assert_error(400, "invalid_request", phrase);
    }
    let unsupported = server
        .post_to(
            paths::PAYLOADS_VERIFY,
            Some("text/plain"),
            &[],
            &body(&json!(text), &address, &sig),
        )
        .await;
    unsupported.assert_error(415, "invalid_request", "Content-Type");
    let too_large = "x".repeat(20_000);
    server
        .post_json(
            paths::PAYLOADS_VERIFY,
            &body(&json!(too_large), &address, &sig),
        )
        .await
        .assert_error(413, "invalid_request", "body too large");
    // A byte-array signature is accepted, through the alias.
    let bytes: Vec<u8> = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(&sig)
            .unwrap()
    };
    let sent = json!({"payload": text, "address": address, "signature": bytes}).to_string();
    let answer = server.post_json(paths::PAYLOADS_VERIFY_ALIAS, &sent).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(server.state.metrics().signature_checks() - before, 3);
}

/// Fail closed: with the store gone nothing is verified.
#[tokio::test]
async fn store_failure_is_503_and_verifies_nothing() {
    let server = payload_server("payload-store", VECTOR_NOW_MS, false).await;
    let (text, sig) = signed("app.example.com", "{}", VECTOR_NOW_MS);
    server.state.store().close().await.unwrap();
    submit(&server, &json!(text), &cashaddr(), &sig)
        .await
        .assert_error(503, "temporarily_unavailable", "retry");
}

/// Rate limited like the token route: the headers on every answer, and the
/// per-address budget shared with it.
#[tokio::test]
async fn rate_limit_headers_on_the_payload_route() {
    let dir = fresh_dir("payload-limits");
    // The per-address burst as by default (60), refilled slowly (one token
    // per 10 s) so that a busy machine cannot refill it during the test.
    let config = Config {
        payload_hosts: HOSTS.iter().map(|h| (*h).to_owned()).collect(),
        rate_limit: sigil_server::RateLimitConfig {
            per_address: sigil_server::BucketConfig {
                per_minute: 6,
                burst: 60,
            },
            ..sigil_server::RateLimitConfig::default()
        },
        ..config_in(&dir)
    };
    let server = TestServer::start_with(config, dir, VECTOR_NOW_MS).await;
    let (text, sig) = signed("app.example.com", "{}", VECTOR_NOW_MS);
    let answer = submit(&server, &json!(text), &cashaddr(), &sig).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        answer.header("x-ratelimit-limit"),
        Some("60"),
        "the per-key bucket is the tighter"
    );
    let refused = submit(&server, &json!("{}"), &cashaddr(), &sig).await;
    refused.assert_error(401, "invalid_signature", "signature verification failed");
    assert!(refused.header("x-ratelimit-remaining").is_some());
    let mut last = refused;
    for _ in 0..60 {
        last = submit(&server, &json!("{}"), &cashaddr(), &sig).await;
        if last.status == 429 {
            break;
        }
    }
    last.assert_error(429, "rate_limit_exceeded", "rate limit");
    assert!(last.header("retry-after").is_some());
    // The token route shares the per-address bucket.
    server
        .post_token("{}")
        .await
        .assert_error(429, "rate_limit_exceeded", "rate limit");
}

/// Runs `node tests/interop/payloads.mjs ARGS` with `stdin`, returning its
/// one JSON object.
fn node_payloads(args: &[&str], stdin: Option<&Value>) -> Value {
    let mut command = sigil_testkit::node("payloads.mjs", &["bitcore-lib-cash"]);
    command.args(args);
    sigil_testkit::run_json(command, stdin)
}

/// JS → sigil: payloads signed by bitcoinjs-message and by bitcore-lib-cash
/// (plain, non-ASCII, over 253 bytes, integer-like keys and JS numbers)
/// verify in the library with both address forms, and through the endpoint
/// once: with the cashaddr or the legacy address, the other form is then a
/// replay.
#[tokio::test]
async fn payloads_signed_by_bitcoinjs_message_and_bitcore_verify() {
    const PER_LIBRARY: usize = 40;
    let host = "app.example.com";
    let now = VECTOR_NOW_MS;
    let made = node_payloads(
        &[
            "sign",
            &PER_LIBRARY.to_string(),
            "http-interop",
            &now.to_string(),
            host,
        ],
        None,
    );
    let cases = made["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2 * PER_LIBRARY);
    let server = payload_server("payload-interop", now, false).await;
    let policy = payload::Policy::new([host]);
    let (mut long, mut non_ascii) = (0, 0);
    for (i, case) in cases.iter().enumerate() {
        let field = |name: &str| case[name].as_str().unwrap().to_owned();
        let (library, text, signature) = (field("library"), field("payload"), field("signature"));
        let (cashaddr, legacy) = (field("cashaddr"), field("legacy"));
        long += usize::from(text.len() > 253);
        non_ascii += usize::from(!text.is_ascii());
        for address in [&cashaddr, &legacy] {
            let verified = payload::verify(&text, address, &signature, &policy, now)
                .unwrap_or_else(|e| panic!("{library} case {i} with {address}: {e}"));
            assert_eq!(&verified.address, address, "{library} case {i}");
            assert_eq!(
                verified.payload_sha256,
                sigil_core::hash::to_hex(&sigil_core::hash::sha256(text.as_bytes()))
            );
        }
        let (first, second) = if i % 2 == 0 {
            (&cashaddr, &legacy)
        } else {
            (&legacy, &cashaddr)
        };
        let answer = submit(&server, &json!(text), first, &signature).await;
        assert_eq!(answer.status, 200, "{library} case {i}: {}", answer.text);
        assert_eq!(answer.json()["address"], first.as_str());
        submit(&server, &json!(text), second, &signature)
            .await
            .assert_error(401, "replay_detected", "already used");
    }
    assert!(long >= PER_LIBRARY / 2, "payloads over 253 bytes: {long}");
    assert!(
        non_ascii >= PER_LIBRARY / 2,
        "non-ASCII payloads: {non_ascii}"
    );
}

/// sigil → JS: payloads signed by sigil-core verify in bitcoinjs-message and
/// bitcore-lib-cash, with the cashaddr and the legacy address; a changed
/// payload verifies in neither.
#[test]
fn payloads_signed_by_sigil_verify_in_bitcoinjs_message_and_bitcore() {
    let datas = [
        r#"{"foo":"bar"}"#.to_owned(),
        r#"{"message":"é € 中文 😀 \u2028 \"q\" back\\slash"}"#.to_owned(),
        format!(r#"{{"message":"{}"}}"#, "y".repeat(400)),
        r#"{"b":1,"2":"two","a":[0.1,1e21,-0],"10":null}"#.to_owned(),
    ];
    let mut sent = Vec::new();
    for (i, data) in datas.iter().enumerate() {
        let key = crate::support::key(u32::try_from(i).unwrap() + 900);
        let text = Payload::new(
            SIGNUP_WALLET,
            "app.example.com",
            JsValue::parse(data).unwrap(),
            VECTOR_NOW_MS,
        )
        .to_text();
        let signature = base64_of(&payload::sign(&text, &key).to_bytes());
        let address = key.address();
        for form in [address.to_cashaddr().unwrap(), address.to_string()] {
            sent.push(json!({"payload": text, "address": form, "signature": signature}));
        }
        let tampered = text.replace("app.example.com", "app.example.org");
        sent.push(
            json!({"payload": tampered, "address": address.to_string(), "signature": signature}),
        );
    }
    let results = node_payloads(&["verify"], Some(&json!({ "cases": sent })));
    let results = results["results"].as_array().unwrap();
    assert_eq!(results.len(), sent.len());
    for (i, result) in results.iter().enumerate() {
        let want = i % 3 != 2; // every third is the tampered control
        assert_eq!(
            result["bitcoinjs"], want,
            "bitcoinjs-message on {}",
            sent[i]
        );
        assert_eq!(result["bitcore"], want, "bitcore-lib-cash on {}", sent[i]);
    }
}

/// Issue 13: replays of a verified payload, sent from many addresses, are
/// `replay_detected` and do not spend the signer's per-key budget (the
/// replay check comes before the per-key limit).
#[tokio::test]
async fn replayed_payloads_do_not_spend_the_signers_budget() {
    let dir = fresh_dir("payload-replay-budget");
    let config = Config {
        payload_hosts: HOSTS.iter().map(|h| (*h).to_owned()).collect(),
        rate_limit: sigil_server::RateLimitConfig {
            per_key: sigil_server::BucketConfig {
                per_minute: 2,
                burst: 2,
            },
            ..sigil_server::RateLimitConfig::default()
        },
        ..config_in(&dir)
    };
    let server = TestServer::start_with(config, dir, VECTOR_NOW_MS).await;
    let (text, signature) = signed("app.example.com", r#"{"n":1}"#, VECTOR_NOW_MS);
    let used = body(&json!(text), &cashaddr(), &signature);
    let first = server.post_json(paths::PAYLOADS_VERIFY, &used).await;
    assert_eq!(first.status, 200, "{}", first.text);
    for i in 2..12u8 {
        let answer = server
            .post_json_from(i, paths::PAYLOADS_VERIFY, &used)
            .await;
        answer.assert_error(401, "replay_detected", "already used");
    }
    let (text, signature) = signed("app.example.com", r#"{"n":2}"#, VECTOR_NOW_MS);
    let fresh = server
        .post_json(
            paths::PAYLOADS_VERIFY,
            &body(&json!(text), &cashaddr(), &signature),
        )
        .await;
    assert_eq!(
        fresh.status, 200,
        "the signer's second payload: {}",
        fresh.text
    );
}
