//! The issuer's verification keys, cached: an `Arc` snapshot behind a
//! `std::sync::RwLock` (read, clone the `Arc`, release: no lock is held
//! across an await), refreshed by one task at a time.
//!
//! - A snapshot is fresh until `fetched + TTL`, TTL = the JWKS answer's
//!   `Cache-Control: max-age` clamped to `[min_ttl, max_ttl]`, or the
//!   default TTL when absent.
//! - At most one fetch starts per cool-down, whatever triggered it (an
//!   expired snapshot or a token with an unknown `kid`, T3). Concurrent
//!   requests that need a refresh wait for the one fetch in progress and use
//!   its result.
//! - A failed or refused fetch (T12) keeps the previous good set, usable
//!   until `max_stale` past its freshness; with no usable set the request is
//!   answered 503 and nothing is accepted.
//! - A key absent from a newly fetched set is gone at once (T14): nothing
//!   else caches keys or checked tokens.

use std::sync::{Arc, PoisonError, RwLock};

use reqwest::Url;
use sigil_core::JwkSet;

use crate::error::{Error, Rejection};
use crate::fetch::Fetcher;

/// Timing of the cache, all in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CachePolicy {
    pub(crate) min_ttl_ms: u64,
    pub(crate) max_ttl_ms: u64,
    pub(crate) default_ttl_ms: u64,
    pub(crate) cooldown_ms: u64,
    pub(crate) max_stale_ms: u64,
}

impl CachePolicy {
    /// The TTL for an answer with this `max-age` (seconds).
    fn ttl_ms(&self, max_age_s: Option<u64>) -> u64 {
        match max_age_s {
            Some(s) => s
                .saturating_mul(1000)
                .clamp(self.min_ttl_ms, self.max_ttl_ms),
            None => self.default_ttl_ms,
        }
    }
}

/// One key set and until when it is fresh.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) keys: JwkSet,
    fresh_until_ms: u64,
    /// Bumped on every successful fetch, so that a request that waited for
    /// someone else's fetch sees it happened.
    generation: u64,
}

/// Why a refresh is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// The snapshot is past its TTL.
    Fresh,
    /// A token names a `kid` the snapshot lacks.
    UnknownKid,
}

#[derive(Debug, Default)]
struct RefreshState {
    last_attempt_ms: Option<u64>,
    jwks_uri: Option<Url>,
}

/// The key cache of one validator.
#[derive(Debug)]
pub(crate) struct KeyCache {
    current: RwLock<Arc<Snapshot>>,
    fetcher: Option<Fetcher>,
    refresh: tokio::sync::Mutex<RefreshState>,
    policy: CachePolicy,
}

impl KeyCache {
    /// A fixed key set: never fetched, never stale.
    pub(crate) fn fixed(keys: JwkSet, policy: CachePolicy) -> Self {
        Self::with(keys, None, policy)
    }

    /// An empty cache filled from `fetcher` on first use.
    pub(crate) fn fetching(fetcher: Fetcher, policy: CachePolicy) -> Self {
        Self::with(JwkSet::default(), Some(fetcher), policy)
    }

    fn with(keys: JwkSet, fetcher: Option<Fetcher>, policy: CachePolicy) -> Self {
        Self {
            current: RwLock::new(Arc::new(Snapshot {
                keys,
                fresh_until_ms: 0,
                generation: 0,
            })),
            fetcher,
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
            policy,
        }
    }

    fn current(&self) -> Arc<Snapshot> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn store(&self, snapshot: Arc<Snapshot>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = snapshot;
    }

    /// The key set to verify with at `now_ms`: the cached one while fresh,
    /// else refreshed (or stale within `max_stale` when the refresh fails).
    ///
    /// # Errors
    /// [`Rejection::Unavailable`] when no usable key set exists.
    pub(crate) async fn usable(&self, now_ms: u64) -> Result<Arc<Snapshot>, Rejection> {
        let snapshot = self.current();
        if self.fetcher.is_none() || now_ms < snapshot.fresh_until_ms {
            return Ok(snapshot);
        }
        self.refresh(now_ms, snapshot.generation, Need::Fresh).await
    }

    /// After a token named a `kid` that `seen` lacks: a newer snapshot if
    /// one exists or can be fetched now (cool-down permitting), else `seen`
    /// again (and the token is refused).
    ///
    /// # Errors
    /// [`Rejection::Unavailable`] when the refetch failed.
    pub(crate) async fn after_unknown_kid(
        &self,
        now_ms: u64,
        seen: &Snapshot,
    ) -> Result<Arc<Snapshot>, Rejection> {
        self.refresh(now_ms, seen.generation, Need::UnknownKid)
            .await
    }

    /// Fetches now, ignoring freshness and cool-down (start-up).
    ///
    /// # Errors
    /// The fetch error; the previous set stays.
    pub(crate) async fn force_refresh(&self, now_ms: u64) -> Result<(), Error> {
        let Some(fetcher) = &self.fetcher else {
            return Ok(());
        };
        let mut state = self.refresh.lock().await;
        state.last_attempt_ms = Some(now_ms);
        let fetched = fetcher.fetch(&mut state.jwks_uri).await?;
        let generation = self.current().generation + 1;
        self.store(Arc::new(Snapshot {
            keys: fetched.keys,
            fresh_until_ms: now_ms.saturating_add(self.policy.ttl_ms(fetched.max_age_s)),
            generation,
        }));
        Ok(())
    }

    async fn refresh(
        &self,
        now_ms: u64,
        seen_generation: u64,
        need: Need,
    ) -> Result<Arc<Snapshot>, Rejection> {
        let Some(fetcher) = &self.fetcher else {
            return Ok(self.current());
        };
        let mut state = self.refresh.lock().await;
        let snapshot = self.current();
        if snapshot.generation != seen_generation {
            // Someone fetched while this request waited: share the result.
            return Ok(snapshot);
        }
        let cooling = state
            .last_attempt_ms
            .is_some_and(|last| now_ms < last.saturating_add(self.policy.cooldown_ms));
        if cooling {
            return match need {
                Need::Fresh => self.stale(snapshot, now_ms, "refresh cool-down"),
                Need::UnknownKid => Ok(snapshot),
            };
        }
        state.last_attempt_ms = Some(now_ms);
        match fetcher.fetch(&mut state.jwks_uri).await {
            Ok(fetched) => {
                let fresh = Arc::new(Snapshot {
                    keys: fetched.keys,
                    fresh_until_ms: now_ms.saturating_add(self.policy.ttl_ms(fetched.max_age_s)),
                    generation: seen_generation + 1,
                });
                self.store(Arc::clone(&fresh));
                tracing::debug!(keys = fresh.keys.len(), "sigil-validator: JWKS fetched");
                Ok(fresh)
            }
            Err(error) => {
                tracing::warn!(%error, "sigil-validator: JWKS refresh failed; the previous key set stays");
                match need {
                    Need::Fresh => self.stale(snapshot, now_ms, &error.to_string()),
                    Need::UnknownKid => Err(Rejection::Unavailable(error.to_string())),
                }
            }
        }
    }

    /// The old snapshot while within `max_stale` past its freshness, else 503.
    fn stale(
        &self,
        snapshot: Arc<Snapshot>,
        now_ms: u64,
        cause: &str,
    ) -> Result<Arc<Snapshot>, Rejection> {
        let limit = snapshot
            .fresh_until_ms
            .saturating_add(self.policy.max_stale_ms);
        if !snapshot.keys.is_empty() && now_ms < limit {
            Ok(snapshot)
        } else {
            Err(Rejection::Unavailable(format!("no usable JWKS ({cause})")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_is_clamped() {
        let policy = CachePolicy {
            min_ttl_ms: 60_000,
            max_ttl_ms: 3_600_000,
            default_ttl_ms: 300_000,
            cooldown_ms: 30_000,
            max_stale_ms: 3_600_000,
        };
        assert_eq!(policy.ttl_ms(None), 300_000);
        assert_eq!(policy.ttl_ms(Some(0)), 60_000);
        assert_eq!(policy.ttl_ms(Some(120)), 120_000);
        assert_eq!(policy.ttl_ms(Some(86_400)), 3_600_000);
        assert_eq!(policy.ttl_ms(Some(u64::MAX)), 3_600_000);
    }
}
