//! Percentiles and medians.

use serde::Serialize;

/// The `p`-th percentile (0 < p ≤ 100) of `sorted` by the nearest-rank
/// method: the smallest value such that at least p % of the values are at
/// or below it. `None` for an empty slice.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    // ceil(p/100 · n), clamped to 1..=n. The relative nudge absorbs
    // floating-point error, so p90 of 10 values is the 9th, not the 10th.
    let exact = p / 100.0 * n as f64;
    let rank = (exact - exact * 1e-12).ceil().max(1.0) as usize;
    sorted.get(rank.min(n) - 1).copied()
}

/// The median of `values` (mean of the two middle ones for an even count).
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Latency {
    /// Samples.
    pub(crate) count: usize,
    /// Median.
    pub(crate) p50_us: f64,
    /// 90th percentile.
    pub(crate) p90_us: f64,
    /// 99th percentile.
    pub(crate) p99_us: f64,
    /// Largest.
    pub(crate) max_us: f64,
}

impl Latency {
    /// Sorts `nanos` and summarises them; `None` when there are none.
    pub(crate) fn from_nanos(nanos: &mut [u64]) -> Option<Self> {
        nanos.sort_unstable();
        let us = |p: f64| percentile(nanos, p).map(|ns| ns as f64 / 1000.0);
        Some(Self {
            count: nanos.len(),
            p50_us: us(50.0)?,
            p90_us: us(90.0)?,
            p99_us: us(99.0)?,
            max_us: us(100.0)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<u64> = (1..=10).collect();
        let cases = [
            (50.0, 5),
            (90.0, 9),
            (99.0, 10),
            (100.0, 10),
            (10.0, 1),
            (11.0, 2),
            (0.1, 1),
        ];
        for (p, want) in cases {
            assert_eq!(percentile(&values, p), Some(want), "p{p}");
        }
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 99.0), Some(99));
        assert_eq!(percentile(&hundred, 99.5), Some(100));
        assert_eq!(percentile(&[7], 50.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn latency_summary_sorts_first() {
        let mut nanos = vec![
            9_000, 1_000, 5_000, 3_000, 7_000, 2_000, 4_000, 6_000, 8_000, 10_000,
        ];
        let summary = Latency::from_nanos(&mut nanos).unwrap();
        assert_eq!(summary.count, 10);
        assert_eq!(summary.p50_us, 5.0);
        assert_eq!(summary.p90_us, 9.0);
        assert_eq!(summary.p99_us, 10.0);
        assert_eq!(summary.max_us, 10.0);
        assert!(Latency::from_nanos(&mut []).is_none());
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[f64::NAN, 1.0]), Some(1.0));
        assert_eq!(median(&[]), None);
    }
}
