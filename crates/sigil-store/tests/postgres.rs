//! The conformance suite on PostgreSQL (`SIGIL_TEST_POSTGRES_URL`, default
//! `postgres://root@127.0.0.1:5432/test`), each test in a schema of its own
//! that is dropped afterwards; then what is particular to PostgreSQL:
//! migrations once under concurrent opens, several stores on one database,
//! commit before answer, purge from many instances.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod conformance;

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use conformance::{
    Fixture, NOW, TTL, conformance_tests, oauth_conformance_tests, record, replay_key, together,
};
use sigil_store::{Insertion, PostgresOptions, PostgresStore, ReplayNamespace, Store};
use sigil_testkit::{PostgresSchema, TcpProxy};
use tokio_postgres::NoTls;

/// A schema of its own (`sigil_testkit::PostgresSchema`, dropped on drop).
struct PostgresFixture {
    schema: PostgresSchema,
    /// Proxies the fixture's stores reach the database through; they live
    /// as long as the fixture.
    proxies: std::sync::Mutex<Vec<Arc<TcpProxy>>>,
}

impl PostgresFixture {
    fn new() -> Self {
        Self {
            schema: PostgresSchema::create("store"),
            proxies: std::sync::Mutex::default(),
        }
    }

    fn url(&self) -> String {
        self.schema.url()
    }

    async fn open_with(&self, url: &str, options: PostgresOptions) -> Store {
        let store = PostgresStore::open(url, options)
            .await
            .expect("open the postgres store");
        let oauth = Arc::new(store.clone());
        Store::from_backend(store).with_oauth(oauth)
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is unreachable (SIGIL_TEST_POSTGRES_URL): {e}"));
    tokio::spawn(connection);
    client
}

impl Fixture for PostgresFixture {
    async fn open(&self) -> Store {
        self.open_with(&self.url(), PostgresOptions::default())
            .await
    }

    /// The store reaches the database through a proxy that is cut while
    /// the guard lives.
    async fn open_unanswerable(&self) -> (Store, Box<dyn Any + Send>) {
        let proxy = Arc::new(TcpProxy::start(self.schema.server_addr()));
        self.proxies.lock().unwrap().push(proxy.clone());
        let mut options = PostgresOptions::default();
        options.connect_timeout = std::time::Duration::from_millis(500);
        options.call_timeout = std::time::Duration::from_secs(2);
        let store = self
            .open_with(&self.schema.url_via(proxy.addr()), options)
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

conformance_tests!(PostgresFixture::new());
oauth_conformance_tests!(PostgresFixture::new());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_opens_of_an_empty_schema_migrate_once() {
    let fixture = PostgresFixture::new();
    let url = fixture.url();
    let stores = together(3, |_| {
        let url = url.clone();
        async move { PostgresStore::open(&url, PostgresOptions::default()).await }
    })
    .await;
    let stores: Vec<Store> = stores
        .into_iter()
        .map(|s| Store::from_backend(s.expect("open")))
        .collect();
    // Each races to make the first key, as three starting servers do.
    let inserted = together(3, |i| {
        let keys = stores[i].keys().clone();
        async move {
            keys.insert_key(conformance::new_key(&format!("k{i}"), NOW))
                .await
        }
    })
    .await;
    assert_eq!(
        inserted.iter().filter(|r| r.is_ok()).count(),
        1,
        "{inserted:?}"
    );
    let client = connect(&url).await;
    let versions: Vec<i32> = client
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, [1, 2, 3], "each migration recorded once");
    let current: i64 = client
        .query_one(
            "SELECT count(*) FROM signing_keys WHERE state = 'current'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(current, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inserted_means_committed_and_stores_share_one_history() {
    const TASKS: usize = 64;
    let fixture = PostgresFixture::new();
    // Three stores are three pools, as three instances would have.
    let stores = [
        fixture.open().await,
        fixture.open().await,
        fixture.open().await,
    ];
    let key = replay_key("shared", 0);
    let ns = ReplayNamespace::TokenRequest;
    let results = together(TASKS, |i| {
        let replay = stores[i % 3].replay().clone();
        async move {
            replay
                .insert_if_absent(record(ns, key, NOW + TTL), NOW)
                .await
        }
    })
    .await;
    assert_eq!(conformance::tally(&results), (1, TASKS - 1));

    // Another connection sees the row: committed before the answer.
    let client = connect(&fixture.url()).await;
    let expires: i64 = client
        .query_one(
            "SELECT expires_at_ms FROM replay_records WHERE key = $1",
            &[&&key.as_bytes()[..]],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(expires, (NOW + TTL) as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_distinct_keys_is_inserted_in_batches_and_answered_each() {
    const KEYS: u64 = 1000;
    let fixture = PostgresFixture::new();
    let store = fixture.open().await;
    let ns = ReplayNamespace::SignedRequest;
    let results = together(KEYS as usize, |i| {
        let replay = store.replay().clone();
        async move {
            replay
                .insert_if_absent(record(ns, replay_key("burst", i as u64), NOW + TTL), NOW)
                .await
        }
    })
    .await;
    assert_eq!(conformance::tally(&results), (KEYS as usize, 0));
    let again = store
        .replay()
        .insert_if_absent(record(ns, replay_key("burst", 7), NOW + TTL), NOW)
        .await;
    assert_eq!(again, Ok(Insertion::AlreadyUsed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purge_from_several_instances_removes_each_expired_record_once() {
    const KEYS: u64 = 300;
    let fixture = PostgresFixture::new();
    let mut options = PostgresOptions::default();
    options.purge_batch = 7; // many bounded batches
    let stores = [
        fixture.open_with(&fixture.url(), options.clone()).await,
        fixture.open_with(&fixture.url(), options.clone()).await,
        fixture.open_with(&fixture.url(), options).await,
    ];
    let ns = ReplayNamespace::TokenRequest;
    for n in 0..KEYS {
        // Every third record stays live.
        let expires = if n % 3 == 0 {
            NOW + 10 * TTL
        } else {
            NOW + 100
        };
        let answer = stores[0]
            .replay()
            .insert_if_absent(record(ns, replay_key("purge-many", n), expires), NOW)
            .await;
        assert_eq!(answer, Ok(Insertion::Inserted));
    }
    let purged = together(3, |i| {
        let replay = stores[i].replay().clone();
        async move { replay.purge_expired(NOW + TTL).await.unwrap() }
    })
    .await;
    assert_eq!(purged.iter().sum::<u64>(), KEYS - KEYS / 3, "{purged:?}");
    for n in (0..KEYS).step_by(3) {
        let answer = stores[1]
            .replay()
            .insert_if_absent(
                record(ns, replay_key("purge-many", n), NOW + 20 * TTL),
                NOW + TTL,
            )
            .await;
        assert_eq!(answer, Ok(Insertion::AlreadyUsed), "live record {n} kept");
    }
}

/// A database behind a network that drops packets (nothing answers,
/// nothing resets): every call fails closed within the call timeout,
/// however many queue for the pool or for the replay writer's commit slots
/// behind stalled statements; once the network is back the store answers
/// again with the same pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_database_fails_every_call_within_the_call_timeout() {
    const CALL: Duration = Duration::from_millis(1500);
    let fixture = PostgresFixture::new();
    let proxy = TcpProxy::start(fixture.schema.server_addr());
    let mut options = PostgresOptions::default();
    options.connect_timeout = Duration::from_millis(300);
    options.call_timeout = CALL;
    options.max_commits_in_flight = 2;
    let store = fixture
        .open_with(&fixture.schema.url_via(proxy.addr()), options)
        .await;
    // Several pooled connections, as on a busy instance.
    let warm = together(8, |_| {
        let store = store.clone();
        async move { store.health().await }
    })
    .await;
    assert!(warm.iter().all(Result::is_ok), "{warm:?}");

    proxy.stall();
    let results = together(16, |i| {
        let store = store.clone();
        async move {
            // Staggered, so that the replay inserts become batches of
            // their own and queue for the two commit slots.
            tokio::time::sleep(Duration::from_millis(15 * i as u64)).await;
            let started = Instant::now();
            let error = match i % 4 {
                0 | 1 => store
                    .replay()
                    .insert_if_absent(
                        record(
                            ReplayNamespace::TokenRequest,
                            replay_key("stall", i as u64),
                            NOW + TTL,
                        ),
                        NOW,
                    )
                    .await
                    .err(),
                2 => store.oauth().consume_code(format!("{i:064x}")).await.err(),
                _ => store.health().await.err(),
            };
            (i, error, started.elapsed())
        }
    })
    .await;
    for (i, error, elapsed) in &results {
        assert!(
            error
                .as_ref()
                .is_some_and(sigil_store::Error::is_unavailable),
            "call {i}: {error:?}"
        );
        assert!(
            *elapsed < CALL + Duration::from_millis(700),
            "call {i} took {elapsed:?}, past the {CALL:?} call timeout"
        );
    }

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.health().await.is_err() {
        assert!(Instant::now() < deadline, "no recovery within 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answer = store
        .replay()
        .insert_if_absent(
            record(
                ReplayNamespace::TokenRequest,
                replay_key("after-stall", 0),
                NOW + TTL,
            ),
            NOW,
        )
        .await;
    assert_eq!(answer, Ok(Insertion::Inserted));
}

#[tokio::test]
async fn an_unreachable_database_fails_to_open_in_time() {
    // Nothing listens on a port just freed: refused at once.
    let port = sigil_testkit::free_port();
    let url = format!("postgres://root@127.0.0.1:{port}/test");
    let started = std::time::Instant::now();
    let error = PostgresStore::open(&url, PostgresOptions::default())
        .await
        .unwrap_err();
    assert!(error.is_unavailable(), "{error:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
}
