//! Who may read the SQLite files: the database, its `-wal` and `-shm` are
//! owner-only (0600).

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use sigil_store::NewSigningKey;

use super::{Fixture as _, NOW, SqliteFixture};

/// The permission bits, in octal ("600"). Tests may run as root, who
/// reads any file: the bits are checked, not a refused read.
fn mode(path: &Path) -> String {
    let mode = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode();
    format!("{:o}", mode & 0o777)
}

fn companion(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// Bytes no SQLite page would hold by chance.
fn secret(kid: &str) -> Vec<u8> {
    format!("private key material of {kid}: 7c1f0e9d5a3b").into_bytes()
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
