//! The OAuth provider's records in PostgreSQL, with the SQLite backend's
//! behaviour. Every call is one statement, so each is atomic on its own
//! whatever other instances run beside it: a single-use step is
//! `UPDATE … WHERE NOT used RETURNING`, `DELETE … WHERE …` or a
//! compare-and-swap `UPDATE … WHERE current_hash = $expected` (under READ
//! COMMITTED a second writer of the row waits for the first, then
//! re-checks the `WHERE` on the row the first committed, and matches
//! nothing); what touches several tables is one statement of
//! data-modifying `WITH` parts.

use deadpool_postgres::Client;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::error::sql;
use crate::column::{ms_from_db, ms_to_db};
use crate::error::{Error, Result};
use crate::oauth::{
    ClientRecord, CodeConsumption, CodeRecord, ConsentRecord, GrantRecord, SessionRecord,
};
use crate::replay::Insertion;

/// Rows of `statement` (prepared once per connection).
async fn query(
    client: &Client,
    statement: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>> {
    let prepared = client.prepare_cached(statement).await.map_err(sql)?;
    client.query(&prepared, params).await.map_err(sql)
}

/// The row of `statement`, if any.
async fn query_opt(
    client: &Client,
    statement: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>> {
    let prepared = client.prepare_cached(statement).await.map_err(sql)?;
    client.query_opt(&prepared, params).await.map_err(sql)
}

/// How many rows `statement` changed.
async fn execute(client: &Client, statement: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
    let prepared = client.prepare_cached(statement).await.map_err(sql)?;
    client.execute(&prepared, params).await.map_err(sql)
}

/// The one value of a `SELECT count(*)`-like statement.
async fn count(client: &Client, statement: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
    let prepared = client.prepare_cached(statement).await.map_err(sql)?;
    let row = client.query_one(&prepared, params).await.map_err(sql)?;
    let n: i64 = row.try_get(0).map_err(sql)?;
    u64::try_from(n).map_err(|_| Error::corrupt("a negative row count"))
}

const CLIENT_COLUMNS: &str = "client_id, document, created_at_ms";

pub(super) async fn add_client(client: &Client, record: &ClientRecord) -> Result<()> {
    let created = ms_to_db(record.created_at_ms, "created_at_ms")?;
    let added = execute(
        client,
        "INSERT INTO oauth_clients (client_id, document, created_at_ms) VALUES ($1, $2, $3)
         ON CONFLICT (client_id) DO NOTHING",
        &[&record.client_id, &record.document, &created],
    )
    .await?;
    if added == 0 {
        return Err(Error::Conflict {
            what: format!("client {}", record.client_id),
        });
    }
    Ok(())
}

fn to_client(row: &Row) -> Result<ClientRecord> {
    let created: i64 = row.try_get(2).map_err(sql)?;
    Ok(ClientRecord {
        client_id: row.try_get(0).map_err(sql)?,
        document: row.try_get(1).map_err(sql)?,
        created_at_ms: ms_from_db(created, "oauth_clients.created_at_ms")?,
    })
}

pub(super) async fn get_client(client: &Client, client_id: &str) -> Result<Option<ClientRecord>> {
    query_opt(
        client,
        &format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE client_id = $1"),
        &[&client_id],
    )
    .await?
    .as_ref()
    .map(to_client)
    .transpose()
}

pub(super) async fn list_clients(client: &Client) -> Result<Vec<ClientRecord>> {
    query(
        client,
        &format!("SELECT {CLIENT_COLUMNS} FROM oauth_clients ORDER BY created_at_ms, client_id"),
        &[],
    )
    .await?
    .iter()
    .map(to_client)
    .collect()
}

/// The client, its grants revoked and its consents forgotten, in one
/// statement: nothing changes for an unknown client.
pub(super) async fn remove_client(client: &Client, client_id: &str) -> Result<ClientRecord> {
    let removed = query_opt(
        client,
        &format!(
            "WITH removed AS (
                 DELETE FROM oauth_clients WHERE client_id = $1 RETURNING {CLIENT_COLUMNS}
             ), revoked AS (
                 UPDATE oauth_grants SET revoked = true
                 WHERE client_id = $1 AND EXISTS (SELECT 1 FROM removed)
             ), forgotten AS (
                 DELETE FROM oauth_consents
                 WHERE client_id = $1 AND EXISTS (SELECT 1 FROM removed)
             )
             SELECT {CLIENT_COLUMNS} FROM removed"
        ),
        &[&client_id],
    )
    .await?;
    removed
        .as_ref()
        .map(to_client)
        .transpose()?
        .ok_or_else(|| Error::NotFound {
            what: format!("client {client_id}"),
        })
}

pub(super) async fn insert_code(client: &Client, code: &CodeRecord) -> Result<()> {
    let expires = ms_to_db(code.expires_at_ms, "expires_at_ms")?;
    let added = execute(
        client,
        "INSERT INTO oauth_codes (code_hash, grant_json, grant_id, expires_at_ms)
         VALUES ($1, $2, $3, $4) ON CONFLICT (code_hash) DO NOTHING",
        &[&code.code_hash, &code.grant_json, &code.grant_id, &expires],
    )
    .await?;
    if added == 0 {
        return Err(Error::Conflict {
            what: "authorization code".into(),
        });
    }
    Ok(())
}

/// The `UPDATE` decides; the `SELECT` after a miss only tells a used code
/// from an unknown one.
pub(super) async fn consume_code(client: &Client, code_hash: &str) -> Result<CodeConsumption> {
    let fresh = query_opt(
        client,
        "UPDATE oauth_codes SET used = true WHERE code_hash = $1 AND NOT used
         RETURNING grant_json, grant_id",
        &[&code_hash],
    )
    .await?;
    if let Some(row) = fresh {
        return Ok(CodeConsumption::Fresh {
            grant_json: row.try_get(0).map_err(sql)?,
            grant_id: row.try_get(1).map_err(sql)?,
        });
    }
    let used = query_opt(
        client,
        "SELECT grant_id FROM oauth_codes WHERE code_hash = $1",
        &[&code_hash],
    )
    .await?;
    match used {
        Some(row) => Ok(CodeConsumption::Used {
            grant_id: row.try_get(0).map_err(sql)?,
        }),
        None => Ok(CodeConsumption::Unknown),
    }
}

pub(super) async fn insert_challenge(
    client: &Client,
    nonce: &str,
    binding_hash: &str,
    expires_at_ms: u64,
) -> Result<()> {
    let expires = ms_to_db(expires_at_ms, "expires_at_ms")?;
    execute(
        client,
        "INSERT INTO oauth_challenges (nonce, binding_hash, expires_at_ms) VALUES ($1, $2, $3)",
        &[&nonce, &binding_hash, &expires],
    )
    .await?;
    Ok(())
}

pub(super) async fn consume_challenge(
    client: &Client,
    nonce: &str,
    binding_hash: &str,
    now_ms: u64,
) -> Result<bool> {
    let now = ms_to_db(now_ms, "now_ms")?;
    let deleted = execute(
        client,
        "DELETE FROM oauth_challenges
         WHERE nonce = $1 AND binding_hash = $2 AND expires_at_ms > $3",
        &[&nonce, &binding_hash, &now],
    )
    .await?;
    Ok(deleted == 1)
}

pub(super) async fn create_session(client: &Client, session: &SessionRecord) -> Result<()> {
    let auth = ms_to_db(session.auth_time_ms, "auth_time_ms")?;
    let expires = ms_to_db(session.expires_at_ms, "expires_at_ms")?;
    execute(
        client,
        "INSERT INTO oauth_sessions (id_hash, subject, auth_time_ms, csrf_token, expires_at_ms)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &session.id_hash,
            &session.subject,
            &auth,
            &session.csrf_token,
            &expires,
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn get_session(
    client: &Client,
    id_hash: &str,
    now_ms: u64,
) -> Result<Option<SessionRecord>> {
    let now = ms_to_db(now_ms, "now_ms")?;
    let row = query_opt(
        client,
        "SELECT id_hash, subject, auth_time_ms, csrf_token, expires_at_ms FROM oauth_sessions
         WHERE id_hash = $1 AND expires_at_ms > $2",
        &[&id_hash, &now],
    )
    .await?;
    row.map(|row| {
        let auth: i64 = row.try_get(2).map_err(sql)?;
        let expires: i64 = row.try_get(4).map_err(sql)?;
        Ok(SessionRecord {
            id_hash: row.try_get(0).map_err(sql)?,
            subject: row.try_get(1).map_err(sql)?,
            auth_time_ms: ms_from_db(auth, "oauth_sessions.auth_time_ms")?,
            csrf_token: row.try_get(3).map_err(sql)?,
            expires_at_ms: ms_from_db(expires, "oauth_sessions.expires_at_ms")?,
        })
    })
    .transpose()
}

pub(super) async fn delete_session(client: &Client, id_hash: &str) -> Result<bool> {
    let deleted = execute(
        client,
        "DELETE FROM oauth_sessions WHERE id_hash = $1",
        &[&id_hash],
    )
    .await?;
    Ok(deleted == 1)
}

pub(super) async fn put_consent(client: &Client, consent: &ConsentRecord) -> Result<()> {
    let granted = ms_to_db(consent.granted_at_ms, "granted_at_ms")?;
    execute(
        client,
        "INSERT INTO oauth_consents (subject, client_id, scopes, granted_at_ms)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (subject, client_id)
         DO UPDATE SET scopes = excluded.scopes, granted_at_ms = excluded.granted_at_ms",
        &[
            &consent.subject,
            &consent.client_id,
            &consent.scopes,
            &granted,
        ],
    )
    .await?;
    Ok(())
}

const CONSENT_COLUMNS: &str = "subject, client_id, scopes, granted_at_ms";

fn to_consent(row: &Row) -> Result<ConsentRecord> {
    let granted: i64 = row.try_get(3).map_err(sql)?;
    Ok(ConsentRecord {
        subject: row.try_get(0).map_err(sql)?,
        client_id: row.try_get(1).map_err(sql)?,
        scopes: row.try_get(2).map_err(sql)?,
        granted_at_ms: ms_from_db(granted, "oauth_consents.granted_at_ms")?,
    })
}

pub(super) async fn get_consent(
    client: &Client,
    subject: &str,
    client_id: &str,
) -> Result<Option<ConsentRecord>> {
    query_opt(
        client,
        &format!(
            "SELECT {CONSENT_COLUMNS} FROM oauth_consents WHERE subject = $1 AND client_id = $2"
        ),
        &[&subject, &client_id],
    )
    .await?
    .as_ref()
    .map(to_consent)
    .transpose()
}

pub(super) async fn list_consents(client: &Client, subject: &str) -> Result<Vec<ConsentRecord>> {
    query(
        client,
        &format!(
            "SELECT {CONSENT_COLUMNS} FROM oauth_consents
             WHERE subject = $1 ORDER BY granted_at_ms, client_id"
        ),
        &[&subject],
    )
    .await?
    .iter()
    .map(to_consent)
    .collect()
}

/// Forgets the consent and revokes the grants in one statement.
pub(super) async fn revoke_consent(client: &Client, subject: &str, client_id: &str) -> Result<u64> {
    count(
        client,
        "WITH forgotten AS (
             DELETE FROM oauth_consents WHERE subject = $1 AND client_id = $2
         ), revoked AS (
             UPDATE oauth_grants SET revoked = true
             WHERE subject = $1 AND client_id = $2 AND NOT revoked
             RETURNING 1
         )
         SELECT count(*) FROM revoked",
        &[&subject, &client_id],
    )
    .await
}

/// The grant and its family's hashes in one statement: the hashes are
/// stored only if the grant is new.
pub(super) async fn create_grant(client: &Client, grant: &GrantRecord) -> Result<()> {
    let auth = ms_to_db(grant.auth_time_s, "auth_time_s")?;
    let rotated = ms_to_db(grant.rotated_at_ms, "rotated_at_ms")?;
    let hashes: Vec<&str> = [&grant.current_hash, &grant.previous_hash]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let added = count(
        client,
        "WITH added AS (
             INSERT INTO oauth_grants (grant_id, client_id, subject, scopes, resource,
                 auth_time_s, current_hash, previous_hash, rotated_at_ms, revoked)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (grant_id) DO NOTHING
             RETURNING grant_id
         ), family AS (
             INSERT INTO oauth_refresh_tokens (token_hash, grant_id)
             SELECT hash, added.grant_id FROM added CROSS JOIN unnest($11::text[]) AS hash
         )
         SELECT count(*) FROM added",
        &[
            &grant.grant_id,
            &grant.client_id,
            &grant.subject,
            &grant.scopes,
            &grant.resource,
            &auth,
            &grant.current_hash,
            &grant.previous_hash,
            &rotated,
            &grant.revoked,
            &hashes,
        ],
    )
    .await?;
    if added == 0 {
        return Err(Error::Conflict {
            what: format!("grant {}", grant.grant_id),
        });
    }
    Ok(())
}

const GRANT_COLUMNS: &str = "g.grant_id, g.client_id, g.subject, g.scopes, g.resource, \
     g.auth_time_s, g.current_hash, g.previous_hash, g.rotated_at_ms, g.revoked";

fn to_grant(row: &Row) -> Result<GrantRecord> {
    let auth: i64 = row.try_get(5).map_err(sql)?;
    let rotated: i64 = row.try_get(8).map_err(sql)?;
    Ok(GrantRecord {
        grant_id: row.try_get(0).map_err(sql)?,
        client_id: row.try_get(1).map_err(sql)?,
        subject: row.try_get(2).map_err(sql)?,
        scopes: row.try_get(3).map_err(sql)?,
        resource: row.try_get(4).map_err(sql)?,
        auth_time_s: ms_from_db(auth, "oauth_grants.auth_time_s")?,
        current_hash: row.try_get(6).map_err(sql)?,
        previous_hash: row.try_get(7).map_err(sql)?,
        rotated_at_ms: ms_from_db(rotated, "oauth_grants.rotated_at_ms")?,
        revoked: row.try_get(9).map_err(sql)?,
    })
}

pub(super) async fn get_grant(client: &Client, grant_id: &str) -> Result<Option<GrantRecord>> {
    query_opt(
        client,
        &format!("SELECT {GRANT_COLUMNS} FROM oauth_grants g WHERE g.grant_id = $1"),
        &[&grant_id],
    )
    .await?
    .as_ref()
    .map(to_grant)
    .transpose()
}

pub(super) async fn grant_by_refresh(
    client: &Client,
    token_hash: &str,
) -> Result<Option<GrantRecord>> {
    query_opt(
        client,
        &format!(
            "SELECT {GRANT_COLUMNS} FROM oauth_refresh_tokens t
             JOIN oauth_grants g ON g.grant_id = t.grant_id WHERE t.token_hash = $1"
        ),
        &[&token_hash],
    )
    .await?
    .as_ref()
    .map(to_grant)
    .transpose()
}

/// The compare-and-swap and the new hash's row in one statement: the hash
/// joins the family only if this caller's swap won.
pub(super) async fn rotate_refresh(
    client: &Client,
    grant_id: &str,
    expected_current: &str,
    new_hash: &str,
    now_ms: u64,
) -> Result<bool> {
    let now = ms_to_db(now_ms, "now_ms")?;
    let swapped = count(
        client,
        "WITH swapped AS (
             UPDATE oauth_grants
             SET previous_hash = current_hash, current_hash = $3, rotated_at_ms = $4
             WHERE grant_id = $1 AND current_hash = $2 AND NOT revoked
             RETURNING grant_id
         ), family AS (
             INSERT INTO oauth_refresh_tokens (token_hash, grant_id)
             SELECT $3, grant_id FROM swapped
         )
         SELECT count(*) FROM swapped",
        &[&grant_id, &expected_current, &new_hash, &now],
    )
    .await?;
    Ok(swapped == 1)
}

/// One upsert: a live grant is revoked, a missing one becomes a revoked
/// placeholder (which refuses its creation). An upsert, not an `UPDATE`
/// then an `INSERT`: while the grant's creation is in flight the upsert
/// waits for it and then revokes the created row, where an `UPDATE` would
/// find nothing and the `INSERT` do nothing. `xmax = 0` marks a row this
/// statement inserted.
pub(super) async fn revoke_grant(client: &Client, grant_id: &str) -> Result<bool> {
    let row = query_opt(
        client,
        "INSERT INTO oauth_grants (grant_id, client_id, subject, scopes, auth_time_s,
             rotated_at_ms, revoked)
         VALUES ($1, '', '', '', 0, 0, true)
         ON CONFLICT (grant_id) DO UPDATE SET revoked = true WHERE NOT oauth_grants.revoked
         RETURNING xmax = 0",
        &[&grant_id],
    )
    .await?;
    match row {
        Some(row) => {
            let inserted: bool = row.try_get(0).map_err(sql)?;
            Ok(!inserted)
        }
        None => Ok(false),
    }
}

/// A new row, or an expired one taken over, in one statement; a live one
/// is left alone and nothing is returned. Of concurrent inserts of one
/// `(client, jti)` the unique key lets one in; the others wait for it and
/// find its row live.
pub(super) async fn use_assertion(
    client: &Client,
    client_id: &str,
    jti: &str,
    expires_at_ms: u64,
    now_ms: u64,
) -> Result<Insertion> {
    let expires = ms_to_db(expires_at_ms, "expires_at_ms")?;
    let now = ms_to_db(now_ms, "now_ms")?;
    let inserted = query_opt(
        client,
        "INSERT INTO oauth_assertions (client_id, jti, expires_at_ms) VALUES ($1, $2, $3)
         ON CONFLICT (client_id, jti) DO UPDATE SET expires_at_ms = excluded.expires_at_ms
         WHERE oauth_assertions.expires_at_ms <= $4
         RETURNING 1",
        &[&client_id, &jti, &expires, &now],
    )
    .await?;
    Ok(if inserted.is_some() {
        Insertion::Inserted
    } else {
        Insertion::AlreadyUsed
    })
}

/// Every expired code, challenge, session and assertion, in one statement
/// (a row another instance's purge deleted first is not counted twice).
pub(super) async fn purge_oauth(client: &Client, now_ms: u64) -> Result<u64> {
    let now = ms_to_db(now_ms, "now_ms")?;
    count(
        client,
        "WITH codes AS (
             DELETE FROM oauth_codes WHERE expires_at_ms <= $1 RETURNING 1
         ), challenges AS (
             DELETE FROM oauth_challenges WHERE expires_at_ms <= $1 RETURNING 1
         ), sessions AS (
             DELETE FROM oauth_sessions WHERE expires_at_ms <= $1 RETURNING 1
         ), assertions AS (
             DELETE FROM oauth_assertions WHERE expires_at_ms <= $1 RETURNING 1
         )
         SELECT (SELECT count(*) FROM codes) + (SELECT count(*) FROM challenges)
              + (SELECT count(*) FROM sessions) + (SELECT count(*) FROM assertions)",
        &[&now],
    )
    .await
}
