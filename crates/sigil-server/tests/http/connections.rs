//! The defects of issue 13 at the token service's edge, over raw TCP where
//! a well-behaved client could not show them: hyper's own refusals with
//! docs/protocol.md §8's body, a declared oversized body refused at once, a slow body
//! answered 408, a request without `Host`, and the per-key budget that
//! replays must not spend. The connection timeouts and the cap are tested
//! in crates/sigil-edge/tests/listener.rs, and end to end for
//! `resource-server` in crates/sigil-cli/tests/server/resource.rs.

use std::time::{Duration, Instant};

use serde_json::Value;
use sigil_server::{BucketConfig, Config, RateLimitConfig};
use sigil_store::Account;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{ENDPOINT, TestServer, config_in, fresh_dir, key, request};

const NOW: u64 = 1_795_000_000_000;

/// Sends `bytes` on a fresh connection and reads until the server closes
/// it or `wait` passes: (status, JSON body, how long it took).
pub(crate) async fn raw(
    server: &TestServer,
    bytes: &[u8],
    wait: Duration,
) -> (u16, Value, Duration) {
    let address = server.base.trim_start_matches("http://");
    let mut tcp = TcpStream::connect(address).await.unwrap();
    let started = Instant::now();
    tcp.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 8192];
    while let Ok(Ok(n)) =
        tokio::time::timeout_at((started + wait).into(), tcp.read(&mut chunk)).await
    {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
        if complete(&answer) {
            break;
        }
    }
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer within {wait:?}: {text:?}"));
    let status = head[9..12].parse().unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    (status, body, elapsed)
}

/// Whether `answer` holds a whole response (its head and the body its
/// `content-length` announces).
fn complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer).to_ascii_lowercase();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .is_some_and(|length| body.len() >= length)
}

pub(crate) fn assert_body(body: &Value, code: &str, phrase: &str) {
    assert_eq!(
        body.as_object().map(serde_json::Map::len),
        Some(2),
        "{body}"
    );
    assert_eq!(body["error"], code, "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.contains(phrase),
        "{description:?} lacks {phrase:?}"
    );
}

#[tokio::test]
async fn hypers_own_refusals_carry_the_error_body() {
    let dir = fresh_dir("head-limits");
    let config = Config {
        max_header_bytes: 4096,
        max_headers: 20,
        ..config_in(&dir)
    };
    let server = TestServer::start_with(config, dir, NOW).await;
    let wait = Duration::from_secs(5);

    let big = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let (status, body, _) = raw(&server, big.as_bytes(), wait).await;
    assert_eq!(status, 431);
    assert_body(&body, "invalid_request", "too large");

    let many: String = (0..30).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /health HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    let (status, body, _) = raw(&server, many.as_bytes(), wait).await;
    assert_eq!(status, 431);
    assert_body(&body, "invalid_request", "too large");

    let (status, body, _) = raw(&server, b"NOT HTTP AT ALL\r\n\r\n", wait).await;
    assert_eq!(status, 400);
    assert_body(&body, "invalid_request", "could not be parsed");

    let (status, body, _) = raw(&server, b"GET /health HTTP/1.1\r\n\r\n", wait).await;
    assert_eq!(status, 400);
    assert_body(&body, "invalid_request", "Host header is missing");

    // Within the limits the same server answers.
    let fine = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Small: a\r\n\r\n";
    let (status, _, _) = raw(&server, fine.as_bytes(), wait).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_declared_oversized_body_is_413_at_once() {
    let server = TestServer::start("declared-length", NOW).await;
    let head = "POST /api/auth/token-for-endpoint HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n{";
    // The request timeout is 10 s: an answer within 3 s was not waiting
    // for the body.
    let (status, body, elapsed) = raw(&server, head.as_bytes(), Duration::from_secs(3)).await;
    assert_eq!(status, 413, "{body}");
    assert_body(&body, "invalid_request", "body too large");
    assert!(elapsed < Duration::from_secs(3));
}

#[tokio::test]
async fn a_body_that_does_not_arrive_is_408_never_503() {
    let dir = fresh_dir("slow-body");
    let config = Config {
        request_timeout_ms: 300,
        ..config_in(&dir)
    };
    let server = TestServer::start_with(config, dir, NOW).await;
    let head = "POST /api/auth/token-for-endpoint HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"endpoint\"";
    let (status, body, _) = raw(&server, head.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(status, 408, "{body}");
    assert_body(&body, "invalid_request", "timed out");
}

/// docs/security.md B8 and issue 13: replays of a key's used request, sent from
/// many addresses, are refused as replays and do not spend the key's own
/// budget (the per-key limit is charged after the replay check).
#[tokio::test]
async fn replays_do_not_spend_the_keys_budget() {
    let dir = fresh_dir("replay-budget");
    let config = Config {
        rate_limit: RateLimitConfig {
            per_key: BucketConfig {
                per_minute: 3,
                burst: 3,
            },
            ..RateLimitConfig::default()
        },
        ..config_in(&dir)
    };
    let server = TestServer::start_with(config, dir, NOW).await;
    let owner = key(41);
    let used = request(&owner, ENDPOINT, NOW);
    server.post_token(&used).await.token();
    for i in 2..27u8 {
        // Each replay from its own client address.
        let answer = server
            .post_json_from(i, "/api/auth/token-for-endpoint", &used)
            .await;
        answer.assert_error(401, "replay_detected", "already used");
    }
    // The owner's budget is whole: two more fresh requests (3 in all).
    for t in 1..3 {
        server
            .post_token(&request(&owner, ENDPOINT, NOW + t))
            .await
            .token();
    }
    server
        .post_token(&request(&owner, ENDPOINT, NOW + 3))
        .await
        .assert_error(429, "rate_limit_exceeded", "rate limit");
}

/// Revoking an account stops its tokens at /userinfo at once, not when
/// they expire.
#[tokio::test]
async fn userinfo_refuses_a_revoked_accounts_token() {
    let server = TestServer::start("userinfo-revoked", NOW).await;
    let member = key(42);
    server
        .state
        .store()
        .accounts()
        .add_account(Account::new(member.public_key(), NOW))
        .await
        .unwrap();
    server.state.refresh().await.unwrap();
    let userinfo = "http://localhost:1911/userinfo";
    let token = server
        .post_token(&request(&member, userinfo, NOW))
        .await
        .token();
    let ask = || {
        server
            .client
            .get(server.url("/userinfo"))
            .bearer_auth(&token)
            .send()
    };
    let answer = crate::support::Answer::read(ask().await.unwrap()).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    server
        .state
        .store()
        .accounts()
        .revoke_account(member.public_key(), NOW + 1)
        .await
        .unwrap();
    server.state.refresh().await.unwrap();
    let answer = crate::support::Answer::read(ask().await.unwrap()).await;
    answer.assert_error(401, "invalid_token", "revoked");
    assert!(
        answer
            .header("www-authenticate")
            .is_some_and(|c| c.contains("invalid_token")),
        "{:?}",
        answer.header("www-authenticate")
    );
}

/// A token lifetime over the 1800 s default is still this server's own:
/// /userinfo accepts its tokens (it used to check them against 1800 s).
#[tokio::test]
async fn userinfo_accepts_tokens_of_a_longer_configured_lifetime() {
    let dir = fresh_dir("userinfo-lifetime");
    let config = Config {
        token_lifetime_s: 7200,
        ..config_in(&dir)
    };
    let server = TestServer::start_with(config, dir, NOW).await;
    let token = server
        .post_token(&request(&key(43), "http://localhost:1911/userinfo", NOW))
        .await
        .token();
    let answer = crate::support::Answer::read(
        server
            .client
            .get(server.url("/userinfo"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}
