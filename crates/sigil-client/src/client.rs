//! [`Client`]: a key, an issuer, and a per-audience token cache.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{IntoUrl, Method, Url};
use sigil_core::api::paths;
use sigil_core::auth_token::{self, NewAuthToken};
use sigil_core::{MessageForm, PrivateKey, PublicKey, Scheme, validate_endpoint};

use crate::cache::TokenCache;
use crate::error::{Error, Result};
use crate::request::RequestBuilder;
use crate::signature::random_key_id;
use crate::token::AccessToken;

/// With the default `reqwest::Client`: the longest a connection attempt
/// may take.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// With the default `reqwest::Client`: the longest a token request may take
/// (every caller for its audience waits on it).
const DEFAULT_TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Milliseconds since the Unix epoch.
type ClockFn = dyn Fn() -> u64 + Send + Sync;

/// What every clone of a [`Client`] shares, besides the cache.
#[derive(Clone)]
pub(crate) struct Config {
    /// The issuer URL, without a trailing slash: the bound form names it.
    pub(crate) issuer: String,
    pub(crate) token_url: Url,
    pub(crate) key: Arc<PrivateKey>,
    pub(crate) http: reqwest::Client,
    /// A timeout for token requests; `None` when the caller's own
    /// `reqwest::Client` decides.
    pub(crate) token_timeout: Option<Duration>,
    pub(crate) form: MessageForm,
    pub(crate) scheme: Scheme,
    clock: Arc<ClockFn>,
}

impl Config {
    pub(crate) fn now_ms(&self) -> u64 {
        (self.clock)()
    }
}

fn system_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A sigil client for one key: obtains access tokens per audience, caches
/// them, and sends requests that carry them.
///
/// Cheap to clone; clones share the token cache. Options (`with_*`,
/// [`Client::compat_messages`], [`Client::scheme`]) are meant to be set
/// right after [`Client::new`].
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let key = sigil_core::PrivateKey::from_wif(&std::env::var("SERVICE_WIF")?)?;
/// let sigil = sigil_client::Client::new("https://auth.example.com", key)?;
/// let token = sigil.token("https://api.example.com").await?;
/// let reply = sigil.post("https://api.example.com/data").json(&"hi").signed().send().await?;
/// # let _ = (token, reply);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    config: Arc<Config>,
    cache: Arc<TokenCache>,
}

impl Client {
    /// A client of the token service at `issuer_url` (the server's
    /// configured issuer, e.g. `https://auth.example.com`; a trailing `/` is
    /// ignored) signing with `key`. Defaults: the bound message form, BSM
    /// signatures, a new `reqwest::Client`, the system clock.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when `issuer_url` is not an absolute http(s) URL
    /// without query, fragment or user information; [`Error::Http`] when the
    /// default `reqwest::Client` cannot be built (no TLS roots).
    pub fn new(issuer_url: &str, key: PrivateKey) -> Result<Self> {
        let issuer = issuer_url.trim_end_matches('/');
        validate_endpoint(issuer).map_err(|e| invalid_url("issuer_url", &e))?;
        if issuer.contains('?') {
            return Err(Error::InvalidUrl {
                what: "issuer_url",
                reason: "must not contain a query".into(),
            });
        }
        let token_url = parse_url(
            "issuer_url",
            &format!("{issuer}{}", paths::TOKEN_FOR_ENDPOINT),
        )?;
        Ok(Self {
            config: Arc::new(Config {
                issuer: issuer.to_owned(),
                token_url,
                key: Arc::new(key),
                http: reqwest::Client::builder()
                    .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
                    .build()?,
                token_timeout: Some(DEFAULT_TOKEN_TIMEOUT),
                form: MessageForm::Bound,
                scheme: Scheme::Bsm,
                clock: Arc::new(system_now_ms),
            }),
            cache: Arc::default(),
        })
    }

    /// Uses `http` for every request (token service and resource servers):
    /// your timeouts, proxies, TLS roots, connection pool. (The default
    /// client has a 10 s connect timeout and gives token requests 30 s;
    /// with your own client, its timeouts apply.)
    #[must_use]
    pub fn with_http(mut self, http: reqwest::Client) -> Self {
        let config = self.config_mut();
        config.http = http;
        config.token_timeout = None;
        self
    }

    /// Sends token requests to `url` instead of `<issuer>/api/auth/token-for-endpoint`
    /// (e.g. an internal address of the token service); the bound message
    /// still names the issuer.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when `url` is not an http(s) URL.
    pub fn with_token_endpoint(mut self, url: &str) -> Result<Self> {
        validate_endpoint(url).map_err(|e| invalid_url("token_endpoint", &e))?;
        self.config_mut().token_url = parse_url("token_endpoint", url)?;
        Ok(self)
    }

    /// Signs token requests in the compat form `endpoint:timestamp` (what
    /// Sigma Auth's client signs) instead of the issuer-bound form. Only for
    /// servers that do not know the bound form: a compat signature could be
    /// spent at another token server that trusts the same key.
    #[must_use]
    pub fn compat_messages(mut self) -> Self {
        self.config_mut().form = MessageForm::Compat;
        self
    }

    /// The signature scheme of token requests, signed requests and
    /// `X-Auth-Token`s: [`Scheme::Bsm`] (the default) or [`Scheme::Brc77`].
    #[must_use]
    pub fn scheme(mut self, scheme: Scheme) -> Self {
        self.config_mut().scheme = scheme;
        self
    }

    /// Replaces the clock (ms since the Unix epoch) used for timestamps and
    /// token expiry. For tests.
    #[must_use]
    pub fn with_clock(mut self, now_ms: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.config_mut().clock = Arc::new(now_ms);
        self
    }

    /// The issuer URL, without a trailing slash.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The public key tokens are issued to (their `sub`).
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        self.config.key.public_key()
    }

    /// A token for `audience` (an absolute http(s) URL, no fragment): from
    /// the cache while more than 60 s of it remain, otherwise from the token
    /// service. Concurrent calls for one audience make at most one request.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for an unusable audience; [`Error::Server`]
    /// with the service's code when it refuses (e.g. `access_denied`,
    /// `invalid_target`, `rate_limit_exceeded`); [`Error::Http`] when it
    /// cannot be reached.
    pub async fn token(&self, audience: &str) -> Result<AccessToken> {
        self.token_replacing(audience, None).await
    }

    /// Forgets the cached token of `audience`; the next call asks for a new one.
    pub async fn invalidate(&self, audience: &str) {
        self.cache.invalidate(audience).await;
    }

    /// A request to `url` that carries a token for the URL (without query
    /// and fragment; see [`RequestBuilder::audience`]).
    pub fn request(&self, method: Method, url: impl IntoUrl) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url.into_url())
    }

    /// [`Client::request`] with `GET`.
    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// [`Client::request`] with `POST`.
    pub fn post(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// [`Client::request`] with `PUT`.
    pub fn put(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// [`Client::request`] with `DELETE`.
    pub fn delete(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// An `X-Auth-Token` header value (bitcoin-auth, docs/protocol.md §7) for a request
    /// to `path` with `body` (`None` when there is none), signed now with
    /// the client's scheme. `path` is the path and query (starting with
    /// `/`: the token is then good at every server with that path) or,
    /// better, the request's absolute URL (`https://api.example.com/data?x=1`:
    /// good at the server of that origin only).
    ///
    /// # Errors
    /// [`Error::Signing`] for a path that is neither `/…` nor an absolute
    /// http(s) URL with a path, or that contains a `|`;
    /// [`Error::Random`] when no keyID can be drawn for BRC-77.
    pub fn x_auth_token(&self, path: &str, body: Option<&[u8]>) -> Result<String> {
        let key_id = match self.config.scheme {
            Scheme::Bsm => [0; 32],
            Scheme::Brc77 => random_key_id()?,
        };
        Ok(auth_token::build(
            &self.config.key,
            &NewAuthToken {
                request_path: path,
                body,
                timestamp_ms: self.config.now_ms(),
                scheme: self.config.scheme,
                key_id,
            },
        )?)
    }

    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// A token for `audience`, never `stale` (a token a resource server just
    /// refused).
    pub(crate) async fn token_replacing(
        &self,
        audience: &str,
        stale: Option<&AccessToken>,
    ) -> Result<AccessToken> {
        validate_endpoint(audience).map_err(|e| invalid_url("audience", &e))?;
        self.cache.get(&self.config, audience, stale).await
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("issuer", &self.config.issuer)
            .field("token_url", &self.config.token_url.as_str())
            .field("public_key", &self.public_key())
            .field("form", &self.config.form)
            .field("scheme", &self.config.scheme)
            .field("cached_audiences", &self.cache.len())
            .finish_non_exhaustive()
    }
}

fn parse_url(what: &'static str, url: &str) -> Result<Url> {
    Url::parse(url).map_err(|e| Error::InvalidUrl {
        what,
        reason: e.to_string(),
    })
}

fn invalid_url(what: &'static str, error: &sigil_core::Error) -> Error {
    Error::InvalidUrl {
        what,
        reason: error.to_string(),
    }
}
