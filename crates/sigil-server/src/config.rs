//! The server's configuration (docs/protocol.md §14): defaults → `sigil.toml` (or
//! `--config`) → `SIGIL_*` environment variables → command-line flags,
//! merged with figment and validated into typed values before anything binds.
//!
//! Secrets are never configuration values: the master key comes from
//! `SIGIL_MASTER_KEY` or `SIGIL_MASTER_KEY_FILE` ([`crate::MasterKey`]).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format as _, Serialized, Toml};
use serde::{Deserialize, Serialize};
use sigil_core::validate_endpoint;

use crate::error::ConfigError;
use sigil_edge::{BucketConfig, ConnectionLimits, IpNet};

/// The file read when it exists and no `--config` is given.
pub const DEFAULT_CONFIG_FILE: &str = "sigil.toml";

/// The documented example configuration (every key, with its default).
pub const EXAMPLE_CONFIG: &str = include_str!("../sigil.example.toml");

/// `SIGIL_*` variables that belong to other commands or carry secrets, and
/// so are not configuration keys of `serve`.
const NON_CONFIG_VARIABLES: &[&str] = &[
    "wif",
    "master_key",
    "master_key_file",
    "config",
    "log",
    "log_format",
    "server",
];

/// On or off, written `"on"`/`"off"` (or `true`/`false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

impl Switch {
    /// True for [`Switch::On`].
    #[must_use]
    pub fn is_on(self) -> bool {
        self == Self::On
    }
}

/// The limits of docs/protocol.md §10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Per public key, counted after the signature verified.
    pub per_key: BucketConfig,
    /// Per client address, counted before the body is read.
    pub per_address: BucketConfig,
    /// Most keys and addresses tracked at once; when full, idle entries
    /// are dropped first and new clients are refused (fail closed).
    pub max_tracked: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_key: BucketConfig {
                per_minute: 60,
                burst: 20,
            },
            per_address: BucketConfig {
                per_minute: 300,
                burst: 60,
            },
            max_tracked: 1_000_000,
        }
    }
}

/// The OAuth 2.0 / OpenID Connect provider's settings (docs/protocol.md §17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthConfig {
    /// `POST /oauth2/register` (RFC 7591) is open to anyone; `false`
    /// answers it 404 and leaves it out of discovery.
    pub dynamic_registration: bool,
    /// OAuth access tokens' lifetime, seconds.
    pub access_token_lifetime_s: u64,
    /// id_tokens' lifetime, seconds.
    pub id_token_lifetime_s: u64,
    /// Login sessions' lifetime, seconds.
    pub session_lifetime_s: u64,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self {
            dynamic_registration: true,
            access_token_lifetime_s: sigil_core::jwt::DEFAULT_LIFETIME_S,
            id_token_lifetime_s: 600,
            session_lifetime_s: 30 * 24 * 3600,
        }
    }
}

/// Everything `sigil serve` can be told. Unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: String,
    /// The issuer URL: the tokens' `iss`, and the base of the discovery URLs.
    pub issuer: String,
    /// Store URL (docs/protocol.md §12).
    pub database: String,
    /// Optional Redis URL for replay records and rate limits (docs/protocol.md §12).
    pub redis: Option<String>,
    /// Put before every Redis key: instances sharing replay records and
    /// limits use one prefix; separate deployments on one Redis, their own.
    pub redis_prefix: String,
    /// Allowed `requestedBy` hosts of signed payloads (docs/protocol.md §11); empty
    /// means the issuer's host and port. A string is split at commas.
    #[serde(deserialize_with = "list")]
    pub payload_hosts: Vec<String>,
    /// Rate limits on or off (`off` is for benchmarks and tests).
    pub rate_limits: Switch,
    /// The rate limits themselves.
    pub rate_limit: RateLimitConfig,
    /// Refuse the compat `endpoint:timestamp` message form (docs/protocol.md §3).
    pub require_bound_message: bool,
    /// Any key may obtain tokens (docs/protocol.md §9); `false` admits registered,
    /// unrevoked accounts only.
    pub open_registration: bool,
    /// Optional allowlist of endpoint URL prefixes (matched at a path
    /// boundary); empty allows every http(s) endpoint.
    #[serde(deserialize_with = "list")]
    pub audiences: Vec<String>,
    /// Peers whose `X-Forwarded-For` is believed (IP or CIDR).
    #[serde(deserialize_with = "list")]
    pub trusted_proxies: Vec<String>,
    /// Access token lifetime, seconds.
    pub token_lifetime_s: u64,
    /// Oldest accepted token-request timestamp, seconds.
    pub max_request_age_s: u64,
    /// Furthest accepted token-request timestamp into the future, seconds.
    pub max_request_future_s: u64,
    /// Largest accepted request body, bytes.
    pub body_limit_bytes: usize,
    /// Longest a request may take once its head arrived (body and answer),
    /// milliseconds; then 408.
    pub request_timeout_ms: u64,
    /// A request head must be complete this long after its first byte,
    /// milliseconds; slower connections are closed.
    pub header_read_timeout_ms: u64,
    /// An idle keep-alive connection (no request in flight, no byte
    /// received) is closed after this long, milliseconds.
    pub keep_alive_timeout_ms: u64,
    /// Most client connections open at once (lowered to what the open-files
    /// limit allows); beyond it new connections get 503 and are closed.
    pub max_connections: usize,
    /// Largest request head (request line and headers), bytes; larger is 431.
    pub max_header_bytes: usize,
    /// Most header fields in one request; more is 431.
    pub max_headers: usize,
    /// How often signing keys and accounts are re-read from the store
    /// (a rotation by another process is seen within this), milliseconds.
    pub reload_interval_ms: u64,
    /// How often expired replay records are purged, seconds.
    pub purge_interval_s: u64,
    /// Serve the browser wallet and its SDK (`/wallet`, `/sdk.js`,
    /// `/sdk.mjs`, docs/protocol.md §16); `false` answers 404 there.
    pub wallet: bool,
    /// The wallet's name: the `signedBy` of the payloads it signs; empty
    /// means the issuer's host and port.
    pub wallet_name: String,
    /// How long an unlocked wallet stays unlocked, minutes.
    pub wallet_unlock_minutes: u64,
    /// The OAuth provider (docs/protocol.md §17).
    pub oauth: OAuthConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:1911".into(),
            issuer: "http://localhost:1911".into(),
            database: sigil_store::DEFAULT_STORE_URL.into(),
            redis: None,
            redis_prefix: sigil_store::DEFAULT_REDIS_PREFIX.into(),
            payload_hosts: Vec::new(),
            rate_limits: Switch::On,
            rate_limit: RateLimitConfig::default(),
            require_bound_message: false,
            open_registration: true,
            audiences: Vec::new(),
            trusted_proxies: Vec::new(),
            token_lifetime_s: sigil_core::jwt::DEFAULT_LIFETIME_S,
            max_request_age_s: 300,
            max_request_future_s: 60,
            body_limit_bytes: 16 * 1024,
            request_timeout_ms: 10_000,
            header_read_timeout_ms: millis(ConnectionLimits::DEFAULT_HEADER_READ_TIMEOUT),
            keep_alive_timeout_ms: millis(ConnectionLimits::DEFAULT_KEEP_ALIVE_TIMEOUT),
            max_connections: ConnectionLimits::DEFAULT_MAX_CONNECTIONS,
            max_header_bytes: ConnectionLimits::DEFAULT_MAX_HEADER_BYTES,
            max_headers: ConnectionLimits::DEFAULT_MAX_HEADERS,
            reload_interval_ms: 5_000,
            purge_interval_s: 60,
            wallet: true,
            wallet_name: String::new(),
            wallet_unlock_minutes: 15,
            oauth: OAuthConfig::default(),
        }
    }
}

impl Config {
    /// Merges the layers: defaults, then the TOML file (`file`, or
    /// [`DEFAULT_CONFIG_FILE`] when it exists), then `SIGIL_*` variables of
    /// the process environment, then `overrides` (the flags that were given;
    /// `None` fields are skipped when `overrides` skips them).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the key and the layer at fault: an unreadable
    /// or unparsable file, an unknown key, a value of the wrong type.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::load_from(file, Env::prefixed("SIGIL_"), overrides)
    }

    /// [`Config::load`] with an explicit environment provider (tests).
    ///
    /// # Errors
    ///
    /// As [`Config::load`].
    pub fn load_from(
        file: Option<&Path>,
        env: Env,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        match file {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError(format!(
                        "config file {} does not exist or is not a file",
                        path.display()
                    )));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_FILE));
            }
            None => {}
        }
        let env = env
            .filter(|key| {
                let key = key.as_str().to_ascii_lowercase();
                !NON_CONFIG_VARIABLES.contains(&key.as_str()) && !key.starts_with("test_")
            })
            .split("__");
        figment = figment.merge(env).merge(Serialized::defaults(overrides));
        figment
            .extract::<Self>()
            .map_err(|e| ConfigError(one_line(&e)))
    }

    /// Parses a TOML document on its own (no other layer).
    ///
    /// # Errors
    ///
    /// As [`Config::load`].
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Figment::from(Serialized::defaults(Self::default()))
            .merge(Toml::string(text))
            .extract::<Self>()
            .map_err(|e| ConfigError(one_line(&e)))
    }

    /// This configuration as a TOML document (`serve --print-config`).
    ///
    /// # Errors
    ///
    /// Never in practice: every field is TOML-representable.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string(self).map_err(|e| ConfigError(format!("cannot print the config: {e}")))
    }

    /// Checks every value and turns it into the typed [`Settings`] the
    /// server runs with.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the key and what is wrong with it.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let listen: SocketAddr = self.listen.parse().map_err(|_| {
            ConfigError(format!(
                "listen: {:?} is not an address and port such as 127.0.0.1:1911",
                self.listen
            ))
        })?;
        validate_endpoint(&self.issuer)
            .map_err(|e| ConfigError(format!("issuer: {:?}: {}", self.issuer, url_problem(e))))?;
        if self.issuer.contains('?') || self.issuer.ends_with('/') {
            return Err(ConfigError(format!(
                "issuer: {:?} must not end with '/' or contain a query",
                self.issuer
            )));
        }
        for audience in &self.audiences {
            validate_endpoint(audience)
                .map_err(|e| ConfigError(format!("audiences: {audience:?}: {}", url_problem(e))))?;
        }
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|text| {
                text.parse::<IpNet>()
                    .map_err(|e| ConfigError(format!("trusted_proxies: {text:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let payload_hosts = if self.payload_hosts.is_empty() {
            vec![issuer_host(&self.issuer)]
        } else {
            self.payload_hosts.clone()
        };
        for host in &payload_hosts {
            if host.is_empty() || host.contains(['/', ' ', '@']) {
                return Err(ConfigError(format!(
                    "payload_hosts: {host:?} is not a host[:port]"
                )));
            }
        }
        for (name, bucket) in [
            ("rate_limit.per_key", self.rate_limit.per_key),
            ("rate_limit.per_address", self.rate_limit.per_address),
        ] {
            if bucket.per_minute == 0 || bucket.burst == 0 {
                return Err(ConfigError(format!(
                    "{name}: per_minute and burst must be at least 1 (use rate_limits = \"off\" to disable)"
                )));
            }
        }
        positive("token_lifetime_s", self.token_lifetime_s)?;
        positive("max_request_age_s", self.max_request_age_s)?;
        positive("request_timeout_ms", self.request_timeout_ms)?;
        positive("header_read_timeout_ms", self.header_read_timeout_ms)?;
        positive("keep_alive_timeout_ms", self.keep_alive_timeout_ms)?;
        positive("max_connections", self.max_connections as u64)?;
        positive("max_headers", self.max_headers as u64)?;
        if self.max_header_bytes < 1024 {
            return Err(ConfigError("max_header_bytes: at least 1024".into()));
        }
        positive("reload_interval_ms", self.reload_interval_ms)?;
        positive("purge_interval_s", self.purge_interval_s)?;
        if self.reload_interval_ms > 10_000 {
            return Err(ConfigError(
                "reload_interval_ms: at most 10000 (docs/protocol.md §13: a rotation is seen within 10 s)"
                    .into(),
            ));
        }
        positive(
            "oauth.access_token_lifetime_s",
            self.oauth.access_token_lifetime_s,
        )?;
        positive("oauth.id_token_lifetime_s", self.oauth.id_token_lifetime_s)?;
        positive("oauth.session_lifetime_s", self.oauth.session_lifetime_s)?;
        if self.body_limit_bytes < 1024 {
            return Err(ConfigError("body_limit_bytes: at least 1024".into()));
        }
        let wallet = self.wallet_settings()?;
        let redis = self.redis.clone().filter(|url| !url.is_empty());
        if let Some(url) = &redis {
            sigil_store::validate_redis_url(url).map_err(|e| ConfigError(format!("redis: {e}")))?;
        }
        if self.redis_prefix.is_empty()
            || self.redis_prefix.len() > 64
            || self
                .redis_prefix
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(ConfigError(format!(
                "redis_prefix: {:?} must be 1 to 64 bytes without spaces or control characters (default \"sigil:\")",
                self.redis_prefix
            )));
        }
        Ok(Settings {
            listen,
            issuer: self.issuer.clone(),
            database: self.database.clone(),
            redis,
            redis_prefix: self.redis_prefix.clone(),
            payload_hosts,
            rate_limits: self.rate_limits.is_on().then_some(self.rate_limit),
            require_bound_message: self.require_bound_message,
            open_registration: self.open_registration,
            audiences: self.audiences.clone(),
            trusted_proxies,
            token_lifetime_s: self.token_lifetime_s,
            window: sigil_core::Window {
                max_age_ms: self.max_request_age_s * 1000,
                max_future_ms: self.max_request_future_s * 1000,
            },
            body_limit_bytes: self.body_limit_bytes,
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            connection_limits: ConnectionLimits {
                header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
                keep_alive_timeout: Duration::from_millis(self.keep_alive_timeout_ms),
                max_connections: self.max_connections,
                max_header_bytes: self.max_header_bytes,
                max_headers: self.max_headers,
                // The router times each request itself (middleware::edge:
                // 408 with the request id, counted in the metrics).
                request_timeout: None,
            },
            reload_interval: Duration::from_millis(self.reload_interval_ms),
            purge_interval: Duration::from_secs(self.purge_interval_s),
            wallet,
            oauth: self.oauth,
        })
    }

    /// The wallet's settings, or `None` when it is switched off.
    fn wallet_settings(&self) -> Result<Option<WalletSettings>, ConfigError> {
        if !self.wallet {
            return Ok(None);
        }
        if self.wallet_unlock_minutes == 0 || self.wallet_unlock_minutes > 1440 {
            return Err(ConfigError(
                "wallet_unlock_minutes: from 1 to 1440 (a day)".into(),
            ));
        }
        let name = if self.wallet_name.is_empty() {
            issuer_host(&self.issuer)
        } else {
            self.wallet_name.clone()
        };
        if name.len() > 255 || name.chars().any(char::is_control) {
            return Err(ConfigError(format!(
                "wallet_name: {name:?} must be at most 255 bytes without control characters"
            )));
        }
        Ok(Some(WalletSettings {
            name,
            unlock_minutes: self.wallet_unlock_minutes,
        }))
    }
}

/// The browser wallet's settings (docs/protocol.md §16).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WalletSettings {
    /// The `signedBy` of the payloads the wallet signs.
    pub name: String,
    /// How long an unlocked wallet stays unlocked, minutes.
    pub unlock_minutes: u64,
}

/// The command-line flags of docs/protocol.md §14: the last layer. `None` leaves the
/// value of the earlier layers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Overrides {
    /// `--listen ADDR`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// `--issuer URL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// `--database URL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// `--redis URL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<String>,
    /// `--payload-hosts H1,H2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_hosts: Option<Vec<String>>,
    /// `--rate-limits on|off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limits: Option<Switch>,
}

/// A validated configuration: what the server runs with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The issuer URL, without a trailing slash.
    pub issuer: String,
    /// Store URL.
    pub database: String,
    /// Redis URL for the replay records and rate limits, beside the
    /// database; `None` keeps them in the database and the process.
    pub redis: Option<String>,
    /// The Redis key prefix.
    pub redis_prefix: String,
    /// Allowed `requestedBy` hosts.
    pub payload_hosts: Vec<String>,
    /// The rate limits, or `None` when switched off.
    pub rate_limits: Option<RateLimitConfig>,
    /// Refuse the compat message form.
    pub require_bound_message: bool,
    /// Any key may obtain tokens.
    pub open_registration: bool,
    /// Endpoint allowlist (prefixes); empty allows all.
    pub audiences: Vec<String>,
    /// Trusted proxies.
    pub trusted_proxies: Vec<IpNet>,
    /// Token lifetime, seconds.
    pub token_lifetime_s: u64,
    /// Token-request time window.
    pub window: sigil_core::Window,
    /// Body limit, bytes.
    pub body_limit_bytes: usize,
    /// Request timeout.
    pub request_timeout: Duration,
    /// Connection timeouts, cap and header limits.
    pub connection_limits: ConnectionLimits,
    /// Key and account reload interval.
    pub reload_interval: Duration,
    /// Replay purge interval.
    pub purge_interval: Duration,
    /// The browser wallet, or `None` when it is switched off.
    pub wallet: Option<WalletSettings>,
    /// The OAuth provider's settings.
    pub oauth: OAuthConfig,
}

impl Settings {
    /// True when `peer` is a configured trusted proxy.
    #[must_use]
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(peer))
    }
}

/// A list given as an array, or as one comma-separated string (what an
/// environment variable or a flag carries).
fn list<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        One(String),
        Many(Vec<String>),
    }
    Ok(match List::deserialize(deserializer)? {
        List::Many(items) => items,
        List::One(text) => text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn positive(name: &str, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(ConfigError(format!("{name}: must be at least 1")));
    }
    Ok(())
}

/// `host[:port]` of an http(s) URL (already validated).
fn issuer_host(issuer: &str) -> String {
    let rest = issuer.split_once("://").map_or(issuer, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
}

/// Why `validate_endpoint` refused a URL, without sigil-core's `endpoint: `
/// prefix (the key is named already: `issuer: "ftp://x": must be …`).
fn url_problem(error: sigil_core::Error) -> String {
    match error {
        sigil_core::Error::Endpoint(why) => why,
        other => other.to_string(),
    }
}

/// figment's errors span lines and may repeat; keep the first, whole. Its
/// text names the source once ("in a.toml TOML file").
fn one_line(error: &figment::Error) -> String {
    let first = error
        .clone()
        .into_iter()
        .next()
        .unwrap_or_else(|| error.clone());
    if let figment::error::Kind::UnknownField(found, expected) = &first.kind {
        return unknown_key(&first, found, expected);
    }
    // figment names keys with its profile ("default.lisen"): drop it.
    first
        .to_string()
        .replace('\n', " ")
        .replace("\"default.", "\"")
}

/// An unknown key, named as it was written (`SIGIL_LISTNE`, or `lisen` in
/// the file), with the closest known key when one is near.
fn unknown_key(error: &figment::Error, found: &str, expected: &[&str]) -> String {
    let from_env = error
        .metadata
        .as_ref()
        .is_some_and(|m| m.name.contains("environment"));
    // The path to the table holding the key, without the key itself.
    let parents: Vec<String> = error
        .path
        .iter()
        .map(|part| part.to_ascii_lowercase())
        .take(error.path.len().saturating_sub(1))
        .collect();
    let name = |key: &str| {
        let path: Vec<&str> = parents
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(key))
            .collect();
        if from_env {
            format!("SIGIL_{}", path.join("__").to_ascii_uppercase())
        } else {
            path.join(".")
        }
    };
    let found = found.to_ascii_lowercase();
    let (what, source) = if from_env {
        ("variable".to_owned(), String::new())
    } else {
        let source = error
            .metadata
            .as_ref()
            .and_then(|m| m.source.as_ref())
            .map_or_else(String::new, |source| format!(" in {source}"));
        ("key".to_owned(), source)
    };
    let hint = match closest(&found, expected) {
        Some(known) => format!("; did you mean {}?", name(known)),
        None => format!(
            "; the known keys: {}",
            expected
                .iter()
                .map(|known| name(known))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!("unknown {what} {}{source}{hint}", name(&found))
}

/// The known key nearest `found` by edit distance (insertions, deletions,
/// substitutions and swaps of neighbours), when it is near enough to be a
/// typo: at most 2 edits, and at most a third of the key's length.
fn closest<'a>(found: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|&key| (edit_distance(found, key), key))
        .filter(|&(distance, key)| distance <= 2 && distance * 3 <= key.len().max(3))
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, key)| key)
}

/// Optimal-string-alignment distance between `a` and `b`, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: the distance between a[..i] and b[..j].
    let mut rows = vec![vec![0_usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_spec_defaults() {
        let settings = Config::default().validate().unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:1911");
        assert_eq!(settings.issuer, "http://localhost:1911");
        assert_eq!(settings.database, "sqlite://sigil.db");
        assert_eq!(settings.payload_hosts, vec!["localhost:1911".to_owned()]);
        let limits = settings.rate_limits.unwrap();
        assert_eq!((limits.per_key.per_minute, limits.per_key.burst), (60, 20));
        assert_eq!(
            (limits.per_address.per_minute, limits.per_address.burst),
            (300, 60)
        );
        assert_eq!(settings.token_lifetime_s, 1800);
        assert_eq!(settings.window, sigil_core::Window::TOKEN_REQUEST);
        assert_eq!(settings.body_limit_bytes, 16384);
    }

    /// docs/protocol.md §12: a `redis://` URL is taken (an empty one, as an
    /// empty `SIGIL_REDIS` gives, is none); `rediss://` is refused naming
    /// TLS, and no refusal echoes a password.
    #[test]
    fn redis_urls_and_prefixes() {
        let with = |redis: &str, prefix: &str| {
            Config {
                redis: Some(redis.into()),
                redis_prefix: prefix.into(),
                ..Config::default()
            }
            .validate()
        };
        let settings = with("redis://127.0.0.1:6379/0", "sigil:").unwrap();
        assert_eq!(settings.redis.as_deref(), Some("redis://127.0.0.1:6379/0"));
        assert_eq!(settings.redis_prefix, "sigil:");
        assert_eq!(with("", "sigil:").unwrap().redis, None, "empty is none");
        assert_eq!(Config::default().validate().unwrap().redis, None);
        let refused = [
            ("rediss://:hunter2@cache:6380/0", "sigil:", "TLS"),
            ("http://:hunter2@cache", "sigil:", "redis://"),
            ("redis://cache/0", "", "redis_prefix"),
            ("redis://cache/0", "a b:", "redis_prefix"),
        ];
        for (url, prefix, phrase) in refused {
            let error = with(url, prefix).unwrap_err().to_string();
            assert!(error.contains(phrase), "{url} {prefix:?}: {error}");
            assert!(!error.contains("hunter2"), "{url} leaks: {error}");
        }
    }

    #[test]
    fn the_example_file_is_the_defaults() {
        let parsed = Config::from_toml(EXAMPLE_CONFIG).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn layers_apply_in_order_and_secrets_are_not_keys() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "sigil.toml",
                "issuer = \"https://file.example\"\nlisten = \"127.0.0.1:1\"\ntoken_lifetime_s = 60",
            )?;
            jail.set_env("SIGIL_LISTEN", "127.0.0.1:2");
            jail.set_env("SIGIL_TOKEN_LIFETIME_S", "120");
            jail.set_env("SIGIL_RATE_LIMIT__PER_KEY__BURST", "7");
            jail.set_env("SIGIL_MASTER_KEY", "not a config key");
            jail.set_env("SIGIL_WIF", "not a config key");
            let flags = Overrides {
                listen: Some("127.0.0.1:3".into()),
                ..Overrides::default()
            };
            let config = Config::load(None, &flags).map_err(|e| e.to_string())?;
            assert_eq!(config.issuer, "https://file.example", "file over default");
            assert_eq!(config.token_lifetime_s, 120, "env over file");
            assert_eq!(config.rate_limit.per_key.burst, 7, "nested env");
            assert_eq!(config.listen, "127.0.0.1:3", "flag over env");
            jail.set_env("SIGIL_LISTNE", "x");
            let error = Config::load(None, &Overrides::default())
                .unwrap_err()
                .to_string();
            assert_eq!(
                error,
                "config: unknown variable SIGIL_LISTNE; did you mean SIGIL_LISTEN?"
            );
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own error type
    fn unknown_keys_name_the_closest_known_key() {
        figment::Jail::expect_with(|jail| {
            let load = || {
                Config::load(Some(Path::new("typo.toml")), &Overrides::default())
                    .unwrap_err()
                    .to_string()
            };
            jail.create_file("typo.toml", "lisen = \"x\"")?;
            assert_eq!(
                load(),
                "config: unknown key lisen in typo.toml; did you mean listen?"
            );
            jail.create_file("typo.toml", "[rate_limit.per_key]\nbrust = 3")?;
            assert_eq!(
                load(),
                "config: unknown key rate_limit.per_key.brust in typo.toml; did you mean rate_limit.per_key.burst?"
            );
            jail.create_file("typo.toml", "")?;
            jail.set_env("SIGIL_RATE_LIMIT__PER_KEY__BRUST", "3");
            assert_eq!(
                load(),
                "config: unknown variable SIGIL_RATE_LIMIT__PER_KEY__BRUST; did you mean SIGIL_RATE_LIMIT__PER_KEY__BURST?"
            );
            jail.clear_env();
            jail.set_env("SIGIL_TOKEN_LIFETIME", "3");
            assert_eq!(
                load(),
                "config: unknown variable SIGIL_TOKEN_LIFETIME; did you mean SIGIL_TOKEN_LIFETIME_S?"
            );
            // Nothing near: the known keys are listed instead of a guess.
            jail.clear_env();
            jail.create_file("typo.toml", "[rate_limit.per_key]\nwhatever = 3")?;
            assert_eq!(
                load(),
                "config: unknown key rate_limit.per_key.whatever in typo.toml; the known keys: rate_limit.per_key.per_minute, rate_limit.per_key.burst"
            );
            Ok(())
        });
    }

    #[test]
    fn edit_distance_counts_typos() {
        assert_eq!(edit_distance("listen", "listen"), 0);
        assert_eq!(edit_distance("listne", "listen"), 1, "a swap is one edit");
        assert_eq!(edit_distance("lisen", "listen"), 1);
        assert_eq!(edit_distance("issuer", "isuser"), 1);
        assert_eq!(edit_distance("redis", "database"), 7);
        assert_eq!(closest("databse", &["database", "redis"]), Some("database"));
        assert_eq!(closest("xyz", &["database", "redis"]), None);
    }

    #[test]
    fn url_refusals_name_the_key_once() {
        for (text, want) in [
            (
                "issuer = \"ftp://x\"",
                "config: issuer: \"ftp://x\": must be an absolute http:// or https:// URL",
            ),
            (
                "audiences = [\"x\"]",
                "config: audiences: \"x\": must be an absolute http:// or https:// URL",
            ),
        ] {
            let message = Config::from_toml(text)
                .unwrap()
                .validate()
                .unwrap_err()
                .to_string();
            assert!(message.starts_with(want), "{message}");
            assert!(!message.contains("endpoint:"), "{message}");
        }
        // figment's text names the source once.
        let message = Config::from_toml("token_lifetime_s = \"long\"")
            .unwrap_err()
            .to_string();
        assert_eq!(message.matches("TOML").count(), 1, "{message}");
    }

    #[test]
    fn printed_config_parses_back() {
        let config = Config {
            rate_limits: Switch::Off,
            audiences: vec!["https://api.example.com".into()],
            ..Config::default()
        };
        let printed = config.to_toml().unwrap();
        assert_eq!(Config::from_toml(&printed).unwrap(), config);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_one_line_naming_the_key() {
        let cases = [
            ("unknown key", "lisen = \"x\"", "lisen"),
            (
                "wrong type",
                "token_lifetime_s = \"long\"",
                "token_lifetime_s",
            ),
            ("bad switch", "rate_limits = \"maybe\"", "maybe"),
        ];
        for (name, text, phrase) in cases {
            let message = Config::from_toml(text).unwrap_err().to_string();
            assert!(message.contains(phrase), "{name}: {message}");
            assert!(!message.contains('\n'), "{name}: {message}");
        }
        let cases = [
            ("listen", "listen = \"localhost\"", "listen"),
            ("issuer", "issuer = \"ftp://x\"", "issuer"),
            ("issuer slash", "issuer = \"http://x/\"", "issuer"),
            (
                "proxy",
                "trusted_proxies = [\"10.0.0.0/33\"]",
                "trusted_proxies",
            ),
            (
                "zero burst",
                "[rate_limit.per_key]\nper_minute = 1\nburst = 0",
                "burst",
            ),
            ("reload", "reload_interval_ms = 60000", "10 s"),
        ];
        for (name, text, phrase) in cases {
            let message = Config::from_toml(text)
                .unwrap()
                .validate()
                .unwrap_err()
                .to_string();
            assert!(message.contains(phrase), "{name}: {message}");
        }
    }
}
