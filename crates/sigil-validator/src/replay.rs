//! Replay protection for signed requests and `X-Auth-Token`s: the
//! [`ReplayGuard`] trait and a bounded in-memory [`MemoryReplayGuard`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use sigil_core::ReplayKey;

use crate::error::Error;

/// The future a [`ReplayGuard`] returns: boxed so the trait is
/// dyn-compatible (`Arc<dyn ReplayGuard>`), `Send` for any tokio task (the
/// same shape as sigil-store's traits).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Which kind of signed statement a replay record belongs to; each kind is
/// its own key space (they map onto sigil-store's `ReplayNamespace`
/// `SignedRequest` and `AuthToken`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ReplayKind {
    /// `METHOD:target:bodyHash:timestamp` (SPEC section 6).
    SignedRequest,
    /// `requestPath|timestamp|bodyHash` of an `X-Auth-Token` (SPEC section 7).
    AuthToken,
}

/// Records each signed statement once; the insert itself is the check.
///
/// A record is live while `now_ms < expires_at_ms`. Among concurrent inserts
/// of one live key exactly one may answer `true`. A shared backend (Redis
/// `SET NX PX`, SQL `INSERT … ON CONFLICT DO NOTHING`) makes replay
/// protection hold across several instances of a resource server; the
/// in-memory guard protects one process.
pub trait ReplayGuard: Send + Sync + fmt::Debug {
    /// Records `key` of `kind` until `expires_at_ms` unless a live record of
    /// it exists: `Ok(true)` when recorded now (first use), `Ok(false)` when
    /// it is a replay.
    ///
    /// # Errors
    /// [`Error::ReplayGuard`] when the guard cannot answer or is full; the
    /// validator then refuses the request with 503 (fail closed).
    fn insert_once(
        &self,
        kind: ReplayKind,
        key: ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<bool, Error>>;
}

/// The default capacity of a [`MemoryReplayGuard`]: live records.
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

/// A bounded in-process [`ReplayGuard`]: a map of live records and a heap of
/// their expiries, pruned on every insert. When `capacity` live records
/// exist, new statements are refused (fail closed, security catalogue B7)
/// until some expire.
pub struct MemoryReplayGuard {
    capacity: usize,
    state: Mutex<Records>,
}

#[derive(Default)]
struct Records {
    live: HashMap<(ReplayKind, ReplayKey), u64>,
    expiries: BinaryHeap<Reverse<(u64, ReplayKind, ReplayKey)>>,
}

impl MemoryReplayGuard {
    /// A guard holding at most `capacity` live records.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            state: Mutex::new(Records::default()),
        }
    }

    /// How many records are held (live, or expired and not yet pruned).
    #[must_use]
    pub fn len(&self) -> usize {
        self.state.lock().map_or(0, |records| records.live.len())
    }

    /// Whether no record is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert_now(
        &self,
        kind: ReplayKind,
        key: ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> Result<bool, Error> {
        let mut records = self
            .state
            .lock()
            .map_err(|_| Error::ReplayGuard("in-memory guard poisoned".into()))?;
        records.prune(now_ms);
        if records.live.contains_key(&(kind, key)) {
            return Ok(false);
        }
        if records.live.len() >= self.capacity {
            return Err(Error::ReplayGuard(format!(
                "in-memory guard full ({} live records)",
                self.capacity
            )));
        }
        records.live.insert((kind, key), expires_at_ms);
        records.expiries.push(Reverse((expires_at_ms, kind, key)));
        Ok(true)
    }
}

impl Records {
    /// Drops every record with `expires_at_ms <= now_ms`.
    fn prune(&mut self, now_ms: u64) {
        while let Some(Reverse((expires, kind, key))) = self.expiries.peek().copied() {
            if expires > now_ms {
                break;
            }
            self.expiries.pop();
            if self.live.get(&(kind, key)) == Some(&expires) {
                self.live.remove(&(kind, key));
            }
        }
    }
}

impl Default for MemoryReplayGuard {
    fn default() -> Self {
        Self::new(DEFAULT_REPLAY_CAPACITY)
    }
}

impl fmt::Debug for MemoryReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayGuard")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl ReplayGuard for MemoryReplayGuard {
    fn insert_once(
        &self,
        kind: ReplayKind,
        key: ReplayKey,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<bool, Error>> {
        let answer = self.insert_now(kind, key, expires_at_ms, now_ms);
        Box::pin(std::future::ready(answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> ReplayKey {
        ReplayKey::from_bytes([n; 32])
    }

    fn insert(guard: &MemoryReplayGuard, kind: ReplayKind, n: u8, exp: u64, now: u64) -> bool {
        guard.insert_now(kind, key(n), exp, now).unwrap()
    }

    #[test]
    fn once_per_live_record_and_kind() {
        let guard = MemoryReplayGuard::new(10);
        assert!(insert(&guard, ReplayKind::SignedRequest, 1, 100, 0));
        assert!(!insert(&guard, ReplayKind::SignedRequest, 1, 100, 50));
        assert!(
            insert(&guard, ReplayKind::AuthToken, 1, 100, 50),
            "own key space"
        );
        assert!(!insert(&guard, ReplayKind::SignedRequest, 1, 200, 99));
        // Expired from expires_at on: the statement left its window.
        assert!(insert(&guard, ReplayKind::SignedRequest, 1, 300, 100));
        assert!(!insert(&guard, ReplayKind::SignedRequest, 1, 300, 299));
    }

    #[test]
    fn full_guard_fails_closed_until_records_expire() {
        let guard = MemoryReplayGuard::new(2);
        assert!(insert(&guard, ReplayKind::SignedRequest, 1, 100, 0));
        assert!(insert(&guard, ReplayKind::SignedRequest, 2, 150, 0));
        let err = guard
            .insert_now(ReplayKind::SignedRequest, key(3), 100, 10)
            .unwrap_err();
        assert!(
            matches!(err, Error::ReplayGuard(ref m) if m.contains("full")),
            "{err}"
        );
        // A replay of a live record is still answered as a replay when full.
        assert!(!insert(&guard, ReplayKind::SignedRequest, 1, 100, 10));
        assert!(insert(&guard, ReplayKind::SignedRequest, 3, 200, 100));
        assert_eq!(guard.len(), 2);
        assert!(insert(&guard, ReplayKind::SignedRequest, 4, 300, 150));
        assert_eq!(guard.len(), 2);
    }
}
