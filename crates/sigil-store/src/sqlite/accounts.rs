//! Accounts in SQLite.

use rusqlite::{Connection, OptionalExtension, Row, params};
use sigil_core::PublicKey;

use super::error::sql;
use crate::account::{Account, AccountUpdate};
use crate::column::{ms_from_db, ms_to_db, opt_ms_from_db};
use crate::error::{Error, Result};

const COLUMNS: &str = "pubkey, name, bap_id, audiences, created_at_ms, revoked_at_ms";

pub(super) fn add_account(conn: &Connection, account: &Account) -> Result<()> {
    let audiences =
        serde_json::to_string(&account.audiences).map_err(|e| Error::InvalidArgument {
            field: "audiences",
            reason: e.to_string(),
        })?;
    let revoked_at_ms = account
        .revoked_at_ms
        .map(|ms| ms_to_db(ms, "revoked_at_ms"))
        .transpose()?;
    let added = conn
        .execute(
            "INSERT INTO accounts (pubkey, name, bap_id, audiences, created_at_ms, revoked_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (pubkey) DO NOTHING",
            params![
                account.pubkey.to_hex(),
                account.name,
                account.bap_id,
                audiences,
                ms_to_db(account.created_at_ms, "created_at_ms")?,
                revoked_at_ms,
            ],
        )
        .map_err(sql)?;
    if added == 0 {
        return Err(Error::Conflict {
            what: format!("account {}", account.pubkey.to_hex()),
        });
    }
    Ok(())
}

pub(super) fn get_account(conn: &Connection, pubkey: &PublicKey) -> Result<Option<Account>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM accounts WHERE pubkey = ?1"))
        .and_then(|mut statement| statement.query_row([pubkey.to_hex()], raw_row).optional())
        .map_err(sql)?
        .map(to_account)
        .transpose()
}

pub(super) fn list_accounts(conn: &Connection) -> Result<Vec<Account>> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM accounts ORDER BY created_at_ms, pubkey"
        ))
        .map_err(sql)?;
    let rows = statement.query_map([], raw_row).map_err(sql)?;
    rows.map(|row| row.map_err(sql).and_then(to_account))
        .collect()
}

/// Sets `revoked_at_ms` unless it is set already, and returns the row.
pub(super) fn revoke_account(
    conn: &Connection,
    pubkey: &PublicKey,
    now_ms: u64,
) -> Result<Account> {
    let now_ms = ms_to_db(now_ms, "now_ms")?;
    conn.query_row(
        &format!(
            "UPDATE accounts SET revoked_at_ms = coalesce(revoked_at_ms, ?2)
             WHERE pubkey = ?1 RETURNING {COLUMNS}"
        ),
        params![pubkey.to_hex(), now_ms],
        raw_row,
    )
    .optional()
    .map_err(sql)?
    .map(to_account)
    .transpose()?
    .ok_or_else(|| Error::NotFound {
        what: format!("account {}", pubkey.to_hex()),
    })
}

/// Clears `revoked_at_ms` and returns the row.
pub(super) fn unrevoke_account(conn: &Connection, pubkey: &PublicKey) -> Result<Account> {
    conn.query_row(
        &format!("UPDATE accounts SET revoked_at_ms = NULL WHERE pubkey = ?1 RETURNING {COLUMNS}"),
        params![pubkey.to_hex()],
        raw_row,
    )
    .optional()
    .map_err(sql)?
    .map(to_account)
    .transpose()?
    .ok_or_else(|| not_found(pubkey))
}

/// Sets the fields `update` names, in one statement, and returns the row.
pub(super) fn update_account(
    conn: &Connection,
    pubkey: &PublicKey,
    update: &AccountUpdate,
) -> Result<Account> {
    let audiences = update
        .audiences
        .as_ref()
        .map(|audiences| {
            serde_json::to_string(audiences).map_err(|e| Error::InvalidArgument {
                field: "audiences",
                reason: e.to_string(),
            })
        })
        .transpose()?;
    conn.query_row(
        &format!(
            "UPDATE accounts SET
                 name = CASE WHEN ?2 THEN ?3 ELSE name END,
                 bap_id = CASE WHEN ?4 THEN ?5 ELSE bap_id END,
                 audiences = CASE WHEN ?6 THEN ?7 ELSE audiences END
             WHERE pubkey = ?1 RETURNING {COLUMNS}"
        ),
        params![
            pubkey.to_hex(),
            update.name.is_some(),
            update.name.clone().flatten(),
            update.bap_id.is_some(),
            update.bap_id.clone().flatten(),
            audiences.is_some(),
            audiences,
        ],
        raw_row,
    )
    .optional()
    .map_err(sql)?
    .map(to_account)
    .transpose()?
    .ok_or_else(|| not_found(pubkey))
}

/// Deletes the row and returns it as it was.
pub(super) fn remove_account(conn: &Connection, pubkey: &PublicKey) -> Result<Account> {
    conn.query_row(
        &format!("DELETE FROM accounts WHERE pubkey = ?1 RETURNING {COLUMNS}"),
        params![pubkey.to_hex()],
        raw_row,
    )
    .optional()
    .map_err(sql)?
    .map(to_account)
    .transpose()?
    .ok_or_else(|| not_found(pubkey))
}

fn not_found(pubkey: &PublicKey) -> Error {
    Error::NotFound {
        what: format!("account {}", pubkey.to_hex()),
    }
}

type RawRow = (
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    Option<i64>,
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

fn to_account((pubkey, name, bap_id, audiences, created, revoked): RawRow) -> Result<Account> {
    let key = PublicKey::from_hex(&pubkey)
        .map_err(|e| Error::corrupt(format!("account pubkey {pubkey:?}: {e}")))?;
    let audiences: Vec<String> = serde_json::from_str(&audiences)
        .map_err(|e| Error::corrupt(format!("account {pubkey} audiences: {e}")))?;
    let mut account = Account::new(key, ms_from_db(created, "accounts.created_at_ms")?);
    account.name = name;
    account.bap_id = bap_id;
    account.audiences = audiences;
    account.revoked_at_ms = opt_ms_from_db(revoked, "accounts.revoked_at_ms")?;
    Ok(account)
}
