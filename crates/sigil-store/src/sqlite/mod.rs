//! The SQLite backend: one database file, one writer thread.

mod accounts;
mod checkpoint;
mod error;
mod file_mode;
mod keys;
mod oauth;
mod replay;
mod schema;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sigil_core::PublicKey;
use tracing::{Instrument, debug, debug_span};

use crate::account::{Account, AccountStore, AccountUpdate};
use crate::backend::{Backend, BoxFuture};
use crate::error::{Error, Result};
use crate::oauth::{
    ClientRecord, CodeConsumption, CodeRecord, ConsentRecord, GrantRecord, OAuthStore,
    SessionRecord,
};
use crate::replay::{Insertion, ReplayRecord, ReplayStore};
use crate::signing_key::{KeyBytesUpdate, NewSigningKey, SigningKeyRecord, SigningKeyStore};
use crate::url::{SqliteLocation, StoreUrl};

use writer::Writer;

/// Settings of an [`SqliteStore`]; [`Default`] is what
/// [`Store::open`](crate::Store::open) uses.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// How long a write waits for another process's lock (e.g. `sigil keys
    /// rotate` on the same file) before failing with
    /// [`Error::Unavailable`]. Default 5 s.
    pub busy_timeout: Duration,
    /// The most calls committed in one transaction. Default 64.
    pub max_batch: usize,
    /// Calls that may wait for the writer thread before callers wait to
    /// queue. Default 1024.
    pub queue_capacity: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
            max_batch: 64,
            queue_capacity: 1024,
        }
    }
}

/// Replay records, signing keys and accounts in one SQLite database (WAL,
/// `synchronous = NORMAL`), owned by one dedicated thread.
///
/// Every call is queued to that thread, which commits whatever is queued
/// in one transaction and only then answers; see
/// `docs/decisions/0005-store-design.md`. Clones share the thread.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Writer,
    /// Replay records migrated from schema version 1 may remain (see
    /// `migrations/sqlite/0002_replay_by_signed_time.sql`): inserts then
    /// also look their key up among them. Cleared by the purge that
    /// removes the last one.
    untimed_replay_rows: Arc<AtomicBool>,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database of `url`
    /// (`sqlite://PATH`, `sqlite:PATH` or `sqlite::memory:`).
    ///
    /// # Errors
    ///
    /// As [`Store::open`](crate::Store::open).
    pub async fn open(url: &str, options: SqliteOptions) -> Result<Self> {
        match StoreUrl::parse(url)? {
            StoreUrl::Sqlite(location) => Self::open_location(location, options).await,
            StoreUrl::Postgres(_) => Err(Error::InvalidUrl {
                reason: "not a sqlite URL".into(),
            }),
        }
    }

    pub(crate) async fn open_location(
        location: SqliteLocation,
        options: SqliteOptions,
    ) -> Result<Self> {
        let writer = Writer::start(location, options).await?;
        let untimed = writer.call(replay::has_untimed_rows).await?;
        Ok(Self {
            writer,
            untimed_replay_rows: Arc::new(AtomicBool::new(untimed)),
        })
    }
}

impl Backend for SqliteStore {
    fn health(&self) -> BoxFuture<'_, Result<()>> {
        // Runs inside the writer's BEGIN IMMEDIATE: proves the write lock
        // can be taken, not only that the file can be read.
        let span = debug_span!("store.health", backend = "sqlite");
        Box::pin(
            self.writer
                .call(|conn| {
                    conn.query_row("SELECT count(*) FROM schema_version", [], |_| Ok(()))
                        .map_err(error::sql)
                })
                .instrument(span),
        )
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.writer.close())
    }
}

impl ReplayStore for SqliteStore {
    fn insert_if_absent(
        &self,
        record: ReplayRecord,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Insertion>> {
        let span = debug_span!(
            "store.insert_if_absent",
            backend = "sqlite",
            namespace = record.namespace.as_str()
        );
        Box::pin(
            async move {
                record.check_alive_at(now_ms)?;
                let untimed = self.untimed_replay_rows.load(Ordering::Acquire);
                self.writer
                    .call(move |conn| replay::insert_if_absent(conn, &record, now_ms, untimed))
                    .await
            }
            .instrument(span),
        )
    }

    fn purge_expired(&self, now_ms: u64) -> BoxFuture<'_, Result<u64>> {
        let span = debug_span!("store.purge_expired", backend = "sqlite");
        let untimed = Arc::clone(&self.untimed_replay_rows);
        Box::pin(
            self.writer
                .call(move |conn| {
                    let purged = replay::purge_expired(conn, now_ms)?;
                    if untimed.load(Ordering::Acquire) && !replay::has_untimed_rows(conn)? {
                        // Committed with this batch; inserts sent after it
                        // no longer look among version-1 rows (none left).
                        untimed.store(false, Ordering::Release);
                        debug!("no replay records of schema version 1 are left");
                    }
                    Ok(purged)
                })
                .instrument(span),
        )
    }
}

impl SigningKeyStore for SqliteStore {
    fn insert_key(&self, key: NewSigningKey) -> BoxFuture<'_, Result<()>> {
        let span = debug_span!("store.insert_key", backend = "sqlite", kid = key.kid());
        Box::pin(
            async move {
                key.validate()?;
                self.writer
                    .call(move |conn| keys::insert_key(conn, &key))
                    .await
            }
            .instrument(span),
        )
    }

    fn list_keys(&self) -> BoxFuture<'_, Result<Vec<SigningKeyRecord>>> {
        let span = debug_span!("store.list_keys", backend = "sqlite");
        Box::pin(self.writer.call(keys::list_keys).instrument(span))
    }

    fn rotate_key(
        &self,
        key: NewSigningKey,
        retires_at_ms: u64,
    ) -> BoxFuture<'_, Result<Option<String>>> {
        let span = debug_span!("store.rotate_key", backend = "sqlite", kid = key.kid());
        Box::pin(
            async move {
                key.validate()?;
                self.writer
                    .call(move |conn| keys::rotate_key(conn, &key, retires_at_ms))
                    .await
            }
            .instrument(span),
        )
    }

    fn retire_expired_keys(&self, now_ms: u64) -> BoxFuture<'_, Result<u64>> {
        let span = debug_span!("store.retire_expired_keys", backend = "sqlite");
        Box::pin(
            self.writer
                .call(move |conn| keys::retire_expired_keys(conn, now_ms))
                .instrument(span),
        )
    }

    fn replace_key_bytes(&self, updates: Vec<KeyBytesUpdate>) -> BoxFuture<'_, Result<()>> {
        let span = debug_span!(
            "store.replace_key_bytes",
            backend = "sqlite",
            keys = updates.len()
        );
        Box::pin(
            async move {
                updates.iter().try_for_each(KeyBytesUpdate::validate)?;
                self.writer
                    .call(move |conn| keys::replace_key_bytes(conn, &updates))
                    .await
            }
            .instrument(span),
        )
    }

    fn set_certificate(&self, kid: &str, der: Vec<u8>) -> BoxFuture<'_, Result<bool>> {
        let span = debug_span!("store.set_certificate", backend = "sqlite", kid);
        let kid = kid.to_owned();
        Box::pin(
            async move {
                crate::signing_key::validate_certificate(&kid, &der)?;
                self.writer
                    .call(move |conn| keys::set_certificate(conn, &kid, &der))
                    .await
            }
            .instrument(span),
        )
    }
}

impl AccountStore for SqliteStore {
    fn add_account(&self, account: Account) -> BoxFuture<'_, Result<()>> {
        let span = debug_span!("store.add_account", backend = "sqlite");
        Box::pin(
            self.writer
                .call(move |conn| accounts::add_account(conn, &account))
                .instrument(span),
        )
    }

    fn get_account(&self, pubkey: PublicKey) -> BoxFuture<'_, Result<Option<Account>>> {
        let span = debug_span!("store.get_account", backend = "sqlite");
        Box::pin(
            self.writer
                .call(move |conn| accounts::get_account(conn, &pubkey))
                .instrument(span),
        )
    }

    fn list_accounts(&self) -> BoxFuture<'_, Result<Vec<Account>>> {
        let span = debug_span!("store.list_accounts", backend = "sqlite");
        Box::pin(self.writer.call(accounts::list_accounts).instrument(span))
    }

    fn revoke_account(&self, pubkey: PublicKey, now_ms: u64) -> BoxFuture<'_, Result<Account>> {
        let span = debug_span!("store.revoke_account", backend = "sqlite");
        Box::pin(
            self.writer
                .call(move |conn| accounts::revoke_account(conn, &pubkey, now_ms))
                .instrument(span),
        )
    }

    fn unrevoke_account(&self, pubkey: PublicKey) -> BoxFuture<'_, Result<Account>> {
        let span = debug_span!("store.unrevoke_account", backend = "sqlite");
        Box::pin(
            self.writer
                .call(move |conn| accounts::unrevoke_account(conn, &pubkey))
                .instrument(span),
        )
    }

    fn update_account(
        &self,
        pubkey: PublicKey,
        update: AccountUpdate,
    ) -> BoxFuture<'_, Result<Account>> {
        let span = debug_span!("store.update_account", backend = "sqlite");
        Box::pin(
            self.writer
                .call(move |conn| accounts::update_account(conn, &pubkey, &update))
                .instrument(span),
        )
    }

    fn remove_account(&self, pubkey: PublicKey) -> BoxFuture<'_, Result<Account>> {
        let span = debug_span!("store.remove_account", backend = "sqlite");
        Box::pin(
            self.writer
                .call(move |conn| accounts::remove_account(conn, &pubkey))
                .instrument(span),
        )
    }
}

/// One OAuth store call: a span, then `$work` on the writer's connection.
macro_rules! oauth_call {
    ($self:ident, $name:literal, |$conn:ident| $work:expr) => {
        Box::pin(
            $self
                .writer
                .call(move |$conn| $work)
                .instrument(debug_span!($name, backend = "sqlite")),
        )
    };
}

impl OAuthStore for SqliteStore {
    fn add_client(&self, client: ClientRecord) -> BoxFuture<'_, Result<()>> {
        oauth_call!(self, "store.add_client", |conn| oauth::add_client(
            conn, &client
        ))
    }

    fn get_client(&self, client_id: String) -> BoxFuture<'_, Result<Option<ClientRecord>>> {
        oauth_call!(self, "store.get_client", |conn| oauth::get_client(
            conn, &client_id
        ))
    }

    fn list_clients(&self) -> BoxFuture<'_, Result<Vec<ClientRecord>>> {
        oauth_call!(self, "store.list_clients", |conn| oauth::list_clients(conn))
    }

    fn remove_client(&self, client_id: String) -> BoxFuture<'_, Result<ClientRecord>> {
        oauth_call!(self, "store.remove_client", |conn| oauth::remove_client(
            conn, &client_id
        ))
    }

    fn insert_code(&self, code: CodeRecord) -> BoxFuture<'_, Result<()>> {
        oauth_call!(self, "store.insert_code", |conn| oauth::insert_code(
            conn, &code
        ))
    }

    fn consume_code(&self, code_hash: String) -> BoxFuture<'_, Result<CodeConsumption>> {
        oauth_call!(self, "store.consume_code", |conn| oauth::consume_code(
            conn, &code_hash
        ))
    }

    fn insert_challenge(
        &self,
        nonce: String,
        binding_hash: String,
        expires_at_ms: u64,
    ) -> BoxFuture<'_, Result<()>> {
        oauth_call!(self, "store.insert_challenge", |conn| {
            oauth::insert_challenge(conn, &nonce, &binding_hash, expires_at_ms)
        })
    }

    fn consume_challenge(
        &self,
        nonce: String,
        binding_hash: String,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<bool>> {
        oauth_call!(self, "store.consume_challenge", |conn| {
            oauth::consume_challenge(conn, &nonce, &binding_hash, now_ms)
        })
    }

    fn create_session(&self, session: SessionRecord) -> BoxFuture<'_, Result<()>> {
        oauth_call!(self, "store.create_session", |conn| oauth::create_session(
            conn, &session
        ))
    }

    fn get_session(
        &self,
        id_hash: String,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<SessionRecord>>> {
        oauth_call!(self, "store.get_session", |conn| oauth::get_session(
            conn, &id_hash, now_ms
        ))
    }

    fn delete_session(&self, id_hash: String) -> BoxFuture<'_, Result<bool>> {
        oauth_call!(self, "store.delete_session", |conn| oauth::delete_session(
            conn, &id_hash
        ))
    }

    fn put_consent(&self, consent: ConsentRecord) -> BoxFuture<'_, Result<()>> {
        oauth_call!(self, "store.put_consent", |conn| oauth::put_consent(
            conn, &consent
        ))
    }

    fn get_consent(
        &self,
        subject: String,
        client_id: String,
    ) -> BoxFuture<'_, Result<Option<ConsentRecord>>> {
        oauth_call!(self, "store.get_consent", |conn| oauth::get_consent(
            conn, &subject, &client_id
        ))
    }

    fn list_consents(&self, subject: String) -> BoxFuture<'_, Result<Vec<ConsentRecord>>> {
        oauth_call!(self, "store.list_consents", |conn| oauth::list_consents(
            conn, &subject
        ))
    }

    fn revoke_consent(&self, subject: String, client_id: String) -> BoxFuture<'_, Result<u64>> {
        oauth_call!(self, "store.revoke_consent", |conn| oauth::revoke_consent(
            conn, &subject, &client_id
        ))
    }

    fn create_grant(&self, grant: GrantRecord) -> BoxFuture<'_, Result<()>> {
        oauth_call!(self, "store.create_grant", |conn| oauth::create_grant(
            conn, &grant
        ))
    }

    fn get_grant(&self, grant_id: String) -> BoxFuture<'_, Result<Option<GrantRecord>>> {
        oauth_call!(self, "store.get_grant", |conn| oauth::get_grant(
            conn, &grant_id
        ))
    }

    fn grant_by_refresh(&self, token_hash: String) -> BoxFuture<'_, Result<Option<GrantRecord>>> {
        oauth_call!(self, "store.grant_by_refresh", |conn| {
            oauth::grant_by_refresh(conn, &token_hash)
        })
    }

    fn rotate_refresh(
        &self,
        grant_id: String,
        expected_current: String,
        new_hash: String,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<bool>> {
        oauth_call!(self, "store.rotate_refresh", |conn| {
            oauth::rotate_refresh(conn, &grant_id, &expected_current, &new_hash, now_ms)
        })
    }

    fn revoke_grant(&self, grant_id: String) -> BoxFuture<'_, Result<bool>> {
        oauth_call!(self, "store.revoke_grant", |conn| oauth::revoke_grant(
            conn, &grant_id
        ))
    }

    fn use_assertion(
        &self,
        client_id: String,
        jti: String,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Insertion>> {
        oauth_call!(self, "store.use_assertion", |conn| {
            oauth::use_assertion(conn, &client_id, &jti, expires_at_ms, now_ms)
        })
    }

    fn purge_oauth(&self, now_ms: u64) -> BoxFuture<'_, Result<u64>> {
        oauth_call!(self, "store.purge_oauth", |conn| oauth::purge_oauth(
            conn, now_ms
        ))
    }
}
