//! Store URLs: which backend, and where (docs/protocol.md §12).
//!
//! Errors name the scheme at most, never the rest of the URL: a Postgres or
//! Redis URL may carry a password.

use std::path::PathBuf;
use std::str::FromStr as _;

use crate::error::{Error, Result};

/// The docs/protocol.md §12 default.
pub const DEFAULT_STORE_URL: &str = "sqlite://sigil.db";

/// A parsed store URL. `Debug` never shows a password
/// (`tokio_postgres::Config` redacts it).
#[derive(Debug, Clone)]
pub(crate) enum StoreUrl {
    Sqlite(SqliteLocation),
    /// `postgres://…`, `postgresql://…`, or a libpq `key=value` string.
    Postgres(Box<tokio_postgres::Config>),
}

/// A parsed `redis://` URL, for the replay records and rate limits beside
/// a database (docs/protocol.md §12).
#[derive(Debug, Clone)]
pub(crate) struct RedisUrl(pub(crate) redis::ConnectionInfo);

/// Where an SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SqliteLocation {
    /// `sqlite::memory:`: private to the store, gone when it closes.
    Memory,
    /// `sqlite://PATH` or `sqlite:PATH`, taken literally (no percent
    /// decoding, no query parameters): `sqlite://sigil.db` is relative,
    /// `sqlite:///var/lib/sigil/sigil.db` absolute.
    File(PathBuf),
}

impl StoreUrl {
    pub(crate) fn parse(url: &str) -> Result<Self> {
        if is_libpq_key_value(url) {
            return parse_postgres(url).map(Self::Postgres);
        }
        let Some((scheme, rest)) = url.split_once(':') else {
            return Err(invalid("no scheme; expected e.g. sqlite://sigil.db"));
        };
        if !is_scheme(scheme) {
            return Err(invalid("no scheme; expected e.g. sqlite://sigil.db"));
        }
        let scheme = scheme.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => parse_sqlite(rest).map(Self::Sqlite),
            "postgres" | "postgresql" => parse_postgres(url).map(Self::Postgres),
            _ => Err(Error::UnsupportedScheme { scheme }),
        }
    }
}

impl RedisUrl {
    /// `redis://[[user]:password@]host[:port][/DB]`. `rediss://` (TLS) is
    /// refused: this build has no TLS stack for Redis (docs/decisions/0015).
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let scheme = url
            .split_once("://")
            .map(|(scheme, _)| scheme.to_ascii_lowercase())
            .unwrap_or_default();
        match scheme.as_str() {
            "redis" => {}
            "rediss" => {
                return Err(invalid(
                    "rediss:// (TLS) is not supported by this build; use redis:// on a private network or a TLS tunnel",
                ));
            }
            _ => return Err(invalid("a Redis URL starts with redis://")),
        }
        use redis::IntoConnectionInfo as _;
        url.into_connection_info()
            .map(Self)
            .map_err(|e| invalid(&format!("redis: {}", e.category())))
    }
}

/// Checks a Redis URL as [`Store::open_with`](crate::Store::open_with)
/// will read it, without connecting: `redis://[[user]:password@]host[:port][/DB]`.
///
/// # Errors
///
/// [`Error::InvalidUrl`] naming what is wrong (`rediss://` included: this
/// build has no TLS stack for Redis), never the URL itself.
pub fn validate_redis_url(url: &str) -> Result<()> {
    RedisUrl::parse(url).map(|_| ())
}

/// The libpq connection-string form: `host=/run/postgresql dbname=sigil`.
fn is_libpq_key_value(text: &str) -> bool {
    let text = text.trim_start();
    let word_len = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    word_len > 0 && text[word_len..].trim_start().starts_with('=')
}

/// Parses with `tokio_postgres` (the libpq URL and key-value forms,
/// percent-decoding, `?host=/socket`, `sslmode`, `options`, …). A missing
/// password is taken from `PGPASSWORD`, as libpq does.
fn parse_postgres(url: &str) -> Result<Box<tokio_postgres::Config>> {
    // Its error names the option that was wrong, never a value.
    let mut config =
        tokio_postgres::Config::from_str(url).map_err(|e| invalid(&format!("postgres: {e}")))?;
    if config.get_password().is_none()
        && let Ok(password) = std::env::var("PGPASSWORD")
    {
        config.password(password);
    }
    if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
        return Err(invalid(
            "postgres: sslmode=require needs TLS, which this build does not include; use sslmode=disable or prefer over a local socket, a private network or a TLS tunnel",
        ));
    }
    if config.get_hosts().is_empty() {
        config.host("localhost");
    }
    Ok(Box::new(config))
}

fn parse_sqlite(rest: &str) -> Result<SqliteLocation> {
    if rest == ":memory:" {
        return Ok(SqliteLocation::Memory);
    }
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path.is_empty() {
        return Err(invalid("sqlite URL has no path; expected sqlite://PATH"));
    }
    Ok(SqliteLocation::File(PathBuf::from(path)))
}

/// RFC 3986 §3.1: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn invalid(reason: &str) -> Error {
    Error::InvalidUrl {
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> Option<SqliteLocation> {
        Some(SqliteLocation::File(PathBuf::from(path)))
    }

    fn sqlite(url: &str) -> Option<SqliteLocation> {
        match StoreUrl::parse(url) {
            Ok(StoreUrl::Sqlite(location)) => Some(location),
            _ => None,
        }
    }

    #[test]
    fn accepted_urls() {
        let cases = [
            ("default", DEFAULT_STORE_URL, file("sigil.db")),
            (
                "absolute",
                "sqlite:///var/lib/sigil.db",
                file("/var/lib/sigil.db"),
            ),
            ("no slashes", "sqlite:data/sigil.db", file("data/sigil.db")),
            ("upper-case scheme", "SQLite://x.db", file("x.db")),
            ("memory", "sqlite::memory:", Some(SqliteLocation::Memory)),
        ];
        for (name, url, expected) in cases {
            assert_eq!(sqlite(url), expected, "{name}");
        }
    }

    #[test]
    fn postgres_urls_in_the_forms_libpq_users_write() {
        use tokio_postgres::config::{Host, SslMode};
        // (name, url, host, port, user, dbname, password, sslmode)
        let cases = [
            (
                "url",
                "postgres://sigil@db.internal:5433/sigil",
                Host::Tcp("db.internal".into()),
                5433,
                Some("sigil"),
                Some("sigil"),
                None,
                SslMode::Prefer,
            ),
            (
                "postgresql scheme, password, sslmode",
                "postgresql://sigil:hunter%322@127.0.0.1/test?sslmode=disable",
                Host::Tcp("127.0.0.1".into()),
                5432,
                Some("sigil"),
                Some("test"),
                Some(&b"hunter22"[..]),
                SslMode::Disable,
            ),
            (
                "socket in the query",
                "postgres:///test?host=/var/run/postgresql",
                Host::Unix("/var/run/postgresql".into()),
                5432,
                None,
                Some("test"),
                None,
                SslMode::Prefer,
            ),
            (
                "key=value",
                "host=/run/postgresql dbname=sigil user=sigil",
                Host::Unix("/run/postgresql".into()),
                5432,
                Some("sigil"),
                Some("sigil"),
                None,
                SslMode::Prefer,
            ),
        ];
        for (name, url, host, port, user, dbname, password, sslmode) in cases {
            let Ok(StoreUrl::Postgres(config)) = StoreUrl::parse(url) else {
                panic!("{name}: not a postgres URL");
            };
            assert_eq!(config.get_hosts(), [host], "{name}");
            assert_eq!(
                config.get_ports().first().copied().unwrap_or(5432),
                port,
                "{name}"
            );
            assert_eq!(config.get_user(), user, "{name}");
            assert_eq!(config.get_dbname(), dbname, "{name}");
            if std::env::var_os("PGPASSWORD").is_none() {
                assert_eq!(config.get_password(), password, "{name}");
            }
            assert_eq!(config.get_ssl_mode(), sslmode, "{name}");
            assert!(
                !format!("{config:?}").contains("hunter"),
                "{name}: Debug leaks"
            );
        }
    }

    #[test]
    fn redis_urls() {
        assert!(RedisUrl::parse("redis://127.0.0.1:6379/0").is_ok());
        assert!(RedisUrl::parse("redis://:hunter2@cache/3").is_ok());
        for (url, phrase) in [
            ("rediss://:hunter2@cache", "TLS"),
            ("http://:hunter2@cache", "redis://"),
            ("hunter2", "redis://"),
        ] {
            let message = RedisUrl::parse(url).unwrap_err().to_string();
            assert!(message.contains(phrase), "{url}: {message}");
            assert!(!message.contains("hunter2"), "{url} leaks: {message}");
        }
    }

    #[test]
    fn refused_urls_name_the_scheme_never_the_secret() {
        let cases = [
            ("redis", "redis://:hunter2@cache:6379", "`redis`"),
            (
                "postgres sslmode=require",
                "postgres://sigil:hunter2@db/sigil?sslmode=require",
                "sslmode=require",
            ),
            (
                "postgres bad option",
                "postgres://sigil:hunter2@db/sigil?sslmode=hunter2",
                "postgres",
            ),
            ("mysql", "mysql://root:hunter2@x", "`mysql`"),
            ("bare path", "hunter2.db", "no scheme"),
            ("empty", "", "no scheme"),
            ("bad scheme", "1x:hunter2", "no scheme"),
            ("empty sqlite path", "sqlite://", "no path"),
        ];
        for (name, url, phrase) in cases {
            let message = StoreUrl::parse(url).unwrap_err().to_string();
            assert!(message.contains(phrase), "{name}: {message}");
            assert!(!message.contains("hunter2"), "{name} leaks: {message}");
        }
    }

    #[test]
    fn unsupported_scheme_lists_the_supported_ones() {
        let message = StoreUrl::parse("mysql://x").unwrap_err().to_string();
        assert_eq!(
            message,
            "unsupported store URL scheme `mysql` (supported: sqlite://PATH, sqlite::memory:, postgres://…)"
        );
    }
}
