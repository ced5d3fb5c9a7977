//! Redis beside the database (docs/protocol.md §10, §12; docs/security.md
//! B7, B8 across instances): replay records and rate-limit buckets shared
//! by servers that share nothing else, over the real Redis
//! (`SIGIL_TEST_REDIS_URL`), each test under a key prefix of its own; and
//! a Redis that cannot answer: 503, never a token, and not ready.

use std::path::PathBuf;

use serde_json::json;
use sigil_core::api::paths;
use sigil_server::{BucketConfig, Config, RateLimitConfig};
use sigil_testkit::{RedisPrefix, TcpProxy};

use crate::payload::{body, cashaddr, signed};
use crate::support::{Answer, ENDPOINT, TestServer, config_in, fresh_dir, key, request};

const NOW: u64 = 1_795_000_000_000;
const HOST: &str = "app.example.com";

/// A configuration over a database of its own in a fresh directory and
/// the Redis at `url`, under `space`'s prefix.
fn config(name: &str, space: &RedisPrefix, url: &str) -> (Config, PathBuf) {
    let dir = fresh_dir(name);
    let config = Config {
        redis: Some(url.to_owned()),
        redis_prefix: space.prefix().to_owned(),
        payload_hosts: vec![HOST.to_owned()],
        ..config_in(&dir)
    };
    (config, dir)
}

async fn server(name: &str, space: &RedisPrefix) -> TestServer {
    let (config, dir) = config(name, space, space.url());
    TestServer::start_with(config, dir, NOW).await
}

/// The `X-RateLimit-*` and `Retry-After` headers and the status.
fn limit_headers(answer: &Answer) -> [Option<String>; 5] {
    [
        Some(answer.status.to_string()),
        answer.header("x-ratelimit-limit").map(str::to_owned),
        answer.header("x-ratelimit-remaining").map(str::to_owned),
        answer.header("x-ratelimit-reset").map(str::to_owned),
        answer.header("retry-after").map(str::to_owned),
    ]
}

#[tokio::test]
async fn a_replay_is_refused_through_redis() {
    let space = RedisPrefix::new("http-replay");
    let server = server("redis-replay", &space).await;
    let sent = request(&key(70), ENDPOINT, NOW);
    server.post_token(&sent).await.token();
    server
        .post_token(&sent)
        .await
        .assert_error(401, "replay_detected", "already used");
    let keys = space.keys();
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("{}replay:token-request:", space.prefix()))),
        "the record is in Redis: {keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("{}rate:per-key:", space.prefix()))),
        "and the bucket: {keys:?}"
    );
}

/// Two servers with databases of their own and one Redis prefix, as two
/// instances behind a load balancer: a token request or a signed payload
/// used at one is a replay at the other, and one key's burst of 20 is
/// spent across both (the headers count down through both), then both
/// refuse it.
#[tokio::test]
async fn two_servers_sharing_redis_accept_a_statement_once_and_share_the_per_key_limit() {
    let space = RedisPrefix::new("http-two");
    let a = server("redis-two-a", &space).await;
    let b = server("redis-two-b", &space).await;

    let sent = request(&key(71), ENDPOINT, NOW);
    a.post_token(&sent).await.token();
    b.post_token(&sent)
        .await
        .assert_error(401, "replay_detected", "already used");

    let (text, signature) = signed(HOST, r#"{"shared":true}"#, NOW);
    let payload = body(&json!(text), &cashaddr(), &signature);
    let first = b.post_json(paths::PAYLOADS_VERIFY, &payload).await;
    assert_eq!(first.status, 200, "{}", first.text);
    a.post_json(paths::PAYLOADS_VERIFY, &payload)
        .await
        .assert_error(401, "replay_detected", "already used");

    let signer = key(72);
    for i in 0..20u64 {
        let server = if i % 2 == 0 { &a } else { &b };
        let answer = server
            .post_token(&request(&signer, ENDPOINT, NOW + i))
            .await;
        assert_eq!(answer.status, 200, "request {i}: {}", answer.text);
        assert_eq!(
            answer.header("x-ratelimit-remaining"),
            Some((19 - i).to_string().as_str()),
            "request {i}"
        );
    }
    for (n, server) in [&a, &b].into_iter().enumerate() {
        let refused = server
            .post_token(&request(&signer, ENDPOINT, NOW + 50 + n as u64))
            .await;
        refused.assert_error(429, "rate_limit_exceeded", "rate limit");
        assert_eq!(refused.header("retry-after"), Some("1"));
    }
}

/// The same sequence against a server counting in-process and one counting
/// in Redis gives the same headers: per-key 2 a minute with a burst of 3
/// (so the test's own duration cannot refill a token), three admitted and
/// two refused, on the token and payload routes.
#[tokio::test]
async fn headers_through_redis_equal_the_in_process_ones() {
    let space = RedisPrefix::new("http-headers");
    let limits = RateLimitConfig {
        per_key: BucketConfig {
            per_minute: 2,
            burst: 3,
        },
        ..RateLimitConfig::default()
    };
    let (shared, dir) = config("redis-headers-shared", &space, space.url());
    let shared = TestServer::start_with(
        Config {
            rate_limit: limits,
            ..shared
        },
        dir,
        NOW,
    )
    .await;
    let dir = fresh_dir("redis-headers-local");
    let local = Config {
        rate_limit: limits,
        payload_hosts: vec![HOST.to_owned()],
        ..config_in(&dir)
    };
    let local = TestServer::start_with(local, dir, NOW).await;

    let signer = key(73);
    for i in 0..5u64 {
        let sent = request(&signer, ENDPOINT, NOW + i);
        let (in_process, in_redis) = (
            local.post_token(&sent).await,
            shared.post_token(&sent).await,
        );
        let (expected, found) = (limit_headers(&in_process), limit_headers(&in_redis));
        assert_eq!(
            found[..3],
            expected[..3],
            "request {i}: status, limit, remaining"
        );
        // Reset and Retry-After are whole seconds of two clocks a few ms
        // apart: a second boundary may fall between them.
        for (n, name) in [(3, "reset"), (4, "retry-after")] {
            let seconds = |h: &Option<String>| h.as_deref().map(|s| s.parse::<i64>().unwrap());
            match (seconds(&expected[n]), seconds(&found[n])) {
                (Some(e), Some(f)) => assert!((e - f).abs() <= 1, "request {i} {name}: {e} vs {f}"),
                (e, f) => assert_eq!(e, f, "request {i} {name}"),
            }
        }
    }
    let (text, signature) = signed(HOST, r#"{"n":1}"#, NOW);
    let payload = body(&json!(text), &cashaddr(), &signature);
    let in_process = local.post_json(paths::PAYLOADS_VERIFY, &payload).await;
    let in_redis = shared.post_json(paths::PAYLOADS_VERIFY, &payload).await;
    assert_eq!(in_process.status, 200, "{}", in_process.text);
    assert_eq!(
        limit_headers(&in_redis)[..3],
        limit_headers(&in_process)[..3]
    );
}

/// A Redis that cannot answer: `/ready` fails, the token and payload routes
/// answer 503 `temporarily_unavailable` with no token (the rate limits fall
/// back to the process and still send their headers); once Redis is back
/// the same request gets its token: the refused one stored nothing.
#[tokio::test]
async fn redis_down_is_503_never_a_token_and_not_ready() {
    let space = RedisPrefix::new("http-down");
    let proxy = TcpProxy::start(space.server_addr());
    let (config, dir) = config("redis-down", &space, &space.url_via(proxy.addr()));
    let server = TestServer::start_with(config, dir, NOW).await;
    assert_eq!(server.get("/ready").await.status, 200);

    proxy.cut();
    server
        .get("/ready")
        .await
        .assert_error(503, "temporarily_unavailable", "retry");
    let sent = request(&key(74), ENDPOINT, NOW);
    let answer = server.post_token(&sent).await;
    answer.assert_error(503, "temporarily_unavailable", "retry");
    assert!(!answer.text.contains("access_token"), "{}", answer.text);
    assert!(answer.header("x-ratelimit-remaining").is_some());
    let (text, signature) = signed(HOST, "{}", NOW);
    let payload = body(&json!(text), &cashaddr(), &signature);
    server
        .post_json(paths::PAYLOADS_VERIFY, &payload)
        .await
        .assert_error(503, "temporarily_unavailable", "retry");

    proxy.restore();
    let ready = server.get("/ready").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    server.post_token(&sent).await.token();
    let verified = server.post_json(paths::PAYLOADS_VERIFY, &payload).await;
    assert_eq!(verified.status, 200, "{}", verified.text);
}
