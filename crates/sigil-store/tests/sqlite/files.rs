//! What the SQLite files hold and who may read them: the database, its
//! `-wal` and `-shm` are owner-only (0600), and a retired key's private key
//! leaves the file.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use sigil_store::NewSigningKey;

use super::{Fixture as _, NOW, SqliteFixture, raw};

/// The permission bits in octal (sigil_testkit::file_mode).
fn mode(path: &Path) -> String {
    sigil_testkit::file_mode(path)
}

fn companion(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// 96 pseudo-random bytes of `kid`'s own, which no SQLite page and no
/// other key would hold by chance.
fn secret(kid: &str) -> Vec<u8> {
    let mut state = kid.bytes().fold(0x9e37_79b9_7f4a_7c15_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (0..96)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect()
}

/// Whether the file holds any 12 consecutive bytes of `secret`: an erased
/// key must not survive even in part (a freed cell is partly overwritten
/// by the next one).
fn holds(path: &Path, secret: &[u8]) -> bool {
    let file = std::fs::read(path).unwrap_or_default();
    secret
        .windows(12)
        .any(|piece| file.windows(piece.len()).any(|w| w == piece))
}

/// SQLite creates a new database 0644 (less the umask) and gives the -wal
/// and -shm the main file's mode: the store creates the file 0600 first.
#[tokio::test]
async fn new_database_wal_and_shm_are_owner_only() {
    let fixture = SqliteFixture::new();
    let store = fixture.open().await;
    store
        .keys()
        .insert_key(NewSigningKey::new("k1", secret("k1"), NOW))
        .await
        .unwrap();
    let db = fixture.path();
    for file in [db.clone(), companion(&db, "-wal"), companion(&db, "-shm")] {
        assert_eq!(mode(&file), "600", "{}", file.display());
    }
    store.close().await.unwrap();
}

/// A database (and a left-over -wal) that others may read is tightened to
/// 0600 when it is opened.
#[tokio::test]
async fn readable_database_is_tightened_at_open() {
    let fixture = SqliteFixture::new();
    fixture.open().await.close().await.unwrap();
    let db = fixture.path();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let wal = companion(&db, "-wal");
    std::fs::write(&wal, b"").unwrap();
    std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o666)).unwrap();
    let store = fixture.open().await;
    assert_eq!(mode(&db), "600");
    assert_eq!(mode(&wal), "600");
    assert_eq!(mode(&companion(&db, "-shm")), "600");
    store.close().await.unwrap();
}

/// Retiring a key erases its bytes from the page they were in
/// (`secure_delete`), so once the WAL is checkpointed the database file no
/// longer holds them; the live keys' bytes are still there.
#[tokio::test]
async fn retired_key_bytes_leave_the_database_file() {
    const KEYS: u64 = 8;
    let fixture = SqliteFixture::new();
    let store = fixture.open().await;
    let keys = store.keys();
    keys.insert_key(NewSigningKey::new("k0", secret("k0"), NOW))
        .await
        .unwrap();
    for n in 1..KEYS {
        let kid = format!("k{n}");
        keys.rotate_key(
            NewSigningKey::new(&kid, secret(&kid), NOW + n),
            NOW + 10 * n,
        )
        .await
        .unwrap();
    }
    store.close().await.unwrap();
    let db = fixture.path();
    assert!(holds(&db, &secret("k0")), "the retiring key is stored");

    let store = fixture.open().await;
    assert_eq!(store.keys().retire_expired_keys(NOW + 10).await, Ok(1));
    store.close().await.unwrap(); // the last connection checkpoints and removes the WAL
    assert!(!companion(&db, "-wal").exists());
    assert!(!holds(&db, &secret("k0")), "the retired key's bytes remain");
    for n in 1..KEYS {
        assert!(holds(&db, &secret(&format!("k{n}"))), "k{n} is kept");
    }
}

/// A database of schema version 2 whose retired keys still hold their
/// private keys: migration 3 erases them, and the file no longer holds them.
#[tokio::test]
async fn keys_retired_before_version_3_are_erased_by_the_migration() {
    let fixture = SqliteFixture::new();
    let db = fixture.path();
    {
        let conn = raw(&db);
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE schema_version (
                 version INTEGER NOT NULL PRIMARY KEY,
                 applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
             ) STRICT;",
        )
        .unwrap();
        conn.execute_batch(include_str!("../../migrations/sqlite/0001_initial.sql"))
            .unwrap();
        conn.execute_batch(include_str!(
            "../../migrations/sqlite/0002_replay_by_signed_time.sql"
        ))
        .unwrap();
        conn.execute_batch("INSERT INTO schema_version (version) VALUES (1), (2)")
            .unwrap();
        for (kid, state, retires) in [
            ("old", "retired", Some(NOW as i64)),
            ("cur", "current", None),
        ] {
            conn.execute(
                "INSERT INTO signing_keys (kid, pkcs8, state, created_at_ms, retires_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![kid, secret(kid), state, NOW as i64, retires],
            )
            .unwrap();
        }
    }
    let store = fixture.open().await;
    let listed = store.keys().list_keys().await.unwrap();
    let found: Vec<(&str, Option<&[u8]>)> =
        listed.iter().map(|k| (k.kid.as_str(), k.pkcs8())).collect();
    let current = secret("cur");
    assert_eq!(found, [("cur", Some(&current[..])), ("old", None)]);
    store.close().await.unwrap();
    assert!(
        !holds(&db, &secret("old")),
        "the retired key's bytes remain"
    );
    assert!(holds(&db, &secret("cur")));
}
