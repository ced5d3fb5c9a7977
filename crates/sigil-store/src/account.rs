//! The optional account registry (docs/protocol.md §9).

use sigil_core::PublicKey;

use crate::backend::{Backend, BoxFuture};
use crate::error::Result;

/// A registered key: what tokens for it may carry and whether it may still
/// get them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Account {
    /// The key; stored and compared as 66 lower-case hex characters.
    pub pubkey: PublicKey,
    /// The token's `name` claim.
    pub name: Option<String>,
    /// The token's `bap_id` claim.
    pub bap_id: Option<String>,
    /// URL prefixes of the audiences this key may get tokens for, in the
    /// order given. How a prefix matches (and what an empty list means) is
    /// the server's policy; the store keeps the list as is.
    pub audiences: Vec<String>,
    /// When the account was added, ms.
    pub created_at_ms: u64,
    /// When the account was revoked, ms; `None` while it is active.
    pub revoked_at_ms: Option<u64>,
}

impl Account {
    /// An active account for `pubkey` with no name, `bap_id` or audiences;
    /// set those fields afterwards.
    #[must_use]
    pub fn new(pubkey: PublicKey, created_at_ms: u64) -> Self {
        Self {
            pubkey,
            name: None,
            bap_id: None,
            audiences: Vec::new(),
            created_at_ms,
            revoked_at_ms: None,
        }
    }

    /// True once revoked.
    #[must_use]
    pub fn is_revoked(&self) -> bool {
        self.revoked_at_ms.is_some()
    }
}

/// What [`AccountStore::update_account`] changes; a `None` field is kept as
/// it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountUpdate {
    /// The new `name`: `Some(None)` removes it.
    pub name: Option<Option<String>>,
    /// The new `bap_id`: `Some(None)` removes it.
    pub bap_id: Option<Option<String>>,
    /// The new audience prefixes, replacing the old list (`Some(vec![])`:
    /// none).
    pub audiences: Option<Vec<String>>,
}

impl AccountUpdate {
    /// True when the update changes no field.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.bap_id.is_none() && self.audiences.is_none()
    }
}

/// Stores accounts.
pub trait AccountStore: Backend {
    /// Adds `account`.
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`](crate::Error::Conflict) when an account with that
    /// key exists, revoked or not (it is left as it was); or the store cannot
    /// answer.
    fn add_account(&self, account: Account) -> BoxFuture<'_, Result<()>>;

    /// The account of `pubkey`, revoked or not.
    ///
    /// # Errors
    ///
    /// When the store cannot answer, or the row is not one this crate wrote.
    fn get_account(&self, pubkey: PublicKey) -> BoxFuture<'_, Result<Option<Account>>>;

    /// Every account, oldest first.
    ///
    /// # Errors
    ///
    /// When the store cannot answer, or a row is not one this crate wrote.
    fn list_accounts(&self) -> BoxFuture<'_, Result<Vec<Account>>>;

    /// Revokes the account of `pubkey` at `now_ms` and returns it. Revoking
    /// a revoked account changes nothing and returns it with its first
    /// `revoked_at_ms`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) when there is no such
    /// account; or the store cannot answer.
    fn revoke_account(&self, pubkey: PublicKey, now_ms: u64) -> BoxFuture<'_, Result<Account>>;

    /// Clears the revocation of the account of `pubkey` and returns it; an
    /// active account is returned unchanged.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) when there is no such
    /// account; or the store cannot answer.
    fn unrevoke_account(&self, pubkey: PublicKey) -> BoxFuture<'_, Result<Account>>;

    /// Changes the fields `update` names, in one step, and returns the
    /// account; `created_at_ms` and `revoked_at_ms` are kept.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) when there is no such
    /// account; or the store cannot answer.
    fn update_account(
        &self,
        pubkey: PublicKey,
        update: AccountUpdate,
    ) -> BoxFuture<'_, Result<Account>>;

    /// Deletes the account of `pubkey`, revoked or not, and returns it as it
    /// was. Its key is then like any unregistered key (which
    /// `open_registration` decides, docs/protocol.md §9).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) when there is no such
    /// account; or the store cannot answer.
    fn remove_account(&self, pubkey: PublicKey) -> BoxFuture<'_, Result<Account>>;
}
