//! GCRA token buckets in Redis: one Lua script per check, so the read and
//! the write of a bucket are one atomic step that every instance shares.

use std::fmt;
use std::sync::LazyLock;

use tracing::{Instrument, debug_span};

use super::RedisReplayStore;
use super::error::{bounded, once_more};
use crate::backend::{Backend, BoxFuture};
use crate::error::{Error, Result};
use crate::rate_limit::{BucketRate, BucketState, RateLimitStore};

/// `KEYS[1]` the bucket, `ARGV[1]` the interval and `ARGV[2]` the
/// tolerance, µs. Redis's `TIME` is the clock. The theoretical arrival time
/// `tat` is stored as an integer string (`%.0f`: exact below 2^53 µs) and
/// expires when the bucket is full again, as an absent key is. Answers
/// `{allowed 0|1, tat − now}`: the arithmetic of sigil-edge's
/// `KeyedLimiter::check`. (`replicate_commands` lets a Redis before 5
/// write after `TIME`; from 5 on it is the default, and a no-op.)
const GCRA: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if tat - now > tolerance then
  return {0, tat - now}
end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000))
return {1, tat - now}
";

static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(GCRA));

/// The rate-limit buckets of docs/protocol.md §10 in Redis, on a
/// [`RedisReplayStore`]'s connection ([`RedisReplayStore::rate_limits`]):
/// `<prefix>rate:<name>:<hex key>`.
#[derive(Clone)]
pub struct RedisRateLimits {
    store: RedisReplayStore,
}

impl fmt::Debug for RedisRateLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimits")
            .field("key_prefix", &self.store.key_prefix())
            .finish_non_exhaustive()
    }
}

impl RedisRateLimits {
    pub(super) fn new(store: RedisReplayStore) -> Self {
        Self { store }
    }

    fn bucket_key(&self, name: &str, key: &[u8]) -> String {
        format!(
            "{}rate:{name}:{}",
            self.store.key_prefix(),
            sigil_core::hash::to_hex(key)
        )
    }
}

impl Backend for RedisRateLimits {
    fn health(&self) -> BoxFuture<'_, Result<()>> {
        self.store.health()
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        self.store.close()
    }
}

impl RateLimitStore for RedisRateLimits {
    fn take_token<'a>(
        &'a self,
        name: &'static str,
        key: &'a [u8],
        rate: BucketRate,
    ) -> BoxFuture<'a, Result<BucketState>> {
        let span = debug_span!("store.take_token", backend = "redis", bucket = name);
        Box::pin(
            async move {
                self.store.check_open()?;
                let mut invocation = SCRIPT.key(self.bucket_key(name, key));
                invocation
                    .arg(rate.interval_us.max(1))
                    .arg(rate.tolerance_us);
                let manager = &self.store.inner.manager;
                let invocation = &invocation;
                let (allowed, ahead): (i64, i64) = bounded(
                    self.store.inner.options.call_timeout,
                    "a rate-limit check",
                    once_more(|| {
                        let mut connection = manager.clone();
                        async move { invocation.invoke_async(&mut connection).await }
                    }),
                )
                .await?;
                let ahead_us = u64::try_from(ahead)
                    .map_err(|_| Error::corrupt(format!("redis: bucket {ahead} µs behind now")))?;
                Ok(BucketState {
                    allowed: allowed == 1,
                    ahead_us,
                })
            }
            .instrument(span),
        )
    }
}
