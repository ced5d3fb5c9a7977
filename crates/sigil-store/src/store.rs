//! [`Store`]: the three stores a server uses, opened from one URL.

use std::sync::Arc;

use crate::account::AccountStore;
use crate::error::Result;
use crate::oauth::{NoOAuthStore, OAuthStore};
use crate::postgres::{PostgresOptions, PostgresStore};
use crate::rate_limit::RateLimitStore;
use crate::redis::{RedisOptions, RedisReplayStore};
use crate::replay::ReplayStore;
use crate::signing_key::SigningKeyStore;
use crate::sqlite::{SqliteOptions, SqliteStore};
use crate::url::StoreUrl;

/// Replay records, signing keys and accounts, each behind its trait.
///
/// [`Store::open`] puts one backend behind all three;
/// [`Store::open_with`] puts a Redis beside the database for the replay
/// records and the rate-limit buckets (docs/protocol.md §12). Cloning is
/// cheap and shares the backends.
#[derive(Debug, Clone)]
pub struct Store {
    replay: Arc<dyn ReplayStore>,
    keys: Arc<dyn SigningKeyStore>,
    accounts: Arc<dyn AccountStore>,
    /// The OAuth provider's records (docs/protocol.md §17); [`NoOAuthStore`]
    /// for a backend without them.
    oauth: Arc<dyn OAuthStore>,
    /// Rate-limit buckets shared between instances, when a backend keeps
    /// them (Redis); `None` leaves the limits in-process.
    rate_limits: Option<Arc<dyn RateLimitStore>>,
}

impl Store {
    /// Opens the backend named by `url` with default options, applying its
    /// migrations: `sqlite://PATH` (`sqlite://sigil.db` is the default,
    /// [`DEFAULT_STORE_URL`](crate::DEFAULT_STORE_URL)), `sqlite:PATH`,
    /// `sqlite::memory:` (private to this store, lost when it closes), or
    /// PostgreSQL as libpq users write it: `postgres://user@host:port/db`,
    /// `postgresql://…`, `?sslmode=disable|prefer`, a password in the URL
    /// or in `PGPASSWORD`, `?host=/run/postgresql` or the `key=value`
    /// form for a socket. This is the one place that names a backend.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedScheme`](crate::Error::UnsupportedScheme) or
    /// [`Error::InvalidUrl`](crate::Error::InvalidUrl) for a URL this build
    /// cannot open; [`Error::Unavailable`](crate::Error::Unavailable) when
    /// the database cannot be opened or written;
    /// [`Error::Corrupt`](crate::Error::Corrupt) for a file that is not a
    /// database; [`Error::SchemaTooNew`](crate::Error::SchemaTooNew).
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url, None).await
    }

    /// [`Store::open`] for `database`, then, when `redis` is given, a
    /// Redis beside it (`redis://[[user]:password@]host[:port][/DB]`, with
    /// its options: the key prefix, the timeouts) keeping the replay
    /// records and the rate-limit buckets that every instance shares.
    /// The database keeps everything else.
    ///
    /// # Errors
    ///
    /// As [`Store::open`]; for Redis,
    /// [`Error::InvalidUrl`](crate::Error::InvalidUrl) for a URL that is
    /// not `redis://…` (`rediss://` included: no TLS in this build) and
    /// [`Error::Unavailable`](crate::Error::Unavailable) when it cannot
    /// be reached in time.
    pub async fn open_with(database: &str, redis: Option<(&str, RedisOptions)>) -> Result<Self> {
        let store = Self::open_database(database).await?;
        let Some((url, options)) = redis else {
            return Ok(store);
        };
        let redis = match RedisReplayStore::open(url, options).await {
            Ok(redis) => redis,
            Err(error) => {
                let _ = store.close().await;
                return Err(error);
            }
        };
        Ok(store
            .with_rate_limits(Arc::new(redis.rate_limits()))
            .with_replay(Arc::new(redis)))
    }

    async fn open_database(url: &str) -> Result<Self> {
        match StoreUrl::parse(url)? {
            StoreUrl::Sqlite(location) => {
                let store = SqliteStore::open_location(location, SqliteOptions::default()).await?;
                let oauth = Arc::new(store.clone());
                Ok(Self::from_backend(store).with_oauth(oauth))
            }
            StoreUrl::Postgres(config) => {
                let store = PostgresStore::open_config(*config, PostgresOptions::default()).await?;
                let oauth = Arc::new(store.clone());
                Ok(Self::from_backend(store).with_oauth(oauth))
            }
        }
    }

    /// One backend behind all three traits.
    #[must_use]
    pub fn from_backend<B>(backend: B) -> Self
    where
        B: ReplayStore + SigningKeyStore + AccountStore + 'static,
    {
        let backend = Arc::new(backend);
        Self {
            replay: backend.clone(),
            keys: backend.clone(),
            accounts: backend,
            oauth: Arc::new(NoOAuthStore),
            rate_limits: None,
        }
    }

    /// Separate backends, e.g. a test double for one of them.
    #[must_use]
    pub fn from_parts(
        replay: Arc<dyn ReplayStore>,
        keys: Arc<dyn SigningKeyStore>,
        accounts: Arc<dyn AccountStore>,
    ) -> Self {
        Self {
            replay,
            keys,
            accounts,
            oauth: Arc::new(NoOAuthStore),
            rate_limits: None,
        }
    }

    /// This store with `oauth` keeping the OAuth provider's records.
    #[must_use]
    pub fn with_oauth(self, oauth: Arc<dyn OAuthStore>) -> Self {
        Self { oauth, ..self }
    }

    /// The OAuth provider's records.
    #[must_use]
    pub fn oauth(&self) -> &Arc<dyn OAuthStore> {
        &self.oauth
    }

    /// This store with `replay` in place of its replay store.
    #[must_use]
    pub fn with_replay(self, replay: Arc<dyn ReplayStore>) -> Self {
        Self { replay, ..self }
    }

    /// This store with `rate_limits` keeping the rate-limit buckets.
    #[must_use]
    pub fn with_rate_limits(self, rate_limits: Arc<dyn RateLimitStore>) -> Self {
        Self {
            rate_limits: Some(rate_limits),
            ..self
        }
    }

    /// The shared rate-limit buckets, or `None` when the limits are kept
    /// in each process.
    #[must_use]
    pub fn rate_limits(&self) -> Option<&Arc<dyn RateLimitStore>> {
        self.rate_limits.as_ref()
    }

    /// Replay records.
    #[must_use]
    pub fn replay(&self) -> &Arc<dyn ReplayStore> {
        &self.replay
    }

    /// Signing keys.
    #[must_use]
    pub fn keys(&self) -> &Arc<dyn SigningKeyStore> {
        &self.keys
    }

    /// Accounts.
    #[must_use]
    pub fn accounts(&self) -> &Arc<dyn AccountStore> {
        &self.accounts
    }

    /// Succeeds when every backend can take a write now (`GET /ready`).
    ///
    /// # Errors
    ///
    /// The first backend's error.
    pub async fn health(&self) -> Result<()> {
        self.replay.health().await?;
        self.keys.health().await?;
        self.accounts.health().await
    }

    /// Closes every backend (see [`Backend::close`](crate::Backend::close)).
    ///
    /// # Errors
    ///
    /// The first error; every backend is closed all the same.
    pub async fn close(&self) -> Result<()> {
        let results = [
            self.replay.close().await,
            self.keys.close().await,
            self.accounts.close().await,
            self.oauth.close().await,
        ];
        results.into_iter().collect()
    }
}
