//! Keyed token buckets (docs/protocol.md §10), as GCRA: one `u64` per key (the
//! theoretical arrival time), sharded maps behind short mutexes.
//!
//! Why not governor: docs/protocol.md §10 needs `Remaining` and `Reset` on every answer,
//! and the shared Redis limiter (docs/protocol.md §12) must run the same arithmetic in a
//! script; both are simplest when the algorithm is these forty lines
//! (`docs/decisions/0006-token-service.md`).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

use http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

/// One token bucket: a sustained rate and a burst (docs/protocol.md §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketConfig {
    /// Requests per minute, sustained.
    pub per_minute: u32,
    /// Requests that may arrive at once.
    pub burst: u32,
}

impl BucketConfig {
    /// Nanoseconds between two tokens: a minute over the rate (at least 1
    /// a minute).
    #[must_use]
    pub fn interval_ns(self) -> u64 {
        NANOS_PER_MINUTE / u64::from(self.per_minute.max(1))
    }

    /// How far ahead of now a bucket's theoretical arrival time may run
    /// and still admit: `interval × (burst − 1)`, nanoseconds.
    #[must_use]
    pub fn tolerance_ns(self) -> u64 {
        self.interval_ns() * u64::from(self.burst.max(1) - 1)
    }

    /// The decision of a GCRA bucket of this rate whose theoretical
    /// arrival time is `ahead_ns` past now after the request (the new one
    /// when `allowed`, the unchanged one when refused): what
    /// [`KeyedLimiter::check`] answers, and what a shared limiter whose
    /// store ran the same step (docs/protocol.md §12) answers.
    #[must_use]
    pub fn decision(self, allowed: bool, ahead_ns: u64) -> Decision {
        if allowed {
            Decision {
                allowed: true,
                limit: self.per_minute,
                remaining: self.remaining(ahead_ns),
                reset_s: ceil_seconds(ahead_ns),
                retry_after_s: 0,
            }
        } else {
            Decision {
                allowed: false,
                limit: self.per_minute,
                remaining: 0,
                reset_s: ceil_seconds(ahead_ns),
                retry_after_s: ceil_seconds(ahead_ns.saturating_sub(self.tolerance_ns())).max(1),
            }
        }
    }

    /// Tokens available now when the arrival time is `ahead_ns` past now.
    fn remaining(self, ahead_ns: u64) -> u32 {
        let interval = self.interval_ns();
        let headroom = (self.tolerance_ns() + interval).saturating_sub(ahead_ns);
        u32::try_from(headroom / interval)
            .unwrap_or(u32::MAX)
            .min(self.burst.max(1))
    }
}

const SHARDS: usize = 16;
const NANOS_PER_MINUTE: u64 = 60_000_000_000;
const NANOS_PER_SECOND: u64 = 1_000_000_000;
/// A full shard is swept for idle keys at most this often, so a flood of
/// new keys costs one map lookup each, not a scan each.
const SWEEP_GAP: u64 = NANOS_PER_SECOND;

/// The answer of one bucket to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go on.
    pub allowed: bool,
    /// Requests per minute (`X-RateLimit-Limit`).
    pub limit: u32,
    /// Requests available now, after this one (`X-RateLimit-Remaining`).
    pub remaining: u32,
    /// Seconds until the bucket is full again (`X-RateLimit-Reset`).
    pub reset_s: u64,
    /// Seconds until a request would be admitted (`Retry-After`), when
    /// refused.
    pub retry_after_s: u64,
}

impl Decision {
    /// Of two decisions, the one closer to exhaustion (a refusal first).
    #[must_use]
    pub fn tighter(self, other: Self) -> Self {
        match (self.allowed, other.allowed) {
            (false, true) => self,
            (true, false) => other,
            _ if other.remaining < self.remaining => other,
            _ => self,
        }
    }

    /// Writes the `X-RateLimit-*` headers (and `Retry-After` when refused).
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert("x-ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("x-ratelimit-reset", HeaderValue::from(self.reset_s));
        if !self.allowed {
            headers.insert("retry-after", HeaderValue::from(self.retry_after_s.max(1)));
        }
    }
}

/// A token bucket per key.
#[derive(Debug)]
pub struct KeyedLimiter<K> {
    bucket: BucketConfig,
    /// Nanoseconds between two tokens.
    interval: u64,
    /// How far ahead of now the arrival time may run: `interval × (burst − 1)`.
    tolerance: u64,
    max_per_shard: usize,
    epoch: Instant,
    shards: Vec<Mutex<Shard<K>>>,
}

#[derive(Debug)]
struct Shard<K> {
    /// Theoretical arrival time per key, ns since the epoch.
    map: HashMap<K, u64>,
    /// When this shard was last swept because it was full.
    last_sweep: Option<u64>,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// A limiter of `bucket` per key, tracking at most about `max_tracked`
    /// keys.
    #[must_use]
    pub fn new(bucket: BucketConfig, max_tracked: usize) -> Self {
        Self {
            bucket,
            interval: bucket.interval_ns(),
            tolerance: bucket.tolerance_ns(),
            max_per_shard: (max_tracked / SHARDS).max(1),
            epoch: Instant::now(),
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: HashMap::new(),
                        last_sweep: None,
                    })
                })
                .collect(),
        }
    }

    /// Nanoseconds since this limiter was made (its monotonic clock).
    #[must_use]
    pub fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Takes one token for `key` at time `now` (see [`KeyedLimiter::now`]).
    ///
    /// When the table is full of active keys, a new key is refused: memory
    /// stays bounded and the limiter fails closed.
    pub fn check(&self, key: &K, now: u64) -> Decision {
        let mut shard = self.shards[shard_of(key)]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !shard.map.contains_key(key) && shard.map.len() >= self.max_per_shard {
            if shard
                .last_sweep
                .is_none_or(|at| now >= at.saturating_add(SWEEP_GAP))
            {
                shard.map.retain(|_, tat| *tat > now);
                shard.last_sweep = Some(now);
            }
            if shard.map.len() >= self.max_per_shard {
                return self.refusal(now.saturating_add(self.tolerance + self.interval), now);
            }
        }
        let tat = shard.map.get(key).copied().unwrap_or(now).max(now);
        if tat - now > self.tolerance {
            return self.refusal(tat, now);
        }
        let new_tat = tat + self.interval;
        shard.map.insert(key.clone(), new_tat);
        drop(shard);
        self.bucket.decision(true, new_tat - now)
    }

    /// The state of `key`'s bucket at `now`, without taking a token.
    #[must_use]
    pub fn peek(&self, key: &K, now: u64) -> Decision {
        let shard = self.shards[shard_of(key)]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tat = shard.map.get(key).copied().unwrap_or(now).max(now);
        drop(shard);
        Decision {
            allowed: tat - now <= self.tolerance,
            limit: self.bucket.per_minute,
            remaining: self.bucket.remaining(tat - now),
            reset_s: ceil_seconds(tat - now),
            retry_after_s: ceil_seconds((tat - now).saturating_sub(self.tolerance)),
        }
    }

    fn refusal(&self, tat: u64, now: u64) -> Decision {
        self.bucket.decision(false, tat - now)
    }

    /// Drops every key whose bucket is full again (it is the same as an
    /// absent key); returns how many keys remain.
    pub fn retain_recent(&self, now: u64) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                let mut shard = shard
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                shard.map.retain(|_, tat| *tat > now);
                shard.map.len()
            })
            .sum()
    }
}

/// A fixed-key hash picks the shard, so a key always lands in the same
/// one; each shard's map keeps its own random hasher (no HashDoS).
fn shard_of<K: Hash>(key: &K) -> usize {
    use std::hash::BuildHasher as _;
    let hash =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .hash_one(key);
    usize::try_from(hash % SHARDS as u64).unwrap_or(0)
}

fn ceil_seconds(nanos: u64) -> u64 {
    nanos.div_ceil(NANOS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = NANOS_PER_SECOND;

    fn limiter(per_minute: u32, burst: u32) -> KeyedLimiter<u32> {
        KeyedLimiter::new(BucketConfig { per_minute, burst }, 1000)
    }

    #[test]
    fn burst_then_refusal_then_refill() {
        let limiter = limiter(60, 20);
        for i in 0..20 {
            let d = limiter.check(&1, 0);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 19 - i);
            assert_eq!(d.limit, 60);
        }
        let refused = limiter.check(&1, 0);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.retry_after_s, 1);
        assert_eq!(refused.reset_s, 20);
        // Another key has its own bucket.
        assert!(limiter.check(&2, 0).allowed);
        // One token per second comes back.
        let d = limiter.check(&1, S);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
        assert!(!limiter.check(&1, S).allowed);
        // After 20 s the bucket is full again.
        assert_eq!(limiter.peek(&1, 21 * S).remaining, 20);
    }

    #[test]
    fn tighter_prefers_refusal_then_fewer_remaining() {
        let ok = |remaining| Decision {
            allowed: true,
            limit: 60,
            remaining,
            reset_s: 1,
            retry_after_s: 0,
        };
        let no = Decision {
            allowed: false,
            ..ok(0)
        };
        assert_eq!(ok(5).tighter(ok(3)).remaining, 3);
        assert_eq!(ok(3).tighter(ok(5)).remaining, 3);
        assert!(!ok(5).tighter(no).allowed);
        assert!(!no.tighter(ok(5)).allowed);
    }

    #[test]
    fn memory_is_bounded_and_idle_keys_are_dropped() {
        let limiter: KeyedLimiter<u32> = KeyedLimiter::new(
            BucketConfig {
                per_minute: 60,
                burst: 2,
            },
            16 * 4,
        );
        let mut refused = 0;
        for key in 0..1000 {
            if !limiter.check(&key, 0).allowed {
                refused += 1;
            }
        }
        assert!(refused > 0, "a full table refuses new keys");
        assert!(limiter.retain_recent(0) <= 16 * 4);
        // One interval later every bucket is full again: all dropped.
        assert_eq!(limiter.retain_recent(2 * S), 0);
        assert!(limiter.check(&5000, 2 * S).allowed);
    }

    /// docs/security.md B8: memory stays bounded under 10^6 distinct keys, and
    /// a flood of new keys into a full table is refused cheaply (no scan
    /// per key: this test would take minutes if it were).
    #[test]
    fn a_million_distinct_keys_stay_bounded() {
        let limiter: KeyedLimiter<u32> = KeyedLimiter::new(
            BucketConfig {
                per_minute: 60,
                burst: 20,
            },
            16_000,
        );
        let mut admitted = 0u32;
        for key in 0..1_000_000u32 {
            if limiter.check(&key, u64::from(key) * 10).allowed {
                admitted += 1;
            }
        }
        let tracked = limiter.retain_recent(10_000_000);
        assert!(tracked <= 16_000, "tracked {tracked}");
        assert!(
            (16_000..1_000_000).contains(&admitted),
            "admitted {admitted}"
        );
        // Known keys keep their bucket while the table is full.
        assert!(limiter.peek(&0, 10_000_000).remaining < 20);
    }
}
