//! Signing keys in a running server (docs/protocol.md §13): the current key that signs,
//! the keys the JWKS publishes, generation on first start, rotation, and
//! the periodic reload that lets every instance see a rotation.

use std::sync::Arc;

use axum::body::Bytes;

use sigil_core::jwks::{Jwk, JwkSet, Jwks};
use sigil_core::{Es256SigningKey, es256};
use sigil_store::{KeyBytesUpdate, KeyState, NewSigningKey, SigningKeyRecord, SigningKeyStore};
use zeroize::Zeroizing;

use crate::master_key::{self, AtRest, MasterKey};

/// Why signing keys could not be loaded, made or rotated. Never contains
/// key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The store failed. The message holds the cause, which is therefore
    /// not also the `source`: `{:#}` (the CLI) prints it once.
    #[error("store: {0}")]
    Store(sigil_store::Error),
    /// A stored key cannot be opened or parsed, or a new one made.
    #[error("{0}")]
    Key(String),
    /// The store holds no current key.
    #[error("the store has no current signing key")]
    NoCurrentKey,
    /// A master key is set but the stored keys are plain: a sealed key is
    /// not written beside them.
    #[error(
        "the stored signing keys are not encrypted but SIGIL_MASTER_KEY is set: encrypt them first with `sigil keys seal` (SIGIL_MASTER_KEY set), or unset SIGIL_MASTER_KEY"
    )]
    PlainStore,
    /// No master key is set but the stored keys are sealed: a plain key is
    /// not written beside them.
    #[error(
        "the stored signing keys are encrypted at rest: set SIGIL_MASTER_KEY or SIGIL_MASTER_KEY_FILE (a plain key is never written beside encrypted ones)"
    )]
    SealedStore,
    /// The store holds both sealed and plain keys.
    #[error(
        "the store holds both encrypted and unencrypted signing keys (unencrypted: {plain}): run `sigil keys seal` with SIGIL_MASTER_KEY set to encrypt them all"
    )]
    MixedStore {
        /// The kids of the plain keys, comma-separated.
        plain: String,
    },
}

impl From<sigil_store::Error> for KeyError {
    fn from(error: sigil_store::Error) -> Self {
        Self::Store(error)
    }
}

/// One published key: parsed once, with its JWKS entry built once from the
/// stored `x5c` certificate (its signature is randomised, so it is made
/// once, stored with the key, and every instance publishes those bytes).
#[derive(Debug, Clone)]
pub(crate) struct PublishedKey {
    /// The key id.
    pub(crate) kid: String,
    /// Current or retiring.
    pub(crate) state: KeyState,
    /// When it was made, ms.
    pub(crate) created_at_ms: u64,
    /// When it stops being published (retiring keys).
    pub(crate) retires_at_ms: Option<u64>,
    signing: Arc<Es256SigningKey>,
    jwk: Jwk,
}

/// The keys a server signs and publishes with, as read at one moment.
#[derive(Debug, Clone)]
pub(crate) struct KeyRing {
    current: Arc<Es256SigningKey>,
    keys: Vec<PublishedKey>,
    jwks_json: Bytes,
    verify_set: JwkSet,
}

impl KeyRing {
    /// Reads the store's keys at `now_ms`: the current key and every
    /// retiring key not yet past `retires_at_ms`. Keys already in
    /// `previous` are reused, not parsed again.
    ///
    /// # Errors
    ///
    /// [`KeyError`]: the store fails, there is no current key, or a key
    /// cannot be opened (encrypted without the master key, altered).
    pub(crate) async fn load(
        store: &dyn SigningKeyStore,
        master: Option<&MasterKey>,
        now_ms: u64,
        previous: Option<&Self>,
    ) -> Result<Self, KeyError> {
        let records = with_certificates(store, master, now_ms).await?;
        Self::from_records(&records, master, now_ms, previous)
    }

    fn from_records(
        records: &[SigningKeyRecord],
        master: Option<&MasterKey>,
        now_ms: u64,
        previous: Option<&Self>,
    ) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for record in records.iter().filter(|r| is_published(r, now_ms)) {
            let reused = previous.and_then(|p| p.keys.iter().find(|k| k.kid == record.kid));
            let (signing, jwk) = match reused {
                Some(key) => (key.signing.clone(), key.jwk.clone()),
                None => open(record, master)?,
            };
            keys.push(PublishedKey {
                kid: record.kid.clone(),
                state: record.state,
                created_at_ms: record.created_at_ms,
                retires_at_ms: record.retires_at_ms,
                signing,
                jwk,
            });
        }
        // Current key first, then the newest retiring keys.
        keys.sort_by_key(|k| {
            (
                k.state != KeyState::Current,
                std::cmp::Reverse(k.created_at_ms),
            )
        });
        let current = keys
            .first()
            .filter(|k| k.state == KeyState::Current)
            .map(|k| k.signing.clone())
            .ok_or(KeyError::NoCurrentKey)?;
        let jwks = Jwks {
            keys: keys.iter().map(|k| k.jwk.clone()).collect(),
        };
        let jwks_json = serde_json::to_vec(&jwks)
            .map_err(|e| KeyError::Key(format!("cannot serialise the JWKS: {e}")))?;
        let verify_set = JwkSet::from_keys(
            keys.iter()
                .map(|k| (k.kid.clone(), k.signing.verifying_key().clone())),
        )
        .map_err(|e| KeyError::Key(e.to_string()))?;
        Ok(Self {
            current,
            keys,
            jwks_json: Bytes::from(jwks_json),
            verify_set,
        })
    }

    /// The key that signs new tokens.
    #[must_use]
    pub(crate) fn current(&self) -> &Arc<Es256SigningKey> {
        &self.current
    }

    /// The published keys, current first.
    #[must_use]
    pub(crate) fn keys(&self) -> &[PublishedKey] {
        &self.keys
    }

    /// The JWKS document, serialised once (cloning shares the bytes).
    #[must_use]
    pub(crate) fn jwks_json(&self) -> &Bytes {
        &self.jwks_json
    }

    /// The published keys as a checked key set, for validating our own
    /// tokens (`/userinfo`).
    #[must_use]
    pub(crate) fn verify_set(&self) -> &JwkSet {
        &self.verify_set
    }

    /// True when `records` describe the same published keys as this ring
    /// at `now_ms` (nothing to reload).
    fn same_as(&self, records: &[SigningKeyRecord], now_ms: u64) -> bool {
        let live: Vec<(&str, KeyState, Option<u64>)> = records
            .iter()
            .filter(|r| is_published(r, now_ms))
            .map(|r| (r.kid.as_str(), r.state, r.retires_at_ms))
            .collect();
        live.len() == self.keys.len()
            && live.iter().all(|(kid, state, retires)| {
                self.keys
                    .iter()
                    .any(|k| k.kid == *kid && k.state == *state && k.retires_at_ms == *retires)
            })
    }

    /// Re-reads the store; returns a new ring when the published keys
    /// changed, `None` when they did not.
    ///
    /// # Errors
    ///
    /// As [`KeyRing::load`].
    pub(crate) async fn reload(
        &self,
        store: &dyn SigningKeyStore,
        master: Option<&MasterKey>,
        now_ms: u64,
    ) -> Result<Option<Self>, KeyError> {
        let records = with_certificates(store, master, now_ms).await?;
        if self.same_as(&records, now_ms) {
            return Ok(None);
        }
        Self::from_records(&records, master, now_ms, Some(self)).map(Some)
    }
}

/// The store's keys, after giving each published key stored without a
/// certificate (before the certificate column, or by an older sigil) one:
/// made here and stored with a compare-and-set, so the first instance's
/// certificate wins; the keys are then read again and the stored bytes are
/// the ones every instance publishes.
///
/// # Errors
///
/// As [`KeyRing::load`].
async fn with_certificates(
    store: &dyn SigningKeyStore,
    master: Option<&MasterKey>,
    now_ms: u64,
) -> Result<Vec<SigningKeyRecord>, KeyError> {
    let records = store.list_keys().await?;
    let mut filled = false;
    for record in records
        .iter()
        .filter(|r| r.certificate.is_none() && is_published(r, now_ms))
    {
        let key = open_key(record, master)?;
        let der = key
            .certificate_der(record.created_at_ms / 1000)
            .map_err(|e| KeyError::Key(format!("signing key {}: {e}", record.kid)))?;
        // `false`: another instance stored its certificate first.
        store.set_certificate(&record.kid, der).await?;
        filled = true;
    }
    if filled {
        return Ok(store.list_keys().await?);
    }
    Ok(records)
}

/// The current key, and a retiring key until its `retires_at_ms`.
fn is_published(record: &SigningKeyRecord, now_ms: u64) -> bool {
    match record.state {
        KeyState::Current => true,
        KeyState::Retiring => record.retires_at_ms.is_some_and(|at| now_ms < at),
        _ => false,
    }
}

/// The key and its JWKS entry, whose `x5c` is the stored certificate.
fn open(
    record: &SigningKeyRecord,
    master: Option<&MasterKey>,
) -> Result<(Arc<Es256SigningKey>, Jwk), KeyError> {
    let key = open_key(record, master)?;
    let der = record.certificate.as_deref().ok_or_else(|| {
        KeyError::Key(format!(
            "signing key {}: no certificate is stored with it",
            record.kid
        ))
    })?;
    let jwk = key
        .jwk_with_certificate(der)
        .map_err(|e| KeyError::Key(format!("signing key {}: {e}", record.kid)))?;
    Ok((Arc::new(key), jwk))
}

/// The private key of `record`, opened with the master key when sealed,
/// checked against its kid.
fn open_key(
    record: &SigningKeyRecord,
    master: Option<&MasterKey>,
) -> Result<Es256SigningKey, KeyError> {
    let stored = record.pkcs8().ok_or_else(|| {
        KeyError::Key(format!(
            "signing key {}: its private key was erased when it retired",
            record.kid
        ))
    })?;
    let pkcs8 =
        master_key::from_stored(master, &record.kid, stored).map_err(|e| KeyError::Key(e.0))?;
    let key = Es256SigningKey::from_pkcs8(&pkcs8)
        .map_err(|e| KeyError::Key(format!("signing key {}: {e}", record.kid)))?;
    if key.kid() != record.kid {
        return Err(KeyError::Key(format!(
            "signing key {}: stored kid does not match the key's thumbprint",
            record.kid
        )));
    }
    Ok(key)
}

/// A fresh P-256 key from the OS CSPRNG, ready to store (sealed when a
/// master key is set), with its `x5c` certificate (valid from `now_ms`,
/// public, never sealed), made once here.
///
/// # Errors
///
/// [`KeyError::Key`] when randomness or encryption fails.
pub(crate) fn new_key(master: Option<&MasterKey>, now_ms: u64) -> Result<NewSigningKey, KeyError> {
    let pkcs8 = loop {
        let mut random = Zeroizing::new([0u8; 32]);
        getrandom::fill(random.as_mut_slice())
            .map_err(|e| KeyError::Key(format!("no randomness: {e}")))?;
        // Out of range with probability about 2^-32: draw again.
        if let Ok(pkcs8) = es256::generate_pkcs8(&random) {
            break Zeroizing::new(pkcs8);
        }
    };
    let key = Es256SigningKey::from_pkcs8(&pkcs8).map_err(|e| KeyError::Key(e.to_string()))?;
    let stored =
        master_key::to_stored(master, key.kid(), &pkcs8).map_err(|e| KeyError::Key(e.0))?;
    let certificate = key
        .certificate_der(now_ms / 1000)
        .map_err(|e| KeyError::Key(e.to_string()))?;
    Ok(NewSigningKey::new(key.kid(), stored, now_ms).with_certificate(certificate))
}

/// Makes sure the store has a current key, generating one on first start.
/// Returns the kid of a key made now, or `None` when one existed (or another
/// instance made it first).
///
/// # Errors
///
/// As [`new_key`], or the store fails.
pub(crate) async fn ensure_current(
    store: &dyn SigningKeyStore,
    master: Option<&MasterKey>,
    now_ms: u64,
) -> Result<Option<String>, KeyError> {
    let records = store.list_keys().await?;
    if records.iter().any(|r| r.state == KeyState::Current) {
        return Ok(None);
    }
    check_writable(&records, master)?;
    let key = new_key(master, now_ms)?;
    let kid = key.kid().to_owned();
    match store.insert_key(key).await {
        Ok(()) => Ok(Some(kid)),
        Err(sigil_store::Error::Conflict { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What [`rotate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The new current key.
    pub new_kid: String,
    /// The key that is now retiring, if there was one.
    pub old_kid: Option<String>,
    /// When the old key leaves the JWKS, ms.
    pub retires_at_ms: u64,
}

/// Makes a new current key; the old one stays published for `overlap_ms`
/// (at least the token lifetime plus the reload interval and leeway, so
/// every token it signed expires first).
///
/// The new key is sealed exactly when the stored keys are: without a
/// master key over sealed keys, or with one over plain keys, nothing is
/// written.
///
/// # Errors
///
/// [`KeyError::SealedStore`], [`KeyError::PlainStore`] or
/// [`KeyError::MixedStore`], each naming what to do; [`KeyError::Key`] when
/// randomness or encryption fails; or
/// the store fails.
pub async fn rotate(
    store: &dyn SigningKeyStore,
    master: Option<&MasterKey>,
    now_ms: u64,
    overlap_ms: u64,
) -> Result<Rotation, KeyError> {
    check_writable(&store.list_keys().await?, master)?;
    let key = new_key(master, now_ms)?;
    let new_kid = key.kid().to_owned();
    let retires_at_ms = now_ms.saturating_add(overlap_ms);
    let old_kid = store.rotate_key(key, retires_at_ms).await?;
    Ok(Rotation {
        new_kid,
        old_kid,
        retires_at_ms,
    })
}

/// Refuses to write a key that would not match the stored ones: a plain
/// key (no master key) beside sealed keys, a sealed key beside plain keys,
/// or anything into a store that holds both. Retired keys, erased, do not
/// count. docs/protocol.md §12: the keys are encrypted when `SIGIL_MASTER_KEY` is set.
///
/// # Errors
///
/// [`KeyError::SealedStore`], [`KeyError::PlainStore`] or
/// [`KeyError::MixedStore`], each naming what to do.
pub(crate) fn check_writable(
    records: &[SigningKeyRecord],
    master: Option<&MasterKey>,
) -> Result<(), KeyError> {
    let plain: Vec<&str> = records
        .iter()
        .filter(|r| AtRest::of(r) == AtRest::Plain)
        .map(|r| r.kid.as_str())
        .collect();
    let any_sealed = records.iter().any(|r| AtRest::of(r) == AtRest::Encrypted);
    match (master, any_sealed, plain.is_empty()) {
        (_, true, false) => Err(KeyError::MixedStore {
            plain: plain.join(", "),
        }),
        (Some(_), false, false) => Err(KeyError::PlainStore),
        (None, true, true) => Err(KeyError::SealedStore),
        _ => Ok(()),
    }
}

/// What [`seal`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealing {
    /// The keys that were plain and are now encrypted.
    pub sealed: Vec<String>,
    /// The keys that were encrypted already (and open with this master key).
    pub already_sealed: Vec<String>,
}

/// Encrypts every stored private key that is still plain with `master`,
/// in one step (turning `SIGIL_MASTER_KEY` on for an existing store, docs/protocol.md
/// §12). Keys past their retirement are retired (erased) first; keys that
/// are sealed already must open with `master`. Running servers keep the
/// keys they loaded; restart them with the master key.
///
/// # Errors
///
/// [`KeyError::Key`] when a sealed key does not open with `master` (another
/// master key) or a plain key is not a P-256 key of its kid; or the store
/// fails (a key changed meanwhile: nothing was changed, run it again).
pub async fn seal(
    store: &dyn SigningKeyStore,
    master: &MasterKey,
    now_ms: u64,
) -> Result<Sealing, KeyError> {
    store.retire_expired_keys(now_ms).await?;
    let mut updates = Vec::new();
    let mut sealing = Sealing {
        sealed: Vec::new(),
        already_sealed: Vec::new(),
    };
    for record in store.list_keys().await? {
        let Some(stored) = record.pkcs8() else {
            continue; // retired: nothing left to seal
        };
        let encrypted = master_key::is_sealed(stored);
        // A sealed key must open with this master key; a plain one must be
        // the P-256 key of its kid.
        let key = open_key(&record, encrypted.then_some(master))?;
        if encrypted {
            sealing.already_sealed.push(record.kid.clone());
            continue;
        }
        let sealed = master
            .seal(key.kid(), stored)
            .map_err(|e| KeyError::Key(e.0))?;
        updates.push(KeyBytesUpdate::new(
            record.kid.clone(),
            stored.to_vec(),
            sealed,
        ));
        sealing.sealed.push(record.kid.clone());
    }
    if !updates.is_empty() {
        store.replace_key_bytes(updates).await?;
    }
    Ok(sealing)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use sigil_store::{SqliteOptions, SqliteStore};

    use super::*;

    async fn memory() -> SqliteStore {
        SqliteStore::open("sqlite::memory:", SqliteOptions::default())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn first_start_generates_then_rotation_keeps_the_old_key_published() {
        let store = memory().await;
        let made = ensure_current(&store, None, 1_000).await.unwrap();
        assert!(made.is_some());
        assert_eq!(ensure_current(&store, None, 2_000).await.unwrap(), None);
        let ring = KeyRing::load(&store, None, 3_000, None).await.unwrap();
        assert_eq!(ring.keys().len(), 1);
        assert_eq!(Some(ring.current().kid().to_owned()), made);
        assert!(ring.reload(&store, None, 3_500).await.unwrap().is_none());

        let rotation = rotate(&store, None, 4_000, 10_000).await.unwrap();
        assert_eq!(rotation.old_kid, made);
        let ring2 = ring.reload(&store, None, 5_000).await.unwrap().unwrap();
        assert_eq!(ring2.current().kid(), rotation.new_kid);
        assert_eq!(ring2.keys().len(), 2);
        let jwks: serde_json::Value = serde_json::from_slice(ring2.jwks_json()).unwrap();
        assert_eq!(jwks["keys"][0]["kid"], rotation.new_kid.as_str());
        // The old key's entry is reused byte for byte (x5c not rebuilt).
        assert_eq!(ring2.keys()[1].jwk, ring.keys()[0].jwk);
        // Past retires_at it leaves the JWKS even before it is marked retired.
        let ring3 = ring2.reload(&store, None, 14_000).await.unwrap().unwrap();
        assert_eq!(ring3.keys().len(), 1);
        assert!(ring3.verify_set().get(made.as_deref().unwrap()).is_none());
    }

    #[tokio::test]
    async fn encrypted_keys_need_the_master_key() {
        let store = memory().await;
        let master = MasterKey::from_text("0123456789abcdef0123456789abcdef").unwrap();
        ensure_current(&store, Some(&master), 1_000).await.unwrap();
        let records = store.list_keys().await.unwrap();
        assert!(records[0].pkcs8().unwrap().starts_with(b"SGK1"));
        assert!(
            KeyRing::load(&store, Some(&master), 2_000, None)
                .await
                .is_ok()
        );
        let error = KeyRing::load(&store, None, 2_000, None).await.unwrap_err();
        assert!(error.to_string().contains("SIGIL_MASTER_KEY"), "{error}");
    }

    /// A sealed key stored without a certificate (before the column) gets
    /// one on its first load, stored once; every later load, and `sigil
    /// keys seal` over it, keeps those bytes. The certificate is not sealed.
    #[tokio::test]
    async fn a_key_stored_without_a_certificate_gets_one_once() {
        let store = memory().await;
        let master = master();
        let made = new_key(Some(&master), 1_000).unwrap();
        let bare = NewSigningKey::new(made.kid(), made.pkcs8().to_vec(), 1_000);
        assert_eq!(bare.certificate(), None);
        store.insert_key(bare).await.unwrap();

        let ring = KeyRing::load(&store, Some(&master), 2_000, None)
            .await
            .unwrap();
        let stored = store.list_keys().await.unwrap();
        let der = stored[0].certificate.clone().expect("stored on load");
        assert!(!master_key::is_sealed(&der), "public, not sealed");
        assert_eq!(
            ring.keys()[0].jwk.x5c,
            [base64::engine::general_purpose::STANDARD.encode(&der)]
        );
        // Another instance's load: the same bytes, nothing stored again.
        let other = KeyRing::load(&store, Some(&master), 3_000, None)
            .await
            .unwrap();
        assert_eq!(other.jwks_json(), ring.jwks_json());
        seal(&store, &master, 4_000).await.unwrap();
        let after = store.list_keys().await.unwrap();
        assert_eq!(after[0].certificate.as_ref(), Some(&der));
    }

    const MASTER: &str = "0123456789abcdef0123456789abcdef";

    fn master() -> MasterKey {
        MasterKey::from_text(MASTER).unwrap()
    }

    /// `(kid, at rest)` of every stored key, oldest first.
    async fn at_rest(store: &SqliteStore) -> Vec<(String, AtRest)> {
        let mut keys: Vec<_> = store
            .list_keys()
            .await
            .unwrap()
            .iter()
            .map(|r| (r.kid.clone(), AtRest::of(r)))
            .collect();
        keys.sort();
        keys
    }

    /// Issue 13, item 4: a writer without the master key never puts a
    /// plain key beside sealed ones (the encrypting server would sign with
    /// it), nor one with the master key a sealed key beside plain ones; a
    /// store that holds both (written before this check) takes neither.
    /// Nothing is written when refused.
    #[tokio::test]
    async fn writers_refuse_to_mix_plain_and_sealed_keys() {
        let master = master();
        let sealed_store = memory().await;
        ensure_current(&sealed_store, Some(&master), 1_000)
            .await
            .unwrap();
        let plain_store = memory().await;
        ensure_current(&plain_store, None, 1_000).await.unwrap();
        let mixed_store = memory().await;
        ensure_current(&mixed_store, None, 1_000).await.unwrap();
        mixed_store
            .rotate_key(new_key(Some(&master), 2_000).unwrap(), 50_000)
            .await
            .unwrap();

        let cases: [(&str, &SqliteStore, Option<&MasterKey>, &str); 4] = [
            (
                "plain key into a sealed store",
                &sealed_store,
                None,
                "set SIGIL_MASTER_KEY",
            ),
            (
                "sealed key into a plain store",
                &plain_store,
                Some(&master),
                "sigil keys seal",
            ),
            (
                "plain key into a mixed store",
                &mixed_store,
                None,
                "sigil keys seal",
            ),
            (
                "sealed key into a mixed store",
                &mixed_store,
                Some(&master),
                "sigil keys seal",
            ),
        ];
        for (name, store, key, fix) in cases {
            let before = at_rest(store).await;
            let error = rotate(store, key, 3_000, 10_000).await.unwrap_err();
            assert!(error.to_string().contains(fix), "{name}: {error}");
            assert_eq!(at_rest(store).await, before, "{name}: nothing written");
        }
        // Matching writers still work.
        rotate(&sealed_store, Some(&master), 3_000, 10_000)
            .await
            .unwrap();
        rotate(&plain_store, None, 3_000, 10_000).await.unwrap();
        assert!(
            at_rest(&sealed_store)
                .await
                .iter()
                .all(|(_, at)| *at == AtRest::Encrypted)
        );
        assert!(
            at_rest(&plain_store)
                .await
                .iter()
                .all(|(_, at)| *at == AtRest::Plain)
        );
    }

    /// The first start's key follows the store too: after every key was
    /// retired (erased) either kind may start it again.
    #[tokio::test]
    async fn first_key_checks_the_store_and_erased_keys_do_not_count() {
        let master = master();
        let store = memory().await;
        assert_eq!(check_writable(&[], None), Ok(()));
        assert_eq!(check_writable(&[], Some(&master)), Ok(()));
        ensure_current(&store, None, 1_000).await.unwrap();
        rotate(&store, None, 2_000, 1_000).await.unwrap();
        store.retire_expired_keys(3_000).await.unwrap();
        let records = store.list_keys().await.unwrap();
        let erased = records
            .iter()
            .filter(|r| AtRest::of(r) == AtRest::Erased)
            .count();
        assert_eq!(erased, 1, "{records:?}");
        let retired: Vec<_> = records
            .into_iter()
            .filter(|r| r.state == KeyState::Retired)
            .collect();
        assert_eq!(check_writable(&retired, Some(&master)), Ok(()));
        assert_eq!(check_writable(&retired, None), Ok(()));
    }

    /// A server with the master key over plain keys refuses to load them,
    /// naming `sigil keys seal`; after the seal it loads them, and without
    /// the master key it does not.
    #[tokio::test]
    async fn seal_encrypts_every_plain_key_once() {
        let master = master();
        let store = memory().await;
        ensure_current(&store, None, 1_000).await.unwrap();
        rotate(&store, None, 2_000, 1_000_000).await.unwrap();
        let error = KeyRing::load(&store, Some(&master), 3_000, None)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("sigil keys seal"), "{error}");

        let sealing = seal(&store, &master, 3_000).await.unwrap();
        assert_eq!(sealing.sealed.len(), 2, "{sealing:?}");
        assert!(sealing.already_sealed.is_empty(), "{sealing:?}");
        assert!(
            at_rest(&store)
                .await
                .iter()
                .all(|(_, at)| *at == AtRest::Encrypted)
        );
        let ring = KeyRing::load(&store, Some(&master), 3_000, None)
            .await
            .unwrap();
        assert_eq!(ring.keys().len(), 2);
        assert!(KeyRing::load(&store, None, 3_000, None).await.is_err());
        rotate(&store, Some(&master), 4_000, 1_000).await.unwrap();

        let again = seal(&store, &master, 4_000).await.unwrap();
        assert!(again.sealed.is_empty(), "{again:?}");
        assert_eq!(again.already_sealed.len(), 3, "{again:?}");
        let other = MasterKey::from_text(&format!("{MASTER}-another")).unwrap();
        let wrong = seal(&store, &other, 4_000).await.unwrap_err();
        assert!(wrong.to_string().contains("cannot be decrypted"), "{wrong}");
    }
}
