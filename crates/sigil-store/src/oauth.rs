//! What the OAuth 2.0 / OpenID Connect provider remembers
//! (docs/protocol.md §17): clients, authorization codes, login challenges,
//! sessions, consents, grants with their refresh-token families, and the
//! `private_key_jwt` assertions seen.
//!
//! The rules (what a reused code or a rotated-out refresh token means) are
//! sigil-oauth's; the store makes each single-use step one atomic
//! statement, so that of two concurrent consumers exactly one wins, on any
//! number of instances. Secrets arrive hashed: the store never sees a code,
//! a refresh token or a session id.

use crate::backend::{Backend, BoxFuture};
use crate::error::Result;
use crate::replay::Insertion;

/// A registered client: its id and the provider's JSON of it (the secret,
/// if any, only as its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// The client id.
    pub client_id: String,
    /// The provider's JSON document of the client; kept as given.
    pub document: String,
    /// When it was added, ms.
    pub created_at_ms: u64,
}

/// An authorization code as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    /// SHA-256 hex of the code.
    pub code_hash: String,
    /// The provider's JSON of what the code is bound to.
    pub grant_json: String,
    /// The grant its first use creates (and a second use revokes).
    pub grant_id: String,
    /// When the row may be purged, ms (later than the code's own 60 s, so
    /// that a late second use is still recognised as a reuse).
    pub expires_at_ms: u64,
}

/// The answer of [`OAuthStore::consume_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeConsumption {
    /// No such code (or purged).
    Unknown,
    /// The code was unused and is now used: this caller redeems it.
    Fresh {
        /// What the code is bound to.
        grant_json: String,
        /// The grant to create.
        grant_id: String,
    },
    /// The code had been used: a replay.
    Used {
        /// The grant the first use created, to revoke.
        grant_id: String,
    },
}

/// A login session, found by the hash of its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 hex of the session id.
    pub id_hash: String,
    /// The person: compressed public key, hex.
    pub subject: String,
    /// When they signed, ms.
    pub auth_time_ms: u64,
    /// The CSRF token every form of this session carries.
    pub csrf_token: String,
    /// When the session ends, ms.
    pub expires_at_ms: u64,
}

/// A remembered consent of a person to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    /// The person.
    pub subject: String,
    /// The client.
    pub client_id: String,
    /// The scopes consented to, space-separated.
    pub scopes: String,
    /// When, ms.
    pub granted_at_ms: u64,
}

/// A grant: what one code exchange issued, and its refresh-token family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// The grant's id (access tokens name it).
    pub grant_id: String,
    /// The client.
    pub client_id: String,
    /// The person.
    pub subject: String,
    /// The scopes, space-separated.
    pub scopes: String,
    /// The access tokens' audience (RFC 8707 `resource`), if asked for.
    pub resource: Option<String>,
    /// The login's time, Unix seconds (`auth_time`).
    pub auth_time_s: u64,
    /// SHA-256 hex of the current refresh token; `None` without one.
    pub current_hash: Option<String>,
    /// SHA-256 hex of the token the current one replaced.
    pub previous_hash: Option<String>,
    /// When the current refresh token was issued, ms.
    pub rotated_at_ms: u64,
    /// Revoked: nothing of this grant works any more.
    pub revoked: bool,
}

/// Stores what the OAuth provider remembers.
pub trait OAuthStore: Backend {
    /// Adds a client.
    ///
    /// # Errors
    /// [`Error::Conflict`](crate::Error::Conflict) when the id exists; or the
    /// store cannot answer.
    fn add_client(&self, client: ClientRecord) -> BoxFuture<'_, Result<()>>;

    /// The client of `client_id`.
    ///
    /// # Errors
    /// When the store cannot answer.
    fn get_client(&self, client_id: String) -> BoxFuture<'_, Result<Option<ClientRecord>>>;

    /// Every client, oldest first.
    ///
    /// # Errors
    /// When the store cannot answer.
    fn list_clients(&self) -> BoxFuture<'_, Result<Vec<ClientRecord>>>;

    /// Removes a client, with its consents and grants (revoked first).
    ///
    /// # Errors
    /// [`Error::NotFound`](crate::Error::NotFound); or the store cannot
    /// answer.
    fn remove_client(&self, client_id: String) -> BoxFuture<'_, Result<ClientRecord>>;

    /// Stores a new code.
    ///
    /// # Errors
    /// [`Error::Conflict`](crate::Error::Conflict) for a hash stored
    /// already; or the store cannot answer.
    fn insert_code(&self, code: CodeRecord) -> BoxFuture<'_, Result<()>>;

    /// Marks the code used, in one step: of concurrent callers exactly one
    /// gets [`CodeConsumption::Fresh`].
    ///
    /// # Errors
    /// When the store cannot answer.
    fn consume_code(&self, code_hash: String) -> BoxFuture<'_, Result<CodeConsumption>>;

    /// Stores a login challenge bound to `binding_hash` (the hash of the
    /// browser's cookie), live until `expires_at_ms`.
    ///
    /// # Errors
    /// When the store cannot answer.
    fn insert_challenge(
        &self,
        nonce: String,
        binding_hash: String,
        expires_at_ms: u64,
    ) -> BoxFuture<'_, Result<()>>;

    /// Deletes the challenge if it is live and bound to `binding_hash`, in
    /// one step; `true` for the one caller that did.
    ///
    /// # Errors
    /// When the store cannot answer.
    fn consume_challenge(
        &self,
        nonce: String,
        binding_hash: String,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<bool>>;

    /// Stores a session.
    ///
    /// # Errors
    /// When the store cannot answer.
    fn create_session(&self, session: SessionRecord) -> BoxFuture<'_, Result<()>>;

    /// The live session of `id_hash` at `now_ms`.
    ///
    /// # Errors
    /// When the store cannot answer.
    fn get_session(
        &self,
        id_hash: String,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Option<SessionRecord>>>;

    /// Ends a session; `true` when there was one.
    ///
    /// # Errors
    /// When the store cannot answer.
    fn delete_session(&self, id_hash: String) -> BoxFuture<'_, Result<bool>>;

    /// Remembers (or replaces) a consent.
    ///
    /// # Errors
    /// When the store cannot answer.
    fn put_consent(&self, consent: ConsentRecord) -> BoxFuture<'_, Result<()>>;

    /// The consent of `subject` to `client_id`.
    ///
    /// # Errors
    /// When the store cannot answer.
    fn get_consent(
        &self,
        subject: String,
        client_id: String,
    ) -> BoxFuture<'_, Result<Option<ConsentRecord>>>;

    /// Every consent of `subject`, oldest first.
    ///
    /// # Errors
    /// When the store cannot answer.
    fn list_consents(&self, subject: String) -> BoxFuture<'_, Result<Vec<ConsentRecord>>>;

    /// Forgets the consent of `subject` to `client_id` and revokes every
    /// grant of theirs to it, in one step; returns how many grants were
    /// revoked.
    ///
    /// # Errors
    /// When the store cannot answer.
    fn revoke_consent(&self, subject: String, client_id: String) -> BoxFuture<'_, Result<u64>>;

    /// Stores a new grant, and its refresh token's hash (if any) as one of
    /// the family's.
    ///
    /// # Errors
    /// [`Error::Conflict`](crate::Error::Conflict) for an id stored already;
    /// or the store cannot answer.
    fn create_grant(&self, grant: GrantRecord) -> BoxFuture<'_, Result<()>>;

    /// The grant of `grant_id`.
    ///
    /// # Errors
    /// When the store cannot answer.
    fn get_grant(&self, grant_id: String) -> BoxFuture<'_, Result<Option<GrantRecord>>>;

    /// The grant whose family holds refresh token `token_hash`: the
    /// current one or any it replaced.
    ///
    /// # Errors
    /// When the store cannot answer.
    fn grant_by_refresh(&self, token_hash: String) -> BoxFuture<'_, Result<Option<GrantRecord>>>;

    /// Replaces the grant's refresh token by `new_hash` if its current one
    /// is still `expected_current` and it is not revoked, in one step (a
    /// compare-and-swap: of concurrent rotations exactly one returns
    /// `true`).
    ///
    /// # Errors
    /// When the store cannot answer.
    fn rotate_refresh(
        &self,
        grant_id: String,
        expected_current: String,
        new_hash: String,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<bool>>;

    /// Revokes a grant; `true` when it was live. A grant not created yet
    /// is recorded as a revoked placeholder, in the same atomic step, so
    /// that creating it later is a [`Conflict`](crate::Error::Conflict):
    /// a code's reuse that overtakes its first use (still between
    /// [`consume_code`](Self::consume_code) and
    /// [`create_grant`](Self::create_grant), on any instance) still
    /// revokes what that first use would issue.
    ///
    /// # Errors
    /// When the store cannot answer.
    fn revoke_grant(&self, grant_id: String) -> BoxFuture<'_, Result<bool>>;

    /// Records a `private_key_jwt` assertion's `jti` for `client_id` until
    /// `expires_at_ms`; [`Insertion::AlreadyUsed`] when it is recorded and
    /// live (a replay).
    ///
    /// # Errors
    /// When the store cannot answer.
    fn use_assertion(
        &self,
        client_id: String,
        jti: String,
        expires_at_ms: u64,
        now_ms: u64,
    ) -> BoxFuture<'_, Result<Insertion>>;

    /// Deletes expired codes, challenges, sessions and assertions; returns
    /// how many rows.
    ///
    /// # Errors
    /// When the store cannot answer.
    fn purge_oauth(&self, now_ms: u64) -> BoxFuture<'_, Result<u64>>;
}

/// The OAuth store of a backend that has none yet: every call is
/// [`Error::Unavailable`](crate::Error::Unavailable), so the provider's
/// routes fail closed (503) and the rest of the server works.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoOAuthStore;

fn none<T: Send + 'static>() -> BoxFuture<'static, Result<T>> {
    Box::pin(async {
        Err(crate::Error::unavailable(
            "this store backend keeps no OAuth state",
        ))
    })
}

impl Backend for NoOAuthStore {
    fn health(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn close(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

impl OAuthStore for NoOAuthStore {
    fn add_client(&self, _: ClientRecord) -> BoxFuture<'_, Result<()>> {
        none()
    }
    fn get_client(&self, _: String) -> BoxFuture<'_, Result<Option<ClientRecord>>> {
        none()
    }
    fn list_clients(&self) -> BoxFuture<'_, Result<Vec<ClientRecord>>> {
        none()
    }
    fn remove_client(&self, _: String) -> BoxFuture<'_, Result<ClientRecord>> {
        none()
    }
    fn insert_code(&self, _: CodeRecord) -> BoxFuture<'_, Result<()>> {
        none()
    }
    fn consume_code(&self, _: String) -> BoxFuture<'_, Result<CodeConsumption>> {
        none()
    }
    fn insert_challenge(&self, _: String, _: String, _: u64) -> BoxFuture<'_, Result<()>> {
        none()
    }
    fn consume_challenge(&self, _: String, _: String, _: u64) -> BoxFuture<'_, Result<bool>> {
        none()
    }
    fn create_session(&self, _: SessionRecord) -> BoxFuture<'_, Result<()>> {
        none()
    }
    fn get_session(&self, _: String, _: u64) -> BoxFuture<'_, Result<Option<SessionRecord>>> {
        none()
    }
    fn delete_session(&self, _: String) -> BoxFuture<'_, Result<bool>> {
        none()
    }
    fn put_consent(&self, _: ConsentRecord) -> BoxFuture<'_, Result<()>> {
        none()
    }
    fn get_consent(&self, _: String, _: String) -> BoxFuture<'_, Result<Option<ConsentRecord>>> {
        none()
    }
    fn list_consents(&self, _: String) -> BoxFuture<'_, Result<Vec<ConsentRecord>>> {
        none()
    }
    fn revoke_consent(&self, _: String, _: String) -> BoxFuture<'_, Result<u64>> {
        none()
    }
    fn create_grant(&self, _: GrantRecord) -> BoxFuture<'_, Result<()>> {
        none()
    }
    fn get_grant(&self, _: String) -> BoxFuture<'_, Result<Option<GrantRecord>>> {
        none()
    }
    fn grant_by_refresh(&self, _: String) -> BoxFuture<'_, Result<Option<GrantRecord>>> {
        none()
    }
    fn rotate_refresh(
        &self,
        _: String,
        _: String,
        _: String,
        _: u64,
    ) -> BoxFuture<'_, Result<bool>> {
        none()
    }
    fn revoke_grant(&self, _: String) -> BoxFuture<'_, Result<bool>> {
        none()
    }
    fn use_assertion(
        &self,
        _: String,
        _: String,
        _: u64,
        _: u64,
    ) -> BoxFuture<'_, Result<Insertion>> {
        none()
    }
    fn purge_oauth(&self, _: u64) -> BoxFuture<'_, Result<u64>> {
        none()
    }
}
