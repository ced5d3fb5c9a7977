//! Accounts in PostgreSQL: each call one statement.

use deadpool_postgres::Client;
use sigil_core::PublicKey;
use tokio_postgres::Row;

use super::error::sql;
use crate::account::{Account, AccountUpdate};
use crate::column::{ms_from_db, ms_to_db, opt_ms_from_db};
use crate::error::{Error, Result};

const COLUMNS: &str = "pubkey, name, bap_id, audiences, created_at_ms, revoked_at_ms";

pub(super) async fn add_account(client: &Client, account: &Account) -> Result<()> {
    let revoked_at_ms = account
        .revoked_at_ms
        .map(|ms| ms_to_db(ms, "revoked_at_ms"))
        .transpose()?;
    let created = ms_to_db(account.created_at_ms, "created_at_ms")?;
    let added = client
        .execute(
            "INSERT INTO accounts (pubkey, name, bap_id, audiences, created_at_ms, revoked_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (pubkey) DO NOTHING",
            &[
                &account.pubkey.to_hex(),
                &account.name,
                &account.bap_id,
                &account.audiences,
                &created,
                &revoked_at_ms,
            ],
        )
        .await
        .map_err(sql)?;
    if added == 0 {
        return Err(Error::Conflict {
            what: format!("account {}", account.pubkey.to_hex()),
        });
    }
    Ok(())
}

pub(super) async fn get_account(client: &Client, pubkey: &PublicKey) -> Result<Option<Account>> {
    let statement = client
        .prepare_cached(&format!("SELECT {COLUMNS} FROM accounts WHERE pubkey = $1"))
        .await
        .map_err(sql)?;
    client
        .query_opt(&statement, &[&pubkey.to_hex()])
        .await
        .map_err(sql)?
        .as_ref()
        .map(to_account)
        .transpose()
}

pub(super) async fn list_accounts(client: &Client) -> Result<Vec<Account>> {
    let statement = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM accounts ORDER BY created_at_ms, pubkey"
        ))
        .await
        .map_err(sql)?;
    let rows = client.query(&statement, &[]).await.map_err(sql)?;
    rows.iter().map(to_account).collect()
}

pub(super) async fn revoke_account(
    client: &Client,
    pubkey: &PublicKey,
    now_ms: u64,
) -> Result<Account> {
    let now_ms = ms_to_db(now_ms, "now_ms")?;
    one(
        client
            .query_opt(
                &format!(
                    "UPDATE accounts SET revoked_at_ms = coalesce(revoked_at_ms, $2)
                     WHERE pubkey = $1 RETURNING {COLUMNS}"
                ),
                &[&pubkey.to_hex(), &now_ms],
            )
            .await,
        pubkey,
    )
}

pub(super) async fn unrevoke_account(client: &Client, pubkey: &PublicKey) -> Result<Account> {
    one(
        client
            .query_opt(
                &format!(
                    "UPDATE accounts SET revoked_at_ms = NULL WHERE pubkey = $1 RETURNING {COLUMNS}"
                ),
                &[&pubkey.to_hex()],
            )
            .await,
        pubkey,
    )
}

/// Sets the fields `update` names, in one statement.
pub(super) async fn update_account(
    client: &Client,
    pubkey: &PublicKey,
    update: &AccountUpdate,
) -> Result<Account> {
    let name = update.name.clone().flatten();
    let bap_id = update.bap_id.clone().flatten();
    let audiences = update.audiences.clone().unwrap_or_default();
    one(
        client
            .query_opt(
                &format!(
                    "UPDATE accounts SET
                         name = CASE WHEN $2 THEN $3 ELSE name END,
                         bap_id = CASE WHEN $4 THEN $5 ELSE bap_id END,
                         audiences = CASE WHEN $6 THEN $7 ELSE audiences END
                     WHERE pubkey = $1 RETURNING {COLUMNS}"
                ),
                &[
                    &pubkey.to_hex(),
                    &update.name.is_some(),
                    &name,
                    &update.bap_id.is_some(),
                    &bap_id,
                    &update.audiences.is_some(),
                    &audiences,
                ],
            )
            .await,
        pubkey,
    )
}

pub(super) async fn remove_account(client: &Client, pubkey: &PublicKey) -> Result<Account> {
    one(
        client
            .query_opt(
                &format!("DELETE FROM accounts WHERE pubkey = $1 RETURNING {COLUMNS}"),
                &[&pubkey.to_hex()],
            )
            .await,
        pubkey,
    )
}

fn one(
    row: std::result::Result<Option<Row>, tokio_postgres::Error>,
    pubkey: &PublicKey,
) -> Result<Account> {
    row.map_err(sql)?
        .as_ref()
        .map(to_account)
        .transpose()?
        .ok_or_else(|| Error::NotFound {
            what: format!("account {}", pubkey.to_hex()),
        })
}

fn to_account(row: &Row) -> Result<Account> {
    let pubkey: String = row.try_get(0).map_err(sql)?;
    let key = PublicKey::from_hex(&pubkey)
        .map_err(|e| Error::corrupt(format!("account pubkey {pubkey:?}: {e}")))?;
    let created: i64 = row.try_get(4).map_err(sql)?;
    let mut account = Account::new(key, ms_from_db(created, "accounts.created_at_ms")?);
    account.name = row.try_get(1).map_err(sql)?;
    account.bap_id = row.try_get(2).map_err(sql)?;
    account.audiences = row.try_get(3).map_err(sql)?;
    account.revoked_at_ms = opt_ms_from_db(row.try_get(5).map_err(sql)?, "accounts.revoked_at_ms")?;
    Ok(account)
}
