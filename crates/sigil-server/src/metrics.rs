//! Prometheus metrics (`GET /metrics`, text format 0.0.4): requests by
//! route, method and status; refusals by docs/protocol.md §8 code; a latency histogram;
//! tokens issued; signature checks performed. Every counter a request
//! touches is an atomic, so recording takes no lock; only a status outside
//! [`STATUSES`] goes to a short mutex.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::Method;
use sigil_core::api::{ErrorCode, ROUTES};

/// The method labels: the standard methods by name, anything else `OTHER`.
const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER",
];

/// The statuses counted in the lock-free table: every status this server
/// answers with on purpose (docs/protocol.md §8 and success).
const STATUSES: [u16; 13] = [
    200, 204, 304, 400, 401, 403, 404, 405, 413, 415, 429, 500, 503,
];

/// True when `path` is `route`'s, whose last segment may be a `{capture}`
/// (one non-empty segment).
fn matches_route(route: &str, path: &str) -> bool {
    match route.split_once('{') {
        None => route == path,
        Some((prefix, _)) => path
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/')),
    }
}

/// A route label: the `label` of one of [`ROUTES`], or `unmatched` for
/// every other path, so the metrics' cardinality stays bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RouteLabel(usize);

impl RouteLabel {
    /// The label of `path`: its route's when it is one of ours, else
    /// `unmatched`.
    #[must_use]
    pub(crate) fn of_path(path: &str) -> Self {
        Self(
            ROUTES
                .iter()
                .position(|route| matches_route(route.path, path))
                .unwrap_or(ROUTES.len()),
        )
    }

    /// Whether the path was none of ours.
    #[must_use]
    pub(crate) fn is_unmatched(self) -> bool {
        self.0 == ROUTES.len()
    }

    /// The label.
    #[must_use]
    pub(crate) fn as_str(self) -> &'static str {
        ROUTES.get(self.0).map_or("unmatched", |route| route.label)
    }

    /// The route's path (`unmatched` for none of ours).
    #[must_use]
    pub(crate) fn path(self) -> &'static str {
        ROUTES.get(self.0).map_or("unmatched", |route| route.path)
    }

    /// Every label: each route's, then `unmatched`.
    fn all() -> impl Iterator<Item = Self> {
        (0..=ROUTES.len()).map(Self)
    }
}

/// A method label: a standard method's name, or `OTHER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct MethodLabel(usize);

impl MethodLabel {
    /// The label of `method`.
    #[must_use]
    pub(crate) fn of(method: &Method) -> Self {
        let other = METHODS.len() - 1;
        Self(
            METHODS[..other]
                .iter()
                .position(|m| *m == method.as_str())
                .unwrap_or(other),
        )
    }

    /// The label.
    #[must_use]
    pub(crate) fn as_str(self) -> &'static str {
        METHODS[self.0]
    }
}

/// Upper bounds of the latency histogram, seconds.
const BUCKETS: [f64; 12] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

/// The server's counters.
#[derive(Debug)]
pub struct Metrics {
    /// Requests by route × method × status of [`STATUSES`].
    requests: Box<[AtomicU64]>,
    /// Requests whose status is not in [`STATUSES`] (rare: none on purpose).
    other_statuses: Mutex<BTreeMap<(RouteLabel, MethodLabel, u16), u64>>,
    refusals: [AtomicU64; ErrorCode::ALL.len()],
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_sum_micros: AtomicU64,
    latency_count: AtomicU64,
    tokens_issued: AtomicU64,
    signature_checks: AtomicU64,
    replay_records_purged: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: (0..(ROUTES.len() + 1) * METHODS.len() * STATUSES.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            other_statuses: Mutex::default(),
            refusals: Default::default(),
            latency_buckets: Default::default(),
            latency_sum_micros: AtomicU64::default(),
            latency_count: AtomicU64::default(),
            tokens_issued: AtomicU64::default(),
            signature_checks: AtomicU64::default(),
            replay_records_purged: AtomicU64::default(),
        }
    }
}

/// The cell of `(route, method, status)` in the request table.
fn cell(route: RouteLabel, method: MethodLabel, status: usize) -> usize {
    (route.0 * METHODS.len() + method.0) * STATUSES.len() + status
}

impl Metrics {
    /// Counts one answered request. The labels come from fixed sets, so
    /// the table stays small; recording allocates nothing and takes no
    /// lock.
    pub(crate) fn record_request(
        &self,
        route: RouteLabel,
        method: MethodLabel,
        status: u16,
        refusal: Option<ErrorCode>,
        elapsed: Duration,
    ) {
        if let Some(index) = STATUSES.iter().position(|s| *s == status) {
            self.requests[cell(route, method, index)].fetch_add(1, Ordering::Relaxed);
        } else {
            let mut other = self
                .other_statuses
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *other.entry((route, method, status)).or_default() += 1;
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
    pub(crate) fn token_issued(&self) {
        self.tokens_issued.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one signature verification attempt (the expensive step).
    pub(crate) fn signature_checked(&self) {
        self.signature_checks.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts purged replay records.
    pub(crate) fn replay_records_purged(&self, count: u64) {
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
        let mut requests: BTreeMap<(&str, &str, u16), u64> = BTreeMap::new();
        for route in RouteLabel::all() {
            for (m, method) in METHODS.iter().enumerate() {
                for (s, status) in STATUSES.iter().enumerate() {
                    let count =
                        self.requests[cell(route, MethodLabel(m), s)].load(Ordering::Relaxed);
                    if count > 0 {
                        requests.insert((route.as_str(), method, *status), count);
                    }
                }
            }
        }
        for ((route, method, status), count) in self
            .other_statuses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            requests.insert((route.as_str(), method.as_str(), *status), *count);
        }
        for ((route, method, status), count) in requests {
            let _ = writeln!(
                out,
                "sigil_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {count}",
                escape(route),
                escape(method)
            );
        }
        out.push_str("# HELP sigil_http_refusals_total Refused requests, by error code (docs/protocol.md §8).\n");
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
        let (get, post) = (
            MethodLabel::of(&Method::GET),
            MethodLabel::of(&Method::POST),
        );
        let token = RouteLabel::of_path("/api/auth/token-for-endpoint");
        metrics.record_request(
            RouteLabel::of_path("/health"),
            get,
            200,
            None,
            Duration::from_micros(300),
        );
        metrics.record_request(
            token,
            post,
            401,
            Some(ErrorCode::ReplayDetected),
            Duration::from_millis(2),
        );
        metrics.record_request(token, post, 401, None, Duration::from_millis(2));
        // Unlabelled paths, odd methods and statuses stay countable.
        let odd = Method::from_bytes(b"BREW").unwrap();
        let unmatched = RouteLabel::of_path("/wp-admin");
        assert!(unmatched.is_unmatched() && !token.is_unmatched());
        metrics.record_request(unmatched, MethodLabel::of(&odd), 418, None, Duration::ZERO);
        metrics.record_request(unmatched, MethodLabel::of(&odd), 418, None, Duration::ZERO);
        metrics.token_issued();
        let text = metrics.render();
        for line in [
            "sigil_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"} 1",
            "sigil_http_requests_total{route=\"/api/auth/token-for-endpoint\",method=\"POST\",status=\"401\"} 2",
            "sigil_http_requests_total{route=\"unmatched\",method=\"OTHER\",status=\"418\"} 2",
            "sigil_http_refusals_total{error=\"replay_detected\"} 1",
            "sigil_http_refusals_total{error=\"invalid_request\"} 0",
            "sigil_http_request_duration_seconds_bucket{le=\"0.0005\"} 3",
            "sigil_http_request_duration_seconds_bucket{le=\"0.0025\"} 5",
            "sigil_http_request_duration_seconds_bucket{le=\"+Inf\"} 5",
            "sigil_http_request_duration_seconds_count 5",
            "sigil_tokens_issued_total 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
    }
}
