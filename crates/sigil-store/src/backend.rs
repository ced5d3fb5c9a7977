//! What every backend answers, and the future type of the store traits.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use crate::error::Result;

/// The future every store method returns: boxed so the traits are
/// dyn-compatible (`Arc<dyn ReplayStore>`), `Send` so it can be awaited in
/// any tokio task. See `docs/decisions/0005-store-design.md`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What every store backend answers, whatever it stores.
pub trait Backend: Send + Sync + fmt::Debug {
    /// Succeeds when the backend can take a write now (`GET /ready`).
    ///
    /// # Errors
    ///
    /// An [`Error::is_unavailable`](crate::Error::is_unavailable) error
    /// saying why not.
    fn health(&self) -> BoxFuture<'_, Result<()>>;

    /// Finishes the work already queued, releases the backend's resources,
    /// and makes every later call fail with
    /// [`Error::Unavailable`](crate::Error::Unavailable). Closing twice is
    /// not an error.
    ///
    /// # Errors
    ///
    /// When releasing the resources failed (e.g. the final WAL checkpoint);
    /// the store is closed all the same.
    fn close(&self) -> BoxFuture<'_, Result<()>>;
}
