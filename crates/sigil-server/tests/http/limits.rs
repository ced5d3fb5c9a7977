//! Rate limits over HTTP (docs/protocol.md §10, docs/security.md B8): headers on every
//! answer, 429 with Retry-After, per-key counting only after the signature
//! verified, and the check order.

use serde_json::json;
use sigil_core::bsm;
use sigil_server::{BucketConfig, Config, RateLimitConfig};

use crate::support::{ENDPOINT, TestServer, base64, config_in, fresh_dir, key, request};

const NOW: u64 = 1_795_000_000_000;

fn limited(per_key: u32, key_burst: u32, per_address: u32, address_burst: u32) -> RateLimitConfig {
    RateLimitConfig {
        per_key: BucketConfig {
            per_minute: per_key,
            burst: key_burst,
        },
        per_address: BucketConfig {
            per_minute: per_address,
            burst: address_burst,
        },
        ..RateLimitConfig::default()
    }
}

#[tokio::test]
async fn per_key_limit_after_the_burst_with_headers() {
    let server = TestServer::start("per-key", NOW).await;
    let signer = key(30);
    for i in 0..20u64 {
        let answer = server
            .post_token(&request(&signer, ENDPOINT, NOW + i))
            .await;
        assert_eq!(answer.status, 200, "request {i}: {}", answer.text);
        assert_eq!(answer.header("x-ratelimit-limit"), Some("60"));
        let remaining: u32 = answer
            .header("x-ratelimit-remaining")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(u64::from(remaining), 19 - i, "request {i}");
        assert!(answer.header("x-ratelimit-reset").is_some());
        assert!(answer.header("retry-after").is_none());
    }
    let answer = server
        .post_token(&request(&signer, ENDPOINT, NOW + 20))
        .await;
    answer.assert_error(429, "rate_limit_exceeded", "rate limit");
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert_eq!(answer.header("x-ratelimit-remaining"), Some("0"));
    // Another key is not affected.
    server
        .post_token(&request(&key(31), ENDPOINT, NOW))
        .await
        .token();
}

#[tokio::test]
async fn invalid_signatures_do_not_spend_the_claimed_keys_budget() {
    let server = TestServer::start("budget", NOW).await;
    let victim = key(32);
    let attacker = key(33);
    for i in 0..30u64 {
        let message = format!("{ENDPOINT}:{}", NOW + i);
        let body = json!({
            "endpoint": ENDPOINT, "timestamp": NOW + i, "message": message,
            "pubkey": victim.public_key().to_hex(),
            "signature": base64(&bsm::sign(message.as_bytes(), &attacker).to_bytes()),
        });
        server.post_token(&body.to_string()).await.assert_error(
            401,
            "invalid_signature",
            "signature verification failed",
        );
    }
    for i in 0..20u64 {
        let answer = server
            .post_token(&request(&victim, ENDPOINT, NOW + 100 + i))
            .await;
        assert_eq!(answer.status, 200, "victim request {i}: {}", answer.text);
    }
}

#[tokio::test]
async fn per_address_limit_comes_before_parsing_and_signature_checks() {
    let dir = fresh_dir("per-address");
    let config = Config {
        rate_limit: limited(60, 20, 60, 5),
        ..config_in(&dir)
    };
    let server = TestServer::start_with(config, dir, NOW).await;
    for i in 0..5 {
        server
            .post_token("{not json")
            .await
            .assert_error(400, "invalid_request", "JSON");
        let _ = i;
    }
    let before = server.state.metrics().signature_checks();
    let answer = server.post_token(&request(&key(34), ENDPOINT, NOW)).await;
    answer.assert_error(429, "rate_limit_exceeded", "rate limit");
    assert!(answer.header("retry-after").is_some());
    assert_eq!(answer.header("x-ratelimit-limit"), Some("60"));
    assert_eq!(
        server.state.metrics().signature_checks(),
        before,
        "an over-limit request never reaches the signature check"
    );
    // Oversized bodies over the limit are refused the same way, unread.
    let big = "x".repeat(64 * 1024);
    server
        .post_token(&big)
        .await
        .assert_error(429, "rate_limit_exceeded", "rate limit");
}

#[tokio::test]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    let dir = fresh_dir("xff");
    let config = Config {
        rate_limit: limited(60, 20, 60, 2),
        trusted_proxies: vec!["127.0.0.1/32".into()],
        ..config_in(&dir)
    };
    let server = TestServer::start_with(config, dir, NOW).await;
    let proxy = &server;
    let send = |client: &'static str| async move {
        proxy
            .post_raw(
                Some("application/json"),
                &[("x-forwarded-for", client)],
                "{}",
            )
            .await
    };
    // Two clients behind the proxy have a bucket each.
    for client in ["203.0.113.1", "203.0.113.1", "203.0.113.2", "203.0.113.2"] {
        send(client)
            .await
            .assert_error(400, "invalid_request", "endpoint");
    }
    send("203.0.113.1")
        .await
        .assert_error(429, "rate_limit_exceeded", "rate limit");

    // Without the proxy setting the header is ignored: one bucket.
    let dir = fresh_dir("xff-untrusted");
    let config = Config {
        rate_limit: limited(60, 20, 60, 2),
        ..config_in(&dir)
    };
    let server = TestServer::start_with(config, dir, NOW).await;
    for (i, client) in ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
        .iter()
        .enumerate()
    {
        let answer = server
            .post_raw(
                Some("application/json"),
                &[("x-forwarded-for", client)],
                "{}",
            )
            .await;
        let expected = if i < 2 { 400 } else { 429 };
        assert_eq!(answer.status, expected, "{client}: {}", answer.text);
    }
}

#[tokio::test]
async fn rate_limits_off_sends_no_headers() {
    let dir = fresh_dir("off");
    let config = Config {
        rate_limits: sigil_server::Switch::Off,
        ..config_in(&dir)
    };
    let server = TestServer::start_with(config, dir, NOW).await;
    let signer = key(35);
    for i in 0..25u64 {
        let answer = server
            .post_token(&request(&signer, ENDPOINT, NOW + i))
            .await;
        assert_eq!(answer.status, 200, "{i}: {}", answer.text);
        assert!(answer.header("x-ratelimit-limit").is_none());
    }
}
