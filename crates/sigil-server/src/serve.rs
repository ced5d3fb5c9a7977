//! Running the server: [`serve`] drives an [`AppState`] on a listener with
//! its background tasks until `shutdown` resolves; [`run`] opens everything
//! from [`Settings`] first.

use std::future::Future;
use std::sync::Arc;

use sigil_store::{RedisOptions, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::clock::SystemClock;
use crate::config::Settings;
use crate::error::ServeError;
use crate::master_key::MasterKey;
use crate::routes::router;
use crate::state::AppState;

/// Opens the store named by `settings` (its database, and Redis beside it
/// when configured), prepares the state (first signing
/// key, accounts) and serves on `listener` until `shutdown` resolves.
///
/// # Errors
///
/// [`ServeError`] when the store, the keys or the socket fail.
pub async fn run(
    settings: Settings,
    master: Option<MasterKey>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let store = open_store(&settings).await?;
    let state = AppState::new(settings, store, master, Arc::new(SystemClock)).await?;
    serve(state, listener, shutdown).await
}

/// Opens the store `settings` name: the database, and Redis beside it for
/// the replay records and rate-limit buckets when `redis` is set
/// (docs/protocol.md §12).
///
/// # Errors
///
/// [`ServeError`] when a store cannot be opened.
pub async fn open_store(settings: &Settings) -> Result<Store, ServeError> {
    let redis = settings
        .redis
        .as_deref()
        .map(|url| (url, RedisOptions::with_prefix(&settings.redis_prefix)));
    Ok(Store::open_with(&settings.database, redis).await?)
}

/// Serves `state` on `listener`, with the background tasks (key and
/// account reload, replay purge), until `shutdown` resolves; then stops
/// accepting, finishes the requests in flight, and closes the store.
///
/// # Errors
///
/// [`ServeError::Io`] when serving fails; a store error when closing it.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let tasks = [
        tokio::spawn(reload_loop(state.clone(), stop_rx.clone())),
        tokio::spawn(purge_loop(state.clone(), stop_rx)),
    ];
    if let Ok(address) = listener.local_addr() {
        info!(%address, issuer = %state.settings().issuer, "sigil is listening");
    }
    let limits = state.settings().connection_limits;
    let result = sigil_edge::serve(listener, router(state.clone()), limits, shutdown).await;
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    info!("stopped accepting; in-flight requests finished");
    state.store().close().await?;
    result.map_err(ServeError::Io)
}

async fn reload_loop(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(state.settings().reload_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = state.refresh().await {
            warn!(error = %e, "reloading signing keys and accounts failed; keeping the previous ones");
        }
    }
}

async fn purge_loop(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(state.settings().purge_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match state.purge().await {
            Ok(0) => {}
            Ok(purged) => info!(purged, "purged expired replay records"),
            Err(e) => warn!(error = %e, "purging replay records failed"),
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => info!("SIGINT received: shutting down"),
        () = terminate => info!("SIGTERM received: shutting down"),
    }
}
