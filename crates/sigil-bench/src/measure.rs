//! Calibrated batches, as `performance.md` §1: an operation is repeated in
//! batches of about `batch` (150 ms by default), `batches` times (11), on
//! one thread; the result is the median per-operation time.
//!
//! Per batch two times are taken: wall time, and wall time minus the time
//! the thread waited for a CPU (the `run_delay` of
//! `/proc/thread-self/schedstat`, which the kernel updates exactly when the
//! thread is scheduled back in). The second is the CPU time the operation
//! took even when other processes share the core, and is the one reported;
//! the share of time spent waiting says how busy the machine was.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::procfs;
use crate::stats::median;

/// How long and how often to measure.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchPlan {
    /// Target length of one batch.
    pub(crate) batch: Duration,
    /// Number of batches; the median is reported.
    pub(crate) batches: usize,
}

/// The per-operation time of one measured operation.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Timing {
    /// Median over the batches of CPU nanoseconds per operation (wall time
    /// minus time spent waiting for a CPU; wall time where `/proc` cannot say).
    pub(crate) ns_per_op: f64,
    /// Median of wall-clock nanoseconds per operation.
    pub(crate) wall_ns_per_op: f64,
    /// Share of the measured wall time the thread waited for a CPU (0 on a
    /// quiet core); `None` without `/proc/thread-self/schedstat`.
    pub(crate) waited_share: Option<f64>,
    /// Operations per batch after calibration.
    pub(crate) ops_per_batch: u64,
    /// Batches measured.
    pub(crate) batches: usize,
}

impl Timing {
    /// Operations per second on one core: 10⁹ / ns per operation.
    pub(crate) fn per_second(&self) -> f64 {
        1e9 / self.ns_per_op
    }
}

/// One run of `n` operations: wall time and time spent waiting for a CPU.
fn run(op: &mut impl FnMut(u64), first: u64, n: u64) -> (Duration, Option<Duration>) {
    let before = procfs::thread_schedstat();
    let started = Instant::now();
    for i in first..first + n {
        op(black_box(i));
    }
    let wall = started.elapsed();
    let after = procfs::thread_schedstat();
    let waited = match (before, after) {
        (Some(b), Some(a)) => Some(Duration::from_nanos(a.wait_ns.saturating_sub(b.wait_ns))),
        _ => None,
    };
    (wall, waited)
}

/// Measures `op` (called with a running index, so it can rotate through
/// inputs) according to `plan`.
pub(crate) fn measure(plan: BatchPlan, mut op: impl FnMut(u64)) -> Timing {
    // Calibrate: double the count until a run takes a twentieth of a batch.
    let mut index = 0u64;
    let mut n = 1u64;
    let per_op_ns = loop {
        let (wall, _) = run(&mut op, index, n);
        index += n;
        if wall >= plan.batch / 20 || n >= 1 << 40 {
            break (wall.as_nanos() as f64 / n as f64).max(1.0);
        }
        n *= 2;
    };
    let ops_per_batch = ((plan.batch.as_nanos() as f64 / per_op_ns) as u64).max(1);
    let mut cpu = Vec::with_capacity(plan.batches);
    let mut wall = Vec::with_capacity(plan.batches);
    let (mut waited_total, mut wall_total, mut known) = (0u128, 0u128, true);
    for _ in 0..plan.batches.max(1) {
        let (w, waited) = run(&mut op, index, ops_per_batch);
        index += ops_per_batch;
        wall_total += w.as_nanos();
        wall.push(w.as_nanos() as f64 / ops_per_batch as f64);
        match waited {
            Some(waited) => {
                waited_total += waited.as_nanos();
                let on_cpu = w.saturating_sub(waited);
                cpu.push(on_cpu.as_nanos() as f64 / ops_per_batch as f64);
            }
            None => known = false,
        }
    }
    let wall_ns = median(&wall).unwrap_or(f64::NAN);
    let cpu_ns = if known { median(&cpu) } else { None };
    Timing {
        ns_per_op: cpu_ns.unwrap_or(wall_ns),
        wall_ns_per_op: wall_ns,
        waited_share: known.then(|| waited_total as f64 / wall_total.max(1) as f64),
        ops_per_batch,
        batches: wall.len(),
    }
}
