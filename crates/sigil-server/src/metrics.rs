//! Prometheus metrics (`GET /metrics`, text format 0.0.4): requests by
//! route, method and status; refusals by SPEC §8 code; a latency histogram;
//! tokens issued; signature checks performed. Counters are atomics; the
//! per-route table is a short mutex.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sigil_core::api::ErrorCode;

/// Upper bounds of the latency histogram, seconds.
const BUCKETS: [f64; 12] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, &'static str, u16), u64>>,
    refusals: [AtomicU64; ErrorCode::ALL.len()],
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_sum_micros: AtomicU64,
    latency_count: AtomicU64,
    tokens_issued: AtomicU64,
    signature_checks: AtomicU64,
    replay_records_purged: AtomicU64,
}

impl Metrics {
    /// Counts one answered request.
    /// `route` and `method` are labels from fixed sets (the caller maps
    /// anything else to one label), so the table stays small and recording
    /// allocates nothing.
    pub fn record_request(
        &self,
        route: &'static str,
        method: &'static str,
        status: u16,
        refusal: Option<ErrorCode>,
        elapsed: Duration,
    ) {
        {
            let mut requests = self
                .requests
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *requests.entry((route, method, status)).or_default() += 1;
        }
        if let Some(code) = refusal
            && let Some(index) = ErrorCode::ALL.iter().position(|c| *c == code)
        {
            self.refusals[index].fetch_add(1, Ordering::Relaxed);
        }
        let seconds = elapsed.as_secs_f64();
        for (bound, counter) in BUCKETS.iter().zip(&self.latency_buckets) {
            if seconds <= *bound {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one issued token.
    pub fn token_issued(&self) {
        self.tokens_issued.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one signature verification attempt (the expensive step).
    pub fn signature_checked(&self) {
        self.signature_checks.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts purged replay records.
    pub fn replay_records_purged(&self, count: u64) {
        self.replay_records_purged
            .fetch_add(count, Ordering::Relaxed);
    }

    /// Signature verifications so far.
    #[must_use]
    pub fn signature_checks(&self) -> u64 {
        self.signature_checks.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP sigil_http_requests_total HTTP requests answered, by route, method and status.\n");
        out.push_str("# TYPE sigil_http_requests_total counter\n");
        {
            let requests = self
                .requests
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for ((route, method, status), count) in requests.iter() {
                let _ = writeln!(
                    out,
                    "sigil_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {count}",
                    escape(route),
                    escape(method)
                );
            }
        }
        out.push_str("# HELP sigil_http_refusals_total Refused requests, by SPEC error code.\n");
        out.push_str("# TYPE sigil_http_refusals_total counter\n");
        for (code, counter) in ErrorCode::ALL.iter().zip(&self.refusals) {
            let _ = writeln!(
                out,
                "sigil_http_refusals_total{{error=\"{code}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP sigil_http_request_duration_seconds Time from request to response.\n");
        out.push_str("# TYPE sigil_http_request_duration_seconds histogram\n");
        for (bound, counter) in BUCKETS.iter().zip(&self.latency_buckets) {
            let _ = writeln!(
                out,
                "sigil_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "sigil_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        #[allow(clippy::cast_precision_loss)] // a sum of microseconds fits f64 for 285 years
        let sum = self.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "sigil_http_request_duration_seconds_sum {sum}");
        let _ = writeln!(out, "sigil_http_request_duration_seconds_count {count}");
        for (name, help, counter) in [
            (
                "sigil_tokens_issued_total",
                "Access tokens issued.",
                &self.tokens_issued,
            ),
            (
                "sigil_signature_checks_total",
                "Signature verifications performed.",
                &self.signature_checks,
            ),
            (
                "sigil_replay_records_purged_total",
                "Expired replay records deleted.",
                &self.replay_records_purged,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", counter.load(Ordering::Relaxed));
        }
        out
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_counts_what_was_recorded() {
        let metrics = Metrics::default();
        metrics.record_request("/health", "GET", 200, None, Duration::from_micros(300));
        metrics.record_request(
            "/api/auth/token-for-endpoint",
            "POST",
            401,
            Some(ErrorCode::ReplayDetected),
            Duration::from_millis(2),
        );
        metrics.token_issued();
        let text = metrics.render();
        for line in [
            "sigil_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"} 1",
            "sigil_http_refusals_total{error=\"replay_detected\"} 1",
            "sigil_http_refusals_total{error=\"invalid_request\"} 0",
            "sigil_http_request_duration_seconds_bucket{le=\"0.0005\"} 1",
            "sigil_http_request_duration_seconds_bucket{le=\"0.0025\"} 2",
            "sigil_http_request_duration_seconds_bucket{le=\"+Inf\"} 2",
            "sigil_http_request_duration_seconds_count 2",
            "sigil_tokens_issued_total 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
    }
}
