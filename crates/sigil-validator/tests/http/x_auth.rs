//! `X-Auth-Token` (docs/protocol.md §7) through HTTP: every case of
//! `bitcoin_auth_tokens.json` gives its `expected`, replays (also in
//! another encoding of the same statement) are refused, and the mechanism
//! can be switched off.

use serde_json::Value;
use sigil_core::timestamp::parse_iso_ms;
use sigil_validator::BodyEncoding;

use crate::support::tokens::fixed_key;
use crate::support::{Answer, Failures, Issuer, Mode, Resource, TestClock, builder, cases};

/// A resource server at `now` (ISO) with this body encoding.
async fn resource_at(now: &str, encoding: BodyEncoding, mode: Mode, accept: bool) -> Resource {
    let issuer = Issuer::start(&[&fixed_key()]).await;
    let clock = TestClock::at(parse_iso_ms(now).unwrap());
    let validator = builder(&issuer, &clock)
        .x_auth_body_encoding(encoding)
        .accept_x_auth_token(accept)
        .build()
        .unwrap();
    Resource::start(validator, mode).await
}

/// Sends the case's token to its path, with its body (POST) or none (GET).
async fn send(resource: &Resource, case: &Value) -> Answer {
    let token = case["input"]["token"].as_str().unwrap();
    let verify = &case["input"]["verify"];
    let path = verify["request_path"].as_str().unwrap();
    let request = match verify["body"].as_str() {
        Some(body) => resource.request("POST", path).body(body.to_owned()),
        None => resource.request("GET", path),
    };
    Answer::of(request.header("X-Auth-Token", token)).await
}

fn encoding_of(case: &Value) -> BodyEncoding {
    case["input"]["verify"]["body_encoding"]
        .as_str()
        .map_or(BodyEncoding::Utf8, |e| e.parse().unwrap())
}

/// The answer docs/protocol.md §8 gives each refusal reason of the file.
fn refusal(reason: &str) -> (u16, &'static str, &'static str) {
    match reason {
        "signer mismatch" => (401, "invalid_signature", "not by the claimed key"),
        "timestamp too old" => (401, "timestamp_expired", "timestamp too old"),
        "timestamp in the future" => (401, "timestamp_expired", "timestamp in the future"),
        "unparseable timestamp" => (400, "invalid_request", "unparseable timestamp"),
        "path mismatch" => (401, "invalid_signature", "path mismatch"),
        "signature verification failed" => {
            (401, "invalid_signature", "signature verification failed")
        }
        "malformed token" => (400, "invalid_request", "malformed token"),
        "malformed signature" => (400, "invalid_request", "signature: "),
        other => panic!("no docs/protocol.md answer listed for reason {other:?}"),
    }
}

#[tokio::test]
async fn every_bitcoin_auth_tokens_case() {
    let mut failures = Failures::default();
    let mut ran = 0;
    for mode in Mode::ALL {
        for (name, case) in cases("bitcoin_auth_tokens.json") {
            let verify = &case["input"]["verify"];
            let resource = resource_at(
                verify["now"].as_str().unwrap(),
                encoding_of(&case),
                mode,
                true,
            )
            .await;
            let expected = &case["expected"];
            let answer = send(&resource, &case).await;
            let result = if expected["valid"] == true {
                let signer = expected["signer_public_key_hex"].as_str().map_or_else(
                    || case["input"]["token"].as_str().unwrap()[..66].to_owned(),
                    str::to_owned,
                );
                answer.check_ok(&signer, "x-auth-token")
            } else {
                let (status, code, phrase) = refusal(expected["reason"].as_str().unwrap());
                answer.check_refused(status, code, phrase)
            };
            failures.check(&format!("{mode:?} {name}"), result);
            ran += 1;
        }
    }
    failures.assert_none("bitcoin_auth_tokens.json");
    assert_eq!(ran, 2 * 21);
}

/// The same token twice, and another encoding of the same statement
/// (`replay_equivalent_to`; BSM and BRC-77 by one key over one string),
/// are refused as replays.
#[tokio::test]
async fn replays_are_refused() {
    let all: Vec<(String, Value)> = cases("bitcoin_auth_tokens.json");
    let case = |name: &str| all.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let mut pairs = vec![
        ("bsm-no-body".to_owned(), "bsm-no-body".to_owned()),
        ("brc77-deterministic".into(), "bsm-with-body".into()),
        ("bsm-with-body".into(), "brc77-library-generated".into()),
    ];
    for (name, c) in &all {
        if let Some(twin) = c["expected"]["replay_equivalent_to"].as_str() {
            pairs.push((twin.to_owned(), name.clone()));
        }
    }
    assert!(pairs.len() >= 4, "{pairs:?}");
    for mode in Mode::ALL {
        for (first, second) in &pairs {
            let (first, second) = (case(first), case(second));
            let now = first["input"]["verify"]["now"].as_str().unwrap();
            let resource = resource_at(now, BodyEncoding::Utf8, mode, true).await;
            let answer = send(&resource, &first).await;
            assert_eq!(
                answer.status, 200,
                "{mode:?} {}: {}",
                first["name"], answer.text
            );
            send(&resource, &second)
                .await
                .assert_refused(401, "replay_detected", "already used");
        }
    }
}

/// With `accept_x_auth_token(false)` the header is not a credential.
#[tokio::test]
async fn can_be_switched_off() {
    let case = cases("bitcoin_auth_tokens.json").remove(0).1;
    for mode in Mode::ALL {
        let now = case["input"]["verify"]["now"].as_str().unwrap();
        let off = resource_at(now, BodyEncoding::Utf8, mode, false).await;
        send(&off, &case).await.check_no_credentials().unwrap();
        let on = resource_at(now, BodyEncoding::Utf8, mode, true).await;
        assert_eq!(send(&on, &case).await.status, 200);
    }
}
