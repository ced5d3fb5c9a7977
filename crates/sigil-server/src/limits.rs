//! The rate limits of docs/protocol.md §10: in this process by default, or
//! in the store's shared buckets (Redis, docs/protocol.md §12) so that every
//! instance spends one budget per key and per address.
//!
//! A shared check that cannot be answered falls back to this process's
//! limiter for that check (logged once until the store answers again): a
//! Redis outage must not open the limits wide, nor lock every client out
//! of a route whose replay insert then fails closed with 503 anyway.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sigil_edge::{BucketConfig, ClientKey, Decision, KeyedLimiter};
use sigil_store::{BucketRate, RateLimitStore};
use tracing::{info, warn};

use crate::config::RateLimitConfig;

/// The per-key and per-address limits of one server.
#[derive(Debug)]
pub(crate) struct Limits {
    config: RateLimitConfig,
    per_key: KeyedLimiter<[u8; 33]>,
    per_address: KeyedLimiter<ClientKey>,
    shared: Option<Shared>,
}

/// The store's buckets, and whether the last check failed.
#[derive(Debug)]
struct Shared {
    buckets: Arc<dyn RateLimitStore>,
    failing: AtomicBool,
}

/// The bucket families' names in the shared store.
const PER_KEY: &str = "per-key";
const PER_ADDRESS: &str = "per-address";

impl Limits {
    /// In-process limits of `config`, shared through `buckets` when given.
    pub(crate) fn new(config: RateLimitConfig, buckets: Option<Arc<dyn RateLimitStore>>) -> Self {
        Self {
            config,
            per_key: KeyedLimiter::new(config.per_key, config.max_tracked),
            per_address: KeyedLimiter::new(config.per_address, config.max_tracked),
            shared: buckets.map(|buckets| Shared {
                buckets,
                failing: AtomicBool::new(false),
            }),
        }
    }

    /// Whether the limits are shared between instances.
    pub(crate) fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Takes a token from `client`'s per-address bucket.
    pub(crate) async fn check_address(&self, client: ClientKey) -> Decision {
        let key = client.to_string();
        if let Some(shared) = &self.shared
            && let Some(decision) = shared
                .take(PER_ADDRESS, key.as_bytes(), self.config.per_address)
                .await
        {
            return decision;
        }
        self.per_address.check(&client, self.per_address.now())
    }

    /// Takes a token from the per-key bucket of `key` (a compressed
    /// public key).
    pub(crate) async fn check_key(&self, key: &[u8; 33]) -> Decision {
        if let Some(shared) = &self.shared
            && let Some(decision) = shared.take(PER_KEY, key, self.config.per_key).await
        {
            return decision;
        }
        self.per_key.check(key, self.per_key.now())
    }

    /// Drops the in-process buckets that are full again.
    pub(crate) fn retain_recent(&self) {
        self.per_key.retain_recent(self.per_key.now());
        self.per_address.retain_recent(self.per_address.now());
    }
}

impl Shared {
    /// The shared bucket's decision, or `None` when the store cannot
    /// answer (logged once until it answers again).
    async fn take(&self, name: &'static str, key: &[u8], bucket: BucketConfig) -> Option<Decision> {
        let rate = BucketRate {
            interval_us: bucket.interval_ns() / 1000,
            tolerance_us: bucket.tolerance_ns() / 1000,
        };
        match self.buckets.take_token(name, key, rate).await {
            Ok(state) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    info!("shared rate limits answer again");
                }
                Some(bucket.decision(state.allowed, state.ahead_us.saturating_mul(1000)))
            }
            Err(error) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    warn!(
                        %error,
                        "shared rate limits cannot be checked: counting in this process until the store answers again"
                    );
                }
                None
            }
        }
    }
}
