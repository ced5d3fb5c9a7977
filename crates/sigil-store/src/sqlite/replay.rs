//! Replay records in SQLite, keyed `(namespace, signed_at_ms, key)`
//! (migration 0002): inserts append near the end of the table.

use rusqlite::{Connection, OptionalExtension, params};

use super::error::sql;
use crate::column::ms_to_db;
use crate::error::Result;
use crate::replay::{Insertion, ReplayNamespace, ReplayRecord};

/// The insert is the check: a new row, or an expired row taken over, counts
/// one change; a live row makes the upsert's `WHERE` false and counts none.
const INSERT: &str = "INSERT INTO replay_records (namespace, signed_at_ms, key, expires_at_ms)
    VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (namespace, signed_at_ms, key) DO UPDATE SET expires_at_ms = excluded.expires_at_ms
    WHERE replay_records.expires_at_ms <= ?5";

/// A live row migrated from schema version 1 (`signed_at_ms = -1`: that
/// version did not store the statement's time) for the key: one
/// primary-key lookup.
const LIVE_UNTIMED: &str = "SELECT 1 FROM replay_records
    WHERE namespace = ?1 AND signed_at_ms = -1 AND key = ?2 AND expires_at_ms > ?3";

/// Whether a version-1 row is left in a namespace: one primary-key range
/// lookup.
const ANY_UNTIMED: &str = "SELECT EXISTS (SELECT 1 FROM replay_records
    WHERE namespace = ?1 AND signed_at_ms = -1)";

const PURGE: &str = "DELETE FROM replay_records WHERE expires_at_ms <= ?1";

/// Records `record` unless a live row of its key exists. `untimed_rows`:
/// rows migrated from version 1 may remain, so the key is also looked up
/// under `signed_at_ms = -1`.
pub(super) fn insert_if_absent(
    conn: &Connection,
    record: &ReplayRecord,
    now_ms: u64,
    untimed_rows: bool,
) -> Result<Insertion> {
    let signed_at_ms = ms_to_db(record.signed_at_ms, "signed_at_ms")?;
    let expires_at_ms = ms_to_db(record.expires_at_ms, "expires_at_ms")?;
    let now_ms = ms_to_db(now_ms, "now_ms")?;
    let namespace = record.namespace.code();
    let key = &record.key.as_bytes()[..];
    if untimed_rows {
        let live = conn
            .prepare_cached(LIVE_UNTIMED)
            .and_then(|mut statement| {
                statement
                    .query_row(params![namespace, key, now_ms], |_| Ok(()))
                    .optional()
            })
            .map_err(sql)?;
        if live.is_some() {
            return Ok(Insertion::AlreadyUsed);
        }
    }
    let changed = conn
        .prepare_cached(INSERT)
        .and_then(|mut statement| {
            statement.execute(params![namespace, signed_at_ms, key, expires_at_ms, now_ms])
        })
        .map_err(sql)?;
    Ok(if changed == 1 {
        Insertion::Inserted
    } else {
        Insertion::AlreadyUsed
    })
}

/// Whether rows migrated from schema version 1 remain.
pub(super) fn has_untimed_rows(conn: &Connection) -> Result<bool> {
    let mut statement = conn.prepare_cached(ANY_UNTIMED).map_err(sql)?;
    for namespace in ReplayNamespace::ALL {
        let found: bool = statement
            .query_row([namespace.code()], |row| row.get(0))
            .map_err(sql)?;
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}

pub(super) fn purge_expired(conn: &Connection, now_ms: u64) -> Result<u64> {
    let now_ms = ms_to_db(now_ms, "now_ms")?;
    let deleted = conn
        .prepare_cached(PURGE)
        .and_then(|mut statement| statement.execute([now_ms]))
        .map_err(sql)?;
    Ok(deleted as u64)
}
