//! Signing keys in PostgreSQL.
//!
//! Every change runs in one transaction that first takes the schema's
//! key advisory lock, so changes from any number of instances and
//! commands are serialised: three instances that start at once on an empty
//! database make one first key (the others get `Conflict` and load it),
//! and concurrent rotations each retire a different key. The partial unique
//! index `signing_keys_one_current` backs this up.

use deadpool_postgres::{Client, Transaction};
use tokio_postgres::Row;

use super::error::sql;
use crate::column::ms_to_db;
use crate::error::{Error, Result};
use crate::signing_key::{KeyBytesUpdate, NewSigningKey, SigningKeyRecord};

const LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtext(coalesce(current_schema(), '') || '/sigil-keys'))";

const LIST: &str = "SELECT kid, pkcs8, state, created_at_ms, retires_at_ms, certificate
    FROM signing_keys ORDER BY created_at_ms, kid";

async fn locked(client: &mut Client) -> Result<Transaction<'_>> {
    let transaction = client.transaction().await.map_err(sql)?;
    transaction.batch_execute(LOCK).await.map_err(sql)?;
    Ok(transaction)
}

pub(super) async fn insert_key(client: &mut Client, key: &NewSigningKey) -> Result<()> {
    let transaction = locked(client).await?;
    let current = transaction
        .query_opt("SELECT kid FROM signing_keys WHERE state = 'current'", &[])
        .await
        .map_err(sql)?;
    if current.is_some() {
        return Err(Error::Conflict {
            what: "a current signing key".into(),
        });
    }
    refuse_taken_kid(&transaction, key.kid()).await?;
    insert_current(&transaction, key).await?;
    transaction.commit().await.map_err(sql)
}

pub(super) async fn list_keys(client: &Client) -> Result<Vec<SigningKeyRecord>> {
    let statement = client.prepare_cached(LIST).await.map_err(sql)?;
    let rows = client.query(&statement, &[]).await.map_err(sql)?;
    rows.iter().map(to_record).collect()
}

pub(super) async fn rotate_key(
    client: &mut Client,
    key: &NewSigningKey,
    retires_at_ms: u64,
) -> Result<Option<String>> {
    let retires_at_ms = ms_to_db(retires_at_ms, "retires_at_ms")?;
    let transaction = locked(client).await?;
    refuse_taken_kid(&transaction, key.kid()).await?;
    let previous = transaction
        .query_opt(
            "UPDATE signing_keys SET state = 'retiring', retires_at_ms = $1
             WHERE state = 'current' RETURNING kid",
            &[&retires_at_ms],
        )
        .await
        .map_err(sql)?
        .map(|row| row.get::<_, String>(0));
    insert_current(&transaction, key).await?;
    transaction.commit().await.map_err(sql)?;
    Ok(previous)
}

/// Retires and erases in one statement (the table refuses a retired key
/// that keeps its private key).
pub(super) async fn retire_expired_keys(client: &mut Client, now_ms: u64) -> Result<u64> {
    let now_ms = ms_to_db(now_ms, "now_ms")?;
    let transaction = locked(client).await?;
    let changed = transaction
        .execute(
            "UPDATE signing_keys SET state = 'retired', pkcs8 = NULL
             WHERE state = 'retiring' AND retires_at_ms <= $1",
            &[&now_ms],
        )
        .await
        .map_err(sql)?;
    transaction.commit().await.map_err(sql)?;
    Ok(changed)
}

/// Every update, or none (the transaction is dropped, so rolled back, on
/// the first refusal).
pub(super) async fn replace_key_bytes(
    client: &mut Client,
    updates: &[KeyBytesUpdate],
) -> Result<()> {
    let transaction = locked(client).await?;
    for update in updates {
        let changed = transaction
            .execute(
                "UPDATE signing_keys SET pkcs8 = $2 WHERE kid = $1 AND pkcs8 = $3",
                &[&update.kid(), &update.replacement(), &update.expected()],
            )
            .await
            .map_err(sql)?;
        if changed == 1 {
            continue;
        }
        let exists = transaction
            .query_opt(
                "SELECT 1 FROM signing_keys WHERE kid = $1",
                &[&update.kid()],
            )
            .await
            .map_err(sql)?;
        return Err(match exists {
            Some(_) => Error::Conflict {
                what: format!("a different stored version of signing key {}", update.kid()),
            },
            None => Error::NotFound {
                what: format!("signing key {}", update.kid()),
            },
        });
    }
    transaction.commit().await.map_err(sql)
}

/// Compare-and-set: only a key without a certificate gets one (no lock
/// needed: the one statement decides).
pub(super) async fn set_certificate(client: &Client, kid: &str, der: &[u8]) -> Result<bool> {
    let changed = client
        .execute(
            "UPDATE signing_keys SET certificate = $1 WHERE kid = $2 AND certificate IS NULL",
            &[&der, &kid],
        )
        .await
        .map_err(sql)?;
    if changed == 1 {
        return Ok(true);
    }
    let exists = client
        .query_opt("SELECT 1 FROM signing_keys WHERE kid = $1", &[&kid])
        .await
        .map_err(sql)?;
    match exists {
        Some(_) => Ok(false),
        None => Err(Error::NotFound {
            what: format!("signing key {kid}"),
        }),
    }
}

async fn refuse_taken_kid(transaction: &Transaction<'_>, kid: &str) -> Result<()> {
    let taken = transaction
        .query_opt("SELECT 1 FROM signing_keys WHERE kid = $1", &[&kid])
        .await
        .map_err(sql)?;
    match taken {
        Some(_) => Err(Error::Conflict {
            what: format!("signing key {kid}"),
        }),
        None => Ok(()),
    }
}

async fn insert_current(transaction: &Transaction<'_>, key: &NewSigningKey) -> Result<()> {
    let created = ms_to_db(key.created_at_ms(), "created_at_ms")?;
    transaction
        .execute(
            "INSERT INTO signing_keys (kid, pkcs8, state, created_at_ms, retires_at_ms, certificate)
             VALUES ($1, $2, 'current', $3, NULL, $4)",
            &[&key.kid(), &key.pkcs8(), &created, &key.certificate()],
        )
        .await
        .map_err(sql)?;
    Ok(())
}

fn to_record(row: &Row) -> Result<SigningKeyRecord> {
    let kid: String = row.try_get(0).map_err(sql)?;
    let pkcs8: Option<Vec<u8>> = row.try_get(1).map_err(sql)?;
    let state: String = row.try_get(2).map_err(sql)?;
    let created: i64 = row.try_get(3).map_err(sql)?;
    let retires: Option<i64> = row.try_get(4).map_err(sql)?;
    let certificate: Option<Vec<u8>> = row.try_get(5).map_err(sql)?;
    SigningKeyRecord::from_columns(kid, pkcs8, &state, created, retires, certificate)
}
