//! The OAuth provider's records in SQLite. Each single-use step is one
//! statement (`UPDATE … WHERE used = 0 RETURNING`, `DELETE … RETURNING`,
//! a compare-and-swap `UPDATE`), so it stays atomic whatever runs beside it.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::error::sql;
use crate::column::{ms_from_db, ms_to_db};
use crate::error::{Error, Result};
use crate::oauth::{
    ClientRecord, CodeConsumption, CodeRecord, ConsentRecord, GrantRecord, SessionRecord,
};
use crate::replay::Insertion;

pub(super) fn add_client(conn: &Connection, client: &ClientRecord) -> Result<()> {
    let added = conn
        .execute(
            "INSERT INTO oauth_clients (client_id, document, created_at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (client_id) DO NOTHING",
            params![
                client.client_id,
                client.document,
                ms_to_db(client.created_at_ms, "created_at_ms")?
            ],
        )
        .map_err(sql)?;
    if added == 0 {
        return Err(Error::Conflict {
            what: format!("client {}", client.client_id),
        });
    }
    Ok(())
}

fn client_row(row: &Row<'_>) -> rusqlite::Result<(String, String, i64)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
}

fn client_from((client_id, document, created): (String, String, i64)) -> Result<ClientRecord> {
    Ok(ClientRecord {
        client_id,
        document,
        created_at_ms: ms_from_db(created, "oauth_clients.created_at_ms")?,
    })
}

pub(super) fn get_client(conn: &Connection, client_id: &str) -> Result<Option<ClientRecord>> {
    conn.prepare_cached(
        "SELECT client_id, document, created_at_ms FROM oauth_clients WHERE client_id = ?1",
    )
    .and_then(|mut s| s.query_row([client_id], client_row).optional())
    .map_err(sql)?
    .map(client_from)
    .transpose()
}

pub(super) fn list_clients(conn: &Connection) -> Result<Vec<ClientRecord>> {
    let mut statement = conn
        .prepare_cached(
            "SELECT client_id, document, created_at_ms FROM oauth_clients
             ORDER BY created_at_ms, client_id",
        )
        .map_err(sql)?;
    let rows = statement
        .query_map([], client_row)
        .map_err(sql)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql)?;
    rows.into_iter().map(client_from).collect()
}

pub(super) fn remove_client(conn: &Connection, client_id: &str) -> Result<ClientRecord> {
    let removed = conn
        .query_row(
            "DELETE FROM oauth_clients WHERE client_id = ?1
             RETURNING client_id, document, created_at_ms",
            [client_id],
            client_row,
        )
        .optional()
        .map_err(sql)?
        .ok_or_else(|| Error::NotFound {
            what: format!("client {client_id}"),
        })?;
    conn.execute(
        "UPDATE oauth_grants SET revoked = 1 WHERE client_id = ?1",
        [client_id],
    )
    .map_err(sql)?;
    conn.execute(
        "DELETE FROM oauth_consents WHERE client_id = ?1",
        [client_id],
    )
    .map_err(sql)?;
    client_from(removed)
}

pub(super) fn insert_code(conn: &Connection, code: &CodeRecord) -> Result<()> {
    let added = conn
        .execute(
            "INSERT INTO oauth_codes (code_hash, grant_json, grant_id, expires_at_ms)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (code_hash) DO NOTHING",
            params![
                code.code_hash,
                code.grant_json,
                code.grant_id,
                ms_to_db(code.expires_at_ms, "expires_at_ms")?
            ],
        )
        .map_err(sql)?;
    if added == 0 {
        return Err(Error::Conflict {
            what: "authorization code".into(),
        });
    }
    Ok(())
}

pub(super) fn consume_code(conn: &Connection, code_hash: &str) -> Result<CodeConsumption> {
    let fresh = conn
        .prepare_cached(
            "UPDATE oauth_codes SET used = 1 WHERE code_hash = ?1 AND used = 0
             RETURNING grant_json, grant_id",
        )
        .and_then(|mut s| {
            s.query_row([code_hash], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(sql)?;
    if let Some((grant_json, grant_id)) = fresh {
        return Ok(CodeConsumption::Fresh {
            grant_json,
            grant_id,
        });
    }
    let used: Option<String> = conn
        .prepare_cached("SELECT grant_id FROM oauth_codes WHERE code_hash = ?1")
        .and_then(|mut s| s.query_row([code_hash], |row| row.get(0)).optional())
        .map_err(sql)?;
    Ok(
        used.map_or(CodeConsumption::Unknown, |grant_id| CodeConsumption::Used {
            grant_id,
        }),
    )
}

pub(super) fn insert_challenge(
    conn: &Connection,
    nonce: &str,
    binding_hash: &str,
    expires_at_ms: u64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO oauth_challenges (nonce, binding_hash, expires_at_ms) VALUES (?1, ?2, ?3)",
        params![
            nonce,
            binding_hash,
            ms_to_db(expires_at_ms, "expires_at_ms")?
        ],
    )
    .map_err(sql)?;
    Ok(())
}

pub(super) fn consume_challenge(
    conn: &Connection,
    nonce: &str,
    binding_hash: &str,
    now_ms: u64,
) -> Result<bool> {
    let deleted = conn
        .execute(
            "DELETE FROM oauth_challenges
             WHERE nonce = ?1 AND binding_hash = ?2 AND expires_at_ms > ?3",
            params![nonce, binding_hash, ms_to_db(now_ms, "now_ms")?],
        )
        .map_err(sql)?;
    Ok(deleted == 1)
}

pub(super) fn create_session(conn: &Connection, session: &SessionRecord) -> Result<()> {
    conn.execute(
        "INSERT INTO oauth_sessions (id_hash, subject, auth_time_ms, csrf_token, expires_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            session.id_hash,
            session.subject,
            ms_to_db(session.auth_time_ms, "auth_time_ms")?,
            session.csrf_token,
            ms_to_db(session.expires_at_ms, "expires_at_ms")?
        ],
    )
    .map_err(sql)?;
    Ok(())
}

pub(super) fn get_session(
    conn: &Connection,
    id_hash: &str,
    now_ms: u64,
) -> Result<Option<SessionRecord>> {
    let now = ms_to_db(now_ms, "now_ms")?;
    let row = conn
        .prepare_cached(
            "SELECT id_hash, subject, auth_time_ms, csrf_token, expires_at_ms FROM oauth_sessions
             WHERE id_hash = ?1 AND expires_at_ms > ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![id_hash, now], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            })
            .optional()
        })
        .map_err(sql)?;
    row.map(|(id_hash, subject, auth, csrf_token, expires)| {
        Ok(SessionRecord {
            id_hash,
            subject,
            auth_time_ms: ms_from_db(auth, "oauth_sessions.auth_time_ms")?,
            csrf_token,
            expires_at_ms: ms_from_db(expires, "oauth_sessions.expires_at_ms")?,
        })
    })
    .transpose()
}

pub(super) fn delete_session(conn: &Connection, id_hash: &str) -> Result<bool> {
    let deleted = conn
        .execute("DELETE FROM oauth_sessions WHERE id_hash = ?1", [id_hash])
        .map_err(sql)?;
    Ok(deleted == 1)
}

pub(super) fn put_consent(conn: &Connection, consent: &ConsentRecord) -> Result<()> {
    conn.execute(
        "INSERT INTO oauth_consents (subject, client_id, scopes, granted_at_ms)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (subject, client_id)
         DO UPDATE SET scopes = excluded.scopes, granted_at_ms = excluded.granted_at_ms",
        params![
            consent.subject,
            consent.client_id,
            consent.scopes,
            ms_to_db(consent.granted_at_ms, "granted_at_ms")?
        ],
    )
    .map_err(sql)?;
    Ok(())
}

fn consent_row(row: &Row<'_>) -> rusqlite::Result<(String, String, String, i64)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

fn consent_from(
    (subject, client_id, scopes, granted): (String, String, String, i64),
) -> Result<ConsentRecord> {
    Ok(ConsentRecord {
        subject,
        client_id,
        scopes,
        granted_at_ms: ms_from_db(granted, "oauth_consents.granted_at_ms")?,
    })
}

pub(super) fn get_consent(
    conn: &Connection,
    subject: &str,
    client_id: &str,
) -> Result<Option<ConsentRecord>> {
    conn.prepare_cached(
        "SELECT subject, client_id, scopes, granted_at_ms FROM oauth_consents
         WHERE subject = ?1 AND client_id = ?2",
    )
    .and_then(|mut s| s.query_row([subject, client_id], consent_row).optional())
    .map_err(sql)?
    .map(consent_from)
    .transpose()
}

pub(super) fn list_consents(conn: &Connection, subject: &str) -> Result<Vec<ConsentRecord>> {
    let mut statement = conn
        .prepare_cached(
            "SELECT subject, client_id, scopes, granted_at_ms FROM oauth_consents
             WHERE subject = ?1 ORDER BY granted_at_ms, client_id",
        )
        .map_err(sql)?;
    let rows = statement
        .query_map([subject], consent_row)
        .map_err(sql)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sql)?;
    rows.into_iter().map(consent_from).collect()
}

pub(super) fn revoke_consent(conn: &Connection, subject: &str, client_id: &str) -> Result<u64> {
    conn.execute(
        "DELETE FROM oauth_consents WHERE subject = ?1 AND client_id = ?2",
        [subject, client_id],
    )
    .map_err(sql)?;
    let revoked = conn
        .execute(
            "UPDATE oauth_grants SET revoked = 1
             WHERE subject = ?1 AND client_id = ?2 AND revoked = 0",
            [subject, client_id],
        )
        .map_err(sql)?;
    Ok(revoked as u64)
}

pub(super) fn create_grant(conn: &Connection, grant: &GrantRecord) -> Result<()> {
    let added = conn
        .execute(
            "INSERT INTO oauth_grants (grant_id, client_id, subject, scopes, resource, auth_time_s,
                 current_hash, previous_hash, rotated_at_ms, revoked)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (grant_id) DO NOTHING",
            params![
                grant.grant_id,
                grant.client_id,
                grant.subject,
                grant.scopes,
                grant.resource,
                ms_to_db(grant.auth_time_s, "auth_time_s")?,
                grant.current_hash,
                grant.previous_hash,
                ms_to_db(grant.rotated_at_ms, "rotated_at_ms")?,
                grant.revoked,
            ],
        )
        .map_err(sql)?;
    if added == 0 {
        return Err(Error::Conflict {
            what: format!("grant {}", grant.grant_id),
        });
    }
    for hash in [&grant.current_hash, &grant.previous_hash]
        .into_iter()
        .flatten()
    {
        conn.execute(
            "INSERT INTO oauth_refresh_tokens (token_hash, grant_id) VALUES (?1, ?2)",
            [hash, &grant.grant_id],
        )
        .map_err(sql)?;
    }
    Ok(())
}

const GRANT_COLUMNS: &str = "g.grant_id, g.client_id, g.subject, g.scopes, g.resource, \
     g.auth_time_s, g.current_hash, g.previous_hash, g.rotated_at_ms, g.revoked";

type GrantRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
    i64,
    bool,
);

fn grant_row(row: &Row<'_>) -> rusqlite::Result<GrantRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
    ))
}

fn grant_from(row: GrantRow) -> Result<GrantRecord> {
    let (grant_id, client_id, subject, scopes, resource, auth, current, previous, rotated, revoked) =
        row;
    Ok(GrantRecord {
        grant_id,
        client_id,
        subject,
        scopes,
        resource,
        auth_time_s: ms_from_db(auth, "oauth_grants.auth_time_s")?,
        current_hash: current,
        previous_hash: previous,
        rotated_at_ms: ms_from_db(rotated, "oauth_grants.rotated_at_ms")?,
        revoked,
    })
}

pub(super) fn get_grant(conn: &Connection, grant_id: &str) -> Result<Option<GrantRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {GRANT_COLUMNS} FROM oauth_grants g WHERE g.grant_id = ?1"
    ))
    .and_then(|mut s| s.query_row([grant_id], grant_row).optional())
    .map_err(sql)?
    .map(grant_from)
    .transpose()
}

pub(super) fn grant_by_refresh(conn: &Connection, token_hash: &str) -> Result<Option<GrantRecord>> {
    conn.prepare_cached(&format!(
        "SELECT {GRANT_COLUMNS} FROM oauth_refresh_tokens t
         JOIN oauth_grants g ON g.grant_id = t.grant_id WHERE t.token_hash = ?1"
    ))
    .and_then(|mut s| s.query_row([token_hash], grant_row).optional())
    .map_err(sql)?
    .map(grant_from)
    .transpose()
}

pub(super) fn rotate_refresh(
    conn: &Connection,
    grant_id: &str,
    expected_current: &str,
    new_hash: &str,
    now_ms: u64,
) -> Result<bool> {
    let swapped = conn
        .execute(
            "UPDATE oauth_grants
             SET previous_hash = current_hash, current_hash = ?3, rotated_at_ms = ?4
             WHERE grant_id = ?1 AND current_hash = ?2 AND revoked = 0",
            params![
                grant_id,
                expected_current,
                new_hash,
                ms_to_db(now_ms, "now_ms")?
            ],
        )
        .map_err(sql)?;
    if swapped == 0 {
        return Ok(false);
    }
    conn.execute(
        "INSERT INTO oauth_refresh_tokens (token_hash, grant_id) VALUES (?1, ?2)",
        [new_hash, grant_id],
    )
    .map_err(sql)?;
    Ok(true)
}

/// Both statements run in the writer's one transaction, so nothing comes
/// between them.
pub(super) fn revoke_grant(conn: &Connection, grant_id: &str) -> Result<bool> {
    let revoked = conn
        .execute(
            "UPDATE oauth_grants SET revoked = 1 WHERE grant_id = ?1 AND revoked = 0",
            [grant_id],
        )
        .map_err(sql)?;
    if revoked == 1 {
        return Ok(true);
    }
    // Not created yet: a revoked placeholder refuses its creation.
    conn.execute(
        "INSERT INTO oauth_grants (grant_id, client_id, subject, scopes, resource, auth_time_s,
             current_hash, previous_hash, rotated_at_ms, revoked)
         VALUES (?1, '', '', '', NULL, 0, NULL, NULL, 0, 1)
         ON CONFLICT (grant_id) DO NOTHING",
        [grant_id],
    )
    .map_err(sql)?;
    Ok(false)
}

pub(super) fn use_assertion(
    conn: &Connection,
    client_id: &str,
    jti: &str,
    expires_at_ms: u64,
    now_ms: u64,
) -> Result<Insertion> {
    // One statement: a new row, or an expired one taken over; a live one
    // is left alone and nothing is returned.
    let (expires, now) = (
        ms_to_db(expires_at_ms, "expires_at_ms")?,
        ms_to_db(now_ms, "now_ms")?,
    );
    let inserted = conn
        .prepare_cached(
            "INSERT INTO oauth_assertions (client_id, jti, expires_at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (client_id, jti) DO UPDATE SET expires_at_ms = excluded.expires_at_ms
             WHERE oauth_assertions.expires_at_ms <= ?4
             RETURNING 1",
        )
        .and_then(|mut s| {
            s.query_row(params![client_id, jti, expires, now], |_| Ok(()))
                .optional()
        })
        .map_err(sql)?;
    Ok(if inserted.is_some() {
        Insertion::Inserted
    } else {
        Insertion::AlreadyUsed
    })
}

pub(super) fn purge_oauth(conn: &Connection, now_ms: u64) -> Result<u64> {
    let now = ms_to_db(now_ms, "now_ms")?;
    let mut purged = 0;
    for table in [
        "oauth_codes",
        "oauth_challenges",
        "oauth_sessions",
        "oauth_assertions",
    ] {
        purged += conn
            .execute(
                &format!("DELETE FROM {table} WHERE expires_at_ms <= ?1"),
                [now],
            )
            .map_err(sql)?;
    }
    Ok(purged as u64)
}
