//! redis errors as this crate's [`Error`], and the time bound of every call.

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, Result};

/// Maps a redis error: always [`Error::Unavailable`] (a refused or lost
/// connection, a timeout, a server that refused the command: `READONLY`
/// on a replica, `OOM` under `maxmemory`), so callers fail closed. Its text
/// names the kind and the server's message, never the URL.
pub(super) fn redis(error: &redis::RedisError) -> Error {
    Error::unavailable(format!("redis: {error}"))
}

/// Runs `work`, failing with [`Error::Unavailable`] when it takes longer
/// than `limit`: a Redis that stopped answering (a cut network drops
/// packets without resetting anything) must give a 503 within the request
/// timeout, never a hang.
pub(super) async fn bounded<T>(
    limit: Duration,
    what: &'static str,
    work: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit, work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(redis(&error)),
        Err(_) => Err(Error::unavailable(format!(
            "redis: {what} took longer than {} ms",
            limit.as_millis()
        ))),
    }
}

/// Runs `call`, and once more when it failed on a lost connection: the
/// connection manager has begun reconnecting then, so a Redis that came
/// back answers this call instead of the next one. (A `SET NX` whose first
/// attempt did reach Redis is then answered "already used": a refusal,
/// never a second success.)
pub(super) async fn once_more<T, F, Fut>(mut call: F) -> redis::RedisResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = redis::RedisResult<T>>,
{
    match call().await {
        Err(error) if error.is_io_error() || error.is_unrecoverable_error() => call().await,
        other => other,
    }
}
