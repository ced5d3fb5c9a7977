//! Floods of fresh statements (docs/protocol.md §7, issue 13 item 2): one
//! address sending X-Auth-Tokens from throwaway keys is rate-limited before
//! anything is verified, and a full replay memory refuses only the address
//! filling it; other addresses keep getting in. Clients are bound to
//! different loopback addresses (Linux routes all of 127.0.0.0/8 to `lo`).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sigil_core::auth_token::{NewAuthToken, build, signed_string};
use sigil_core::timestamp::format_iso_ms;
use sigil_core::{Network, PrivateKey, Scheme, bsm};
use sigil_validator::{MemoryReplayGuard, Validator};

use crate::support::pipeline::{self, RawAnswer};
use crate::support::tokens::fixed_key;
use crate::support::{Answer, Issuer, Mode, Resource, TestClock, VECTOR_NOW_MS, builder, setup};

/// A throwaway key, the `n`-th of a flood.
fn throwaway(n: u64) -> PrivateKey {
    let mut bytes = [0x5a; 32];
    bytes[24..].copy_from_slice(&n.to_be_bytes());
    PrivateKey::from_bytes(bytes, Network::Mainnet, true).unwrap()
}

/// A fresh BSM X-Auth-Token of key `n` for `path`, signed at the vectors'
/// time.
fn fresh_token(n: u64, path: &str) -> String {
    fresh_with(&throwaway(n), path)
}

fn fresh_with(key: &PrivateKey, path: &str) -> String {
    build(
        key,
        &NewAuthToken {
            request_path: path,
            body: None,
            timestamp_ms: VECTOR_NOW_MS,
            scheme: Scheme::Bsm,
            key_id: [0; 32],
        },
    )
    .unwrap()
}

async fn send(resource: &Resource, n: u64) -> Answer {
    let path = format!("/api/flood?n={n}");
    Answer::of(
        resource
            .request("GET", &path)
            .header("x-auth-token", fresh_token(n, &path)),
    )
    .await
}

/// What the flooding connections saw.
#[derive(Debug, Default)]
struct Tally {
    accepted: usize,
    rate_limited: usize,
    other: Vec<String>,
}

impl Tally {
    fn count(&mut self, answer: &RawAnswer) {
        match answer.status {
            200 => match serde_json::from_slice::<Value>(&answer.body) {
                Ok(body) if body["auth"] == "x-auth-token" => self.accepted += 1,
                _ => self.other.push(format!("200 {:?}", answer.body)),
            },
            429 => match check_rate_limited(answer) {
                Ok(()) => self.rate_limited += 1,
                Err(why) => self.other.push(why),
            },
            _ => self.other.push(format!(
                "{} {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            )),
        }
    }
}

/// docs/protocol.md §8's 429: exactly `{error, error_description}` with the
/// code and "rate limit" (here: the gate's limit, not a full replay
/// memory), `Cache-Control: no-store`, `Retry-After`, and docs/protocol.md §10's
/// headers for an empty bucket of 300 a minute.
fn check_rate_limited(answer: &RawAnswer) -> Result<(), String> {
    let body: Value = serde_json::from_slice(&answer.body).map_err(|e| e.to_string())?;
    let object = body.as_object().ok_or("not an object")?;
    let fine = object.len() == 2
        && body["error"] == "rate_limit_exceeded"
        && body["error_description"]
            .as_str()
            .is_some_and(|d| d.contains("rate limit exceeded: too many signed requests"))
        && answer.header("cache-control") == Some("no-store")
        && answer.header("x-ratelimit-limit") == Some("300")
        && answer.header("x-ratelimit-remaining") == Some("0")
        && answer
            .header("x-ratelimit-reset")
            .is_some_and(|r| r.parse::<u64>().is_ok())
        && answer
            .header("retry-after")
            .and_then(|r| r.parse::<u64>().ok())
            .is_some_and(|r| r >= 1);
    if fine {
        Ok(())
    } else {
        Err(format!("429 {answer:?}"))
    }
}

const FLOOD: u64 = 100_500;
const CONNECTIONS: u64 = 8;
/// Each throwaway key signs this many tokens (each a distinct statement:
/// its own path), so that deriving keys does not cost as much as signing.
const TOKENS_PER_KEY: u64 = 100;

/// The flood's keys and their public keys in hex.
fn flood_keys() -> Vec<(PrivateKey, String)> {
    (0..=FLOOD / TOKENS_PER_KEY)
        .map(|k| {
            let key = throwaway(k);
            let hex = key.public_key().to_hex();
            (key, hex)
        })
        .collect()
}

/// Token `n` of the flood: BSM by key `n / TOKENS_PER_KEY` for path
/// `/api/flood?n=N`, built as `auth_token::build` builds it, without
/// deriving the public key each time.
fn flood_token(keys: &[(PrivateKey, String)], n: u64) -> (String, String) {
    let (key, pubkey) = &keys[usize::try_from(n / TOKENS_PER_KEY).unwrap()];
    let path = format!("/api/flood?n={n}");
    let timestamp = format_iso_ms(VECTOR_NOW_MS);
    let statement = signed_string(&path, &timestamp, "");
    let signature = STANDARD.encode(bsm::sign(statement.as_bytes(), key).to_bytes());
    (
        path.clone(),
        format!("{pubkey}|bsm|{timestamp}|{path}|{signature}"),
    )
}

/// Issue 13's attack: 100,500 fresh X-Auth-Tokens from throwaway keys, all
/// from 127.0.0.1 over 8 pipelined connections, against a validator with
/// every default. The validator's clock is pinned, so the per-address
/// bucket never refills: exactly its burst (60) is verified and recorded,
/// and every other token is refused with 429 (docs/protocol.md §8's body,
/// `Retry-After`, `X-RateLimit-*`) at the gate, before any verification.
/// A fresh token from 127.0.0.2 is then accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_address_does_not_lock_out_another() {
    let issuer = Issuer::start(&[&fixed_key()]).await;
    let clock = TestClock::at(VECTOR_NOW_MS);
    let validator = builder(&issuer, &clock).build().unwrap();
    let resource = Resource::start(validator, Mode::Layer).await;
    let server: SocketAddr = resource.base.trim_start_matches("http://").parse().unwrap();
    let keys = Arc::new(flood_keys());
    assert_eq!(
        flood_token(&keys, 7).1,
        fresh_with(&keys[0].0, "/api/flood?n=7"),
        "hand-built tokens are bitcoin-auth tokens"
    );

    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut connections = Vec::new();
    for connection in 0..CONNECTIONS {
        let keys = Arc::clone(&keys);
        let tally = Arc::clone(&tally);
        let mut n = connection;
        let next = move || {
            (n < FLOOD).then(|| {
                let (path, token) = flood_token(&keys, n);
                n += CONNECTIONS;
                pipeline::get(server, &path, &[("x-auth-token", &token)])
            })
        };
        connections.push(tokio::spawn(async move {
            pipeline::pipelined("127.0.0.1".parse().unwrap(), server, next, |answer| {
                tally.lock().unwrap().count(&answer);
            })
            .await
        }));
    }
    let mut answered = 0;
    for connection in connections {
        answered += connection.await.unwrap();
    }
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    assert_eq!(answered, usize::try_from(FLOOD).unwrap());
    assert!(
        tally.other.is_empty(),
        "{} unexpected answers, e.g. {:?}",
        tally.other.len(),
        &tally.other[..tally.other.len().min(5)]
    );
    assert_eq!(tally.accepted, 60, "the burst of 127.0.0.1's bucket");
    assert_eq!(tally.rate_limited, usize::try_from(FLOOD).unwrap() - 60);

    // Still limited, the same answer through an ordinary client…
    let (path, token) = flood_token(&keys, FLOOD);
    Answer::of(
        resource
            .seen_from("127.0.0.1")
            .request("GET", &path)
            .header("x-auth-token", token),
    )
    .await
    .assert_refused(429, "rate_limit_exceeded", "rate limit exceeded");
    // …while another address gets in.
    let other = resource.seen_from("127.0.0.2");
    let answer = send(&other, FLOOD + 1).await;
    answer.assert_ok(&throwaway(FLOOD + 1).public_key().to_hex(), "x-auth-token");
    assert_eq!(answer.headers["x-ratelimit-remaining"], "59", "{answer:?}");
}

/// The fairness rule over HTTP, with the rate limit off and a memory of 20
/// records (18 open, 2 in reserve): 127.0.0.1 fills it and is then refused
/// with 429 (not 503); 127.0.0.2 and 127.0.0.3 still get in; a replay of
/// one of the filler's live records is still `replay_detected`; and once
/// the records leave the window the filler gets in again.
#[tokio::test]
async fn a_full_replay_memory_refuses_only_the_address_filling_it() {
    for mode in Mode::ALL {
        let s = setup(mode, |b| b.rate_limit(None).replay_capacity(20)).await;
        let filler = s.resource.seen_from("127.0.0.1");
        for n in 0..18 {
            send(&filler, n)
                .await
                .assert_ok(&throwaway(n).public_key().to_hex(), "x-auth-token");
        }
        let refused = send(&filler, 18).await;
        refused.assert_refused(
            429,
            "rate_limit_exceeded",
            "127.0.0.1 holds its share of the full replay memory",
        );
        assert_eq!(refused.headers["retry-after"], "600", "{refused:?}");
        assert!(
            !refused.headers.contains_key("x-ratelimit-limit"),
            "{refused:?}"
        );
        for (n, address) in [(100, "127.0.0.2"), (101, "127.0.0.3")] {
            send(&s.resource.seen_from(address), n)
                .await
                .assert_ok(&throwaway(n).public_key().to_hex(), "x-auth-token");
        }
        send(&filler, 19)
            .await
            .assert_refused(429, "rate_limit_exceeded", "rate limit");
        send(&filler, 0)
            .await
            .assert_refused(401, "replay_detected", "already used");
        s.clock.advance_ms(600_000);
        let path = "/api/flood?n=later";
        let later = Answer::of(
            filler.request("GET", path).header(
                "x-auth-token",
                build(
                    &throwaway(7),
                    &NewAuthToken {
                        request_path: path,
                        body: None,
                        timestamp_ms: VECTOR_NOW_MS + 600_000,
                        scheme: Scheme::Bsm,
                        key_id: [0; 32],
                    },
                )
                .unwrap(),
            ),
        )
        .await;
        later.assert_ok(&throwaway(7).public_key().to_hex(), "x-auth-token");
    }
}

/// The limit counts signed requests and X-Auth-Tokens only: bearer-only
/// requests from an address whose bucket is empty still get through, and
/// with the limit off nothing is counted. A custom guard cannot be combined
/// with a capacity for the built-in one.
#[tokio::test]
async fn the_limit_counts_per_request_signatures_only() {
    let s = setup(Mode::Layer, |b| {
        b.rate_limit(Some(sigil_validator::BucketConfig {
            per_minute: 60,
            burst: 2,
        }))
    })
    .await;
    for n in 0..2 {
        send(&s.resource, n)
            .await
            .assert_ok(&throwaway(n).public_key().to_hex(), "x-auth-token");
    }
    let limited = send(&s.resource, 2).await;
    limited.assert_refused(429, "rate_limit_exceeded", "rate limit exceeded");
    assert_eq!(limited.headers["x-ratelimit-limit"], "60", "{limited:?}");
    assert_eq!(limited.headers["retry-after"], "1", "{limited:?}");
    let token = crate::support::tokens::good_token();
    for _ in 0..5 {
        let answer = s.resource.bearer(&token).await;
        answer.assert_ok(crate::support::SUB, "bearer");
        assert!(!answer.headers.contains_key("x-ratelimit-limit"));
    }

    let off = setup(Mode::Layer, |b| b.rate_limit(None)).await;
    for n in 0..100 {
        let answer = send(&off.resource, n).await;
        answer.assert_ok(&throwaway(n).public_key().to_hex(), "x-auth-token");
        assert!(!answer.headers.contains_key("x-ratelimit-limit"));
    }

    let err = Validator::builder("https://auth.example.com", "https://api.example.com")
        .replay_guard(Arc::new(MemoryReplayGuard::new(5)))
        .replay_capacity(5)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("replay_capacity"), "{err}");
}
