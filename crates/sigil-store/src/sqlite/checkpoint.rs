//! The background checkpointer of a file database.
//!
//! In WAL mode a commit appends pages to the `-wal` file; a *checkpoint*
//! copies them back into the database and syncs both files (two `fsync`s).
//! SQLite runs one automatically in the committing connection once the WAL
//! holds 1000 pages: on the writer thread, where every request waiting for
//! its replay record waited for those `fsync`s too (the p99 of the token
//! endpoint, BENCHMARKS.md). Here a second connection, on its own thread,
//! runs a PASSIVE checkpoint every [`INTERVAL`]: PASSIVE never blocks the
//! writer, so the copying and syncing leave the request path.
//!
//! A PASSIVE checkpoint only backfills the pages present when it starts,
//! and SQLite restarts the WAL from its beginning only when a write finds
//! it wholly backfilled; under continuous writes that rarely happens, so the
//! writer keeps an automatic checkpoint with a high threshold
//! ([`WRITER_AUTOCHECKPOINT_PAGES`]) as the bound on the WAL's size. By
//! then this thread has copied and synced almost everything, so the writer's
//! own checkpoint has little left to do.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tracing::{debug, trace};

/// How often the background checkpoint runs.
pub(super) const INTERVAL: Duration = Duration::from_millis(100);

/// The writer connection's automatic checkpoint threshold, in WAL pages
/// (16 000 pages of 4 KiB: a WAL of at most about 64 MiB).
pub(super) const WRITER_AUTOCHECKPOINT_PAGES: u32 = 16_000;

/// A running checkpointer; dropping it ends the thread and waits until its
/// connection is closed (so the writer's connection can be the last one,
/// which removes the WAL).
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` (already created and in
    /// WAL mode). `None` when its connection or thread cannot be made: the
    /// writer's automatic checkpoint still bounds the WAL.
    pub(super) fn start(path: &Path) -> Option<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = match Connection::open_with_flags(path, flags) {
            Ok(conn) => conn,
            Err(error) => {
                debug!(%error, "no background checkpointer: cannot open a second connection");
                return None;
            }
        };
        // Never wait for a lock: a busy checkpoint is simply retried later.
        let _ = conn.busy_timeout(Duration::ZERO);
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("sigil-store-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    checkpoint(&conn);
                }
                if let Err((_, error)) = conn.close() {
                    debug!(%error, "closing the checkpoint connection");
                }
            });
        match thread {
            Ok(thread) => Some(Self {
                stop: Some(stop),
                thread: Some(thread),
            }),
            Err(error) => {
                debug!(%error, "no background checkpointer: cannot start its thread");
                None
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One PASSIVE checkpoint; failures (busy, I/O) are left to the next round
/// and to the writer's own automatic checkpoint.
fn checkpoint(conn: &Connection) {
    let outcome = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, i64>(2)?,
        ))
    });
    match outcome {
        Ok((busy, wal_pages, backfilled)) => trace!(busy, wal_pages, backfilled, "checkpoint"),
        Err(error) => debug!(%error, "background checkpoint"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages a writer left in the WAL (its own automatic checkpoint off)
    /// reach the database file within a few intervals, and dropping the
    /// checkpointer ends its thread.
    #[test]
    fn backfills_the_database_file_in_the_background() {
        let dir = std::env::temp_dir().join(format!("sigil-checkpoint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ck.db");
        let _ = std::fs::remove_file(&path);
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE t (k BLOB PRIMARY KEY, v INTEGER) WITHOUT ROWID;",
            )
            .unwrap();
        for i in 0..2000_u32 {
            writer
                .execute(
                    "INSERT INTO t VALUES (?1, ?2)",
                    rusqlite::params![i.to_be_bytes().repeat(8), i],
                )
                .unwrap();
        }
        let size = || std::fs::metadata(&path).unwrap().len();
        let before = size();
        let checkpointer = Checkpointer::start(&path).expect("starts");
        let mut after = before;
        for _ in 0..50 {
            std::thread::sleep(INTERVAL);
            after = size();
            if after > before {
                break;
            }
        }
        drop(checkpointer);
        assert!(after > before, "database file {before} -> {after} bytes");
        let rows: i64 = writer
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2000);
        drop(writer);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
