//! Replay records: one per signed statement, kept until the statement has
//! left its time window (docs/protocol.md §3, §6, §7, §11; docs/security.md B7).

use sigil_core::ReplayKey;

use crate::backend::{Backend, BoxFuture};
use crate::error::{Error, Result};

/// Which kind of signed statement a replay record belongs to.
///
/// Each namespace is its own key space: the same [`ReplayKey`] recorded in
/// two namespaces is two records. The numeric codes are what backends store
/// and never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ReplayNamespace {
    /// `POST /api/auth/token-for-endpoint` statements (docs/protocol.md §3).
    TokenRequest,
    /// Signed requests: `METHOD:target:bodyHash:timestamp` (docs/protocol.md §6).
    SignedRequest,
    /// bitcoin-auth `X-Auth-Token` statements (docs/protocol.md §7).
    AuthToken,
    /// Signup signed payloads, keyed on the payload bytes (docs/protocol.md §11).
    SignedPayload,
}

impl ReplayNamespace {
    /// Every namespace, in code order.
    pub const ALL: [Self; 4] = [
        Self::TokenRequest,
        Self::SignedRequest,
        Self::AuthToken,
        Self::SignedPayload,
    ];

    /// The stable number a backend stores for this namespace.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::TokenRequest => 1,
            Self::SignedRequest => 2,
            Self::AuthToken => 3,
            Self::SignedPayload => 4,
        }
    }

    /// A short lower-case name for logs and key prefixes (e.g. Redis keys).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenRequest => "token-request",
            Self::SignedRequest => "signed-request",
            Self::AuthToken => "auth-token",
            Self::SignedPayload => "signed-payload",
        }
    }
}

/// The answer of [`ReplayStore::insert_if_absent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "`AlreadyUsed` means the statement is a replay and must be refused"]
pub enum Insertion {
    /// The record is now stored, durably: the statement is used for the
    /// first time and the caller may act on it.
    Inserted,
    /// A live record exists: the statement is a replay. Nothing changed.
    AlreadyUsed,
}

/// Whether a store's replay records survive a restart of the store itself
/// (the answer of [`ReplayStore::durability`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Records are written to disk: a restart of the store keeps them.
    Durable,
    /// A restart of the store loses records (e.g. Redis without an
    /// append-only file): after one, a statement used before it verifies
    /// again while it is still inside its signature window.
    LostOnRestart {
        /// What was found, for the start-up warning.
        reason: String,
    },
}

/// One signed statement to record once: the argument of
/// [`ReplayStore::insert_if_absent`].
///
/// The record's identity is `(namespace, key)`. `signed_at_ms` is the time
/// the statement itself carries (a token request's `timestamp`, a payload's
/// `timestamp`): part of the signed bytes, so one key always comes with one
/// time. Backends may use it to place records; SQLite keys its table by it,
/// so that inserts, whose statements were signed moments ago, append to the
/// end of the table instead of writing a random page each
/// (`docs/decisions/0005-store-design.md`). A caller that passes two
/// different times for one key breaks that rule and may record it twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayRecord {
    /// The kind of statement.
    pub namespace: ReplayNamespace,
    /// The statement's replay key.
    pub key: ReplayKey,
    /// The time the statement states, ms since the Unix epoch.
    pub signed_at_ms: u64,
    /// When the record stops counting: the statement has left its window.
    pub expires_at_ms: u64,
}

impl ReplayRecord {
    /// Refuses a record that would be born expired (every backend checks
    /// this before it writes).
    pub(crate) fn check_alive_at(&self, now_ms: u64) -> Result<()> {
        if self.expires_at_ms <= now_ms {
            return Err(Error::InvalidArgument {
                field: "expires_at_ms",
                reason: "not after now_ms: the record would be born expired".into(),
            });
        }
        Ok(())
    }
}

/// Stores replay records; the insert itself is the check.
///
/// A record is live while `now_ms < expires_at_ms` and expired from
/// `expires_at_ms` on. An expired record counts as absent: its statement has
/// left the time window and can no longer verify, so an insert over it
/// succeeds (and replaces its expiry) atomically.
///
/// Implementations answer [`Insertion::Inserted`] only after the record is
/// committed, so a response sent after it survives a crash; among any number
/// of concurrent inserts of one live key, in any number of processes sharing
/// the backend, exactly one gets `Inserted`.
pub trait ReplayStore: Backend {
    /// Stores `record` unless a live record of its `(namespace, key)`
    /// exists.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`](crate::Error::InvalidArgument) when
    /// `record.expires_at_ms <= now_ms` (the record would be born expired);
    /// [`Error::is_unavailable`](crate::Error::is_unavailable) errors when the
    /// store cannot answer, in which case the statement must be refused.
    fn insert_if_absent(
        &self,
        record: ReplayRecord,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Insertion>>;

    /// Deletes every record with `expires_at_ms <= now_ms`, in all
    /// namespaces, and returns how many. Never removes a live record. A
    /// backend whose records expire by themselves (Redis) answers 0.
    ///
    /// # Errors
    ///
    /// When the store cannot answer.
    fn purge_expired(&self, now_ms: u64) -> BoxFuture<'_, Result<u64>>;

    /// Whether the records survive a restart of the store, read once at
    /// start-up so the server can warn when they would not. The SQL
    /// backends commit to disk before they answer: [`Durability::Durable`].
    ///
    /// # Errors
    ///
    /// When the store cannot answer.
    fn durability(&self) -> BoxFuture<'_, Result<Durability>> {
        Box::pin(std::future::ready(Ok(Durability::Durable)))
    }
}
