//! The conformance suite's replay cases on Redis (`SIGIL_TEST_REDIS_URL`,
//! default `redis://127.0.0.1:6379/0`), each test under a key prefix of its
//! own whose keys are deleted afterwards, beside an in-memory SQLite for
//! the rest of the store; then what is particular to Redis: expiry by
//! Redis's clock, several stores sharing one prefix, an outage answered in
//! time, the persistence finding, and the shared rate-limit buckets.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

// Only the replay cases run on Redis: the key, account and OAuth cases are unused.
#[allow(dead_code, unused_imports, unused_macros)]
mod conformance;

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use conformance::{
    Fixture, NOW, TTL, assert_unavailable, record, replay_conformance_tests, replay_key, tally,
    together,
};
use sigil_store::{
    BucketRate, Durability, Insertion, RedisOptions, RedisReplayStore, ReplayNamespace, Store,
};
use sigil_testkit::{RedisPrefix, TcpProxy};

/// A key prefix of its own (deleted on drop).
struct RedisFixture {
    space: RedisPrefix,
    /// Proxies the fixture's stores reach Redis through; they live as long
    /// as the fixture.
    proxies: std::sync::Mutex<Vec<Arc<TcpProxy>>>,
}

impl RedisFixture {
    fn new() -> Self {
        Self {
            space: RedisPrefix::new("store"),
            proxies: std::sync::Mutex::default(),
        }
    }

    fn options(&self) -> RedisOptions {
        RedisOptions::with_prefix(self.space.prefix())
    }

    async fn redis_with(&self, url: &str, options: RedisOptions) -> RedisReplayStore {
        RedisReplayStore::open(url, options)
            .await
            .expect("open the redis replay store")
    }

    async fn redis(&self) -> RedisReplayStore {
        self.redis_with(self.space.url(), self.options()).await
    }

    /// A store with `redis` for the replay records and buckets, an
    /// in-memory SQLite for the rest.
    async fn store_over(redis: RedisReplayStore) -> Store {
        Store::open("sqlite::memory:")
            .await
            .expect("open sqlite::memory:")
            .with_rate_limits(Arc::new(redis.rate_limits()))
            .with_replay(Arc::new(redis))
    }
}

impl Fixture for RedisFixture {
    async fn open(&self) -> Store {
        Self::store_over(self.redis().await).await
    }

    /// The store reaches Redis through a proxy that is cut while the guard
    /// lives.
    async fn open_unanswerable(&self) -> (Store, Box<dyn Any + Send>) {
        let proxy = Arc::new(TcpProxy::start(self.space.server_addr()));
        self.proxies.lock().unwrap().push(proxy.clone());
        let mut options = self.options();
        options.connect_timeout = Duration::from_millis(300);
        options.call_timeout = Duration::from_secs(1);
        let store = Self::store_over(
            self.redis_with(&self.space.url_via(proxy.addr()), options)
                .await,
        )
        .await;
        proxy.cut();
        (store, Box::new(Restore(proxy)))
    }
}

/// Restores the proxy when dropped.
struct Restore(Arc<TcpProxy>);

impl Drop for Restore {
    fn drop(&mut self) {
        self.0.restore();
    }
}

replay_conformance_tests!(RedisFixture::new());

const NS: ReplayNamespace = ReplayNamespace::SignedRequest;

/// docs/security.md B7 across instances: 50 stores (50 connections, as 50
/// instances would have) insert one key at once; exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_inserts_of_one_key_through_fifty_stores_have_one_winner() {
    const STORES: usize = 50;
    let fixture = RedisFixture::new();
    let mut stores = Vec::with_capacity(STORES);
    for _ in 0..STORES {
        stores.push(fixture.redis().await);
    }
    let key = replay_key("fifty", 0);
    let results = together(STORES, |i| {
        let store = stores[i].clone();
        async move {
            sigil_store::ReplayStore::insert_if_absent(&store, record(NS, key, NOW + TTL), NOW)
                .await
        }
    })
    .await;
    assert_eq!(tally(&results), (1, STORES - 1));
    // The record is one key under the fixture's prefix, with Redis's TTL.
    let keys = fixture.space.keys();
    assert_eq!(
        keys,
        [format!(
            "{}replay:signed-request:{}",
            fixture.space.prefix(),
            key.to_hex()
        )]
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query(&mut fixture.space.connection())
        .unwrap();
    assert!((TTL as i64 - 60_000..=TTL as i64).contains(&ttl), "{ttl}");
}

/// Redis expires a record by its own clock, `expires_at_ms − now_ms` after
/// the insert; then the statement (which has left its window) may be
/// recorded again. `purge_expired` has nothing to do.
#[tokio::test]
async fn a_record_expires_by_redis_clock_and_purge_has_nothing_to_do() {
    let fixture = RedisFixture::new();
    let store = fixture.open().await;
    let replay = store.replay();
    let key = replay_key("expiry", 0);
    let short = record(NS, key, NOW + 300);
    assert_eq!(
        replay.insert_if_absent(short, NOW).await,
        Ok(Insertion::Inserted)
    );
    assert_eq!(
        replay.insert_if_absent(short, NOW + 299).await,
        Ok(Insertion::AlreadyUsed)
    );
    assert_eq!(replay.purge_expired(NOW + 10 * TTL).await, Ok(0));
    assert_eq!(
        replay.insert_if_absent(short, NOW).await,
        Ok(Insertion::AlreadyUsed),
        "purge removed nothing live"
    );
    // Redis's PX: waiting out the 300 ms is the test.
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        replay.insert_if_absent(short, NOW).await,
        Ok(Insertion::Inserted),
        "expired in Redis"
    );
    let other = record(
        ReplayNamespace::AuthToken,
        replay_key("expiry", 1),
        NOW + TTL,
    );
    assert_eq!(
        replay.insert_if_absent(other, NOW).await,
        Ok(Insertion::Inserted)
    );
}

/// A record outlives the store that wrote it: another connection (another
/// instance, or this one after a restart) refuses the statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_outlive_the_store_that_wrote_them() {
    let fixture = RedisFixture::new();
    let first = fixture.open().await;
    let key = replay_key("durable", 0);
    assert_eq!(
        first
            .replay()
            .insert_if_absent(record(NS, key, NOW + TTL), NOW)
            .await,
        Ok(Insertion::Inserted)
    );
    first.close().await.unwrap();
    let second = fixture.open().await;
    assert_eq!(
        second
            .replay()
            .insert_if_absent(record(NS, key, NOW + TTL), NOW + 1)
            .await,
        Ok(Insertion::AlreadyUsed)
    );
    // Another prefix is another key space.
    let other = RedisFixture::new();
    let elsewhere = other.open().await;
    assert_eq!(
        elsewhere
            .replay()
            .insert_if_absent(record(NS, key, NOW + TTL), NOW)
            .await,
        Ok(Insertion::Inserted)
    );
}

/// A Redis that goes away: every replay call and the health check fail
/// closed within the call timeout, never a hang; once it is back the store
/// answers again by itself, and the refused insert stored nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_fails_closed_in_time_and_the_store_recovers() {
    let fixture = RedisFixture::new();
    let (store, guard) = fixture.open_unanswerable().await;
    let key = replay_key("outage", 0);
    let started = Instant::now();
    assert_unavailable("health", store.health().await);
    assert_unavailable(
        "insert_if_absent",
        store
            .replay()
            .insert_if_absent(record(NS, key, NOW + TTL), NOW)
            .await,
    );
    let rate = BucketRate {
        interval_us: 1_000_000,
        tolerance_us: 19_000_000,
    };
    let buckets = store.rate_limits().expect("redis keeps the buckets");
    assert_unavailable(
        "take_token",
        buckets.take_token("per-key", b"k", rate).await,
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "answered in {:?}",
        started.elapsed()
    );
    drop(guard);
    assert_eq!(store.health().await, Ok(()));
    assert_eq!(
        store
            .replay()
            .insert_if_absent(record(NS, key, NOW + TTL), NOW)
            .await,
        Ok(Insertion::Inserted),
        "the refused insert stored nothing"
    );
}

#[tokio::test]
async fn an_unreachable_redis_fails_to_open_in_time_and_rediss_is_refused() {
    let port = sigil_testkit::free_port();
    let started = Instant::now();
    let error = RedisReplayStore::open(
        &format!("redis://127.0.0.1:{port}/0"),
        RedisOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(10));

    let error = Store::open_with(
        "sqlite::memory:",
        Some(("rediss://:hunter2@cache:6380/0", RedisOptions::default())),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("rediss://") && error.contains("TLS"),
        "{error}"
    );
    assert!(!error.contains("hunter2"), "{error}");
}

/// The start-up finding: this test Redis runs without an append-only file
/// (`appendonly no`, as CI's does), so a restart would lose records; the
/// SQL backends are durable.
#[tokio::test]
async fn durability_reads_the_redis_persistence_settings() {
    let fixture = RedisFixture::new();
    let store = fixture.open().await;
    let config: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .query(&mut fixture.space.connection())
        .unwrap();
    let finding = store.replay().durability().await.unwrap();
    match config.get(1).map(String::as_str) {
        Some("yes") => assert_eq!(finding, Durability::Durable),
        _ => assert!(
            matches!(finding, Durability::LostOnRestart { ref reason } if reason.contains("append-only")),
            "{finding:?}"
        ),
    }
    let sqlite = Store::open("sqlite::memory:").await.unwrap();
    assert_eq!(sqlite.replay().durability().await, Ok(Durability::Durable));
}

/// The GCRA buckets (docs/protocol.md §10) shared by two stores (two
/// instances): a burst of 20 at 60 a minute is spent across both, then
/// both refuse, and the next token comes a second later. A bucket is one
/// key that expires when it is full again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_share_one_bucket() {
    let fixture = RedisFixture::new();
    let a = fixture.open().await;
    let b = fixture.open().await;
    let rate = BucketRate {
        interval_us: 1_000_000,
        tolerance_us: 19_000_000,
    };
    let (a, b) = (a.rate_limits().unwrap(), b.rate_limits().unwrap());
    let mut allowed = 0;
    for i in 0..20 {
        let bucket = if i % 2 == 0 { a } else { b };
        let state = bucket.take_token("per-key", b"key-1", rate).await.unwrap();
        assert!(state.allowed, "request {i}");
        allowed += 1;
        // ahead = (i + 1) intervals, less the few ms the test took.
        let expected = (i + 1) * 1_000_000;
        assert!(
            (expected - 200_000..=expected).contains(&state.ahead_us),
            "request {i}: {state:?}"
        );
    }
    assert_eq!(allowed, 20);
    for bucket in [a, b] {
        let refused = bucket.take_token("per-key", b"key-1", rate).await.unwrap();
        assert!(!refused.allowed, "{refused:?}");
    }
    // Another key, another family: their own buckets.
    assert!(
        a.take_token("per-key", b"key-2", rate)
            .await
            .unwrap()
            .allowed
    );
    assert!(
        a.take_token("per-address", b"key-1", rate)
            .await
            .unwrap()
            .allowed
    );
    let keys = fixture.space.keys();
    assert!(
        keys.contains(&format!(
            "{}rate:per-key:{}",
            fixture.space.prefix(),
            "6b65792d31"
        )),
        "{keys:?}"
    );
}

/// A Redis that stops answering (packets dropped, nothing reset): every
/// replay insert, bucket check and health check of many concurrent callers
/// fails closed within the call timeout, never a hang; once it answers
/// again the store does too, without being reopened.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_redis_fails_every_call_within_the_call_timeout() {
    const CALL: Duration = Duration::from_millis(800);
    let fixture = RedisFixture::new();
    let proxy = TcpProxy::start(fixture.space.server_addr());
    let mut options = fixture.options();
    options.connect_timeout = Duration::from_millis(300);
    options.call_timeout = CALL;
    let store = RedisFixture::store_over(
        fixture
            .redis_with(&fixture.space.url_via(proxy.addr()), options)
            .await,
    )
    .await;
    assert_eq!(store.health().await, Ok(()));

    proxy.stall();
    let rate = BucketRate {
        interval_us: 1_000_000,
        tolerance_us: 19_000_000,
    };
    let results = together(12, |i| {
        let store = store.clone();
        async move {
            let started = Instant::now();
            let failed = match i % 3 {
                0 => store
                    .replay()
                    .insert_if_absent(record(NS, replay_key("stall", i as u64), NOW + TTL), NOW)
                    .await
                    .err(),
                1 => store
                    .rate_limits()
                    .unwrap()
                    .take_token("per-key", b"stalled", rate)
                    .await
                    .err(),
                _ => store.health().await.err(),
            };
            (failed, started.elapsed())
        }
    })
    .await;
    for (i, (failed, took)) in results.iter().enumerate() {
        let error = failed
            .as_ref()
            .unwrap_or_else(|| panic!("call {i} answered"));
        assert!(error.is_unavailable(), "call {i}: {error:?}");
        assert!(
            took < &(CALL + Duration::from_millis(500)),
            "call {i} took {took:?}"
        );
    }

    proxy.restore();
    let mut answered = false;
    for _ in 0..10 {
        if store.health().await.is_ok() {
            answered = true;
            break;
        }
    }
    assert!(answered, "the store answers again once Redis does");
    // (A stalled insert held back by the network may still arrive: that
    // burns its statement, never lets it be used twice.)
    assert_eq!(
        store
            .replay()
            .insert_if_absent(record(NS, replay_key("after-stall", 0), NOW + TTL), NOW)
            .await,
        Ok(Insertion::Inserted)
    );
}

/// A password Redis refuses (this test Redis has none, so any `AUTH` is
/// refused) fails the open, as unavailable, without echoing the password;
/// so does a database index Redis does not have.
#[tokio::test]
async fn a_refused_password_or_database_fails_to_open_without_echoing_it() {
    let space = RedisPrefix::new("store-auth");
    let addr = space.server_addr();
    for url in [
        format!("redis://:hunter2@{addr}/0"),
        format!("redis://{addr}/12345"),
    ] {
        let error = RedisReplayStore::open(&url, RedisOptions::default())
            .await
            .unwrap_err();
        assert!(error.is_unavailable(), "{url}: {error:?}");
        assert!(
            !error.to_string().contains("hunter2"),
            "{url} leaks: {error}"
        );
    }
}
