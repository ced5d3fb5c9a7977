//! The Redis backend for replay records and rate-limit buckets, beside a
//! database (docs/protocol.md §12): several instances share both, and
//! Redis expires them by itself.

mod buckets;
mod error;
mod persistence;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tracing::{Instrument, debug_span, info};

use crate::backend::{Backend, BoxFuture};
use crate::error::{Error, Result};
use crate::replay::{Durability, Insertion, ReplayRecord, ReplayStore};
use crate::url::RedisUrl;

pub use self::buckets::RedisRateLimits;
use self::error::bounded;

/// The key prefix [`RedisOptions::default`] uses.
pub const DEFAULT_REDIS_PREFIX: &str = "sigil:";

/// Settings of a [`RedisReplayStore`]; [`Default`] is what
/// [`Store::open_with`](crate::Store::open_with) uses unless told
/// otherwise.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Put before every key this store writes: `sigil:` by default, so
    /// a replay record is `sigil:replay:<namespace>:<hex key>` and a
    /// bucket `sigil:rate:<name>:<hex key>`. Deployments (or tests) that
    /// share one Redis database keep apart by their prefixes.
    pub key_prefix: String,
    /// How long connecting may take, at open and at each reconnection.
    /// Default 2 s.
    pub connect_timeout: Duration,
    /// How long any one call may take in all, reconnecting included,
    /// before failing with [`Error::Unavailable`]. Default 2 s: shorter
    /// than the server's request timeout, so a Redis that stopped
    /// answering gives a 503, not a hang.
    pub call_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            key_prefix: DEFAULT_REDIS_PREFIX.into(),
            connect_timeout: Duration::from_secs(2),
            call_timeout: Duration::from_secs(2),
        }
    }
}

impl RedisOptions {
    /// The defaults with `key_prefix`.
    #[must_use]
    pub fn with_prefix(key_prefix: &str) -> Self {
        Self {
            key_prefix: key_prefix.into(),
            ..Self::default()
        }
    }
}

/// Replay records in Redis, shared by every instance that uses it
/// (docs/protocol.md §12): one `SET <prefix>replay:<namespace>:<hex key> 1
/// NX PX <ms until expiry>` per record, so Redis decides the one winner
/// and drops the record when it expires.
///
/// Through redis's [`ConnectionManager`] (one multiplexed connection that
/// reconnects by itself); every call is bounded by
/// [`RedisOptions::call_timeout`]. Clones share the connection.
///
/// Expiry follows Redis's own clock from the moment of the insert: the
/// record lives `expires_at_ms − now_ms` milliseconds.
/// [`purge_expired`](ReplayStore::purge_expired) has nothing to do and
/// answers 0.
#[derive(Clone)]
pub struct RedisReplayStore {
    inner: Arc<Inner>,
}

struct Inner {
    manager: ConnectionManager,
    options: RedisOptions,
    closed: AtomicBool,
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("key_prefix", &self.inner.options.key_prefix)
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl RedisReplayStore {
    /// Connects to the Redis of `url` (`redis://[[user]:password@]host[:port][/DB]`;
    /// `rediss://` is refused: this build has no TLS stack for it).
    /// Must be called within a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] for a URL that is not `redis://…`;
    /// [`Error::Unavailable`] when Redis cannot be reached within twice
    /// [`RedisOptions::connect_timeout`] (retries included), or refuses the
    /// password or database.
    pub async fn open(url: &str, options: RedisOptions) -> Result<Self> {
        Self::open_url(RedisUrl::parse(url)?, options).await
    }

    pub(crate) async fn open_url(url: RedisUrl, options: RedisOptions) -> Result<Self> {
        let client = redis::Client::open(url.0).map_err(|e| error::redis(&e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.call_timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let manager = bounded(
            options.connect_timeout * 2,
            "connecting",
            ConnectionManager::new_with_config(client, config),
        )
        .await?;
        let store = Self {
            inner: Arc::new(Inner {
                manager,
                options,
                closed: AtomicBool::new(false),
            }),
        };
        // A first round trip: a wrong password or database shows now.
        store.ping().await?;
        info!(key_prefix = %store.inner.options.key_prefix, "redis replay store open");
        Ok(store)
    }

    /// The shared rate-limit buckets on this store's connection
    /// (docs/protocol.md §10).
    #[must_use]
    pub fn rate_limits(&self) -> RedisRateLimits {
        RedisRateLimits::new(self.clone())
    }

    fn key_prefix(&self) -> &str {
        &self.inner.options.key_prefix
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            Err(Error::unavailable("redis: store closed"))
        } else {
            Ok(())
        }
    }

    /// Runs `cmd`, bounded by the call timeout.
    async fn query<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T> {
        self.check_open()?;
        let manager = &self.inner.manager;
        bounded(
            self.inner.options.call_timeout,
            what,
            error::once_more(|| {
                let mut connection = manager.clone();
                async move { cmd.query_async(&mut connection).await }
            }),
        )
        .await
    }

    async fn ping(&self) -> Result<()> {
        let answer: String = self.query("a ping", &redis::cmd("PING")).await?;
        if answer == "PONG" {
            Ok(())
        } else {
            Err(Error::unavailable("redis: PING was not answered PONG"))
        }
    }

    /// `<prefix>replay:<namespace>:<hex key>`.
    fn replay_key(&self, record: &ReplayRecord) -> String {
        format!(
            "{}replay:{}:{}",
            self.key_prefix(),
            record.namespace.as_str(),
            record.key.to_hex()
        )
    }
}

impl Backend for RedisReplayStore {
    /// A real write round trip (`SET <prefix>health 1 PX 10000`): a replica
    /// (`READONLY`) or a full Redis (`OOM`) is not ready.
    fn health(&self) -> BoxFuture<'_, Result<()>> {
        let span = debug_span!("store.health", backend = "redis");
        Box::pin(
            async move {
                let key = format!("{}health", self.key_prefix());
                let mut cmd = redis::cmd("SET");
                cmd.arg(key).arg(1).arg("PX").arg(10_000);
                let answer: redis::Value = self.query("a health check", &cmd).await?;
                match answer {
                    redis::Value::Okay => Ok(()),
                    other => Err(Error::unavailable(format!(
                        "redis: the health write was answered {other:?}"
                    ))),
                }
            }
            .instrument(span),
        )
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        self.inner.closed.store(true, Ordering::Release);
        Box::pin(std::future::ready(Ok(())))
    }
}

impl ReplayStore for RedisReplayStore {
    fn insert_if_absent(
        &self,
        record: ReplayRecord,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Insertion>> {
        let span = debug_span!(
            "store.insert_if_absent",
            backend = "redis",
            namespace = record.namespace.as_str()
        );
        Box::pin(
            async move {
                record.check_alive_at(now_ms)?;
                let ttl_ms = record.expires_at_ms - now_ms;
                let mut cmd = redis::cmd("SET");
                cmd.arg(self.replay_key(&record))
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms);
                match self.query("a replay insert", &cmd).await? {
                    redis::Value::Okay => Ok(Insertion::Inserted),
                    redis::Value::Nil => Ok(Insertion::AlreadyUsed),
                    other => Err(Error::corrupt(format!("redis: SET NX answered {other:?}"))),
                }
            }
            .instrument(span),
        )
    }

    /// Redis drops expired records by itself: nothing to do.
    fn purge_expired(&self, _now_ms: u64) -> BoxFuture<'_, Result<u64>> {
        Box::pin(std::future::ready(self.check_open().map(|()| 0)))
    }

    /// Read from `CONFIG GET appendonly`, or `INFO persistence` where
    /// `CONFIG` is refused (e.g. renamed away by a managed service): only
    /// an append-only file keeps every record through a restart.
    fn durability(&self) -> BoxFuture<'_, Result<Durability>> {
        Box::pin(persistence::read(self))
    }
}
