//! [`ValidatorBuilder`]: every setting of a [`Validator`], with its default.

use std::sync::Arc;
use std::time::Duration;

use sigil_core::auth_token::BodyEncoding;
use sigil_core::jwt::{self, Audience, ValidationRules};
use sigil_core::{JwkSet, Window};
use sigil_edge::{BucketConfig, IpNet};

use crate::admission::{DEFAULT_RATE_LIMIT, Gate};
use crate::error::Error;
use crate::fetch::{Fetcher, KeySource, discovery_source, parse_fetch_url};
use crate::key_cache::{CachePolicy, KeyCache};
use crate::replay::{
    DEFAULT_REPLAY_CAPACITY, FULL_RATE_CLIENTS, MemoryReplayGuard, ReplayGuard, records_per_client,
};
use crate::validator::{Clock, Inner, Validator};
use crate::x_auth_mode::{XAuthTokenMode, audience_origins};

/// Timeout of one discovery or JWKS request.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest discovery document or JWKS accepted.
pub const DEFAULT_MAX_JWKS_BYTES: usize = 64 * 1024;
/// Shortest cache TTL: a smaller `max-age` (or `no-store`) is raised to it.
pub const DEFAULT_MIN_CACHE_TTL: Duration = Duration::from_secs(60);
/// Longest cache TTL: a larger `max-age` is lowered to it.
pub const DEFAULT_MAX_CACHE_TTL: Duration = Duration::from_secs(3600);
/// Cache TTL when the JWKS answer has no `max-age`.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);
/// At most one JWKS fetch per this period, whatever triggers it.
pub const DEFAULT_REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
/// How long past its TTL a key set stays usable while refreshes fail.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(3600);
/// Largest request body buffered to check a signed request or an
/// `X-Auth-Token` (and by [`AuthenticatedRequest`](crate::AuthenticatedRequest)).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Builds a [`Validator`]; see [`Validator::builder`].
///
/// Nothing is fetched until [`discover`](Self::discover) (at once) or the
/// first request ([`build`](Self::build)).
#[derive(Debug, Clone)]
#[must_use]
pub struct ValidatorBuilder {
    issuer: String,
    audience: Audience,
    leeway_s: u64,
    max_lifetime_s: u64,
    client: Option<reqwest::Client>,
    jwks_uri: Option<String>,
    keys: Option<JwkSet>,
    fetch_timeout: Duration,
    max_jwks_bytes: usize,
    min_ttl: Duration,
    max_ttl: Duration,
    default_ttl: Duration,
    cooldown: Duration,
    max_stale: Duration,
    require_signed_requests: bool,
    x_auth_token: XAuthTokenMode,
    body_encoding: BodyEncoding,
    window: Window,
    replay_guard: Option<Arc<dyn ReplayGuard>>,
    replay_capacity: Option<usize>,
    rate_limit: Option<BucketConfig>,
    trusted_proxies: Vec<IpNet>,
    max_body_bytes: usize,
    clock: Option<Clock>,
}

impl ValidatorBuilder {
    pub(crate) fn new(issuer: String, audience: String) -> Self {
        Self {
            issuer,
            audience: Audience::PathPrefix(audience),
            leeway_s: jwt::DEFAULT_LEEWAY_S,
            max_lifetime_s: jwt::DEFAULT_MAX_LIFETIME_S,
            client: None,
            jwks_uri: None,
            keys: None,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            max_jwks_bytes: DEFAULT_MAX_JWKS_BYTES,
            min_ttl: DEFAULT_MIN_CACHE_TTL,
            max_ttl: DEFAULT_MAX_CACHE_TTL,
            default_ttl: DEFAULT_CACHE_TTL,
            cooldown: DEFAULT_REFETCH_COOLDOWN,
            max_stale: DEFAULT_MAX_STALE,
            require_signed_requests: false,
            x_auth_token: XAuthTokenMode::Path,
            body_encoding: BodyEncoding::Utf8,
            window: Window::SYMMETRIC_300S,
            replay_guard: None,
            replay_capacity: None,
            rate_limit: Some(DEFAULT_RATE_LIMIT),
            trusted_proxies: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            clock: None,
        }
    }

    /// Replaces the audience rule. The default is
    /// [`Audience::PathPrefix`] of the audience given to
    /// [`Validator::builder`]: `aud` equal to it or continuing it at a path
    /// boundary (docs/protocol.md §15).
    pub fn audience(mut self, audience: Audience) -> Self {
        self.audience = audience;
        self
    }

    /// Clock leeway for `exp`, `nbf` and `iat`, in seconds (default 5, at
    /// most [`jwt::MAX_LEEWAY_S`] = 30; a larger value fails the build).
    pub fn leeway_s(mut self, leeway_s: u64) -> Self {
        self.leeway_s = leeway_s;
        self
    }

    /// Longest accepted `exp - iat`, seconds (default 1800, the issuer's
    /// lifetime).
    pub fn max_lifetime_s(mut self, max_lifetime_s: u64) -> Self {
        self.max_lifetime_s = max_lifetime_s;
        self
    }

    /// The HTTP client for discovery and JWKS fetches. The validator still
    /// sets a per-request timeout, limits the size, and refuses any answer
    /// that was redirected; the default client follows no redirect and uses
    /// no proxy.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Fetch the JWKS from this URL instead of discovering it (https, or
    /// http to a loopback address).
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.jwks_uri = Some(url.into());
        self
    }

    /// Verify with this fixed key set and never fetch (tests, benchmarks,
    /// an issuer embedded in the same process).
    pub fn keys(mut self, keys: JwkSet) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Timeout of one discovery or JWKS request (default 5 s).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Largest discovery document or JWKS accepted (default 64 KiB).
    pub fn max_jwks_bytes(mut self, bytes: usize) -> Self {
        self.max_jwks_bytes = bytes;
        self
    }

    /// Bounds of the cache TTL taken from `Cache-Control: max-age`
    /// (default 60 s ..= 1 h).
    pub fn cache_ttl_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.min_ttl = min;
        self.max_ttl = max;
        self
    }

    /// Cache TTL when the answer has no `max-age` (default 5 min).
    pub fn default_cache_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// At most one JWKS fetch per this period, whether for an expired set
    /// or a token with an unknown `kid` (default 30 s).
    pub fn refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// How long past its TTL the last good key set stays usable while
    /// refreshes fail (default 1 h); after that, 503.
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// Refuse a bearer token without the signed-request headers of docs/protocol.md
    /// §6 (default off). `X-Auth-Token`s, which are signed per
    /// request, stay accepted, but only in their absolute-URL form: this
    /// implies [`XAuthTokenMode::Url`] (unless they are
    /// [`XAuthTokenMode::Off`]).
    pub fn require_signed_requests(mut self, required: bool) -> Self {
        self.require_signed_requests = required;
        self
    }

    /// Whether and how bitcoin-auth `X-Auth-Token`s are accepted (default
    /// [`XAuthTokenMode::Path`]: the path form, or the absolute URL on the
    /// audience's origin). [`XAuthTokenMode::Url`] needs an audience that
    /// is an absolute http(s) URL.
    ///
    /// An `X-Auth-Token` never reaches the issuer, so its account registry
    /// never sees these requests: revoking an account does not stop a key's
    /// `X-Auth-Token`s. Where revocation must hold, accept bearer tokens
    /// only ([`XAuthTokenMode::Off`]).
    pub fn x_auth_token(mut self, mode: XAuthTokenMode) -> Self {
        self.x_auth_token = mode;
        self
    }

    /// `true`: [`XAuthTokenMode::Path`] (the default); `false`:
    /// [`XAuthTokenMode::Off`]. See [`x_auth_token`](Self::x_auth_token).
    pub fn accept_x_auth_token(self, accepted: bool) -> Self {
        self.x_auth_token(if accepted {
            XAuthTokenMode::Path
        } else {
            XAuthTokenMode::Off
        })
    }

    /// The per-client-address limit on requests that carry a per-request
    /// signature (signed requests and `X-Auth-Token`s), checked before
    /// anything is verified or recorded; over it, 429
    /// `rate_limit_exceeded` with `Retry-After` and `X-RateLimit-*` (docs/protocol.md
    /// §7 and 10). Default [`DEFAULT_RATE_LIMIT`](crate::DEFAULT_RATE_LIMIT), 300 a minute with
    /// a burst of 60; `None` switches it off (benchmarks, or a limit in
    /// front of the service). Bearer-only requests are not counted.
    ///
    /// The client address is the socket peer of axum's
    /// `ConnectInfo<SocketAddr>` (serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`), or
    /// `X-Forwarded-For` from a [trusted proxy](Self::trusted_proxies); an
    /// IPv6 address counts as its /64. Without `ConnectInfo`, all requests
    /// count as one client (logged once).
    pub fn rate_limit(mut self, limit: Option<BucketConfig>) -> Self {
        self.rate_limit = limit;
        self
    }

    /// Peers whose `X-Forwarded-For` names the client (default none: the
    /// socket peer is the client).
    pub fn trusted_proxies(mut self, proxies: impl IntoIterator<Item = IpNet>) -> Self {
        self.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// The capacity of the default [`MemoryReplayGuard`], live records.
    /// Default: what [`FULL_RATE_CLIENTS`](crate::FULL_RATE_CLIENTS) = 64 addresses sending
    /// flat out at the rate limit hold over one window span (see
    /// [`records_per_client`](crate::records_per_client); 195,840 with the
    /// default limit and window), or
    /// [`DEFAULT_REPLAY_CAPACITY`](crate::DEFAULT_REPLAY_CAPACITY) with the limit off.
    /// Not with [`replay_guard`](Self::replay_guard).
    pub fn replay_capacity(mut self, records: usize) -> Self {
        self.replay_capacity = Some(records);
        self
    }

    /// How `X-Auth-Token` clients encode the body they hash (bitcoin-auth's
    /// `bodyEncoding`, default UTF-8: the bytes as received).
    pub fn x_auth_body_encoding(mut self, encoding: BodyEncoding) -> Self {
        self.body_encoding = encoding;
        self
    }

    /// The window of signed-request and `X-Auth-Token` timestamps (default
    /// ±300 s). Replay records live for its whole span.
    pub fn signature_window(mut self, window: Window) -> Self {
        self.window = window;
        self
    }

    /// Where replay records go (default: a [`MemoryReplayGuard`] of
    /// [`replay_capacity`](Self::replay_capacity) records, one process).
    /// Use a shared guard when several instances serve the same audience.
    pub fn replay_guard(mut self, guard: Arc<dyn ReplayGuard>) -> Self {
        self.replay_guard = Some(guard);
        self
    }

    /// Largest body buffered for a signed request or an `X-Auth-Token`
    /// (default 1 MiB; larger bodies get 413).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The clock, in ms since the Unix epoch (default: the system clock).
    /// Tests pin it to validate fixed vectors. The rate limit follows it
    /// too (with the default clock the limit uses a monotonic clock of its
    /// own), so a pinned clock never refills a bucket.
    pub fn clock(mut self, now_ms: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Some(Clock(Arc::new(now_ms)));
        self
    }

    /// Checks the settings and builds the validator; keys are fetched on
    /// first use.
    ///
    /// # Errors
    /// [`Error::Config`] naming the unusable setting: an issuer or JWKS URL
    /// that is not https (http only for loopback), a leeway over 30 s, an
    /// empty audience, inconsistent TTL bounds, a zero limit, a rate limit
    /// of zero, a replay capacity with a custom guard, `X-Auth-Token`s in
    /// URL form with an audience that is not an absolute http(s) URL.
    pub fn build(self) -> Result<Validator, Error> {
        let issuer = self.issuer.clone();
        if issuer.is_empty() {
            return Err(Error::Config("issuer is empty".into()));
        }
        let audience_ok = match &self.audience {
            Audience::Exact(a) | Audience::PathPrefix(a) => !a.is_empty(),
            Audience::AnyOf(list) => !list.is_empty() && list.iter().all(|a| !a.is_empty()),
        };
        if !audience_ok {
            return Err(Error::Config("audience is empty".into()));
        }
        if self.leeway_s > jwt::MAX_LEEWAY_S {
            return Err(Error::Config(format!(
                "leeway {} s is over the maximum {} s",
                self.leeway_s,
                jwt::MAX_LEEWAY_S
            )));
        }
        if self.max_lifetime_s == 0 || self.max_jwks_bytes == 0 || self.max_body_bytes == 0 {
            return Err(Error::Config(
                "max_lifetime_s, max_jwks_bytes and max_body_bytes must be positive".into(),
            ));
        }
        if !(self.min_ttl <= self.default_ttl && self.default_ttl <= self.max_ttl) {
            return Err(Error::Config(
                "cache TTLs must satisfy min <= default <= max".into(),
            ));
        }
        if self.window.max_age_ms == 0 {
            return Err(Error::Config("signature window must be positive".into()));
        }
        if self
            .rate_limit
            .is_some_and(|limit| limit.per_minute == 0 || limit.burst == 0)
        {
            return Err(Error::Config(
                "rate_limit: per_minute and burst must be positive (None switches it off)".into(),
            ));
        }
        let replay = self.make_replay_guard(self.rate_limit)?;
        let x_auth_token = match self.x_auth_token {
            XAuthTokenMode::Path if self.require_signed_requests => XAuthTokenMode::Url,
            mode => mode,
        };
        let origins = audience_origins(&self.audience);
        if x_auth_token == XAuthTokenMode::Url && origins.is_empty() {
            return Err(Error::Config(format!(
                "x_auth_token = url{} needs an audience that is an absolute http or https URL (its origin is what tokens must name); set x_auth_token off",
                if self.require_signed_requests {
                    " (implied by require_signed_requests)"
                } else {
                    ""
                }
            )));
        }
        let gate = Gate::new(
            self.rate_limit,
            self.trusted_proxies.clone(),
            self.clock.is_some(),
        );
        let policy = CachePolicy {
            min_ttl_ms: millis(self.min_ttl),
            max_ttl_ms: millis(self.max_ttl),
            default_ttl_ms: millis(self.default_ttl),
            cooldown_ms: millis(self.cooldown),
            max_stale_ms: millis(self.max_stale),
        };
        let keys = match (self.keys, &self.jwks_uri) {
            (Some(keys), _) => KeyCache::fixed(keys, policy),
            (None, jwks_uri) => {
                let source = match jwks_uri {
                    Some(url) => KeySource::Direct(parse_fetch_url(url, "jwks_uri")?),
                    None => discovery_source(&issuer)?,
                };
                let client = match self.client {
                    Some(client) => client,
                    None => default_client(self.fetch_timeout)?,
                };
                let fetcher = Fetcher::new(
                    client,
                    issuer.clone(),
                    source,
                    self.fetch_timeout,
                    self.max_jwks_bytes,
                );
                KeyCache::fetching(fetcher, policy)
            }
        };
        let rules = ValidationRules::new(issuer, self.audience)
            .with_leeway_s(self.leeway_s)
            .with_max_lifetime_s(self.max_lifetime_s);
        Ok(Validator::from_inner(Inner {
            rules,
            keys,
            replay,
            gate,
            clock: self.clock.unwrap_or_else(|| Clock(Arc::new(system_now_ms))),
            require_signed_requests: self.require_signed_requests,
            x_auth_token,
            origins,
            body_encoding: self.body_encoding,
            window: self.window,
            max_body_bytes: self.max_body_bytes,
        }))
    }

    /// [`build`](Self::build), then fetch the discovery document and the
    /// JWKS now, so that a misconfiguration fails at start-up.
    ///
    /// # Errors
    /// As [`build`](Self::build), and [`Error::Discovery`],
    /// [`Error::Fetch`] or [`Error::Jwks`] when the keys cannot be fetched.
    pub async fn discover(self) -> Result<Validator, Error> {
        let validator = self.build()?;
        validator.refresh_keys().await?;
        Ok(validator)
    }
}

impl ValidatorBuilder {
    /// The configured guard, or a [`MemoryReplayGuard`] sized for the rate
    /// limit (see [`replay_capacity`](Self::replay_capacity)).
    fn make_replay_guard(
        &self,
        limit: Option<BucketConfig>,
    ) -> Result<Arc<dyn ReplayGuard>, Error> {
        match (&self.replay_guard, self.replay_capacity) {
            (Some(_), Some(_)) => Err(Error::Config(
                "replay_capacity sizes the in-memory guard; it cannot be set with replay_guard"
                    .into(),
            )),
            (Some(guard), None) => Ok(Arc::clone(guard)),
            (None, Some(0)) => Err(Error::Config("replay_capacity must be positive".into())),
            (None, Some(capacity)) => Ok(Arc::new(MemoryReplayGuard::new(capacity))),
            (None, None) => {
                let capacity = limit.map_or(DEFAULT_REPLAY_CAPACITY, |bucket| {
                    FULL_RATE_CLIENTS
                        .saturating_mul(records_per_client(bucket, self.window.span_ms()))
                });
                Ok(Arc::new(MemoryReplayGuard::new(capacity)))
            }
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// No redirects, no proxy, a timeout: T13.
fn default_client(timeout: Duration) -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .build()
        .map_err(|e| Error::Config(format!("http client: {e}")))
}

fn system_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder() -> ValidatorBuilder {
        ValidatorBuilder::new(
            "https://auth.example.com".into(),
            "https://api.example.com".into(),
        )
    }

    #[test]
    fn refused_settings_name_themselves() {
        for (b, reason) in [
            (
                builder().leeway_s(31),
                "leeway 31 s is over the maximum 30 s",
            ),
            (
                ValidatorBuilder::new("http://auth.example.com".into(), "a".into()),
                "must be https",
            ),
            (
                builder().jwks_uri("http://keys.example.com/jwks"),
                "jwks_uri",
            ),
            (
                builder().audience(Audience::AnyOf(vec![])),
                "audience is empty",
            ),
            (
                ValidatorBuilder::new("https://auth.example.com".into(), String::new()),
                "audience is empty",
            ),
            (
                builder().cache_ttl_bounds(Duration::from_secs(600), Duration::from_secs(60)),
                "min <= default <= max",
            ),
            (builder().max_body_bytes(0), "must be positive"),
        ] {
            let err = b.build().unwrap_err();
            assert!(
                matches!(&err, Error::Config(m) if m.contains(reason)),
                "{err} lacks {reason:?}"
            );
        }
    }

    #[test]
    fn accepted_settings() {
        assert!(builder().leeway_s(30).build().is_ok());
        assert!(builder().leeway_s(0).build().is_ok());
        assert!(
            ValidatorBuilder::new("http://localhost:1911".into(), "a".into())
                .build()
                .is_ok()
        );
        assert!(builder().keys(JwkSet::default()).build().is_ok());
    }
}
