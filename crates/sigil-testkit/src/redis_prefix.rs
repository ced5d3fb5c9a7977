//! [`RedisPrefix`]: a key space of its own in the test Redis, emptied when
//! the test ends.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

/// The test Redis unless `SIGIL_TEST_REDIS_URL` names another.
pub const DEFAULT_TEST_REDIS_URL: &str = "redis://127.0.0.1:6379/0";

/// A key prefix distinct per call in every process
/// (`sigil-test:<label>:<pid>:<n>:<ms>:`) in the test Redis; every key
/// under it is deleted on drop, so tests sharing one Redis never see each
/// other's replay records or buckets.
#[derive(Debug)]
pub struct RedisPrefix {
    url: String,
    prefix: String,
}

impl RedisPrefix {
    /// A fresh prefix in the Redis of `SIGIL_TEST_REDIS_URL` (default
    /// [`DEFAULT_TEST_REDIS_URL`]).
    ///
    /// # Panics
    ///
    /// When nothing answers there, naming Redis and the variable
    /// ([`require_service`](crate::require_service)): a missing Redis fails
    /// the test, never skips it.
    #[must_use]
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let url = crate::require_service("Redis", "SIGIL_TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL);
        let prefix = format!(
            "sigil-test:{label}:{}:{}:{}:",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            crate::now_ms() % 1_000_000
        );
        Self { url, prefix }
    }

    /// The Redis URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key prefix, ending in `:`.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A blocking connection to the test Redis, for a test's own commands.
    ///
    /// # Panics
    ///
    /// When Redis cannot be reached.
    #[must_use]
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection())
            .unwrap_or_else(|e| panic!("Redis is unreachable (SIGIL_TEST_REDIS_URL): {e}"))
    }

    /// The keys under this prefix, sorted.
    ///
    /// # Panics
    ///
    /// When Redis cannot answer.
    #[must_use]
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut self.connection())
            .unwrap_or_else(|e| panic!("KEYS {}*: {e}", self.prefix));
        keys.sort();
        keys
    }

    /// Redis's own address, to put a [`TcpProxy`](crate::TcpProxy) in
    /// front of it.
    ///
    /// # Panics
    ///
    /// When the URL has no TCP host and port.
    #[must_use]
    pub fn server_addr(&self) -> SocketAddr {
        let authority = self
            .url
            .split_once("://")
            .map_or("", |(_, rest)| rest)
            .split(['/', '?'])
            .next()
            .unwrap_or("");
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
        let host_port = if host_port.contains(':') {
            host_port.to_owned()
        } else {
            format!("{host_port}:6379")
        };
        std::net::ToSocketAddrs::to_socket_addrs(host_port.as_str())
            .ok()
            .and_then(|mut addrs| addrs.next())
            .unwrap_or_else(|| panic!("{host_port}: not a TCP address"))
    }

    /// The URL of the same database reached at `addr` (a proxy) instead.
    #[must_use]
    pub fn url_via(&self, addr: SocketAddr) -> String {
        let rest = self.url.split_once("://").map_or("", |(_, rest)| rest);
        let database = rest.split_once('/').map_or("0", |(_, db)| db);
        format!("redis://{addr}/{database}")
    }
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut connection) = client.get_connection() else {
            eprintln!(
                "could not delete the test keys {}*: Redis is unreachable",
                self.prefix
            );
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut connection)
            .unwrap_or_default();
        if !keys.is_empty() {
            let deleted: redis::RedisResult<u64> =
                redis::cmd("DEL").arg(&keys).query(&mut connection);
            if let Err(e) = deleted {
                eprintln!("could not delete the test keys {}*: {e}", self.prefix);
            }
        }
    }
}
