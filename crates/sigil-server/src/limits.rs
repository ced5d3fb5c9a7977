//! The rate limits of docs/protocol.md §10: in this process by default, or
//! in the store's shared buckets (Redis, docs/protocol.md §12) so that every
//! instance spends one budget per key and per address.
//!
//! A shared check that cannot be answered falls back to this process's
//! limiter for that check (logged once until the store answers again): a
//! Redis outage must not open the limits wide, nor lock every client out
//! of a route whose replay insert then fails closed with 503 anyway. For
//! [`RETRY_AFTER_FAILURE`] after a failed check the store is not asked at
//! all, so that a Redis that stopped answering does not add its time bound
//! to every request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

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

/// How long after a failed shared check the process counts alone before
/// asking the store again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// The store's buckets, and whether the last check failed.
#[derive(Debug)]
struct Shared {
    buckets: Arc<dyn RateLimitStore>,
    failing: AtomicBool,
    /// The clock of `retry_at_ms`.
    epoch: Instant,
    /// Until when (ms since `epoch`) the store is not asked.
    retry_at_ms: AtomicU64,
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
                epoch: Instant::now(),
                retry_at_ms: AtomicU64::new(0),
            }),
        }
    }

    /// Whether the limits are shared between instances.
    pub(crate) fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Takes a token from `client`'s per-address bucket.
    pub(crate) async fn check_address(&self, client: ClientKey) -> Decision {
        // The address is written out only for the shared store: the
        // in-process limiter keys on `client` itself (the token path).
        if let Some(shared) = &self.shared
            && let Some(decision) = shared
                .take(
                    PER_ADDRESS,
                    client.to_string().as_bytes(),
                    self.config.per_address,
                )
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
    /// answer (logged once until it answers again) or failed less than
    /// [`RETRY_AFTER_FAILURE`] ago.
    async fn take(&self, name: &'static str, key: &[u8], bucket: BucketConfig) -> Option<Decision> {
        let now_ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        if now_ms < self.retry_at_ms.load(Ordering::Relaxed) {
            return None;
        }
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
                let retry = u64::try_from(RETRY_AFTER_FAILURE.as_millis()).unwrap_or(u64::MAX);
                self.retry_at_ms
                    .store(now_ms.saturating_add(retry), Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use sigil_store::{Backend, BoxFuture, BucketState, Error};

    use super::*;

    /// A shared store that answers `answer`, or fails when it is `None`;
    /// it counts the calls.
    #[derive(Debug, Default)]
    struct Buckets(Option<BucketState>, std::sync::atomic::AtomicUsize);

    impl Buckets {
        fn answering(state: Option<BucketState>) -> Self {
            Self(state, std::sync::atomic::AtomicUsize::new(0))
        }
    }

    impl Backend for Buckets {
        fn health(&self) -> BoxFuture<'_, sigil_store::Result<()>> {
            Box::pin(std::future::ready(Ok(())))
        }
        fn close(&self) -> BoxFuture<'_, sigil_store::Result<()>> {
            Box::pin(std::future::ready(Ok(())))
        }
    }

    impl RateLimitStore for Buckets {
        fn take_token<'a>(
            &'a self,
            _: &'static str,
            _: &'a [u8],
            _: BucketRate,
        ) -> BoxFuture<'a, sigil_store::Result<BucketState>> {
            self.1.fetch_add(1, Ordering::Relaxed);
            let answer = self.0.ok_or(Error::Unavailable {
                reason: "redis: connection refused".into(),
            });
            Box::pin(std::future::ready(answer))
        }
    }

    fn limits(buckets: Arc<Buckets>) -> Limits {
        Limits::new(RateLimitConfig::default(), Some(buckets))
    }

    /// The shared bucket's state becomes the in-process limiter's decision
    /// for the same state: 60 a minute, 3 tokens ahead of now is 17 left.
    #[tokio::test]
    async fn a_shared_answer_is_the_same_decision() {
        let shared = limits(Arc::new(Buckets::answering(Some(BucketState {
            allowed: true,
            ahead_us: 3_000_000,
        }))));
        let decision = shared.check_key(&[2; 33]).await;
        let local = KeyedLimiter::new(RateLimitConfig::default().per_key, 10);
        for _ in 0..2 {
            local.check(&1, 0);
        }
        assert_eq!(decision, local.check(&1, 0));
        assert_eq!((decision.remaining, decision.reset_s), (17, 3));
    }

    /// A store that cannot answer: each check falls back to this process's
    /// limiter, which still refuses past the burst (the limits stay in
    /// force during an outage); after the failure the store is left alone
    /// for a second instead of being asked on every request.
    #[tokio::test]
    async fn a_failing_store_falls_back_to_the_process_limits() {
        let buckets = Arc::new(Buckets::answering(None));
        let shared = limits(buckets.clone());
        let client = ClientKey::of([192, 0, 2, 1].into());
        for i in 0..60 {
            assert!(shared.check_address(client).await.allowed, "request {i}");
        }
        let refused = shared.check_address(client).await;
        assert!(!refused.allowed);
        assert_eq!(refused.limit, 300);
        for i in 0..20 {
            assert!(shared.check_key(&[3; 33]).await.allowed, "request {i}");
        }
        assert!(!shared.check_key(&[3; 33]).await.allowed);
        assert_eq!(buckets.1.load(Ordering::Relaxed), 1, "asked once");
    }
}
