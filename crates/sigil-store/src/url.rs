//! Store URLs: which backend, and where (docs/protocol.md §12).
//!
//! Errors name the scheme at most, never the rest of the URL: a Postgres or
//! Redis URL may carry a password.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// The docs/protocol.md §12 default.
pub const DEFAULT_STORE_URL: &str = "sqlite://sigil.db";

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoreUrl {
    Sqlite(SqliteLocation),
}

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
        let Some((scheme, rest)) = url.split_once(':') else {
            return Err(invalid("no scheme; expected e.g. sqlite://sigil.db"));
        };
        if !is_scheme(scheme) {
            return Err(invalid("no scheme; expected e.g. sqlite://sigil.db"));
        }
        let scheme = scheme.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => parse_sqlite(rest).map(Self::Sqlite),
            _ => Err(Error::UnsupportedScheme { scheme }),
        }
    }
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

    fn file(path: &str) -> Result<StoreUrl> {
        Ok(StoreUrl::Sqlite(SqliteLocation::File(PathBuf::from(path))))
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
            (
                "memory",
                "sqlite::memory:",
                Ok(StoreUrl::Sqlite(SqliteLocation::Memory)),
            ),
        ];
        for (name, url, expected) in cases {
            assert_eq!(StoreUrl::parse(url), expected, "{name}");
        }
    }

    #[test]
    fn refused_urls_name_the_scheme_never_the_secret() {
        let cases = [
            (
                "postgres",
                "postgres://sigil:hunter2@db/sigil",
                "`postgres`",
            ),
            ("redis", "redis://:hunter2@cache:6379", "`redis`"),
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
        let message = StoreUrl::parse("postgres://x").unwrap_err().to_string();
        assert_eq!(
            message,
            "unsupported store URL scheme `postgres` (supported: sqlite://PATH, sqlite::memory:)"
        );
    }
}
