//! tokio-postgres and pool errors as this crate's [`Error`].

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::PoolError;

use crate::error::{Error, Result};

/// Maps a tokio-postgres error: always [`Error::Unavailable`] (a lost
/// connection, a server shutting down, a statement the server refused), so
/// callers fail closed. Unique violations that are answers are handled
/// before this, where they are expected.
pub(super) fn sql(error: tokio_postgres::Error) -> Error {
    match error.as_db_error() {
        Some(db) => {
            Error::unavailable(format!("postgres: {} ({})", db.message(), db.code().code()))
        }
        None => Error::unavailable(format!("postgres: {error}")),
    }
}

/// Maps a pool error: no connection within the wait timeout, or connecting
/// failed.
pub(super) fn pool(error: PoolError) -> Error {
    match error {
        PoolError::Timeout(kind) => Error::unavailable(format!(
            "postgres: no database connection in time ({kind:?})"
        )),
        PoolError::Backend(e) => sql(e),
        PoolError::Closed => Error::unavailable("postgres: store closed"),
        other => Error::unavailable(format!("postgres: {other}")),
    }
}

/// Runs `work`, failing with [`Error::Unavailable`] when it takes longer
/// than `limit`: a database that stopped answering (a cut network drops
/// packets without resetting anything) must give a 503 within the request
/// timeout, never a hang.
pub(super) async fn bounded<T>(
    limit: Duration,
    what: &'static str,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(Error::unavailable(format!(
            "postgres: {what} took longer than {} ms",
            limit.as_millis()
        ))),
    }
}
