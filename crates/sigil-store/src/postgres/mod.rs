//! The PostgreSQL backend: several instances share one database.

mod accounts;
mod error;
mod keys;
mod oauth;
mod replay;
mod schema;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_postgres::{Client, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use sigil_core::PublicKey;
use tokio_postgres::NoTls;
use tracing::{Instrument, debug_span, info};

use crate::account::{Account, AccountStore, AccountUpdate};
use crate::backend::{Backend, BoxFuture};
use crate::error::{Error, Result};
use crate::oauth::{
    ClientRecord, CodeConsumption, CodeRecord, ConsentRecord, GrantRecord, OAuthStore,
    SessionRecord,
};
use crate::replay::{Insertion, ReplayRecord, ReplayStore};
use crate::signing_key::{KeyBytesUpdate, NewSigningKey, SigningKeyRecord, SigningKeyStore};
use crate::url::StoreUrl;

use self::error::{bounded, pool};
use self::replay::{BatchSettings, Batcher};

/// Settings of a [`PostgresStore`]; [`Default`] is what
/// [`Store::open`](crate::Store::open) uses.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// Connections in the pool. Default 16.
    pub max_connections: usize,
    /// How long a call waits for a free connection, and how long opening
    /// one may take, before failing with [`Error::Unavailable`]. Default 2 s.
    pub connect_timeout: Duration,
    /// How long any one call may take in all, before failing with
    /// [`Error::Unavailable`]: shorter than the server's request timeout,
    /// so a database that stopped answering gives a 503, not a hang.
    /// Default 5 s.
    pub call_timeout: Duration,
    /// The most replay inserts sent in one statement. Default 256.
    pub max_batch: usize,
    /// Replay insert statements running at once; further inserts queue and
    /// go into the next batch. Default 4.
    pub max_commits_in_flight: usize,
    /// Replay inserts that may queue before callers wait to queue.
    /// Default 4096.
    pub queue_capacity: usize,
    /// Rows one purge statement deletes at most. Default 5000.
    pub purge_batch: u32,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            connect_timeout: Duration::from_secs(2),
            call_timeout: Duration::from_secs(5),
            max_batch: 256,
            max_commits_in_flight: 4,
            queue_capacity: 4096,
            purge_batch: 5000,
        }
    }
}

/// Replay records, signing keys, accounts and the OAuth provider's records
/// in one PostgreSQL database,
/// shared by every instance that opens it (docs/protocol.md §12).
///
/// A pool of tokio-postgres connections, each preparing its statements once;
/// replay inserts batched into one statement per commit (see
/// `docs/decisions/0015-postgres-and-redis.md`); migrations under an
/// advisory lock at open. The search path (`?options=-c%20search_path%3D…`
/// in the URL) chooses the schema. Clones share the pool.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    batcher: Batcher,
    closed: AtomicBool,
    options: PostgresOptions,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("status", &self.inner.pool.status())
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database of `url` (`postgres://…`, `postgresql://…`
    /// or a libpq `key=value` string) and migrates it. Must be called
    /// within a tokio runtime, which then runs the replay batcher.
    ///
    /// # Errors
    ///
    /// As [`Store::open`](crate::Store::open).
    pub async fn open(url: &str, options: PostgresOptions) -> Result<Self> {
        match StoreUrl::parse(url)? {
            StoreUrl::Postgres(config) => Self::open_config(*config, options).await,
            StoreUrl::Sqlite(_) => Err(Error::InvalidUrl {
                reason: "not a postgres URL".into(),
            }),
        }
    }

    pub(crate) async fn open_config(
        mut config: tokio_postgres::Config,
        options: PostgresOptions,
    ) -> Result<Self> {
        config.connect_timeout(options.connect_timeout);
        if config.get_application_name().is_none() {
            config.application_name("sigil");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| Error::unavailable(format!("postgres: pool: {e}")))?;
        bounded(options.call_timeout * 4, "migrating", async {
            let mut client = pool.get().await.map_err(pool_error)?;
            schema::migrate(&mut client).await
        })
        .await?;
        info!(
            schema_version = schema::SCHEMA_VERSION,
            "postgres store open"
        );
        let batcher = Batcher::start(
            pool.clone(),
            BatchSettings {
                max_batch: options.max_batch,
                in_flight: options.max_commits_in_flight,
                queue: options.queue_capacity,
                timeout: options.call_timeout,
            },
        );
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                batcher,
                closed: AtomicBool::new(false),
                options,
            }),
        })
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            Err(Error::unavailable("postgres: store closed"))
        } else {
            Ok(())
        }
    }

    /// Runs `work` on a pooled connection, bounded by the call timeout.
    async fn with_client<T, F>(&self, what: &'static str, work: F) -> Result<T>
    where
        F: AsyncFnOnce(&mut Client) -> Result<T>,
    {
        self.check_open()?;
        bounded(self.inner.options.call_timeout, what, async {
            let mut client = self.inner.pool.get().await.map_err(pool_error)?;
            work(&mut client).await
        })
        .await
    }
}

fn pool_error(error: deadpool_postgres::PoolError) -> Error {
    pool(error)
}

impl Backend for PostgresStore {
    fn health(&self) -> BoxFuture<'_, Result<()>> {
        let span = debug_span!("store.health", backend = "postgres");
        Box::pin(
            self.with_client("a health check", async |client| {
                let writable: bool = client
                    .query_one("SELECT NOT pg_is_in_recovery()", &[])
                    .await
                    .map_err(error::sql)?
                    .get(0);
                if writable {
                    Ok(())
                } else {
                    Err(Error::unavailable(
                        "postgres: the server is a read-only standby",
                    ))
                }
            })
            .instrument(span),
        )
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.inner.closed.store(true, Ordering::Release);
            self.inner.pool.close();
            Ok(())
        })
    }
}

impl ReplayStore for PostgresStore {
    fn insert_if_absent(
        &self,
        record: ReplayRecord,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Insertion>> {
        let span = debug_span!(
            "store.insert_if_absent",
            backend = "postgres",
            namespace = record.namespace.as_str()
        );
        Box::pin(
            async move {
                record.check_alive_at(now_ms)?;
                self.check_open()?;
                self.inner.batcher.insert(record, now_ms).await
            }
            .instrument(span),
        )
    }

    fn purge_expired(&self, now_ms: u64) -> BoxFuture<'_, Result<u64>> {
        let span = debug_span!("store.purge_expired", backend = "postgres");
        let batch = i64::from(self.inner.options.purge_batch.max(1));
        Box::pin(
            async move {
                self.check_open()?;
                // Several bounded batches: a longer bound than one call's.
                let pool = &self.inner.pool;
                bounded(
                    self.inner.options.call_timeout * 4,
                    "purging replay records",
                    replay::purge_expired(pool, now_ms, batch),
                )
                .await
            }
            .instrument(span),
        )
    }
}

impl SigningKeyStore for PostgresStore {
    fn insert_key(&self, key: NewSigningKey) -> BoxFuture<'_, Result<()>> {
        let span = debug_span!("store.insert_key", backend = "postgres", kid = key.kid());
        Box::pin(
            async move {
                key.validate()?;
                self.with_client("inserting a key", async |c| keys::insert_key(c, &key).await)
                    .await
            }
            .instrument(span),
        )
    }

    fn list_keys(&self) -> BoxFuture<'_, Result<Vec<SigningKeyRecord>>> {
        let span = debug_span!("store.list_keys", backend = "postgres");
        Box::pin(
            self.with_client("listing keys", async |c| keys::list_keys(c).await)
                .instrument(span),
        )
    }

    fn rotate_key(
        &self,
        key: NewSigningKey,
        retires_at_ms: u64,
    ) -> BoxFuture<'_, Result<Option<String>>> {
        let span = debug_span!("store.rotate_key", backend = "postgres", kid = key.kid());
        Box::pin(
            async move {
                key.validate()?;
                self.with_client("rotating keys", async |c| {
                    keys::rotate_key(c, &key, retires_at_ms).await
                })
                .await
            }
            .instrument(span),
        )
    }

    fn retire_expired_keys(&self, now_ms: u64) -> BoxFuture<'_, Result<u64>> {
        let span = debug_span!("store.retire_expired_keys", backend = "postgres");
        Box::pin(
            self.with_client("retiring keys", async move |c| {
                keys::retire_expired_keys(c, now_ms).await
            })
            .instrument(span),
        )
    }

    fn replace_key_bytes(&self, updates: Vec<KeyBytesUpdate>) -> BoxFuture<'_, Result<()>> {
        let span = debug_span!(
            "store.replace_key_bytes",
            backend = "postgres",
            keys = updates.len()
        );
        Box::pin(
            async move {
                updates.iter().try_for_each(KeyBytesUpdate::validate)?;
                self.with_client("replacing key bytes", async |c| {
                    keys::replace_key_bytes(c, &updates).await
                })
                .await
            }
            .instrument(span),
        )
    }

    fn set_certificate(&self, kid: &str, der: Vec<u8>) -> BoxFuture<'_, Result<bool>> {
        let span = debug_span!("store.set_certificate", backend = "postgres", kid);
        let kid = kid.to_owned();
        Box::pin(
            async move {
                crate::signing_key::validate_certificate(&kid, &der)?;
                self.with_client("storing a key certificate", async |c| {
                    keys::set_certificate(c, &kid, &der).await
                })
                .await
            }
            .instrument(span),
        )
    }
}

impl AccountStore for PostgresStore {
    fn add_account(&self, account: Account) -> BoxFuture<'_, Result<()>> {
        let span = debug_span!("store.add_account", backend = "postgres");
        Box::pin(
            self.with_client("adding an account", async move |c| {
                accounts::add_account(c, &account).await
            })
            .instrument(span),
        )
    }

    fn get_account(&self, pubkey: PublicKey) -> BoxFuture<'_, Result<Option<Account>>> {
        let span = debug_span!("store.get_account", backend = "postgres");
        Box::pin(
            self.with_client("reading an account", async move |c| {
                accounts::get_account(c, &pubkey).await
            })
            .instrument(span),
        )
    }

    fn list_accounts(&self) -> BoxFuture<'_, Result<Vec<Account>>> {
        let span = debug_span!("store.list_accounts", backend = "postgres");
        Box::pin(
            self.with_client("listing accounts", async |c| {
                accounts::list_accounts(c).await
            })
            .instrument(span),
        )
    }

    fn revoke_account(&self, pubkey: PublicKey, now_ms: u64) -> BoxFuture<'_, Result<Account>> {
        let span = debug_span!("store.revoke_account", backend = "postgres");
        Box::pin(
            self.with_client("revoking an account", async move |c| {
                accounts::revoke_account(c, &pubkey, now_ms).await
            })
            .instrument(span),
        )
    }

    fn unrevoke_account(&self, pubkey: PublicKey) -> BoxFuture<'_, Result<Account>> {
        let span = debug_span!("store.unrevoke_account", backend = "postgres");
        Box::pin(
            self.with_client("unrevoking an account", async move |c| {
                accounts::unrevoke_account(c, &pubkey).await
            })
            .instrument(span),
        )
    }

    fn update_account(
        &self,
        pubkey: PublicKey,
        update: AccountUpdate,
    ) -> BoxFuture<'_, Result<Account>> {
        let span = debug_span!("store.update_account", backend = "postgres");
        Box::pin(
            self.with_client("updating an account", async move |c| {
                accounts::update_account(c, &pubkey, &update).await
            })
            .instrument(span),
        )
    }

    fn remove_account(&self, pubkey: PublicKey) -> BoxFuture<'_, Result<Account>> {
        let span = debug_span!("store.remove_account", backend = "postgres");
        Box::pin(
            self.with_client("removing an account", async move |c| {
                accounts::remove_account(c, &pubkey).await
            })
            .instrument(span),
        )
    }
}

/// One OAuth store call: a span, then `$work` on a pooled connection,
/// bounded by the call timeout.
macro_rules! oauth_call {
    ($self:ident, $name:literal, $what:literal, |$client:ident| $work:expr) => {
        Box::pin(
            $self
                .with_client($what, async move |$client| $work.await)
                .instrument(debug_span!($name, backend = "postgres")),
        )
    };
}

impl OAuthStore for PostgresStore {
    fn add_client(&self, client: ClientRecord) -> BoxFuture<'_, Result<()>> {
        oauth_call!(self, "store.add_client", "adding a client", |c| {
            oauth::add_client(c, &client)
        })
    }

    fn get_client(&self, client_id: String) -> BoxFuture<'_, Result<Option<ClientRecord>>> {
        oauth_call!(self, "store.get_client", "reading a client", |c| {
            oauth::get_client(c, &client_id)
        })
    }

    fn list_clients(&self) -> BoxFuture<'_, Result<Vec<ClientRecord>>> {
        oauth_call!(self, "store.list_clients", "listing clients", |c| {
            oauth::list_clients(c)
        })
    }

    fn remove_client(&self, client_id: String) -> BoxFuture<'_, Result<ClientRecord>> {
        oauth_call!(self, "store.remove_client", "removing a client", |c| {
            oauth::remove_client(c, &client_id)
        })
    }

    fn insert_code(&self, code: CodeRecord) -> BoxFuture<'_, Result<()>> {
        oauth_call!(self, "store.insert_code", "storing a code", |c| {
            oauth::insert_code(c, &code)
        })
    }

    fn consume_code(&self, code_hash: String) -> BoxFuture<'_, Result<CodeConsumption>> {
        oauth_call!(self, "store.consume_code", "consuming a code", |c| {
            oauth::consume_code(c, &code_hash)
        })
    }

    fn insert_challenge(
        &self,
        nonce: String,
        binding_hash: String,
        expires_at_ms: u64,
    ) -> BoxFuture<'_, Result<()>> {
        oauth_call!(self, "store.insert_challenge", "storing a challenge", |c| {
            oauth::insert_challenge(c, &nonce, &binding_hash, expires_at_ms)
        })
    }

    fn consume_challenge(
        &self,
        nonce: String,
        binding_hash: String,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<bool>> {
        oauth_call!(
            self,
            "store.consume_challenge",
            "consuming a challenge",
            |c| oauth::consume_challenge(c, &nonce, &binding_hash, now_ms)
        )
    }

    fn create_session(&self, session: SessionRecord) -> BoxFuture<'_, Result<()>> {
        oauth_call!(self, "store.create_session", "storing a session", |c| {
            oauth::create_session(c, &session)
        })
    }

    fn get_session(
        &self,
        id_hash: String,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<SessionRecord>>> {
        oauth_call!(self, "store.get_session", "reading a session", |c| {
            oauth::get_session(c, &id_hash, now_ms)
        })
    }

    fn delete_session(&self, id_hash: String) -> BoxFuture<'_, Result<bool>> {
        oauth_call!(self, "store.delete_session", "ending a session", |c| {
            oauth::delete_session(c, &id_hash)
        })
    }

    fn put_consent(&self, consent: ConsentRecord) -> BoxFuture<'_, Result<()>> {
        oauth_call!(self, "store.put_consent", "storing a consent", |c| {
            oauth::put_consent(c, &consent)
        })
    }

    fn get_consent(
        &self,
        subject: String,
        client_id: String,
    ) -> BoxFuture<'_, Result<Option<ConsentRecord>>> {
        oauth_call!(self, "store.get_consent", "reading a consent", |c| {
            oauth::get_consent(c, &subject, &client_id)
        })
    }

    fn list_consents(&self, subject: String) -> BoxFuture<'_, Result<Vec<ConsentRecord>>> {
        oauth_call!(self, "store.list_consents", "listing consents", |c| {
            oauth::list_consents(c, &subject)
        })
    }

    fn revoke_consent(&self, subject: String, client_id: String) -> BoxFuture<'_, Result<u64>> {
        oauth_call!(self, "store.revoke_consent", "revoking a consent", |c| {
            oauth::revoke_consent(c, &subject, &client_id)
        })
    }

    fn create_grant(&self, grant: GrantRecord) -> BoxFuture<'_, Result<()>> {
        oauth_call!(self, "store.create_grant", "storing a grant", |c| {
            oauth::create_grant(c, &grant)
        })
    }

    fn get_grant(&self, grant_id: String) -> BoxFuture<'_, Result<Option<GrantRecord>>> {
        oauth_call!(self, "store.get_grant", "reading a grant", |c| {
            oauth::get_grant(c, &grant_id)
        })
    }

    fn grant_by_refresh(&self, token_hash: String) -> BoxFuture<'_, Result<Option<GrantRecord>>> {
        oauth_call!(
            self,
            "store.grant_by_refresh",
            "finding a refresh token",
            |c| { oauth::grant_by_refresh(c, &token_hash) }
        )
    }

    fn rotate_refresh(
        &self,
        grant_id: String,
        expected_current: String,
        new_hash: String,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<bool>> {
        oauth_call!(
            self,
            "store.rotate_refresh",
            "rotating a refresh token",
            |c| { oauth::rotate_refresh(c, &grant_id, &expected_current, &new_hash, now_ms) }
        )
    }

    fn revoke_grant(&self, grant_id: String) -> BoxFuture<'_, Result<bool>> {
        oauth_call!(self, "store.revoke_grant", "revoking a grant", |c| {
            oauth::revoke_grant(c, &grant_id)
        })
    }

    fn use_assertion(
        &self,
        client_id: String,
        jti: String,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Insertion>> {
        oauth_call!(self, "store.use_assertion", "recording an assertion", |c| {
            oauth::use_assertion(c, &client_id, &jti, expires_at_ms, now_ms)
        })
    }

    fn purge_oauth(&self, now_ms: u64) -> BoxFuture<'_, Result<u64>> {
        oauth_call!(self, "store.purge_oauth", "purging OAuth records", |c| {
            oauth::purge_oauth(c, now_ms)
        })
    }
}
