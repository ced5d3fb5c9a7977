//! [`RedisReplayGuard`]: replay records in Redis, shared by every instance
//! of a resource server (feature `redis`).

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::error::Error;
use crate::replay::{BoxFuture, Insertion, ReplayGuard, ReplayKind, ReplayRecord};

/// The key prefix of [`RedisReplayGuard::connect`]: the token service's
/// default too, so a resource server may share its Redis database.
pub const DEFAULT_REDIS_PREFIX: &str = "sigil:";

/// A [`ReplayGuard`] in Redis: one `SET <prefix>replay:<kind>:<hex key> 1 NX
/// PX <ms until expiry>` per statement (`signed-request` or `auth-token`:
/// the key scheme of sigil-store's Redis replay store), so among any number
/// of instances exactly one records a statement, and Redis drops the record
/// when it leaves its window.
///
/// Through redis's [`ConnectionManager`] (it reconnects by itself); every
/// call is bounded by a timeout (default 2 s) and a Redis that cannot
/// answer is [`Error::ReplayGuard`]: 503, nothing accepted (fail closed).
/// Unbounded by this process (Redis's `maxmemory` bounds it), so it takes
/// every client and ignores [`ReplayRecord::client`]. Cheap to clone.
#[derive(Clone)]
pub struct RedisReplayGuard {
    manager: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl fmt::Debug for RedisReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayGuard")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisReplayGuard {
    /// Connects to `url` (`redis://[[user]:password@]host[:port][/DB]`)
    /// with keys under `prefix` (e.g. [`DEFAULT_REDIS_PREFIX`]; instances
    /// that share replay records use one prefix).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a URL that is not `redis://` (`rediss://`
    /// included: no TLS stack in this build); [`Error::ReplayGuard`] when
    /// Redis cannot be reached within the timeout. Neither echoes the URL.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, Error> {
        Self::connect_with_timeout(url, prefix, Duration::from_secs(2)).await
    }

    /// [`connect`](Self::connect) with every call (connecting included)
    /// bounded by `timeout`.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    pub async fn connect_with_timeout(
        url: &str,
        prefix: &str,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let scheme = url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("redis") => {}
            Some("rediss") => {
                return Err(Error::Config(
                    "redis: rediss:// (TLS) is not supported by this build; use redis:// on a private network or a TLS tunnel".into(),
                ));
            }
            _ => {
                return Err(Error::Config(
                    "redis: the URL must start with redis://".into(),
                ));
            }
        }
        let client = redis::Client::open(url)
            .map_err(|e| Error::Config(format!("redis: {}", e.category())))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let manager = match tokio::time::timeout(
            timeout * 2,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        {
            Ok(Ok(manager)) => manager,
            Ok(Err(e)) => return Err(Error::ReplayGuard(format!("redis: {e}"))),
            Err(_) => return Err(unanswered("connecting", timeout * 2)),
        };
        Ok(Self {
            manager,
            prefix: prefix.to_owned(),
            timeout,
        })
    }

    /// `<prefix>replay:<kind>:<hex key>`.
    fn key(&self, record: &ReplayRecord) -> String {
        let kind = match record.kind {
            ReplayKind::SignedRequest => "signed-request",
            ReplayKind::AuthToken => "auth-token",
        };
        format!("{}replay:{kind}:{}", self.prefix, record.key.to_hex())
    }

    async fn set_once(&self, record: ReplayRecord, now_ms: u64) -> Result<Insertion, Error> {
        let Some(ttl_ms) = record.expires_at_ms.checked_sub(now_ms).filter(|t| *t > 0) else {
            // Born expired: the statement has left its window already.
            return Err(Error::ReplayGuard("a replay record born expired".into()));
        };
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.key(&record))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms);
        let call = async {
            let mut connection = self.manager.clone();
            match cmd.query_async(&mut connection).await {
                // The manager reconnects after a lost connection: once more,
                // so a Redis that came back answers this request. A first
                // attempt that did reach Redis makes this one a replay (a
                // refusal, never a second success).
                Err(e) if e.is_io_error() || e.is_unrecoverable_error() => {
                    cmd.query_async(&mut connection).await
                }
                other => other,
            }
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(redis::Value::Okay)) => Ok(Insertion::Recorded),
            Ok(Ok(redis::Value::Nil)) => Ok(Insertion::Replay),
            Ok(Ok(other)) => Err(Error::ReplayGuard(format!(
                "redis: SET NX answered {other:?}"
            ))),
            Ok(Err(e)) => Err(Error::ReplayGuard(format!("redis: {e}"))),
            Err(_) => Err(unanswered("a replay insert", self.timeout)),
        }
    }
}

fn unanswered(what: &str, limit: Duration) -> Error {
    Error::ReplayGuard(format!(
        "redis: {what} took longer than {} ms",
        limit.as_millis()
    ))
}

impl ReplayGuard for RedisReplayGuard {
    fn insert_once(
        &self,
        record: ReplayRecord,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Insertion, Error>> {
        Box::pin(self.set_once(record, now_ms))
    }
}
