//! Prints the cost of one replay-record insert through [`SqliteStore`]:
//! one caller awaiting each insert, then many concurrent callers (whose
//! inserts the writer thread commits in batches).
//!
//! `cargo run --release -p sigil-store --example replay_insert_bench [-- INSERTS]`

use std::time::Instant;

use sigil_core::ReplayKey;
use sigil_store::{Insertion, ReplayNamespace, ReplayRecord, Store};

const NOW: u64 = 1_700_000_000_000;
const TTL: u64 = 360_000;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let inserts: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 20_000,
    };
    let dir = std::env::temp_dir().join(format!("sigil-store-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    round_trip_floor(inserts).await;
    raw_baseline(&dir.join("raw.db"), inserts)?;
    let store = Store::open(&url).await?;

    let started = Instant::now();
    for i in 0..inserts {
        insert(&store, 0, i).await?;
    }
    report("1 caller, sequential", inserts, started);

    for callers in [16, 64] {
        let started = Instant::now();
        let tasks: Vec<_> = (0..callers)
            .map(|c| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in (c..inserts).step_by(callers) {
                        insert(&store, callers, i).await?;
                    }
                    Ok::<_, sigil_store::Error>(())
                })
            })
            .collect();
        for task in tasks {
            task.await??;
        }
        report(&format!("{callers} concurrent callers"), inserts, started);
    }

    store.close().await?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// A caller-to-thread round trip through the same kind of channel and
/// oneshot, with no SQL: what the writer-thread design costs by itself.
async fn round_trip_floor(round_trips: usize) {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<tokio::sync::oneshot::Sender<()>>(1);
    std::thread::spawn(move || {
        while let Some(reply) = receiver.blocking_recv() {
            let _ = reply.send(());
        }
    });
    let started = Instant::now();
    for _ in 0..round_trips {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let echoed = sender.send(reply).await.is_ok() && answer.await.is_ok();
        assert!(echoed, "the echo thread lives as long as its sender");
    }
    report("thread round trip, no SQL", round_trips, started);
}

/// The same schema and pragmas through rusqlite directly, one autocommit
/// statement per insert, on this thread: the floor the store adds to.
fn raw_baseline(path: &std::path::Path, inserts: usize) -> Result<(), Box<dyn std::error::Error>> {
    let conn = rusqlite::Connection::open(path)?;
    let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    conn.execute_batch("PRAGMA synchronous = NORMAL")?;
    conn.execute_batch(include_str!("../migrations/sqlite/0001_initial.sql"))?;
    conn.execute_batch(include_str!(
        "../migrations/sqlite/0002_replay_by_signed_time.sql"
    ))?;
    let started = Instant::now();
    for i in 0..inserts {
        let key = ReplayKey::for_payload(format!("raw/{i}").as_bytes());
        let changed = conn
            .prepare_cached(
                "INSERT INTO replay_records (namespace, signed_at_ms, key, expires_at_ms)
                 VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT (namespace, signed_at_ms, key) DO UPDATE
                 SET expires_at_ms = excluded.expires_at_ms
                 WHERE replay_records.expires_at_ms <= ?4",
            )?
            .execute(rusqlite::params![
                signed_at(i) as i64,
                &key.as_bytes()[..],
                (NOW + TTL) as i64,
                NOW as i64
            ])?;
        assert_eq!(changed, 1, "every key is new");
    }
    report("raw rusqlite, no store", inserts, started);
    Ok(())
}

async fn insert(store: &Store, round: usize, i: usize) -> Result<(), sigil_store::Error> {
    let key = ReplayKey::for_payload(format!("{round}/{i}").as_bytes());
    let answer = store
        .replay()
        .insert_if_absent(
            ReplayRecord {
                namespace: ReplayNamespace::TokenRequest,
                key,
                signed_at_ms: signed_at(i),
                expires_at_ms: NOW + TTL,
            },
            NOW,
        )
        .await?;
    assert_eq!(answer, Insertion::Inserted, "every key is new");
    Ok(())
}

/// When statement `i` was signed: in order, about 10 a millisecond, as a
/// busy server receives them.
fn signed_at(i: usize) -> u64 {
    NOW - 60_000 + (i / 10) as u64
}

fn report(what: &str, operations: usize, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{what:>26}: {operations} in {seconds:.3} s, {:.1} µs each, {:.0}/s",
        seconds * 1e6 / operations as f64,
        operations as f64 / seconds
    );
}
