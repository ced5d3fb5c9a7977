//! Replay records in PostgreSQL: inserts batched into one statement.
//!
//! Every [`insert_if_absent`](crate::ReplayStore::insert_if_absent) call is
//! queued to one collector task. The collector waits for a free commit
//! slot (at most [`PostgresOptions::max_commits_in_flight`] statements run
//! at once), then takes everything queued (up to `max_batch` calls) and
//! commits it as **one** `INSERT … SELECT FROM unnest(…) ON CONFLICT …
//! RETURNING`, whose primary key decides: a row returned was inserted (or
//! took over an expired record), a row not returned was live. While the
//! slots are busy the queue fills, so under load one commit (one WAL flush,
//! `synchronous_commit = on`) serves many requests; an idle store commits
//! each call at once. Nobody is answered before the statement committed.
//!
//! A caller waits at most the call timeout in all, queueing included: when
//! the database stops answering, the commit slots stay taken until their
//! statements time out, and a caller queued behind them would otherwise
//! wait for a slot and then for its own statement, past the server's
//! request timeout. A caller that gave up gets
//! [`Error::Unavailable`](crate::Error::Unavailable) (so no token); its
//! record may still be committed later by its batch, which only burns the
//! statement (a retry is `AlreadyUsed`), never lets it be used twice.
//!
//! The batch is sorted by key, so two instances' batches that share keys
//! lock them in one order and never deadlock; a key twice in one batch is
//! sent once and its other calls are answered `AlreadyUsed` (one use wins).
//!
//! [`PostgresOptions::max_commits_in_flight`]: super::PostgresOptions::max_commits_in_flight

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::warn;

use super::error::{bounded, pool, sql};
use crate::column::ms_to_db;
use crate::error::{Error, Result};
use crate::replay::{Insertion, ReplayRecord};

/// Inserts a batch; returns the `(namespace, key)` of the rows written.
const INSERT: &str = "INSERT INTO replay_records (namespace, key, signed_at_ms, expires_at_ms)
    SELECT * FROM unnest($1::int2[], $2::bytea[], $3::int8[], $4::int8[])
    ON CONFLICT (namespace, key) DO UPDATE
        SET signed_at_ms = excluded.signed_at_ms, expires_at_ms = excluded.expires_at_ms
        WHERE replay_records.expires_at_ms <= $5
    RETURNING namespace, key";

/// Deletes at most `$2` expired records. `SKIP LOCKED`: instances purging
/// at the same time take different rows instead of waiting on each other.
const PURGE: &str = "DELETE FROM replay_records WHERE ctid IN (
    SELECT ctid FROM replay_records WHERE expires_at_ms <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// One queued call.
struct Pending {
    record: ReplayRecord,
    now_ms: u64,
    answer: oneshot::Sender<Result<Insertion>>,
}

/// The queue to the collector task.
#[derive(Debug, Clone)]
pub(super) struct Batcher {
    sender: mpsc::Sender<Pending>,
    /// The longest a caller waits, queueing included.
    timeout: Duration,
}

/// What the collector needs.
pub(super) struct BatchSettings {
    pub(super) max_batch: usize,
    pub(super) in_flight: usize,
    pub(super) queue: usize,
    pub(super) timeout: Duration,
}

impl Batcher {
    /// Starts the collector on the current tokio runtime.
    pub(super) fn start(pool: Pool, settings: BatchSettings) -> Self {
        let (sender, receiver) = mpsc::channel(settings.queue.max(1));
        let timeout = settings.timeout;
        tokio::spawn(collect(pool, receiver, settings));
        Self { sender, timeout }
    }

    /// Queues `record` and waits for its committed answer, at most the
    /// call timeout in all.
    pub(super) async fn insert(&self, record: ReplayRecord, now_ms: u64) -> Result<Insertion> {
        let (answer, answered) = oneshot::channel();
        let pending = Pending {
            record,
            now_ms,
            answer,
        };
        bounded(self.timeout, "a replay insert, queueing included", async {
            self.sender
                .send(pending)
                .await
                .map_err(|_| Error::unavailable("postgres: replay writer stopped"))?;
            answered
                .await
                .map_err(|_| Error::unavailable("postgres: replay writer stopped"))?
        })
        .await
    }
}

async fn collect(pool: Pool, mut receiver: mpsc::Receiver<Pending>, settings: BatchSettings) {
    let slots = Arc::new(Semaphore::new(settings.in_flight.max(1)));
    let max_batch = settings.max_batch.max(1);
    while let Some(first) = receiver.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match receiver.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        let timeout = settings.timeout;
        tokio::spawn(async move {
            commit(&pool, batch, timeout).await;
            drop(slot);
        });
    }
}

/// Commits `batch` and answers every call of it.
async fn commit(pool: &Pool, batch: Vec<Pending>, timeout: Duration) {
    // (namespace, key) → indexes of the calls for it, sorted by key.
    let mut by_key: BTreeMap<(u8, [u8; 32]), Vec<usize>> = BTreeMap::new();
    for (index, pending) in batch.iter().enumerate() {
        let record = &pending.record;
        by_key
            .entry((record.namespace.code(), *record.key.as_bytes()))
            .or_default()
            .push(index);
    }
    let result = bounded(timeout, "a replay insert", async {
        let now = batch.iter().map(|p| p.now_ms).min().unwrap_or(0);
        insert_rows(pool, &batch, &by_key, now).await
    })
    .await;
    let mut answers: Vec<Option<Result<Insertion>>> = (0..batch.len()).map(|_| None).collect();
    match result {
        Ok(written) => {
            for (id, indexes) in &by_key {
                let first = if written.contains(id) {
                    Insertion::Inserted
                } else {
                    Insertion::AlreadyUsed
                };
                for (n, index) in indexes.iter().enumerate() {
                    answers[*index] = Some(Ok(if n == 0 {
                        first
                    } else {
                        Insertion::AlreadyUsed
                    }));
                }
            }
        }
        Err(error) => {
            warn!(error = %error, calls = batch.len(), "replay insert batch failed");
            for answer in &mut answers {
                *answer = Some(Err(error.clone()));
            }
        }
    }
    for (pending, answer) in batch.into_iter().zip(answers) {
        let answer =
            answer.unwrap_or_else(|| Err(Error::unavailable("postgres: call left unanswered")));
        let _ = pending.answer.send(answer);
    }
}

async fn insert_rows(
    pool: &Pool,
    batch: &[Pending],
    by_key: &BTreeMap<(u8, [u8; 32]), Vec<usize>>,
    now_ms: u64,
) -> Result<std::collections::BTreeSet<(u8, [u8; 32])>> {
    let mut namespaces = Vec::with_capacity(by_key.len());
    let mut keys: Vec<&[u8]> = Vec::with_capacity(by_key.len());
    let mut signed = Vec::with_capacity(by_key.len());
    let mut expires = Vec::with_capacity(by_key.len());
    for ((namespace, key), indexes) in by_key {
        let record = &batch[indexes[0]].record;
        namespaces.push(i16::from(*namespace));
        keys.push(key.as_slice());
        signed.push(ms_to_db(record.signed_at_ms, "signed_at_ms")?);
        expires.push(ms_to_db(record.expires_at_ms, "expires_at_ms")?);
    }
    let now_ms = ms_to_db(now_ms, "now_ms")?;
    let client = pool.get().await.map_err(pool_error)?;
    let statement = client.prepare_cached(INSERT).await.map_err(sql)?;
    let rows = client
        .query(
            &statement,
            &[&namespaces, &keys, &signed, &expires, &now_ms],
        )
        .await
        .map_err(sql)?;
    rows.iter()
        .map(|row| {
            let namespace: i16 = row.try_get(0).map_err(sql)?;
            let key: &[u8] = row.try_get(1).map_err(sql)?;
            let namespace = u8::try_from(namespace)
                .map_err(|_| Error::corrupt(format!("replay namespace {namespace}")))?;
            let key: [u8; 32] = key
                .try_into()
                .map_err(|_| Error::corrupt("replay key of the wrong length"))?;
            Ok((namespace, key))
        })
        .collect()
}

fn pool_error(error: deadpool_postgres::PoolError) -> Error {
    pool(error)
}

/// Deletes expired records in batches of `batch` rows, each its own short
/// transaction, until fewer than a batch are left; returns how many.
pub(super) async fn purge_expired(pool: &Pool, now_ms: u64, batch: i64) -> Result<u64> {
    let now_ms = ms_to_db(now_ms, "now_ms")?;
    let client = pool.get().await.map_err(pool_error)?;
    let statement = client.prepare_cached(PURGE).await.map_err(sql)?;
    let mut purged = 0;
    loop {
        let deleted = client
            .execute(&statement, &[&now_ms, &batch])
            .await
            .map_err(sql)?;
        purged += deleted;
        if deleted < batch as u64 {
            return Ok(purged);
        }
    }
}
