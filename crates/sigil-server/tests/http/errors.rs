//! Every row of docs/protocol.md §8, provoked over HTTP and checked: status, code, the
//! phrase clients match on, and the body shape.

use axum::Router;
use axum::routing::get;
use serde_json::json;
use sigil_core::{PrivateKey, brc77, bsm};
use sigil_server::{Config, with_middleware};
use sigil_store::Account;

use crate::support::{
    Answer, ENDPOINT, TOKEN_PATH, TestServer, base64, config_in, fresh_dir, key, request,
    request_for_message,
};

const NOW: u64 = 1_795_000_000_000;

#[tokio::test]
async fn invalid_request_names_the_field() {
    let server = TestServer::start("invalid-request", NOW).await;
    let signer = key(10);
    let good: serde_json::Value = serde_json::from_str(&request(&signer, ENDPOINT, NOW)).unwrap();
    let with = |field: &str, value: serde_json::Value| {
        let mut body = good.clone();
        body[field] = value;
        body.to_string()
    };
    let without = |field: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(field);
        body.to_string()
    };
    let other_issuer = format!(
        "sigil-token-request:v1\nissuer:https://other.example\nendpoint:{ENDPOINT}\ntimestamp:{NOW}"
    );
    let cases = [
        ("malformed JSON", "{\"endpoint\": ".to_owned(), "JSON"),
        ("not an object", "[1,2,3]".to_owned(), "JSON"),
        (
            "duplicate member",
            format!("{{\"endpoint\":\"{ENDPOINT}\",\"endpoint\":\"{ENDPOINT}\"}}"),
            "endpoint",
        ),
        ("missing endpoint", without("endpoint"), "endpoint"),
        ("missing timestamp", without("timestamp"), "timestamp"),
        ("missing message", without("message"), "message"),
        ("missing pubkey", without("pubkey"), "pubkey"),
        ("missing signature", without("signature"), "signature"),
        // null counts as missing (serde reads it as an absent member).
        (
            "null endpoint",
            with("endpoint", json!(null)),
            "endpoint is missing",
        ),
        (
            "null signature",
            with("signature", json!(null)),
            "signature is missing",
        ),
        ("endpoint a number", with("endpoint", json!(5)), "endpoint"),
        (
            "timestamp a float",
            with("timestamp", json!(1.5)),
            "timestamp",
        ),
        (
            "timestamp not digits",
            with("timestamp", json!("17e11")),
            "timestamp",
        ),
        (
            "negative timestamp",
            with("timestamp", json!(-1)),
            "timestamp",
        ),
        ("pubkey not hex", with("pubkey", json!("zz")), "pubkey"),
        (
            "pubkey off the curve",
            with("pubkey", json!(format!("02{}", "00".repeat(32)))),
            "pubkey",
        ),
        (
            "signature an object",
            with("signature", json!({"a": 1})),
            "signature",
        ),
        (
            "signature bad base64",
            with("signature", json!("not base64!")),
            "signature",
        ),
        (
            "signature 64 bytes",
            with("signature", json!(base64(&[1u8; 64]))),
            "signature",
        ),
        (
            "signature unknown header",
            with("signature", json!(base64(&[43u8; 65]))),
            "signature",
        ),
        (
            "byte array value 256",
            with("signature", json!([256, 1, 2])),
            "signature",
        ),
        (
            "message of another endpoint",
            with("message", json!(format!("https://other.example:{NOW}"))),
            "message",
        ),
        (
            "message bound to another issuer",
            with("message", json!(other_issuer)),
            "another issuer",
        ),
    ];
    for (name, body, phrase) in cases {
        let answer = server.post_token(&body).await;
        assert_eq!(answer.status, 400, "{name}: {}", answer.text);
        answer.assert_error(400, "invalid_request", phrase);
    }
    assert_eq!(
        server.state.metrics().signature_checks(),
        0,
        "no malformed request reached the signature check"
    );
}

#[tokio::test]
async fn not_found_method_not_allowed_too_large_wrong_type() {
    let server = TestServer::start("http-rows", NOW).await;
    server
        .get("/no/such/route")
        .await
        .assert_error(404, "not_found", "/no/such/route");
    let answer = Answer::read(
        server
            .client
            .post(server.url("/health"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    answer.assert_error(405, "method_not_allowed", "GET");
    let answer = server.get(TOKEN_PATH).await;
    answer.assert_error(405, "method_not_allowed", "POST");

    let big = format!("{{\"endpoint\":\"{}\"}}", "a".repeat(17 * 1024));
    server
        .post_token(&big)
        .await
        .assert_error(413, "invalid_request", "body too large");
    let body = request(&key(11), ENDPOINT, NOW);
    for content_type in [None, Some("text/plain")] {
        server
            .post_raw(content_type, &[], &body)
            .await
            .assert_error(415, "invalid_request", "Content-Type");
    }
}

#[tokio::test]
async fn invalid_target_for_endpoints_and_the_allowlist() {
    let dir = fresh_dir("target");
    let config = Config {
        audiences: vec!["https://api.example.com".into()],
        ..config_in(&dir)
    };
    let server = TestServer::start_with(config, dir, NOW).await;
    let signer = key(12);
    for (name, endpoint) in [
        ("ftp", "ftp://api.example.com"),
        ("relative", "/data"),
        ("fragment", "https://api.example.com/#x"),
        (
            "too long",
            &format!("https://api.example.com/{}", "a".repeat(2100)),
        ),
        ("outside the allowlist", "https://evil.example.com/data"),
        (
            "prefix without path boundary",
            "https://api.example.com.evil.example/x",
        ),
    ] {
        let answer = server.post_token(&request(&signer, endpoint, NOW)).await;
        assert_eq!(answer.status, 400, "{name}: {}", answer.text);
        answer.assert_error(400, "invalid_target", "endpoint");
    }
    server
        .post_token(&request(&signer, "https://api.example.com/v1/x", NOW))
        .await
        .token();
}

#[tokio::test]
async fn invalid_signature_in_every_shape() {
    let server = TestServer::start("bad-sig", NOW).await;
    let signer = key(13);
    let other = key(14);
    let message = format!("{ENDPOINT}:{NOW}");
    let body = |pubkey: String, signature: String| {
        json!({"endpoint": ENDPOINT, "timestamp": NOW, "message": message,
               "pubkey": pubkey, "signature": signature})
        .to_string()
    };
    let mut flipped = bsm::sign(message.as_bytes(), &signer).to_bytes();
    flipped[40] ^= 1;
    let forged = brc77::sign(message.as_bytes(), &signer, [7; 32]).unwrap();
    let cases = [
        (
            "signed by another key",
            body(
                signer.public_key().to_hex(),
                base64(&bsm::sign(message.as_bytes(), &other).to_bytes()),
            ),
        ),
        (
            "one bit flipped",
            body(signer.public_key().to_hex(), base64(&flipped)),
        ),
        (
            "BRC-77 sender is not the claimed key",
            body(other.public_key().to_hex(), base64(&forged)),
        ),
        (
            "signature of another message",
            body(
                signer.public_key().to_hex(),
                base64(&bsm::sign(b"other", &signer).to_bytes()),
            ),
        ),
    ];
    for (name, body) in cases {
        let answer = server.post_token(&body).await;
        assert_eq!(answer.status, 401, "{name}: {}", answer.text);
        answer.assert_error(401, "invalid_signature", "signature verification failed");
    }
}

#[tokio::test]
async fn timestamp_expired_old_future_and_seconds() {
    let server = TestServer::start("window", NOW).await;
    let signer = key(15);
    let cases = [
        ("301 s old", NOW - 301_000, "timestamp too old"),
        ("61 s ahead", NOW + 61_000, "timestamp in the future"),
        ("seconds", NOW / 1000, "milliseconds"),
    ];
    for (name, ts, phrase) in cases {
        let answer = server.post_token(&request(&signer, ENDPOINT, ts)).await;
        assert_eq!(answer.status, 401, "{name}: {}", answer.text);
        answer.assert_error(401, "timestamp_expired", phrase);
    }
    // The edges are inside.
    for ts in [NOW - 300_000, NOW + 60_000] {
        server
            .post_token(&request(&signer, ENDPOINT, ts))
            .await
            .token();
    }
}

#[tokio::test]
async fn invalid_token_on_userinfo_with_rfc6750_challenges() {
    let server = TestServer::start("userinfo", NOW).await;
    let issuer = "http://localhost:1911";
    let signer = key(16);
    let get = |auth: Option<String>| {
        let mut request = server.client.get(server.url("/userinfo"));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        async move { Answer::read(request.send().await.unwrap()).await }
    };
    let none = get(None).await;
    none.assert_error(401, "invalid_token", "bearer token");
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));

    let garbage = get(Some("Bearer not.a.token".into())).await;
    garbage.assert_error(401, "invalid_token", "token");
    assert!(
        garbage
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer error=\"invalid_token\"")),
        "{:?}",
        garbage.header("www-authenticate")
    );
    get(Some("Basic dXNlcjpwYXNz".into()))
        .await
        .assert_error(401, "invalid_token", "Bearer");

    // A token for another audience is refused; one for the userinfo URL works.
    let other = server
        .post_token(&request(&signer, ENDPOINT, NOW))
        .await
        .token();
    get(Some(format!("Bearer {other}")))
        .await
        .assert_error(401, "invalid_token", "wrong audience");
    let mine = server
        .post_token(&request(&signer, &format!("{issuer}/userinfo"), NOW))
        .await
        .token();
    let info = get(Some(format!("Bearer {mine}"))).await;
    assert_eq!(info.status, 200, "{}", info.text);
    let body = info.json();
    assert_eq!(body["sub"], signer.public_key().to_hex().as_str());
    assert_eq!(body["pubkey"], signer.public_key().to_hex().as_str());
    assert_eq!(
        body["address"],
        signer.public_key().to_address().to_string()
    );
    let alias = Answer::read(
        server
            .client
            .get(server.url("/api/auth/oauth2/userinfo"))
            .header("authorization", format!("Bearer {mine}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(alias.status, 200, "{}", alias.text);
    // 31 minutes later the token has expired.
    server.clock.advance(1_860_000);
    get(Some(format!("Bearer {mine}")))
        .await
        .assert_error(401, "invalid_token", "token expired");
}

#[tokio::test]
async fn access_denied_by_the_registry() {
    let dir = fresh_dir("registry");
    let config = Config {
        open_registration: false,
        reload_interval_ms: 100,
        ..config_in(&dir)
    };
    let server = TestServer::start_with(config, dir, NOW).await;
    let stranger = key(17);
    server
        .post_token(&request(&stranger, ENDPOINT, NOW))
        .await
        .assert_error(403, "access_denied", "not allowed");

    let member = key(18);
    let mut account = Account::new(member.public_key(), NOW);
    account.name = Some("billing".into());
    account.bap_id = Some("3XqqXreu2MnM5i4rhVWc473uVmoc".into());
    account.audiences = vec!["https://api.example.com".into()];
    server
        .state
        .store()
        .accounts()
        .add_account(account)
        .await
        .unwrap();
    server.state.refresh().await.unwrap();
    let token = server
        .post_token(&request(&member, ENDPOINT, NOW))
        .await
        .token();
    let (_, claims) = crate::support::decode(&token);
    assert_eq!(claims["name"], "billing");
    assert_eq!(claims["bap_id"], "3XqqXreu2MnM5i4rhVWc473uVmoc");
    server
        .post_token(&request(&member, "https://elsewhere.example", NOW))
        .await
        .assert_error(403, "access_denied", "not allowed");

    server
        .state
        .store()
        .accounts()
        .revoke_account(member.public_key(), NOW)
        .await
        .unwrap();
    server.state.refresh().await.unwrap();
    server
        .post_token(&request(&member, ENDPOINT, NOW + 1))
        .await
        .assert_error(403, "access_denied", "not allowed");
}

#[tokio::test]
async fn server_error_hides_the_cause() {
    let server = TestServer::start("panic", NOW).await;
    let routes = Router::new().route(
        "/boom",
        get(|| async {
            if std::hint::black_box(true) {
                panic!("a secret cause");
            }
            "unreachable"
        }),
    );
    let app = with_middleware(routes, server.state.clone());
    let listener = sigil_testkit::local_tokio_listener().await;
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let answer = Answer::read(reqwest::get(format!("{base}/boom")).await.unwrap()).await;
    answer.assert_error(500, "server_error", "request's id");
    assert!(!answer.text.contains("secret"), "{}", answer.text);
    assert!(answer.header("x-request-id").is_some());
}

#[tokio::test]
async fn compat_form_refused_when_bound_is_required() {
    let dir = fresh_dir("bound");
    let config = Config {
        require_bound_message: true,
        ..config_in(&dir)
    };
    let server = TestServer::start_with(config, dir, NOW).await;
    let signer: PrivateKey = key(19);
    server
        .post_token(&request(&signer, ENDPOINT, NOW))
        .await
        .assert_error(400, "invalid_request", "bound form");
    let bound = format!(
        "sigil-token-request:v1\nissuer:http://localhost:1911\nendpoint:{ENDPOINT}\ntimestamp:{NOW}"
    );
    server
        .post_token(&request_for_message(&signer, ENDPOINT, NOW, &bound))
        .await
        .token();
}

#[tokio::test]
/// A request that times out is 408: a 503 would tell clients the store is
/// down.
async fn request_timeout_is_408_never_503() {
    let dir = fresh_dir("timeout");
    let config = Config {
        request_timeout_ms: 100,
        ..config_in(&dir)
    };
    let server = TestServer::start_with(config, dir, NOW).await;
    let routes = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            "too late"
        }),
    );
    let app = with_middleware(routes, server.state.clone());
    let listener = sigil_testkit::local_tokio_listener().await;
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let started = std::time::Instant::now();
    let answer = Answer::read(reqwest::get(format!("{base}/slow")).await.unwrap()).await;
    answer.assert_error(408, "invalid_request", "timed out");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
}
