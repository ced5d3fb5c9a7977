//! Replay protection for signed requests and `X-Auth-Token`s: the
//! [`ReplayGuard`] trait and a bounded in-memory [`MemoryReplayGuard`]
//! which, when full, refuses only the client addresses filling it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use sigil_core::ReplayKey;
use sigil_edge::{BucketConfig, ClientKey};

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
    /// `METHOD:target:bodyHash:timestamp` (docs/protocol.md §6).
    SignedRequest,
    /// `requestPath|timestamp|bodyHash` of an `X-Auth-Token` (docs/protocol.md §7).
    AuthToken,
}

/// One signed statement to record: what it is, which client address sent
/// it, and until when it must be refused as a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplayRecord {
    /// The key space.
    pub kind: ReplayKind,
    /// SHA-256(signer ‖ signed statement).
    pub key: ReplayKey,
    /// The client it came from (an IPv4 address or an IPv6 /64), for a
    /// bounded guard to count records per client.
    pub client: ClientKey,
    /// The record is live while `now_ms < expires_at_ms`.
    pub expires_at_ms: u64,
}

impl ReplayRecord {
    /// A record of `key` in `kind`, sent by `client`, live until
    /// `expires_at_ms`.
    #[must_use]
    pub fn new(kind: ReplayKind, key: ReplayKey, client: ClientKey, expires_at_ms: u64) -> Self {
        Self {
            kind,
            key,
            client,
            expires_at_ms,
        }
    }
}

/// What a [`ReplayGuard`] did with a [`ReplayRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Insertion {
    /// Recorded now: the statement's first use.
    Recorded,
    /// A live record of the statement exists: a replay (401
    /// `replay_detected`).
    Replay,
    /// Not recorded: the guard is full and this client already holds its
    /// share of it (429 `rate_limit_exceeded`). Records of other clients
    /// are still taken.
    OverShare {
        /// Seconds until a record expires and room comes back.
        retry_after_s: u64,
    },
}

/// Records each signed statement once; the insert itself is the check.
///
/// A record is live while `now_ms < expires_at_ms`. Among concurrent inserts
/// of one live key exactly one may answer [`Insertion::Recorded`]. A
/// replay of a live record is [`Insertion::Replay`] whatever else holds.
///
/// A shared backend (Redis `SET NX PX`, SQL `INSERT … ON CONFLICT DO
/// NOTHING`) makes replay protection hold across several instances of a
/// resource server; the in-memory guard protects one process. A guard with
/// bounded room must never evict a live record and should, when full,
/// refuse only the clients holding more than their share
/// ([`Insertion::OverShare`], e.g. with a per-[`ClientKey`] counter that
/// expires with its records), so that a flood from some addresses does not
/// lock the others out (docs/protocol.md §7). A guard without a bound may ignore
/// [`ReplayRecord::client`].
pub trait ReplayGuard: Send + Sync + fmt::Debug {
    /// Records `record` unless a live record of its key exists.
    ///
    /// # Errors
    /// [`Error::ReplayGuard`] when the guard cannot answer, or is full even
    /// for clients within their share; the validator then refuses the
    /// request with 503 (fail closed).
    fn insert_once(
        &self,
        record: ReplayRecord,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Insertion, Error>>;
}

/// How many client addresses sending flat out at the rate limit the
/// default replay memory holds: the validator's default capacity is this
/// many times [`records_per_client`].
pub const FULL_RATE_CLIENTS: usize = 64;

/// The default capacity of a [`MemoryReplayGuard`], live records: at the
/// default limit of 300 statements a minute with a burst of 60 and the
/// default ±300 s window (records live 600 s), one address holds at most
/// 60 + 300 × 10 = 3,060 records, and [`FULL_RATE_CLIENTS`] = 64 such
/// addresses 195,840 (about 150 bytes each: under 30 MiB when full).
pub const DEFAULT_REPLAY_CAPACITY: usize = 195_840;

/// The most live records one client address can make under `bucket` when
/// records live `span_ms` (the signature window's span): its burst, plus
/// its rate over the span. Only requests the limit admits reach the guard,
/// and each makes at most one record.
#[must_use]
pub fn records_per_client(bucket: BucketConfig, span_ms: u64) -> usize {
    let refill = u64::from(bucket.per_minute).saturating_mul(span_ms) / 60_000;
    usize::try_from(refill.saturating_add(u64::from(bucket.burst.max(1)))).unwrap_or(usize::MAX)
}

/// A bounded in-process [`ReplayGuard`]: a map of live records, a heap of
/// their expiries (pruned on every insert) and a count of live records per
/// client.
///
/// It never evicts a live record. Up to `capacity − reserve` records
/// (`reserve` = a tenth of the capacity) anyone is recorded. From there on
/// the memory is full, and a new statement from a client holding its share
/// or more — `(capacity − reserve) / clients`, where `clients` counts the
/// addresses holding live records (and this one) — is refused with
/// [`Insertion::OverShare`] (429); the other clients are recorded into the
/// reserve. Only when the reserve is used up as well are new statements
/// refused with [`Error::ReplayGuard`] (503, fail closed, security
/// catalogue B7): with the per-address rate limit in front, that takes many
/// addresses sending flat out at once.
pub struct MemoryReplayGuard {
    capacity: usize,
    reserve: usize,
    state: Mutex<Records>,
}

#[derive(Default)]
struct Records {
    live: HashMap<(ReplayKind, ReplayKey), Live>,
    expiries: BinaryHeap<Reverse<(u64, ReplayKind, ReplayKey)>>,
    per_client: HashMap<ClientKey, usize>,
}

#[derive(Clone, Copy)]
struct Live {
    expires_at_ms: u64,
    client: ClientKey,
}

impl MemoryReplayGuard {
    /// A guard holding at most `capacity` live records, a tenth of them
    /// kept in reserve for the clients within their share.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            reserve: capacity / 10,
            state: Mutex::new(Records::default()),
        }
    }

    /// The most live records held.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
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

    /// How many records `client` holds (live, or expired and not yet
    /// pruned).
    #[must_use]
    pub fn held_by(&self, client: ClientKey) -> usize {
        self.state.lock().map_or(0, |records| {
            records.per_client.get(&client).copied().unwrap_or(0)
        })
    }

    fn insert_now(&self, record: ReplayRecord, now_ms: u64) -> Result<Insertion, Error> {
        let mut records = self
            .state
            .lock()
            .map_err(|_| Error::ReplayGuard("in-memory guard poisoned".into()))?;
        records.prune(now_ms);
        let id = (record.kind, record.key);
        if records.live.contains_key(&id) {
            return Ok(Insertion::Replay);
        }
        let open = self.capacity - self.reserve;
        if records.live.len() >= open {
            let held = records.per_client.get(&record.client).copied().unwrap_or(0);
            let clients = records.per_client.len() + usize::from(held == 0);
            let share = (open / clients.max(1)).max(1);
            if held >= share {
                return Ok(Insertion::OverShare {
                    retry_after_s: records.seconds_until_room(now_ms),
                });
            }
            if records.live.len() >= self.capacity {
                return Err(Error::ReplayGuard(format!(
                    "in-memory guard full ({} live records, reserve included)",
                    self.capacity
                )));
            }
        }
        records.live.insert(
            id,
            Live {
                expires_at_ms: record.expires_at_ms,
                client: record.client,
            },
        );
        records
            .expiries
            .push(Reverse((record.expires_at_ms, record.kind, record.key)));
        *records.per_client.entry(record.client).or_insert(0) += 1;
        Ok(Insertion::Recorded)
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
            let Some(live) = self.live.get(&(kind, key)).copied() else {
                continue;
            };
            if live.expires_at_ms != expires {
                continue;
            }
            self.live.remove(&(kind, key));
            if let Some(count) = self.per_client.get_mut(&live.client) {
                *count -= 1;
                if *count == 0 {
                    self.per_client.remove(&live.client);
                }
            }
        }
    }

    /// Seconds (at least 1) until the next record expires.
    fn seconds_until_room(&self, now_ms: u64) -> u64 {
        self.expiries
            .peek()
            .map_or(1, |Reverse((expires, _, _))| {
                expires.saturating_sub(now_ms).div_ceil(1000)
            })
            .max(1)
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
            .field("reserve", &self.reserve)
            .field("len", &self.len())
            .finish()
    }
}

impl ReplayGuard for MemoryReplayGuard {
    fn insert_once(
        &self,
        record: ReplayRecord,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Insertion, Error>> {
        let answer = self.insert_now(record, now_ms);
        Box::pin(std::future::ready(answer))
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use sigil_core::Window;

    use super::*;

    fn key(n: u32) -> ReplayKey {
        let mut bytes = [0; 32];
        bytes[..4].copy_from_slice(&n.to_be_bytes());
        ReplayKey::from_bytes(bytes)
    }

    fn client(n: u8) -> ClientKey {
        ClientKey::of(IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)))
    }

    fn insert(guard: &MemoryReplayGuard, kind: ReplayKind, n: u32, exp: u64, now: u64) -> bool {
        let record = ReplayRecord::new(kind, key(n), client(1), exp);
        match guard.insert_now(record, now).unwrap() {
            Insertion::Recorded => true,
            Insertion::Replay => false,
            other => panic!("{other:?}"),
        }
    }

    fn from(guard: &MemoryReplayGuard, who: u8, n: u32, exp: u64, now: u64) -> Insertion {
        let record = ReplayRecord::new(ReplayKind::AuthToken, key(n), client(who), exp);
        guard.insert_now(record, now).unwrap()
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

    /// The fairness rule: a full memory refuses the client filling it
    /// (429), takes the others into the reserve, never evicts, and still
    /// answers a replay as a replay.
    #[test]
    fn a_full_guard_refuses_only_the_client_filling_it() {
        let guard = MemoryReplayGuard::new(20); // 18 open, 2 in reserve
        for n in 0..18 {
            assert_eq!(from(&guard, 1, n, 10_000, 0), Insertion::Recorded, "{n}");
        }
        assert_eq!(
            from(&guard, 1, 18, 10_000, 2_500),
            Insertion::OverShare { retry_after_s: 8 }
        );
        assert_eq!(from(&guard, 2, 100, 20_000, 0), Insertion::Recorded);
        assert_eq!(from(&guard, 3, 101, 20_000, 0), Insertion::Recorded);
        assert_eq!(from(&guard, 1, 0, 10_000, 0), Insertion::Replay);
        assert_eq!(guard.len(), 20);
        assert_eq!(guard.held_by(client(1)), 18);
        // The reserve is used up: the filler is still 429, a client within
        // its share is refused with an error (503) rather than by evicting.
        assert!(matches!(
            from(&guard, 1, 19, 10_000, 0),
            Insertion::OverShare { .. }
        ));
        let err = guard
            .insert_now(
                ReplayRecord::new(ReplayKind::AuthToken, key(102), client(4), 20_000),
                0,
            )
            .unwrap_err();
        assert!(
            matches!(err, Error::ReplayGuard(ref m) if m.contains("full")),
            "{err}"
        );
        // When the filler's records expire, its count goes with them.
        assert_eq!(from(&guard, 1, 19, 30_000, 10_000), Insertion::Recorded);
        assert_eq!(guard.held_by(client(1)), 1);
        assert_eq!(guard.len(), 3);
        assert_eq!(from(&guard, 4, 102, 30_000, 10_000), Insertion::Recorded);
    }

    /// The share is split between the clients holding records: of two
    /// heavy clients only the one over its share is refused, and a
    /// newcomer (which lowers the share) still gets in.
    #[test]
    fn the_share_is_split_between_the_clients_holding_records() {
        let guard = MemoryReplayGuard::new(100); // 90 open, 10 in reserve
        for n in 0..60 {
            assert_eq!(from(&guard, 1, n, 1_000, 0), Insertion::Recorded);
        }
        for n in 100..130 {
            assert_eq!(from(&guard, 2, n, 1_000, 0), Insertion::Recorded);
        }
        // Full at 90 with two clients: shares of 45.
        assert!(matches!(
            from(&guard, 1, 60, 1_000, 0),
            Insertion::OverShare { .. }
        ));
        assert_eq!(from(&guard, 2, 130, 1_000, 0), Insertion::Recorded);
        // A third client: shares of 30, so client 2 (31) is over its share now.
        assert_eq!(from(&guard, 3, 200, 1_000, 0), Insertion::Recorded);
        assert!(matches!(
            from(&guard, 2, 131, 1_000, 0),
            Insertion::OverShare { .. }
        ));
        assert_eq!(from(&guard, 3, 201, 1_000, 0), Insertion::Recorded);
    }

    #[test]
    fn a_re_recorded_key_is_not_pruned_by_its_old_expiry() {
        let guard = MemoryReplayGuard::new(10);
        assert_eq!(from(&guard, 1, 1, 100, 0), Insertion::Recorded);
        assert_eq!(from(&guard, 2, 1, 300, 100), Insertion::Recorded);
        assert_eq!(guard.held_by(client(1)), 0);
        assert_eq!(guard.held_by(client(2)), 1);
        assert_eq!(from(&guard, 3, 1, 400, 200), Insertion::Replay);
    }

    #[test]
    fn the_default_capacity_is_the_documented_arithmetic() {
        let bucket = BucketConfig {
            per_minute: 300,
            burst: 60,
        };
        let span = Window::SYMMETRIC_300S.span_ms();
        assert_eq!(span, 600_000);
        assert_eq!(records_per_client(bucket, span), 3_060);
        assert_eq!(
            FULL_RATE_CLIENTS * records_per_client(bucket, span),
            DEFAULT_REPLAY_CAPACITY
        );
    }
}
