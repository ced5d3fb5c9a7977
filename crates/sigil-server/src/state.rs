//! [`AppState`]: what every handler shares. Cheap to clone.

use std::sync::Arc;

use arc_swap::ArcSwap;

use axum::body::Bytes;
use sigil_core::payload::Policy;
use sigil_store::{Durability, Store};
use tracing::{info, warn};

use crate::accounts::Registry;
use crate::clock::Clock;
use crate::config::Settings;
use crate::error::ServeError;
use crate::handlers::wallet::WalletAssets;
use crate::keyring::{self, KeyRing};
use crate::limits::Limits;
use crate::master_key::MasterKey;
use crate::metrics::Metrics;

/// The shared state of a running server.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: Settings,
    store: Store,
    master: Option<MasterKey>,
    clock: Arc<dyn Clock>,
    /// Swapped whole by the reload; read without a lock on every request.
    keys: ArcSwap<KeyRing>,
    accounts: ArcSwap<Registry>,
    limits: Option<Limits>,
    metrics: Metrics,
    discovery_json: Bytes,
    payload_policy: Policy,
    wallet: Option<WalletAssets>,
}

impl AppState {
    /// Prepares a server over an open `store`: retires (erases) the keys
    /// past their time, makes the first signing key if there is none, loads
    /// the keys and accounts. Without a master key it warns that the
    /// signing keys are stored unencrypted.
    ///
    /// # Errors
    ///
    /// [`ServeError`] when the store fails or the keys cannot be opened:
    /// encrypted at rest and no master key given, or stored unencrypted and
    /// a master key given (`sigil keys seal` encrypts them).
    pub async fn new(
        settings: Settings,
        store: Store,
        master: Option<MasterKey>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ServeError> {
        let now = clock.now_ms();
        let keys_store = store.keys().as_ref();
        let retired = keys_store.retire_expired_keys(now).await?;
        if retired > 0 {
            info!(
                retired,
                "retired signing keys whose tokens have all expired"
            );
        }
        if let Some(kid) = keyring::ensure_current(keys_store, master.as_ref(), now)
            .await
            .map_err(|e| ServeError::Keys(e.to_string()))?
        {
            info!(
                kid,
                encrypted = master.is_some(),
                "generated the first signing key"
            );
        }
        let ring = KeyRing::load(keys_store, master.as_ref(), now, None)
            .await
            .map_err(|e| ServeError::Keys(e.to_string()))?;
        if master.is_none() {
            warn!(
                "signing keys are stored UNENCRYPTED: whoever can read the database can sign tokens; set SIGIL_MASTER_KEY (or SIGIL_MASTER_KEY_FILE), run `sigil keys seal` with it, and restart with it"
            );
        }
        let registry = Registry::load(store.accounts().as_ref()).await?;
        let limits = settings
            .rate_limits
            .map(|limits| Limits::new(limits, store.rate_limits().cloned()));
        match &limits {
            None => warn!("rate limits are OFF: use this only for benchmarks and tests"),
            Some(limits) if limits.is_shared() => {
                info!("rate limits are shared through the store's buckets");
            }
            Some(_) => {}
        }
        match store.replay().durability().await {
            Ok(durability) => {
                if let Some(warning) = durability_warning(&durability) {
                    warn!("{warning}");
                }
            }
            Err(error) => warn!(
                %error,
                "cannot tell whether the replay records survive a restart of their store"
            ),
        }
        let wallet = settings
            .wallet
            .as_ref()
            .map(|wallet| WalletAssets::new(&settings.issuer, wallet));
        let discovery_json = Bytes::from(crate::handlers::discovery::document(
            &settings.issuer,
            settings.oauth.dynamic_registration,
            wallet.as_ref().map(WalletAssets::integrity),
        ));
        let payload_policy = Policy::new(settings.payload_hosts.iter().cloned());
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                store,
                master,
                clock,
                keys: ArcSwap::from_pointee(ring),
                accounts: ArcSwap::from_pointee(registry),
                limits,
                metrics: Metrics::default(),
                discovery_json,
                payload_policy,
                wallet,
            }),
        })
    }

    /// The validated configuration.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Now, ms.
    #[must_use]
    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    /// The signing keys as last loaded.
    #[must_use]
    pub(crate) fn keys(&self) -> Arc<KeyRing> {
        self.inner.keys.load_full()
    }

    /// The account registry as last loaded.
    #[must_use]
    pub(crate) fn accounts(&self) -> Arc<Registry> {
        self.inner.accounts.load_full()
    }

    /// The metrics.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn limits(&self) -> Option<&Limits> {
        self.inner.limits.as_ref()
    }

    pub(crate) fn payload_policy(&self) -> &Policy {
        &self.inner.payload_policy
    }

    pub(crate) fn discovery_json(&self) -> &Bytes {
        &self.inner.discovery_json
    }

    /// The browser wallet's bundles, or `None` when `wallet = false`.
    pub(crate) fn wallet(&self) -> Option<&WalletAssets> {
        self.inner.wallet.as_ref()
    }

    /// Retires signing keys past their time, then re-reads keys and
    /// accounts; what other processes changed (a `sigil keys rotate`, a
    /// `sigil accounts revoke`) takes effect here.
    ///
    /// # Errors
    ///
    /// When the store fails or a new key cannot be opened; the state keeps
    /// what it had.
    pub async fn refresh(&self) -> Result<(), ServeError> {
        let now = self.now_ms();
        let keys_store = self.inner.store.keys().as_ref();
        let retired = keys_store.retire_expired_keys(now).await?;
        if retired > 0 {
            info!(
                retired,
                "retired signing keys whose tokens have all expired"
            );
        }
        let current = self.keys();
        if let Some(ring) = current
            .reload(keys_store, self.inner.master.as_ref(), now)
            .await
            .map_err(|e| ServeError::Keys(e.to_string()))?
        {
            info!(
                kid = ring.current().kid(),
                published = ring.keys().len(),
                "signing keys reloaded"
            );
            self.inner.keys.store(Arc::new(ring));
        }
        let registry = Registry::load(self.inner.store.accounts().as_ref()).await?;
        self.inner.accounts.store(Arc::new(registry));
        Ok(())
    }

    /// Deletes expired replay records; returns how many.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn purge(&self) -> Result<u64, sigil_store::Error> {
        let purged = self
            .inner
            .store
            .replay()
            .purge_expired(self.now_ms())
            .await?;
        self.inner.metrics.replay_records_purged(purged);
        // The OAuth provider's expired codes, challenges, sessions and
        // assertions; a backend without OAuth records has nothing to purge.
        if let Err(error) = self.inner.store.oauth().purge_oauth(self.now_ms()).await {
            tracing::debug!(%error, "purging expired OAuth records");
        }
        if let Some(limits) = &self.inner.limits {
            limits.retain_recent();
        }
        Ok(purged)
    }
}

/// The start-up warning for replay records that a restart of their store
/// would lose (docs/protocol.md §12), or `None` when they are durable.
fn durability_warning(durability: &Durability) -> Option<String> {
    match durability {
        Durability::LostOnRestart { reason } => Some(format!(
            "replay records are LOST when their store restarts ({reason}): after such a restart a token request, signed request or payload used before it is accepted again while it is still inside its signature window; enable `appendonly yes` in Redis"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use sigil_store::KeyState;

    use super::*;
    use crate::clock::ManualClock;
    use crate::config::Config;

    #[test]
    fn the_durability_warning_says_what_a_restart_allows() {
        assert_eq!(durability_warning(&Durability::Durable), None);
        let warning = durability_warning(&Durability::LostOnRestart {
            reason: "Redis has no append-only file (appendonly no)".into(),
        })
        .expect("a warning");
        for phrase in [
            "LOST when their store restarts",
            "appendonly no",
            "inside its signature window",
            "appendonly yes",
        ] {
            assert!(warning.contains(phrase), "{phrase}: {warning}");
        }
    }

    /// docs/protocol.md §13: the reload retires a key once its tokens have expired,
    /// and the store erases its private key then; `list_keys` still shows
    /// it, retired. A key already past its time at start-up is retired by
    /// `AppState::new` at once.
    #[tokio::test]
    async fn retired_keys_lose_their_private_key_at_reload_and_at_start() {
        let settings = Config::default().validate().unwrap();
        let store = Store::open("sqlite::memory:").await.unwrap();
        let clock = Arc::new(ManualClock::new(1_000_000));
        let state = AppState::new(settings.clone(), store.clone(), None, clock.clone())
            .await
            .unwrap();
        let first = state.keys().current().kid().to_owned();
        keyring::rotate(store.keys().as_ref(), None, clock.now_ms(), 5_000)
            .await
            .unwrap();
        clock.advance(5_000);
        state.refresh().await.unwrap();
        let keys = store.keys().list_keys().await.unwrap();
        let old = keys.iter().find(|k| k.kid == first).unwrap();
        assert_eq!(old.state, KeyState::Retired, "{keys:?}");
        assert_eq!(old.pkcs8(), None, "{keys:?}");
        assert_ne!(state.keys().current().kid(), first);

        let second = state.keys().current().kid().to_owned();
        keyring::rotate(store.keys().as_ref(), None, clock.now_ms(), 5_000)
            .await
            .unwrap();
        clock.advance(5_000);
        AppState::new(settings, store.clone(), None, clock)
            .await
            .unwrap();
        let keys = store.keys().list_keys().await.unwrap();
        let old = keys.iter().find(|k| k.kid == second).unwrap();
        assert_eq!((old.state, old.pkcs8()), (KeyState::Retired, None));
    }
}
