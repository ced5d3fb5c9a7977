//! The one error type of this crate.

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a store call did not give the answer asked for.
///
/// Messages are lower-case, name what was wrong and never contain secrets:
/// a store URL is never echoed (it may carry a password), only its scheme.
///
/// The HTTP edge maps [`Error::is_unavailable`] to 503
/// `temporarily_unavailable` and issues nothing (docs/protocol.md §3, §8): the store
/// fails closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store cannot answer: it cannot be opened or written, is locked by
    /// another process past the busy timeout, is closed, or its disk is full.
    /// Nothing was changed.
    #[error("store unavailable: {reason}")]
    Unavailable {
        /// What failed, for the log; no secrets.
        reason: String,
    },
    /// The store answered with data this crate did not write: a file that is
    /// not a database, a malformed database, or a row of the wrong shape.
    #[error("store corrupt: {reason}")]
    Corrupt {
        /// What was found, for the log.
        reason: String,
    },
    /// The database was migrated by a newer sigil than this one.
    #[error("store schema version {found} is newer than the {supported} this build knows")]
    SchemaTooNew {
        /// The version recorded in the database.
        found: u32,
        /// The newest version this build's migrations reach.
        supported: u32,
    },
    /// The thing to add exists already (an account, a signing key id, a
    /// second current signing key). Nothing was changed.
    #[error("{what} already exists")]
    Conflict {
        /// What exists, e.g. `account 02ab…`.
        what: String,
    },
    /// The thing to change does not exist. Nothing was changed.
    #[error("{what} not found")]
    NotFound {
        /// What is missing, e.g. `account 02ab…`.
        what: String,
    },
    /// A caller passed a value that cannot be stored.
    #[error("invalid {field}: {reason}")]
    InvalidArgument {
        /// The parameter or field name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The store URL names a scheme this build has no backend for.
    #[error(
        "unsupported store URL scheme `{scheme}` (supported: sqlite://PATH, sqlite::memory:, postgres://…)"
    )]
    UnsupportedScheme {
        /// The scheme, lower-cased; never the rest of the URL.
        scheme: String,
    },
    /// The store URL cannot be parsed.
    #[error("invalid store URL: {reason}")]
    InvalidUrl {
        /// What is wrong; never the URL itself.
        reason: String,
    },
}

impl Error {
    /// True when the store could not give an answer at all
    /// ([`Unavailable`](Self::Unavailable), [`Corrupt`](Self::Corrupt),
    /// [`SchemaTooNew`](Self::SchemaTooNew)): the caller must fail closed,
    /// e.g. answer 503 and issue no token.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { .. } | Self::Corrupt { .. } | Self::SchemaTooNew { .. }
        )
    }

    pub(crate) fn unavailable(reason: impl Into<String>) -> Self {
        Self::Unavailable {
            reason: reason.into(),
        }
    }

    pub(crate) fn corrupt(reason: impl Into<String>) -> Self {
        Self::Corrupt {
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_class_is_the_fail_closed_set() {
        let cases = [
            (Error::unavailable("x"), true),
            (Error::corrupt("x"), true),
            (
                Error::SchemaTooNew {
                    found: 9,
                    supported: 1,
                },
                true,
            ),
            (Error::Conflict { what: "x".into() }, false),
            (Error::NotFound { what: "x".into() }, false),
            (
                Error::UnsupportedScheme {
                    scheme: "ftp".into(),
                },
                false,
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(error.is_unavailable(), expected, "{error}");
        }
    }
}
