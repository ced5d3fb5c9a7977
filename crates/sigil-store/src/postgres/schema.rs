//! Migrations at start-up, once however many instances start together.
//!
//! The whole migration is one transaction that first takes a transaction
//! advisory lock named after the schema (`current_schema()`, so databases
//! that keep several sigil schemas, as the tests do, do not wait on each
//! other). An instance that starts while another migrates waits for the
//! lock, then finds the schema current and applies nothing. PostgreSQL's
//! DDL is transactional: a migration that fails leaves nothing behind.

use deadpool_postgres::Client;
use tracing::info;

use super::error::sql;
use crate::error::{Error, Result};

/// One migration: `migrations/postgres/NNNN_name.sql`, applied once.
struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

/// Every migration, in order; versions are 1, 2, 3… without gaps.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../../migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "oauth",
        sql: include_str!("../../migrations/postgres/0002_oauth.sql"),
    },
    Migration {
        version: 3,
        name: "key_certificates",
        sql: include_str!("../../migrations/postgres/0003_key_certificates.sql"),
    },
];

/// The schema version this build brings a database to.
pub(super) const SCHEMA_VERSION: i32 = 3;

/// The advisory lock of one schema's migrations.
const LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtext(coalesce(current_schema(), '') || '/sigil-migrate'))";

const SCHEMA_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (
    version    integer     NOT NULL PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)";

/// Applies the migrations the schema lacks, under the advisory lock.
pub(super) async fn migrate(client: &mut Client) -> Result<()> {
    let transaction = client.transaction().await.map_err(sql)?;
    transaction.batch_execute(LOCK).await.map_err(sql)?;
    transaction
        .batch_execute(SCHEMA_VERSION_TABLE)
        .await
        .map_err(sql)?;
    let found: i32 = transaction
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await
        .map_err(sql)?
        .get(0);
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            found: u32::try_from(found).unwrap_or(u32::MAX),
            supported: SCHEMA_VERSION as u32,
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        transaction
            .batch_execute(migration.sql)
            .await
            .map_err(sql)?;
        transaction
            .execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&migration.version],
            )
            .await
            .map_err(sql)?;
        info!(
            version = migration.version,
            name = migration.name,
            "applied postgres migration"
        );
    }
    transaction.commit().await.map_err(sql)
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
}
