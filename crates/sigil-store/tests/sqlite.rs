//! The conformance suite on SQLite (a file in a fresh temporary directory
//! per test), then what is particular to SQLite: opening, migrations,
//! commit-before-answer.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod conformance;
#[cfg(unix)]
#[path = "sqlite/files.rs"]
mod files;

use std::any::Any;
use std::path::{Path, PathBuf};
use std::time::Duration;

use conformance::{
    Fixture, NOW, SIGNED_AT, TTL, conformance_tests, oauth_conformance_tests, record, replay_key,
};
use rusqlite::Connection;
use sigil_store::{
    Error, Insertion, ReplayNamespace, ReplayRecord, SqliteOptions, SqliteStore, Store,
};

/// A directory of its own under the system temp dir, removed on drop.
struct SqliteFixture {
    dir: PathBuf,
}

impl SqliteFixture {
    fn new() -> Self {
        let dir = sigil_testkit::fresh_dir("store-test");
        Self { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.join("sigil.db")
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.path().display())
    }

    async fn open_with(&self, options: SqliteOptions) -> Result<Store, Error> {
        SqliteStore::open(&self.url(), options).await.map(|store| {
            let oauth = std::sync::Arc::new(store.clone());
            Store::from_backend(store).with_oauth(oauth)
        })
    }
}

impl Drop for SqliteFixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Fixture for SqliteFixture {
    async fn open(&self) -> Store {
        self.open_with(SqliteOptions::default())
            .await
            .expect("open the sqlite store")
    }

    /// Another connection holds the write lock; the store gives up after
    /// 50 ms instead of 5 s.
    async fn open_unanswerable(&self) -> (Store, Box<dyn Any + Send>) {
        let mut options = SqliteOptions::default();
        options.busy_timeout = Duration::from_millis(50);
        let store = self
            .open_with(options)
            .await
            .expect("open the sqlite store");
        let locker = Connection::open(self.path()).expect("open a second connection");
        locker
            .execute_batch("BEGIN EXCLUSIVE")
            .expect("take the write lock");
        (store, Box::new(locker))
    }
}

conformance_tests!(SqliteFixture::new());
oauth_conformance_tests!(SqliteFixture::new());

fn raw(path: &Path) -> Connection {
    Connection::open(path).expect("open a raw connection")
}

#[tokio::test]
async fn inserted_means_committed() {
    let fixture = SqliteFixture::new();
    let store = fixture.open().await;
    let key = replay_key("committed", 0);
    let ns = ReplayNamespace::TokenRequest;
    let answer = store
        .replay()
        .insert_if_absent(record(ns, key, NOW + TTL), NOW)
        .await;
    assert_eq!(answer, Ok(Insertion::Inserted));

    // Another connection, while the store is still open, sees the row: it
    // was committed before the answer was sent.
    let (namespace, expires): (i64, i64) = raw(&fixture.path())
        .query_row(
            "SELECT namespace, expires_at_ms FROM replay_records WHERE key = ?1",
            [&key.as_bytes()[..]],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .expect("the committed row");
    assert_eq!(namespace, i64::from(ns.code()));
    assert_eq!(expires, (NOW + TTL) as i64);
}

#[tokio::test]
async fn database_is_wal_and_migrated_once() {
    let fixture = SqliteFixture::new();
    for _ in 0..2 {
        fixture.open().await.close().await.unwrap();
    }
    let conn = raw(&fixture.path());
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM schema_version ORDER BY version")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, [1, 2, 3, 4, 5], "each migration recorded once");
    let without_rowid: String = conn
        .query_row(
            "SELECT sql FROM sqlite_schema WHERE name = 'replay_records'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert!(without_rowid.contains("WITHOUT ROWID"), "{without_rowid}");
    // The statement's time leads the key, after the namespace: inserts of
    // statements signed moments ago append (migration 0002).
    let key_columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('replay_records') WHERE pk > 0 ORDER BY pk")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(key_columns, ["namespace", "signed_at_ms", "key"]);
}

/// A database of schema version 1 (replay records without the statement's
/// time) is migrated at open, and the statements it recorded stay used
/// until they expire, whatever time a replay of them is recorded with.
#[tokio::test]
async fn replay_records_of_schema_version_1_count_after_the_upgrade() {
    let fixture = SqliteFixture::new();
    let token = ReplayNamespace::TokenRequest;
    let payload = ReplayNamespace::SignedPayload;
    let (live, expired, long_lived) = (
        replay_key("v1", 0),
        replay_key("v1", 1),
        replay_key("v1", 2),
    );
    {
        let conn = raw(&fixture.path());
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE schema_version (
                 version INTEGER NOT NULL PRIMARY KEY,
                 applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
             ) STRICT;",
        )
        .unwrap();
        conn.execute_batch(include_str!("../migrations/sqlite/0001_initial.sql"))
            .unwrap();
        conn.execute("INSERT INTO schema_version (version) VALUES (1)", [])
            .unwrap();
        for (ns, key, expires) in [
            (token, live, NOW + TTL),
            (token, expired, NOW - 1),
            (payload, long_lived, NOW + 2 * TTL),
        ] {
            conn.execute(
                "INSERT INTO replay_records (namespace, key, expires_at_ms) VALUES (?1, ?2, ?3)",
                rusqlite::params![ns.code(), &key.as_bytes()[..], expires as i64],
            )
            .unwrap();
        }
    }
    let at = |namespace, key, signed_at_ms, now: u64| ReplayRecord {
        namespace,
        key,
        signed_at_ms,
        expires_at_ms: now + TTL,
    };
    for reopen in [false, true] {
        let store = fixture.open().await;
        let replay = store.replay();
        for signed_at in [SIGNED_AT, NOW - 200_000] {
            let answer = replay
                .insert_if_absent(at(token, live, signed_at, NOW), NOW)
                .await;
            assert_eq!(
                answer,
                Ok(Insertion::AlreadyUsed),
                "signed at {signed_at}, reopened {reopen}"
            );
        }
        let answer = replay
            .insert_if_absent(at(payload, long_lived, SIGNED_AT, NOW), NOW)
            .await;
        assert_eq!(answer, Ok(Insertion::AlreadyUsed), "reopened {reopen}");
        store.close().await.unwrap();
    }
    let store = fixture.open().await;
    let replay = store.replay();
    let cases = [
        (
            "an expired version-1 record counts as absent",
            at(token, expired, SIGNED_AT, NOW),
            NOW,
            Insertion::Inserted,
        ),
        (
            "namespaces stay apart",
            at(token, long_lived, SIGNED_AT, NOW),
            NOW,
            Insertion::Inserted,
        ),
        (
            "a version-1 record expires",
            at(token, live, SIGNED_AT, NOW + TTL),
            NOW + TTL,
            Insertion::Inserted,
        ),
        (
            "the long-lived one is still live",
            at(payload, long_lived, SIGNED_AT, NOW + TTL),
            NOW + TTL,
            Insertion::AlreadyUsed,
        ),
    ];
    for (name, record, now, expected) in cases {
        assert_eq!(
            replay.insert_if_absent(record, now).await,
            Ok(expected),
            "{name}"
        );
    }
    // The purge removes version-1 rows like any other once they expire.
    let untimed = || -> i64 {
        raw(&fixture.path())
            .query_row(
                "SELECT count(*) FROM replay_records WHERE signed_at_ms = -1",
                [],
                |row| row.get(0),
            )
            .unwrap()
    };
    assert_eq!(replay.purge_expired(NOW + TTL).await, Ok(4));
    assert_eq!(untimed(), 1);
    assert_eq!(replay.purge_expired(NOW + 2 * TTL).await, Ok(2));
    assert_eq!(untimed(), 0);
    let answer = replay
        .insert_if_absent(
            at(payload, long_lived, SIGNED_AT, NOW + 2 * TTL),
            NOW + 2 * TTL,
        )
        .await;
    assert_eq!(
        answer,
        Ok(Insertion::Inserted),
        "used up only until it expired"
    );
}

#[tokio::test]
async fn schema_newer_than_this_build_is_refused() {
    let fixture = SqliteFixture::new();
    fixture.open().await.close().await.unwrap();
    raw(&fixture.path())
        .execute("INSERT INTO schema_version (version) VALUES (99)", [])
        .unwrap();
    let answer = fixture.open_with(SqliteOptions::default()).await;
    assert!(
        matches!(
            answer,
            Err(Error::SchemaTooNew {
                found: 99,
                supported: 5
            })
        ),
        "{answer:?}"
    );
}

#[tokio::test]
async fn open_in_a_missing_directory_is_unavailable() {
    let fixture = SqliteFixture::new();
    let url = format!(
        "sqlite://{}",
        fixture.dir.join("missing/sigil.db").display()
    );
    let answer = Store::open(&url).await;
    match answer {
        Err(error @ Error::Unavailable { .. }) => {
            assert!(
                error.to_string().contains("missing"),
                "names the place: {error}"
            );
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(!fixture.dir.join("missing").exists(), "nothing was created");
}

#[tokio::test]
async fn open_on_a_directory_is_unavailable() {
    let fixture = SqliteFixture::new();
    let url = format!("sqlite://{}", fixture.dir.display());
    let answer = Store::open(&url).await;
    assert!(
        matches!(answer, Err(Error::Unavailable { .. })),
        "{answer:?}"
    );
}

#[tokio::test]
async fn open_on_a_file_that_is_not_a_database_is_corrupt() {
    let fixture = SqliteFixture::new();
    std::fs::write(fixture.path(), "not a database ".repeat(300)).unwrap();
    let answer = Store::open(&fixture.url()).await;
    assert!(matches!(answer, Err(Error::Corrupt { .. })), "{answer:?}");
    assert!(answer.unwrap_err().is_unavailable(), "fails closed");
}

#[tokio::test]
async fn store_open_refuses_other_schemes_without_echoing_the_url() {
    for url in ["mysql://sigil:hunter2@db/sigil", "redis://:hunter2@cache"] {
        let error = Store::open(url).await.unwrap_err();
        assert!(
            matches!(error, Error::UnsupportedScheme { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains("sqlite://"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}

#[tokio::test]
async fn in_memory_store_works_and_is_private() {
    let first = Store::open("sqlite::memory:").await.unwrap();
    let second = Store::open("sqlite::memory:").await.unwrap();
    let key = replay_key("memory", 0);
    let ns = ReplayNamespace::TokenRequest;
    for (store, expected) in [
        (&first, Insertion::Inserted),
        (&first, Insertion::AlreadyUsed),
        (&second, Insertion::Inserted),
    ] {
        let answer = store
            .replay()
            .insert_if_absent(record(ns, key, NOW + TTL), NOW)
            .await;
        assert_eq!(answer, Ok(expected));
    }
    assert_eq!(first.health().await, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_accept_a_statement_once() {
    // Two stores are two connections and two writer threads, as two
    // processes sharing the file would be.
    const TASKS: usize = 64;
    let fixture = SqliteFixture::new();
    let stores = [fixture.open().await, fixture.open().await];
    let key = replay_key("two-stores", 0);
    let results = conformance::together(TASKS, |i| {
        let replay = stores[i % 2].replay().clone();
        async move {
            replay
                .insert_if_absent(record(ReplayNamespace::TokenRequest, key, NOW + TTL), NOW)
                .await
        }
    })
    .await;
    assert_eq!(conformance::tally(&results), (1, TASKS - 1));
}
