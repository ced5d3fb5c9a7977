//! The store conformance suite, written once and run on every backend.
//!
//! A backend's runner (`tests/<backend>.rs`) declares `mod conformance;`,
//! implements [`Fixture`] and invokes `conformance_tests!(its_fixture())`:
//! one `#[tokio::test]` per case below, so every case runs on every backend
//! and a new case reaches them all.

use std::any::Any;
use std::collections::HashSet;
use std::sync::Arc;

use sigil_core::{Network, PrivateKey, PublicKey, ReplayKey};
use sigil_store::{
    Account, Error, Insertion, KeyState, NewSigningKey, ReplayNamespace, ReplayRecord,
    SigningKeyRecord, Store,
};
use tokio::sync::Barrier;

mod accounts;
mod keys;
mod lifecycle;
mod oauth;
mod replay;

pub(crate) use accounts::*;
pub(crate) use keys::*;
pub(crate) use lifecycle::*;
pub(crate) use oauth::*;
pub(crate) use replay::*;

/// What a backend's runner provides.
pub(crate) trait Fixture: Send + Sync + 'static {
    /// Opens a store on this fixture's storage, fresh for each fixture. After
    /// the store is closed, a second call opens the same storage again.
    async fn open(&self) -> Store;

    /// Opens a store on this fixture's storage that cannot answer while the
    /// returned guard lives (e.g. another process holds the write lock past
    /// the store's busy timeout), and answers again once it is dropped.
    async fn open_unanswerable(&self) -> (Store, Box<dyn Any + Send>);
}

/// One `#[tokio::test]` per conformance case, opened with `$fixture`.
macro_rules! conformance_tests {
    ($fixture:expr) => {
        conformance::replay_conformance_tests!($fixture);
        conformance_tests!(@cases $fixture;
            replay_expired_record_counts_as_absent,
            replay_purge_removes_only_expired_records,
            signing_key_first_insert_then_conflict,
            signing_key_rotation_keeps_old_key_until_retires_at,
            signing_key_rotation_is_atomic,
            signing_key_rotation_without_current_key,
            signing_key_concurrent_rotations_leave_one_current,
            signing_key_bytes_round_trip_exactly,
            signing_key_retirement_erases_the_private_key,
            signing_key_bytes_are_replaced_all_or_nothing,
            signing_key_certificate_is_stored_once,
            accounts_add_get_list_revoke,
            accounts_duplicate_add_is_refused,
            accounts_revoke_unknown_is_not_found,
            accounts_concurrent_adds_of_one_key_have_one_winner,
            accounts_update_changes_only_the_fields_named,
            accounts_unrevoke_clears_the_revocation,
            accounts_remove_deletes_the_account,
            records_survive_close_and_reopen,
            unanswerable_store_fails_closed,
        );
    };
    (@cases $fixture:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture = $fixture;
                conformance::$case(&fixture).await;
            }
        )*
    };
}
pub(crate) use conformance_tests;

/// The replay cases that hold for every replay store, including one whose
/// records expire by its own clock (Redis: `SET NX PX`), for a backend
/// that keeps only replay records: one `#[tokio::test]` each. Expiry and
/// purge at the caller's `now_ms` are in [`conformance_tests!`].
macro_rules! replay_conformance_tests {
    ($fixture:expr) => {
        conformance::conformance_tests!(@cases $fixture;
            replay_first_insert_then_already_used,
            replay_concurrent_inserts_of_one_key_have_one_winner,
            replay_concurrent_inserts_of_many_keys_have_one_winner_each,
            replay_namespaces_do_not_collide,
            replay_refuses_a_record_born_expired,
            payload_verified_once,
            health_succeeds_on_an_open_store,
            closed_store_is_unavailable,
        );
    };
}
pub(crate) use replay_conformance_tests;

/// A fixed "now" for the suite, ms.
pub(crate) const NOW: u64 = 1_700_000_000_000;

/// The docs/protocol.md §3 replay-record lifetime, window plus future skew.
pub(crate) const TTL: u64 = 360_000;

/// A replay key distinct per `(label, n)`.
pub(crate) fn replay_key(label: &str, n: u64) -> ReplayKey {
    ReplayKey::for_payload(format!("{label}/{n}").as_bytes())
}

/// When the suite's statements were signed: a second before [`NOW`].
pub(crate) const SIGNED_AT: u64 = NOW - 1_000;

/// The replay record of `key` in `namespace`, signed at [`SIGNED_AT`].
pub(crate) fn record(
    namespace: ReplayNamespace,
    key: ReplayKey,
    expires_at_ms: u64,
) -> ReplayRecord {
    ReplayRecord {
        namespace,
        key,
        signed_at_ms: SIGNED_AT,
        expires_at_ms,
    }
}

/// A valid public key distinct per `n` (1..=255).
pub(crate) fn pubkey(n: u8) -> PublicKey {
    PrivateKey::from_bytes([n; 32], Network::Mainnet, true)
        .expect("[n; 32] with 1 <= n <= 255 is a valid scalar")
        .public_key()
}

/// A signing key whose bytes name it.
pub(crate) fn new_key(kid: &str, created_at_ms: u64) -> NewSigningKey {
    NewSigningKey::new(kid, format!("pkcs8 of {kid}").into_bytes(), created_at_ms)
}

/// `(kid, state, retires_at_ms)` of every key, oldest first.
pub(crate) fn summary(keys: &[SigningKeyRecord]) -> Vec<(String, KeyState, Option<u64>)> {
    keys.iter()
        .map(|k| (k.kid.clone(), k.state, k.retires_at_ms))
        .collect()
}

/// Runs `n` copies of `task` released together from a barrier, returning
/// their results in task order.
pub(crate) async fn together<T, F, Fut>(n: usize, task: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            let work = task(i);
            tokio::spawn(async move {
                barrier.wait().await;
                work.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for handle in handles {
        results.push(handle.await.expect("a task panicked"));
    }
    results
}

/// Asserts that `result` is an error of the fail-closed class.
#[track_caller]
pub(crate) fn assert_unavailable<T: std::fmt::Debug>(what: &str, result: Result<T, Error>) {
    match result {
        Err(error) => assert!(error.is_unavailable(), "{what}: {error:?}"),
        Ok(value) => panic!("{what}: answered {value:?} while the store cannot answer"),
    }
}

/// Counts `(Inserted, AlreadyUsed)` and asserts there is no error.
pub(crate) fn tally(results: &[Result<Insertion, Error>]) -> (usize, usize) {
    let mut counts = (0, 0);
    for result in results {
        match result {
            Ok(Insertion::Inserted) => counts.0 += 1,
            Ok(Insertion::AlreadyUsed) => counts.1 += 1,
            Err(error) => panic!("insert failed: {error}"),
        }
    }
    counts
}

/// Distinct values.
pub(crate) fn distinct<T: std::hash::Hash + Eq>(values: impl IntoIterator<Item = T>) -> usize {
    values.into_iter().collect::<HashSet<_>>().len()
}

/// An account with every field set.
pub(crate) fn full_account(n: u8, created_at_ms: u64) -> Account {
    let mut account = Account::new(pubkey(n), created_at_ms);
    account.name = Some(format!("account {n}"));
    account.bap_id = Some(format!("bap{n}"));
    account.audiences = vec![
        format!("https://api{n}.example/"),
        "https://shared.example/v1".into(),
    ];
    account
}

/// The namespaces, for loops.
pub(crate) const NAMESPACES: [ReplayNamespace; 4] = ReplayNamespace::ALL;
