//! The token cache: one slot per audience, each behind its own async mutex,
//! so that concurrent callers for one audience wait for a single request
//! while other audiences proceed (docs/decisions/0008-sigil-client.md).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::client::Config;
use crate::error::Result;
use crate::token::{AccessToken, fetch};

/// A cached token is replaced when less than this remains (ms).
pub(crate) const REFRESH_MARGIN_MS: u64 = 60_000;

/// Past this many audiences, adding one first drops the idle slots whose
/// token is missing or due for refresh, so the map does not grow without
/// bound when a service calls many distinct URLs.
const SWEEP_AT: usize = 256;

type Slot = Arc<tokio::sync::Mutex<SlotState>>;

/// What one audience keeps.
#[derive(Default)]
struct SlotState {
    token: Option<AccessToken>,
    /// The timestamp of the last token request for this audience: the next
    /// one is later, so that two requests within one millisecond (a refresh
    /// right after a refusal) are two statements, not a replay.
    last_timestamp_ms: u64,
}

/// Tokens by audience.
#[derive(Default)]
pub(crate) struct TokenCache {
    slots: Mutex<HashMap<String, Slot>>,
}

impl TokenCache {
    /// A token for `audience` (already validated): the cached one while more
    /// than [`REFRESH_MARGIN_MS`] remain and it is not `stale`, otherwise a
    /// new one, asked for by exactly one of the callers waiting on this
    /// audience.
    pub(crate) async fn get(
        &self,
        config: &Config,
        audience: &str,
        stale: Option<&AccessToken>,
    ) -> Result<AccessToken> {
        let slot = self.slot(audience, config.now_ms());
        let mut state = slot.lock().await;
        let now_ms = config.now_ms();
        if let Some(token) = state.token.as_ref()
            && is_fresh(token, now_ms)
            && stale.is_none_or(|s| s.as_str() != token.as_str())
        {
            return Ok(token.clone());
        }
        state.token = None;
        let timestamp_ms = now_ms.max(state.last_timestamp_ms.saturating_add(1));
        state.last_timestamp_ms = timestamp_ms;
        let token = fetch(config, audience, timestamp_ms).await?;
        state.token = Some(token.clone());
        Ok(token)
    }

    /// Forgets the token of `audience`, waiting for a request in flight.
    pub(crate) async fn invalidate(&self, audience: &str) {
        let slot = self.lock_slots().get(audience).cloned();
        if let Some(slot) = slot {
            slot.lock().await.token = None;
        }
    }

    /// How many audiences have a slot.
    pub(crate) fn len(&self) -> usize {
        self.lock_slots().len()
    }

    fn slot(&self, audience: &str, now_ms: u64) -> Slot {
        let mut slots = self.lock_slots();
        if let Some(slot) = slots.get(audience) {
            return slot.clone();
        }
        if slots.len() >= SWEEP_AT {
            // A slot held only by the map is idle; `try_lock` cannot fail
            // then, but a failure keeps the slot anyway.
            slots.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot.try_lock().map_or(true, |s| {
                        s.token.as_ref().is_some_and(|t| is_fresh(t, now_ms))
                    })
            });
        }
        slots.entry(audience.to_owned()).or_default().clone()
    }

    fn lock_slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        // The map is only read and written in short sections that cannot
        // leave it inconsistent, so a poisoned lock is still usable.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn is_fresh(token: &AccessToken, now_ms: u64) -> bool {
    now_ms.saturating_add(REFRESH_MARGIN_MS) < token.expires_at_ms()
}
