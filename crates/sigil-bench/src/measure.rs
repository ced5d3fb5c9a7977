//! Calibrated batches (crates/sigil-bench/README.md): an operation is repeated in
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

/// Doubles the count until a run of `op` takes a twentieth of a batch;
/// returns the operations per batch. `index` moves past the calls made.
fn calibrate(plan: BatchPlan, op: &mut impl FnMut(u64), index: &mut u64) -> u64 {
    let mut n = 1u64;
    let per_op_ns = loop {
        let (wall, _) = run(op, *index, n);
        *index += n;
        if wall >= plan.batch / 20 || n >= 1 << 40 {
            break (wall.as_nanos() as f64 / n as f64).max(1.0);
        }
        n *= 2;
    };
    ((plan.batch.as_nanos() as f64 / per_op_ns) as u64).max(1)
}

/// The batches of one operation, as they are run.
struct Batches {
    ops_per_batch: u64,
    index: u64,
    cpu: Vec<f64>,
    wall: Vec<f64>,
    waited_total: u128,
    wall_total: u128,
    known: bool,
}

impl Batches {
    fn new(ops_per_batch: u64, index: u64, batches: usize) -> Self {
        Self {
            ops_per_batch,
            index,
            cpu: Vec::with_capacity(batches),
            wall: Vec::with_capacity(batches),
            waited_total: 0,
            wall_total: 0,
            known: true,
        }
    }

    /// Runs one batch of `op`.
    fn run(&mut self, op: &mut impl FnMut(u64)) {
        let n = self.ops_per_batch;
        let (w, waited) = run(op, self.index, n);
        self.index += n;
        self.wall_total += w.as_nanos();
        self.wall.push(w.as_nanos() as f64 / n as f64);
        match waited {
            Some(waited) => {
                self.waited_total += waited.as_nanos();
                let on_cpu = w.saturating_sub(waited);
                self.cpu.push(on_cpu.as_nanos() as f64 / n as f64);
            }
            None => self.known = false,
        }
    }

    fn timing(&self) -> Timing {
        let wall_ns = median(&self.wall).unwrap_or(f64::NAN);
        let cpu_ns = if self.known { median(&self.cpu) } else { None };
        Timing {
            ns_per_op: cpu_ns.unwrap_or(wall_ns),
            wall_ns_per_op: wall_ns,
            waited_share: self
                .known
                .then(|| self.waited_total as f64 / self.wall_total.max(1) as f64),
            ops_per_batch: self.ops_per_batch,
            batches: self.wall.len(),
        }
    }
}

/// Measures `op` (called with a running index, so it can rotate through
/// inputs) according to `plan`.
pub(crate) fn measure(plan: BatchPlan, mut op: impl FnMut(u64)) -> Timing {
    let mut index = 0u64;
    let ops_per_batch = calibrate(plan, &mut op, &mut index);
    let mut batches = Batches::new(ops_per_batch, index, plan.batches);
    for _ in 0..plan.batches.max(1) {
        batches.run(&mut op);
    }
    batches.timing()
}

/// Measures several operations as [`measure`] does, but with their
/// batches interleaved: each is calibrated on its own, then round `k`
/// runs batch `k` of every operation in turn. A machine that speeds up or
/// slows down during the run (a shared virtual machine does) then moves
/// every figure alike, so their ratios hold; measured one after the other,
/// a drift of a few per cent between two measurements would show as a
/// difference between the operations.
pub(crate) fn measure_interleaved(
    plan: BatchPlan,
    ops: &mut [&mut dyn FnMut(u64)],
) -> Vec<Interleaved> {
    let mut all: Vec<Batches> = ops
        .iter_mut()
        .map(|op| {
            let mut index = 0u64;
            let ops_per_batch = calibrate(plan, op, &mut index);
            Batches::new(ops_per_batch, index, plan.batches)
        })
        .collect();
    for _ in 0..plan.batches.max(1) {
        for (batches, op) in all.iter_mut().zip(ops.iter_mut()) {
            batches.run(op);
        }
    }
    all.iter()
        .map(|b| Interleaved {
            timing: b.timing(),
            per_batch_ns: if b.known {
                b.cpu.clone()
            } else {
                b.wall.clone()
            },
        })
        .collect()
}

/// One operation of [`measure_interleaved`].
#[derive(Debug, Clone)]
pub(crate) struct Interleaved {
    /// As [`measure`] gives it.
    pub(crate) timing: Timing,
    /// ns per operation of each batch, round by round (CPU time, or wall
    /// time where `/proc` cannot say).
    pub(crate) per_batch_ns: Vec<f64>,
}

/// The smallest and largest of `a[k] / b[k]` over the rounds: how far the
/// ratio of two interleaved operations moved during the run.
pub(crate) fn round_ratio_range(a: &Interleaved, b: &Interleaved) -> Option<(f64, f64)> {
    let ratios = a
        .per_batch_ns
        .iter()
        .zip(&b.per_batch_ns)
        .filter(|(_, b)| **b > 0.0)
        .map(|(a, b)| a / b);
    ratios.fold(None, |range, r| match range {
        None => Some((r, r)),
        Some((lo, hi)) => Some((r.min(lo), r.max(hi))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_batches_keep_each_operation_apart() {
        let plan = BatchPlan {
            batch: Duration::from_millis(2),
            batches: 3,
        };
        let (mut a_calls, mut b_indices) = (0u64, Vec::new());
        let mut a = |_: u64| a_calls += 1;
        let mut b = |i: u64| b_indices.push(i);
        let timings = measure_interleaved(plan, &mut [&mut a, &mut b]);
        assert_eq!(timings.len(), 2);
        for t in &timings {
            assert!(t.timing.batches == 3 && t.timing.ops_per_batch >= 1);
            assert_eq!(t.per_batch_ns.len(), 3);
        }
        // Each operation saw its own running index: 0, 1, 2, … with no gap.
        assert!(b_indices.iter().copied().eq(0..b_indices.len() as u64));
        assert!(a_calls >= 3 * timings[0].timing.ops_per_batch);
    }

    #[test]
    fn round_ratios() {
        let timing = measure(
            BatchPlan {
                batch: Duration::from_millis(1),
                batches: 1,
            },
            |_| {},
        );
        let with = |per_batch_ns: &[f64]| Interleaved {
            timing,
            per_batch_ns: per_batch_ns.to_vec(),
        };
        let a = with(&[50.0, 60.0, 45.0]);
        let b = with(&[100.0, 100.0, 50.0]);
        assert_eq!(round_ratio_range(&a, &b), Some((0.5, 0.9)));
        assert_eq!(round_ratio_range(&a, &with(&[])), None);
        assert_eq!(round_ratio_range(&a, &with(&[0.0])), None);
    }
}
