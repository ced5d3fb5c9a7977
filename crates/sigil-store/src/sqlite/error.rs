//! rusqlite errors as this crate's [`Error`].

use rusqlite::ErrorCode;

use crate::error::Error;

/// Maps a rusqlite error: a damaged file or a row of the wrong shape is
/// [`Error::Corrupt`]; everything else (I/O, disk full, busy past the
/// timeout, read-only, cannot open, an unexpected constraint) is
/// [`Error::Unavailable`], so callers fail closed.
pub(super) fn sql(error: rusqlite::Error) -> Error {
    let corrupt = match &error {
        rusqlite::Error::SqliteFailure(failure, _) => matches!(
            failure.code,
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase
        ),
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..) => true,
        _ => false,
    };
    if corrupt {
        Error::corrupt(format!("sqlite: {error}"))
    } else {
        Error::unavailable(format!("sqlite: {error}"))
    }
}
