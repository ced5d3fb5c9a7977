//! Replay records in SQLite.

use rusqlite::{Connection, params};
use sigil_core::ReplayKey;

use super::column::ms_to_db;
use super::error::sql;
use crate::error::Result;
use crate::replay::{Insertion, ReplayNamespace};

/// The insert is the check: a new row, or an expired row taken over, counts
/// one change; a live row makes the upsert's `WHERE` false and counts none.
const INSERT: &str = "INSERT INTO replay_records (namespace, key, expires_at_ms)
    VALUES (?1, ?2, ?3)
    ON CONFLICT (namespace, key) DO UPDATE SET expires_at_ms = excluded.expires_at_ms
    WHERE replay_records.expires_at_ms <= ?4";

const PURGE: &str = "DELETE FROM replay_records WHERE expires_at_ms <= ?1";

pub(super) fn insert_if_absent(
    conn: &Connection,
    namespace: ReplayNamespace,
    key: &ReplayKey,
    expires_at_ms: u64,
    now_ms: u64,
) -> Result<Insertion> {
    let expires_at_ms = ms_to_db(expires_at_ms, "expires_at_ms")?;
    let now_ms = ms_to_db(now_ms, "now_ms")?;
    let changed = conn
        .prepare_cached(INSERT)
        .and_then(|mut statement| {
            statement.execute(params![
                namespace.code(),
                &key.as_bytes()[..],
                expires_at_ms,
                now_ms
            ])
        })
        .map_err(sql)?;
    Ok(if changed == 1 {
        Insertion::Inserted
    } else {
        Insertion::AlreadyUsed
    })
}

pub(super) fn purge_expired(conn: &Connection, now_ms: u64) -> Result<u64> {
    let now_ms = ms_to_db(now_ms, "now_ms")?;
    let deleted = conn
        .prepare_cached(PURGE)
        .and_then(|mut statement| statement.execute([now_ms]))
        .map_err(sql)?;
    Ok(deleted as u64)
}
