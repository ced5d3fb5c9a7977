//! Signing keys in SQLite.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::error::sql;
use crate::column::ms_to_db;
use crate::error::{Error, Result};
use crate::signing_key::{KeyBytesUpdate, NewSigningKey, SigningKeyRecord};

const COLUMNS: &str = "kid, pkcs8, state, created_at_ms, retires_at_ms, certificate";

pub(super) fn insert_key(conn: &Connection, key: &NewSigningKey) -> Result<()> {
    let current: Option<String> = conn
        .query_row(
            "SELECT kid FROM signing_keys WHERE state = 'current'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(sql)?;
    if current.is_some() {
        return Err(Error::Conflict {
            what: "a current signing key".into(),
        });
    }
    refuse_taken_kid(conn, key.kid())?;
    insert_current(conn, key)
}

pub(super) fn list_keys(conn: &Connection) -> Result<Vec<SigningKeyRecord>> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM signing_keys ORDER BY created_at_ms, kid"
        ))
        .map_err(sql)?;
    let rows = statement.query_map([], raw_row).map_err(sql)?;
    rows.map(|row| row.map_err(sql).and_then(to_record))
        .collect()
}

/// Within one savepoint: the current key becomes retiring, `key` current.
pub(super) fn rotate_key(
    conn: &Connection,
    key: &NewSigningKey,
    retires_at_ms: u64,
) -> Result<Option<String>> {
    let retires_at_ms = ms_to_db(retires_at_ms, "retires_at_ms")?;
    refuse_taken_kid(conn, key.kid())?;
    conn.execute_batch("SAVEPOINT rotate_key").map_err(sql)?;
    let rotated = retire_current(conn, retires_at_ms).and_then(|previous| {
        insert_current(conn, key)?;
        Ok(previous)
    });
    let end = if rotated.is_ok() {
        "RELEASE rotate_key"
    } else {
        "ROLLBACK TO rotate_key; RELEASE rotate_key"
    };
    conn.execute_batch(end).map_err(sql)?;
    rotated
}

/// Retires and erases in one statement: the schema refuses a retired key
/// that keeps its private key (migration 0003), and `secure_delete`
/// (schema.rs) zeroes the old bytes in the page.
pub(super) fn retire_expired_keys(conn: &Connection, now_ms: u64) -> Result<u64> {
    let now_ms = ms_to_db(now_ms, "now_ms")?;
    let changed = conn
        .execute(
            "UPDATE signing_keys SET state = 'retired', pkcs8 = NULL
             WHERE state = 'retiring' AND retires_at_ms <= ?1",
            [now_ms],
        )
        .map_err(sql)?;
    Ok(changed as u64)
}

/// Within one savepoint: every update, or none.
pub(super) fn replace_key_bytes(conn: &Connection, updates: &[KeyBytesUpdate]) -> Result<()> {
    conn.execute_batch("SAVEPOINT replace_key_bytes")
        .map_err(sql)?;
    let replaced = updates
        .iter()
        .try_for_each(|update| replace_one(conn, update));
    let end = if replaced.is_ok() {
        "RELEASE replace_key_bytes"
    } else {
        "ROLLBACK TO replace_key_bytes; RELEASE replace_key_bytes"
    };
    conn.execute_batch(end).map_err(sql)?;
    replaced
}

fn replace_one(conn: &Connection, update: &KeyBytesUpdate) -> Result<()> {
    let changed = conn
        .execute(
            "UPDATE signing_keys SET pkcs8 = ?2 WHERE kid = ?1 AND pkcs8 = ?3",
            params![update.kid(), update.replacement(), update.expected()],
        )
        .map_err(sql)?;
    if changed == 1 {
        return Ok(());
    }
    let exists = conn
        .query_row(
            "SELECT 1 FROM signing_keys WHERE kid = ?1",
            [update.kid()],
            |_| Ok(()),
        )
        .optional()
        .map_err(sql)?;
    Err(match exists {
        // Changed since it was read: sealed by someone else, or retired.
        Some(()) => Error::Conflict {
            what: format!("a different stored version of signing key {}", update.kid()),
        },
        None => Error::NotFound {
            what: format!("signing key {}", update.kid()),
        },
    })
}

/// Compare-and-set: only a key without a certificate gets one.
pub(super) fn set_certificate(conn: &Connection, kid: &str, der: &[u8]) -> Result<bool> {
    let changed = conn
        .execute(
            "UPDATE signing_keys SET certificate = ?1 WHERE kid = ?2 AND certificate IS NULL",
            params![der, kid],
        )
        .map_err(sql)?;
    if changed == 1 {
        return Ok(true);
    }
    let exists = conn
        .query_row("SELECT 1 FROM signing_keys WHERE kid = ?1", [kid], |_| {
            Ok(())
        })
        .optional()
        .map_err(sql)?;
    match exists {
        Some(()) => Ok(false),
        None => Err(Error::NotFound {
            what: format!("signing key {kid}"),
        }),
    }
}

fn refuse_taken_kid(conn: &Connection, kid: &str) -> Result<()> {
    let taken = conn
        .query_row("SELECT 1 FROM signing_keys WHERE kid = ?1", [kid], |_| {
            Ok(())
        })
        .optional()
        .map_err(sql)?;
    match taken {
        Some(()) => Err(Error::Conflict {
            what: format!("signing key {kid}"),
        }),
        None => Ok(()),
    }
}

fn retire_current(conn: &Connection, retires_at_ms: i64) -> Result<Option<String>> {
    conn.query_row(
        "UPDATE signing_keys SET state = 'retiring', retires_at_ms = ?1
         WHERE state = 'current' RETURNING kid",
        [retires_at_ms],
        |row| row.get(0),
    )
    .optional()
    .map_err(sql)
}

fn insert_current(conn: &Connection, key: &NewSigningKey) -> Result<()> {
    conn.execute(
        "INSERT INTO signing_keys (kid, pkcs8, state, created_at_ms, retires_at_ms, certificate)
         VALUES (?1, ?2, 'current', ?3, NULL, ?4)",
        params![
            key.kid(),
            key.pkcs8(),
            ms_to_db(key.created_at_ms(), "created_at_ms")?,
            key.certificate()
        ],
    )
    .map_err(sql)?;
    Ok(())
}

type RawRow = (
    String,
    Option<Vec<u8>>,
    String,
    i64,
    Option<i64>,
    Option<Vec<u8>>,
);

fn raw_row(row: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ))
}

fn to_record(
    (kid, pkcs8, state, created, retires, certificate): RawRow,
) -> Result<SigningKeyRecord> {
    SigningKeyRecord::from_columns(kid, pkcs8, &state, created, retires, certificate)
}
