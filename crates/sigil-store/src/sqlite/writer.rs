//! The one thread that owns the SQLite connection.
//!
//! Async callers send it work through a bounded channel and await the
//! answer on a oneshot. The thread takes whatever work is queued (up to
//! `max_batch` items), runs it inside one `BEGIN IMMEDIATE` transaction,
//! commits, and only then answers every caller of the batch. So no answer,
//! and therefore no token, ever leaves before its write is committed; and a
//! burst of inserts costs one commit instead of one each.
//!
//! Group commit needs the queue to fill while the thread is busy or away.
//! When the first call of a batch wakes the thread, the scheduler usually
//! runs it at once, on the core of the task that sent the call (on a
//! one-core server, always): the thread would find that one call and
//! commit it alone, once per request. So before it commits a batch that is
//! not full, the thread yields its core once (`sched_yield`), letting the
//! request tasks that are ready reach their own store calls; then it drains
//! the queue again. With an idle core the yield returns at once.
//!
//! The thread wakes one caller per batch, not each. Every wake-up it sent
//! from its own thread was a wake-up from outside the caller's runtime: an
//! `eventfd` write per caller, and on a one-core server often a switch to
//! the runtime's thread and back per answer (BENCHMARKS.md). So the first
//! call of a batch is its *leader*: its answer carries the other calls of
//! the batch ([`Followers`]), which the leader answers on its own runtime
//! thread, where waking a task is a queue push, before it returns. A leader
//! that stopped waiting drops them, and dropping [`Followers`] answers them
//! (on whichever thread drops it), so no caller is left without its answer.
//! One dependency follows: a follower's answer waits until the leader's
//! task runs; a leader on a runtime that is not being driven (a
//! current-thread runtime outside `block_on`) delays its batch's followers
//! on other runtimes until that runtime runs again or drops the task.
//!
//! A work item that fails with an [`Error::is_unavailable`] error (I/O, disk
//! full, corrupt page, busy past the timeout) fails the whole batch: the
//! transaction is rolled back and every caller of the batch gets that
//! error, so nobody is told "inserted" for a write that was not committed.
//! Other errors (a conflict, a bad argument) are answers: the item changed
//! nothing and the batch goes on.

use std::thread;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::SqliteOptions;
use super::checkpoint::Checkpointer;
use super::error::sql;
use super::schema;
use crate::error::{Error, Result};
use crate::url::SqliteLocation;

/// A handle on the writer thread; clones share the thread. The thread ends
/// when [`close`](Self::close) is called or every handle is dropped.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    sender: mpsc::Sender<Message>,
}

enum Message {
    Work(Box<dyn Job>),
    Close(oneshot::Sender<Result<()>>),
}

impl Writer {
    /// Starts the thread, which opens and migrates the database before
    /// taking any work; returns once that is done.
    pub(super) async fn start(location: SqliteLocation, options: SqliteOptions) -> Result<Self> {
        let (sender, receiver) = mpsc::channel(options.queue_capacity.max(1));
        let (ready, opened) = oneshot::channel();
        let max_batch = options.max_batch.max(1);
        thread::Builder::new()
            .name("sigil-store-sqlite".into())
            .spawn(move || match schema::open(&location, &options) {
                Ok(conn) => {
                    let checkpointer = match &location {
                        SqliteLocation::File(path) => Checkpointer::start(path),
                        SqliteLocation::Memory => None,
                    };
                    if ready.send(Ok(())).is_ok() {
                        serve(conn, receiver, max_batch, checkpointer);
                    }
                }
                Err(error) => {
                    let _ = ready.send(Err(error));
                }
            })
            .map_err(|e| Error::unavailable(format!("cannot start the sqlite thread: {e}")))?;
        opened
            .await
            .map_err(|_| Error::unavailable("the sqlite thread stopped while opening"))??;
        Ok(Self { sender })
    }

    /// Runs `work` on the connection inside the next batch's transaction and
    /// returns its result once that transaction has committed.
    pub(super) async fn call<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let call = Call {
            work: Some(work),
            outcome: None,
            reply,
        };
        self.sender
            .send(Message::Work(Box::new(call)))
            .await
            .map_err(|_| closed())?;
        let (outcome, followers) = answer.await.map_err(|_| closed())?;
        // This call led its batch: answer the others (module summary).
        drop(followers);
        outcome
    }

    /// Lets the work queued so far finish, then closes the connection.
    pub(super) async fn close(&self) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        if self.sender.send(Message::Close(reply)).await.is_err() {
            return Ok(()); // closed already
        }
        // No answer: another close got there first.
        answer.await.unwrap_or(Ok(()))
    }
}

fn closed() -> Error {
    Error::unavailable("the sqlite store is closed")
}

/// The thread's loop: one batch per wake-up, until closed. The
/// checkpointer's connection is closed before this one, so that this one,
/// the last, checkpoints and removes the WAL.
fn serve(
    conn: Connection,
    mut receiver: mpsc::Receiver<Message>,
    max_batch: usize,
    checkpointer: Option<Checkpointer>,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(max_batch);
    while let Some(first) = receiver.blocking_recv() {
        let mut closing = None;
        match first {
            Message::Work(job) => batch.push(job),
            Message::Close(reply) => closing = Some(reply),
        }
        for round in 0..2 {
            while closing.is_none() && batch.len() < max_batch {
                match receiver.try_recv() {
                    Ok(Message::Work(job)) => batch.push(job),
                    Ok(Message::Close(reply)) => closing = Some(reply),
                    Err(_) => break,
                }
            }
            if round == 0 && closing.is_none() && batch.len() < max_batch {
                // Let the tasks that are ready queue their calls (module
                // summary), then take them into this batch.
                thread::yield_now();
            }
        }
        if !batch.is_empty() {
            run_batch(&conn, &mut batch);
        }
        if let Some(reply) = closing {
            // Work sent after the close is dropped unanswered: its callers
            // get `Unavailable`.
            drop(receiver);
            drop(checkpointer); // stops it and closes its connection first
            let _ = reply.send(close(conn));
            return;
        }
    }
    drop(checkpointer); // stops it and closes its connection first
    if let Err(error) = close(conn) {
        warn!(%error, "closing the sqlite store");
    }
}

fn close(conn: Connection) -> Result<()> {
    conn.close().map_err(|(_, e)| sql(e))?;
    debug!("sqlite store closed");
    Ok(())
}

fn run_batch(conn: &Connection, batch: &mut Vec<Box<dyn Job>>) {
    let failure = transact(conn, batch);
    if let Some(error) = &failure {
        debug!(%error, jobs = batch.len(), "sqlite batch rolled back");
    }
    let mut jobs = batch.drain(..);
    if let Some(leader) = jobs.next() {
        let followers = Followers {
            jobs: jobs.collect(),
            failure: failure.clone(),
        };
        leader.answer(failure.as_ref(), Some(followers));
    }
}

/// The other calls of a committed (or rolled back) batch, handed to its
/// leader to answer. Dropping it answers every call it still holds.
struct Followers {
    jobs: Vec<Box<dyn Job>>,
    /// Why the batch did not commit, if it did not.
    failure: Option<Error>,
}

impl Drop for Followers {
    fn drop(&mut self) {
        for job in self.jobs.drain(..) {
            job.answer(self.failure.as_ref(), None);
        }
    }
}

/// Runs the batch in one transaction; `Some(error)` when it did not commit.
fn transact(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Option<Error> {
    if let Err(e) = execute_cached(conn, "BEGIN IMMEDIATE") {
        return Some(sql(e));
    }
    let mut failure = batch.iter_mut().find_map(|job| job.run(conn));
    if failure.is_none() && conn.is_autocommit() {
        failure = Some(Error::unavailable("sqlite rolled the transaction back"));
    }
    if failure.is_none() {
        match execute_cached(conn, "COMMIT") {
            Ok(()) => return None,
            Err(e) => failure = Some(sql(e)),
        }
    }
    if !conn.is_autocommit()
        && let Err(error) = conn.execute_batch("ROLLBACK")
    {
        warn!(%error, "rolling back an sqlite batch");
    }
    failure
}

/// Runs a parameterless statement kept prepared across batches.
fn execute_cached(conn: &Connection, statement: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(statement)?.execute([])?;
    Ok(())
}

/// One caller's work, type-erased so one queue carries every kind.
trait Job: Send {
    /// Runs the work inside the open transaction. Returns the error that
    /// must fail the whole batch, if any.
    fn run(&mut self, conn: &Connection) -> Option<Error>;

    /// Answers the caller: with `batch_failure` if the batch did not commit,
    /// else with the work's own result; a leader also gets its `followers`.
    fn answer(self: Box<Self>, batch_failure: Option<&Error>, followers: Option<Followers>);
}

/// What a caller receives: its outcome, and the followers it must answer
/// if it led its batch.
type Reply<T> = (Result<T>, Option<Followers>);

struct Call<T, F> {
    work: Option<F>,
    outcome: Option<Result<T>>,
    reply: oneshot::Sender<Reply<T>>,
}

impl<T, F> Job for Call<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> Result<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> Option<Error> {
        let work = self.work.take()?;
        let outcome = work(conn);
        let failure = match &outcome {
            Err(error) if error.is_unavailable() => Some(error.clone()),
            _ => None,
        };
        self.outcome = Some(outcome);
        failure
    }

    fn answer(self: Box<Self>, batch_failure: Option<&Error>, followers: Option<Followers>) {
        let outcome = match (batch_failure, self.outcome) {
            (Some(error), _) => Err(error.clone()),
            (None, Some(outcome)) => outcome,
            (None, None) => Err(Error::unavailable("the sqlite batch did not run this call")),
        };
        // The caller may have stopped waiting; its write stands either way,
        // and the followers are answered when the refused reply is dropped.
        let _ = self.reply.send((outcome, followers));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code

    use std::sync::mpsc as std_mpsc;
    use std::time::Duration;

    use super::*;

    /// The leader of a batch stops waiting before the batch commits: the
    /// other calls of the batch are answered all the same, each with its
    /// own result.
    #[tokio::test(flavor = "current_thread")]
    async fn followers_of_a_leader_that_stopped_waiting_are_answered() {
        let writer = Writer::start(SqliteLocation::Memory, SqliteOptions::default())
            .await
            .unwrap();
        // Hold the writer thread inside a first batch.
        let (running, is_running) = std_mpsc::channel();
        let (release, released) = std_mpsc::channel::<()>();
        let blocker = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .call(move |_| {
                        running.send(()).unwrap();
                        released.recv().unwrap();
                        Ok(0)
                    })
                    .await
            }
        });
        tokio::task::yield_now().await; // the blocker sends its call
        tokio::task::spawn_blocking(move || is_running.recv().unwrap())
            .await
            .unwrap();

        // The next batch's first call (its leader) gives up before it runs.
        let leader = writer.call(|_| Ok(1));
        let gave_up = tokio::time::timeout(Duration::from_millis(20), leader).await;
        assert!(gave_up.is_err(), "the writer is held: no answer yet");
        let followers: Vec<_> = (2..10)
            .map(|n| {
                let writer = writer.clone();
                tokio::spawn(async move { writer.call(move |_| Ok(n)).await })
            })
            .collect();
        tokio::task::yield_now().await; // they send their calls
        release.send(()).unwrap();

        assert_eq!(blocker.await.unwrap(), Ok(0));
        for (n, follower) in (2..10).zip(followers) {
            let answer = tokio::time::timeout(Duration::from_secs(5), follower)
                .await
                .expect("a follower is answered although its leader left");
            assert_eq!(answer.unwrap(), Ok(n));
        }
        writer.close().await.unwrap();
    }
}
