//! Rate-limit buckets shared between instances (docs/protocol.md §10, §12):
//! the state of a GCRA token bucket kept where every instance sees it.
//!
//! The store keeps one number per bucket, its theoretical arrival time, and
//! updates it atomically with the rate it is given; sigil-edge's
//! `BucketConfig` turns the answer into the `X-RateLimit-*` decision, with
//! the same arithmetic as the in-process limiter.

use crate::backend::{Backend, BoxFuture};
use crate::error::Result;

/// A GCRA bucket's parameters, microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketRate {
    /// Between two tokens: a minute over the per-minute rate.
    pub interval_us: u64,
    /// How far the arrival time may run ahead of now and still admit:
    /// `interval × (burst − 1)`.
    pub tolerance_us: u64,
}

/// What a bucket answered to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketState {
    /// A token was taken: the request may go on.
    pub allowed: bool,
    /// How far the bucket's theoretical arrival time is ahead of the
    /// store's now after this request (the new one when allowed, the
    /// unchanged one when refused), microseconds.
    pub ahead_us: u64,
}

/// Token buckets keyed by `(name, key)`, one atomic step per request.
///
/// The store's own clock is the time of every bucket, so instances with
/// skewed clocks still share one budget.
pub trait RateLimitStore: Backend {
    /// Takes one token from the bucket `key` of the family `name` (e.g.
    /// `"per-key"`), at `rate`: admitted when the arrival time is at most
    /// `tolerance_us` ahead of now, and then moved `interval_us` further.
    ///
    /// # Errors
    ///
    /// [`Error::is_unavailable`](crate::Error::is_unavailable) errors when
    /// the store cannot answer; the caller decides what to do without it.
    fn take_token<'a>(
        &'a self,
        name: &'static str,
        key: &'a [u8],
        rate: BucketRate,
    ) -> BoxFuture<'a, Result<BucketState>>;
}
