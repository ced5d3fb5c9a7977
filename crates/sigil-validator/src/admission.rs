//! Who is asking, and may they go on: the client address of a request and
//! the per-address rate limit on the requests that carry a per-request
//! signature (docs/protocol.md §7 and §10), checked before anything is verified
//! or recorded.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::ConnectInfo;
use http::request::Parts;
use sigil_edge::{BucketConfig, ClientKey, Decision, IpNet, KeyedLimiter, client_addr};

use crate::error::Rejection;

/// The default per-address limit on signed requests and `X-Auth-Token`s:
/// 300 a minute with a burst of 60, as `sigil serve`'s per-address limit
/// (docs/protocol.md §10).
pub const DEFAULT_RATE_LIMIT: BucketConfig = BucketConfig {
    per_minute: 300,
    burst: 60,
};

/// How many client addresses the rate limiter tracks at once (an address
/// is dropped as soon as its bucket is full again); past that, new
/// addresses are refused until some go idle (fail closed, bounded memory).
pub const TRACKED_ADDRESSES: usize = 100_000;

/// The key every request without a peer address counts under: such
/// requests cannot be told apart, so they share one bucket and one share
/// of the replay memory.
const UNKNOWN_PEER: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// The client address and the rate-limit decision of one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Admission {
    /// Who the request is counted as.
    pub(crate) client: ClientKey,
    /// The limit's answer, when the limit was consulted.
    pub(crate) decision: Option<Decision>,
}

/// The client-address rules and the per-address limiter of a validator.
#[derive(Debug)]
pub(crate) struct Gate {
    limiter: Option<KeyedLimiter<ClientKey>>,
    trusted_proxies: Vec<IpNet>,
    /// Whether the limiter runs on the validator's clock (a clock set on
    /// the builder, e.g. pinned by tests) instead of its own monotonic one.
    follows_clock: bool,
    warned_no_peer: AtomicBool,
}

impl Gate {
    pub(crate) fn new(
        limit: Option<BucketConfig>,
        trusted_proxies: Vec<IpNet>,
        follows_clock: bool,
    ) -> Self {
        Self {
            limiter: limit.map(|bucket| KeyedLimiter::new(bucket, TRACKED_ADDRESSES)),
            trusted_proxies,
            follows_clock,
            warned_no_peer: AtomicBool::new(false),
        }
    }

    /// The client a request is counted as: the socket peer of axum's
    /// `ConnectInfo<SocketAddr>` extension, or, when that peer is a trusted
    /// proxy, the right-most untrusted `X-Forwarded-For` hop; an IPv6
    /// address counts as its /64. Without the extension every request
    /// counts as one unknown client (`0.0.0.0`), logged once.
    pub(crate) fn client(&self, parts: &Parts) -> ClientKey {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        let Some(peer) = peer else {
            if !self.warned_no_peer.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "sigil-validator: requests carry no ConnectInfo<SocketAddr>; every client counts as one address for rate limits and replay shares (serve with into_make_service_with_connect_info::<SocketAddr>())"
                );
            }
            return ClientKey::of(UNKNOWN_PEER);
        };
        ClientKey::of(client_addr(peer, &parts.headers, &self.trusted_proxies))
    }

    /// Counts one request against its client's bucket when `limited` (it
    /// carries a signature to verify and a statement to record).
    ///
    /// # Errors
    /// [`Rejection::RateLimited`] when the bucket is empty.
    pub(crate) fn admit(
        &self,
        parts: &Parts,
        limited: bool,
        now_ms: u64,
    ) -> Result<Admission, Rejection> {
        let client = self.client(parts);
        let decision = match &self.limiter {
            Some(limiter) if limited => {
                let now = if self.follows_clock {
                    now_ms.saturating_mul(1_000_000)
                } else {
                    limiter.now()
                };
                Some(limiter.check(&client, now))
            }
            _ => None,
        };
        if let Some(decision) = decision.filter(|d| !d.allowed) {
            return Err(Rejection::RateLimited {
                reason: Some(format!(
                    "too many signed requests from client address {client}"
                )),
                retry_after_s: decision.retry_after_s,
                limit: Some(decision),
            });
        }
        Ok(Admission { client, decision })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(peer: Option<&str>, forwarded: Option<&str>) -> Parts {
        let mut request = http::Request::builder().uri("/x");
        if let Some(hops) = forwarded {
            request = request.header("x-forwarded-for", hops);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        if let Some(peer) = peer {
            let peer: SocketAddr = peer.parse().unwrap();
            parts.extensions.insert(ConnectInfo(peer));
        }
        parts
    }

    fn key(ip: &str) -> ClientKey {
        ClientKey::of(ip.parse().unwrap())
    }

    #[test]
    fn client_addresses() {
        let proxies = vec!["10.0.0.0/8".parse().unwrap()];
        let gate = Gate::new(None, proxies, true);
        let cases = [
            (Some("192.0.2.1:5000"), None, "192.0.2.1"),
            // Forwarded-for is ignored from an untrusted peer…
            (Some("192.0.2.1:5000"), Some("203.0.113.9"), "192.0.2.1"),
            // …and followed from a trusted proxy.
            (Some("10.1.2.3:5000"), Some("203.0.113.9"), "203.0.113.9"),
            // IPv6 counts per /64.
            (Some("[2001:db8:1:2::7]:5000"), None, "2001:db8:1:2::1"),
            // No ConnectInfo: one unknown client, whatever the headers say.
            (None, Some("203.0.113.9"), "0.0.0.0"),
        ];
        for (peer, forwarded, want) in cases {
            assert_eq!(
                gate.client(&parts(peer, forwarded)),
                key(want),
                "{peer:?} {forwarded:?}"
            );
        }
    }

    #[test]
    fn only_limited_requests_spend_the_bucket() {
        let gate = Gate::new(
            Some(BucketConfig {
                per_minute: 60,
                burst: 2,
            }),
            Vec::new(),
            true,
        );
        let from = |ip: &str| parts(Some(&format!("{ip}:1")), None);
        for _ in 0..5 {
            let unlimited = gate.admit(&from("192.0.2.1"), false, 0).unwrap();
            assert!(unlimited.decision.is_none());
        }
        assert!(gate.admit(&from("192.0.2.1"), true, 0).is_ok());
        assert!(gate.admit(&from("192.0.2.1"), true, 0).is_ok());
        let refused = gate.admit(&from("192.0.2.1"), true, 0).unwrap_err();
        assert!(
            matches!(&refused, Rejection::RateLimited { retry_after_s: 1, limit: Some(d), .. } if !d.allowed),
            "{refused:?}"
        );
        assert!(refused.to_string().contains("rate limit"), "{refused}");
        // Another address has its own bucket; one second refills one token.
        assert!(gate.admit(&from("192.0.2.2"), true, 0).is_ok());
        assert!(gate.admit(&from("192.0.2.1"), true, 1_000).is_ok());
        // Switched off, nothing is counted.
        let off = Gate::new(None, Vec::new(), true);
        for _ in 0..100 {
            assert!(off.admit(&from("192.0.2.1"), true, 0).is_ok());
        }
    }
}
