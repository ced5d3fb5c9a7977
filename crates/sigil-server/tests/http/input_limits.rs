//! One test per limit where input enters the token service, each at the
//! limit and past it (docs/security.md, "Limits"): the request line, the
//! body, JSON nesting, signature and message lengths, and a payload's
//! `data`. Head size and header count are in `connections.rs`
//! (`hypers_own_refusals_carry_the_error_body`).

use std::time::Duration;

use serde_json::json;

use crate::connections::{assert_body, raw};
use crate::support::{ENDPOINT, TestServer, base64, key, request};

const NOW: u64 = 1_795_000_000_000;
const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_request_line_past_the_head_limit_is_refused_with_the_error_body() {
    let server = TestServer::start("long-uri", NOW).await;
    let long = format!(
        "GET /health?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(128 * 1024)
    );
    let (status, body, _) = raw(&server, long.as_bytes(), WAIT).await;
    // hyper reads the request line into the head buffer: past the head
    // limit it is 431 (a URI past 65 534 bytes within the limit would be 414).
    assert_eq!(status, 431, "{body}");
    assert_body(&body, "invalid_request", "too large");
    // A long but acceptable query is answered.
    let fine = format!(
        "GET /health?{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(2048)
    );
    let (status, _, _) = raw(&server, fine.as_bytes(), WAIT).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn bodies_at_and_past_the_limit() {
    let server = TestServer::start("body-limit", NOW).await;
    // 16 KiB is the limit (§8): one byte more is 413 before any parsing.
    let padded = |len: usize| {
        let base = request(&key(1), ENDPOINT, NOW);
        let pad = len - base.len() - r#","pad":"""#.len();
        format!(
            "{},\"pad\":\"{}\"}}",
            &base[..base.len() - 1],
            "x".repeat(pad)
        )
    };
    let at = padded(16 * 1024);
    assert_eq!(at.len(), 16 * 1024);
    let answer = server.post_token(&at).await;
    assert_ne!(answer.status, 413, "{}", answer.text);
    let past = padded(16 * 1024 + 1);
    server
        .post_token(&past)
        .await
        .assert_error(413, "invalid_request", "body too large");
}

#[tokio::test]
async fn deep_json_nesting_is_refused_and_names_it() {
    let server = TestServer::start("json-depth", NOW).await;
    // A token request nested 200 levels deep (past serde_json's 128): an
    // unknown member is skipped without recursion (serde_json's skip keeps
    // its own stack, bounded by the 16 KiB body), so the request is served;
    // where a string or byte list belongs it is refused, naming the field.
    let nested = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let valid = request(&key(1), ENDPOINT, NOW);
    let deep = format!("{{\"extra\":{nested},{}", &valid[1..]);
    assert_eq!(server.post_token(&deep).await.status, 200);
    let mut deep: serde_json::Value =
        serde_json::from_str(&request(&key(4), ENDPOINT, NOW)).unwrap();
    deep["endpoint"] = json!("@ENDPOINT@");
    deep["signature"] = json!("@SIGNATURE@");
    let text = deep.to_string();
    let answer = server
        .post_token(
            &text
                .replace("\"@ENDPOINT@\"", &nested)
                .replace("\"@SIGNATURE@\"", "[]"),
        )
        .await;
    answer.assert_error(400, "invalid_request", "endpoint must be a string");
    let answer = server
        .post_token(
            &text
                .replace("\"@ENDPOINT@\"", &format!("\"{ENDPOINT}\""))
                .replace("\"@SIGNATURE@\"", &nested),
        )
        .await;
    answer.assert_error(400, "invalid_request", "signature");

    // A Signup payload's data nests at most 128 levels.
    let signer = key(2);
    let data = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    for (depth, accepted) in [(100, true), (200, false)] {
        let payload = format!(
            r#"{{"signedBy":"sigil","requestedBy":"localhost:1911","data":{},"timestamp":{NOW}}}"#,
            data(depth)
        );
        let signature = base64(&sigil_core::bsm::sign(payload.as_bytes(), &signer).to_bytes());
        let body = json!({
            "payload": payload,
            "address": signer.address().to_legacy().unwrap(),
            "signature": signature,
        });
        let answer = server
            .post_json("/api/payloads/verify", &body.to_string())
            .await;
        if accepted {
            assert_eq!(answer.status, 200, "depth {depth}: {}", answer.text);
        } else {
            answer.assert_error(400, "invalid_request", "nesting deeper than 128");
        }
    }
}

#[tokio::test]
async fn overlong_signatures_and_messages_are_refused_with_their_reason() {
    let server = TestServer::start("field-lengths", NOW).await;
    let base: serde_json::Value = serde_json::from_str(&request(&key(3), ENDPOINT, NOW)).unwrap();

    let mut long_signature = base.clone();
    long_signature["signature"] = json!("A".repeat(8 * 1024));
    let answer = server.post_token(&long_signature.to_string()).await;
    assert!(matches!(answer.status, 400 | 401), "{}", answer.text);
    assert!(answer.text.contains("signature"), "{}", answer.text);

    let long_endpoint = format!("https://api.example/{}", "p".repeat(6 * 1024));
    let mut long_message = base;
    long_message["endpoint"] = json!(long_endpoint);
    long_message["message"] = json!(format!("{long_endpoint}:{NOW}"));
    let answer = server.post_token(&long_message.to_string()).await;
    assert!(matches!(answer.status, 400 | 401), "{}", answer.text);
    assert!(
        answer.text.contains("endpoint") || answer.text.contains("long"),
        "{}",
        answer.text
    );
}
