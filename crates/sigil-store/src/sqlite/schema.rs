//! Opening the connection: pragmas, then the migrations in order.

use rusqlite::{Connection, OpenFlags};
use tracing::info;

use super::SqliteOptions;
use super::error::sql;
use crate::error::{Error, Result};
use crate::url::SqliteLocation;

/// One migration: `migrations/sqlite/NNNN_name.sql`, applied once.
struct Migration {
    version: u32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in order; versions are 1, 2, 3… without gaps.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../migrations/sqlite/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "replay_by_signed_time",
        sql: include_str!("../../migrations/sqlite/0002_replay_by_signed_time.sql"),
    },
    Migration {
        version: 3,
        name: "erase_retired_keys",
        sql: include_str!("../../migrations/sqlite/0003_erase_retired_keys.sql"),
    },
    Migration {
        version: 4,
        name: "oauth",
        sql: include_str!("../../migrations/sqlite/0004_oauth.sql"),
    },
    Migration {
        version: 5,
        name: "key_certificates",
        sql: include_str!("../../migrations/sqlite/0005_key_certificates.sql"),
    },
];

/// The schema version this build brings a database to.
const SCHEMA_VERSION: u32 = 5;

const SCHEMA_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER NOT NULL PRIMARY KEY,
    applied_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT";

/// Opens the database in WAL mode with `synchronous = NORMAL` and the busy
/// timeout, and migrates it. A file database is created with mode 0600
/// (its `-wal` and `-shm` files follow), or tightened to it
/// (file_mode.rs).
pub(super) fn open(location: &SqliteLocation, options: &SqliteOptions) -> Result<Connection> {
    if let SqliteLocation::File(path) = location {
        super::file_mode::secure(path).map_err(|e| with_place(e, location))?;
    }
    // No SQLITE_OPEN_URI: the path is taken literally.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match location {
        SqliteLocation::Memory => Connection::open_in_memory_with_flags(flags),
        SqliteLocation::File(path) => Connection::open_with_flags(path, flags),
    }
    .map_err(|e| with_place(sql(e), location))?;
    configure(&conn, location, options).map_err(|e| with_place(e, location))?;
    migrate(&conn).map_err(|e| with_place(e, location))?;
    Ok(conn)
}

fn configure(conn: &Connection, location: &SqliteLocation, options: &SqliteOptions) -> Result<()> {
    conn.busy_timeout(options.busy_timeout).map_err(sql)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sql)?;
    if matches!(location, SqliteLocation::File(_)) && !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::unavailable(format!(
            "cannot switch to WAL (journal_mode is {mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sql)?;
    // Zero the bytes a write frees inside a page (an erased signing key's,
    // migration 0003) at no extra I/O; migrate() zeroes freed pages too.
    conn.pragma_update(None, "secure_delete", "FAST")
        .map_err(sql)?;
    if matches!(location, SqliteLocation::File(_)) {
        // The background checkpointer does the regular checkpoints; this
        // one only bounds the WAL (checkpoint.rs).
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            super::checkpoint::WRITER_AUTOCHECKPOINT_PAGES,
        )
        .map_err(sql)?;
    }
    Ok(())
}

/// Applies the migrations the database lacks, in one transaction. Pages a
/// migration frees (a rebuilt table's, which held private keys) are
/// overwritten with zeros (`secure_delete = ON`, for the migration only).
fn migrate(conn: &Connection) -> Result<()> {
    conn.pragma_update(None, "secure_delete", "ON")
        .map_err(sql)?;
    conn.execute_batch("BEGIN IMMEDIATE").map_err(sql)?;
    let migrated = match apply_missing(conn) {
        Ok(()) => conn.execute_batch("COMMIT").map_err(sql),
        Err(error) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(error)
        }
    };
    conn.pragma_update(None, "secure_delete", "FAST")
        .map_err(sql)?;
    migrated
}

fn apply_missing(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA_VERSION_TABLE).map_err(sql)?;
    let found: i64 = conn
        .query_row(
            "SELECT coalesce(max(version), 0) FROM schema_version",
            [],
            |row| row.get(0),
        )
        .map_err(sql)?;
    let found = u32::try_from(found)
        .map_err(|_| Error::corrupt(format!("schema_version holds {found}")))?;
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        conn.execute_batch(migration.sql).map_err(sql)?;
        conn.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [migration.version],
        )
        .map_err(sql)?;
        info!(
            version = migration.version,
            name = migration.name,
            "applied sqlite migration"
        );
    }
    Ok(())
}

/// Adds where the database is to an open-time error.
fn with_place(error: Error, location: &SqliteLocation) -> Error {
    let place = match location {
        SqliteLocation::Memory => "sqlite::memory:".to_owned(),
        SqliteLocation::File(path) => path.display().to_string(),
    };
    match error {
        Error::Unavailable { reason } => Error::unavailable(format!("{place}: {reason}")),
        Error::Corrupt { reason } => Error::corrupt(format!("{place}: {reason}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_without_gaps() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, index + 1, "{}", migration.name);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
    }

    #[test]
    fn connection_settings() {
        let dir = std::env::temp_dir().join(format!("sigil-store-schema-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let location = SqliteLocation::File(dir.join("settings.db"));
        let conn = open(&location, &SqliteOptions::default()).expect("open");
        let pragma = |name: &str| -> String {
            conn.query_row(&format!("PRAGMA {name}"), [], |row| {
                row.get::<_, rusqlite::types::Value>(0)
            })
            .map(|value| format!("{value:?}"))
            .expect("pragma")
        };
        let cases = [
            ("journal_mode", "Text(\"wal\")"),
            ("synchronous", "Integer(1)"), // NORMAL
            ("busy_timeout", "Integer(5000)"),
            ("wal_autocheckpoint", "Integer(16000)"), // the WAL's bound (checkpoint.rs)
            ("secure_delete", "Integer(2)"),          // FAST: freed bytes in a page zeroed
        ];
        for (name, expected) in cases {
            assert_eq!(pragma(name), expected, "{name}");
        }
        drop(conn);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
