//! The single-use things of the provider, as state machines over records
//! the store keeps (docs/protocol.md §17): authorization codes and
//! refresh-token families. The store makes each step atomic (one
//! conditional update); these functions decide what a step means.

use sigil_core::hash::{sha256, to_hex};

use crate::error::{OAuthError, Result};
use crate::pkce;
use crate::scope::Scopes;

/// How long a code lives, milliseconds.
pub const CODE_LIFETIME_MS: u64 = 60_000;

/// How long a refresh token lives after its last use, milliseconds (30
/// days).
pub const REFRESH_IDLE_MS: u64 = 30 * 24 * 3600 * 1000;

/// How long after a rotation the token it replaced is answered
/// `invalid_grant` *without* revoking the family: two refreshes sent at
/// the same moment (a second tab, a retry) are a race, not a theft.
/// Nothing is issued to the loser either way.
pub const ROTATION_RACE_MS: u64 = 2_000;

/// What a code, a refresh token or a session is stored as: the SHA-256 of
/// its text, hex. The values are 256 random bits, so one hash suffices.
#[must_use]
pub fn handle_hash(secret: &str) -> String {
    to_hex(&sha256(secret.as_bytes()))
}

/// A random 256-bit handle (code, refresh token, session id) from bytes
/// the caller supplies: unpadded base64url, 43 characters.
#[must_use]
pub fn new_handle(random: [u8; 32]) -> String {
    crate::client::new_secret(random)
}

/// What an authorization code is bound to (the store keeps it under
/// [`handle_hash`] of the code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeGrant {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI of the authorization request.
    pub redirect_uri: String,
    /// The S256 challenge.
    pub code_challenge: String,
    /// The id_token's `nonce`.
    pub nonce: Option<String>,
    /// The scopes granted.
    pub scopes: Scopes,
    /// The access token's audience (RFC 8707 `resource`).
    pub resource: Option<String>,
    /// The person: the compressed public key, hex.
    pub subject: String,
    /// When the person signed in, Unix seconds (the id_token's
    /// `auth_time`).
    pub auth_time_s: u64,
    /// When the code was issued, ms.
    pub issued_at_ms: u64,
}

/// [`CodeGrant`] as the store keeps it (JSON, scopes as their text).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredGrant {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    scopes: String,
    resource: Option<String>,
    subject: String,
    auth_time_s: u64,
    issued_at_ms: u64,
}

impl CodeGrant {
    /// The JSON the store keeps.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(&StoredGrant {
            client_id: self.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            code_challenge: self.code_challenge.clone(),
            nonce: self.nonce.clone(),
            scopes: self.scopes.to_string(),
            resource: self.resource.clone(),
            subject: self.subject.clone(),
            auth_time_s: self.auth_time_s,
            issued_at_ms: self.issued_at_ms,
        })
        .expect("strings and integers serialise")
    }

    /// Reads [`Self::to_json`]'s text back.
    ///
    /// # Errors
    /// When the text is not one [`Self::to_json`] wrote.
    pub fn from_json(text: &str) -> std::result::Result<Self, String> {
        let stored: StoredGrant = serde_json::from_str(text).map_err(|e| e.to_string())?;
        Ok(Self {
            scopes: Scopes::parse(Some(&stored.scopes)).map_err(|e| e.to_string())?,
            client_id: stored.client_id,
            redirect_uri: stored.redirect_uri,
            code_challenge: stored.code_challenge,
            nonce: stored.nonce,
            resource: stored.resource,
            subject: stored.subject,
            auth_time_s: stored.auth_time_s,
            issued_at_ms: stored.issued_at_ms,
        })
    }
}

/// The token request's part of a code exchange.
#[derive(Debug, Clone, Copy)]
pub struct CodeExchange<'a> {
    /// The authenticated client (or the `client_id` of a public one).
    pub client_id: &'a str,
    /// `redirect_uri` of the token request.
    pub redirect_uri: Option<&'a str>,
    /// `code_verifier`.
    pub code_verifier: Option<&'a str>,
}

/// What the store found when it consumed a code atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeState {
    /// No such code.
    Unknown,
    /// The code was unused and is now marked used: this request is the one
    /// that may redeem it.
    Fresh(CodeGrant),
    /// The code had been used before: a replay. `family` is what the first
    /// use issued, to revoke.
    Used {
        /// The refresh family (and its access tokens) issued from the
        /// first use, if any.
        family: Option<String>,
    },
}

/// What to do after a code was consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeOutcome {
    /// Issue tokens for this grant.
    Issue(CodeGrant),
    /// Refuse with this error; when `revoke` names a family, revoke it and
    /// its access tokens (a reused code, RFC 6749 §4.1.2).
    Refuse {
        /// The error (`invalid_grant`).
        error: OAuthError,
        /// The family to revoke.
        revoke: Option<String>,
    },
}

/// Decides a code exchange: unknown and reused codes, an expired code,
/// another client, another redirect URI, a missing or wrong verifier are
/// all `invalid_grant` (RFC 6749 §5.2, RFC 7636 §4.6). A reused code also
/// revokes what its first use issued.
#[must_use]
pub fn redeem_code(state: CodeState, exchange: &CodeExchange<'_>, now_ms: u64) -> CodeOutcome {
    let refuse = |description: &str| CodeOutcome::Refuse {
        error: OAuthError::invalid_grant(description),
        revoke: None,
    };
    let grant = match state {
        CodeState::Unknown => {
            return refuse(
                "the authorization code is not valid (unknown, or issued by another server)",
            );
        }
        CodeState::Used { family } => {
            return CodeOutcome::Refuse {
                error: OAuthError::invalid_grant(
                    "the authorization code was already used; the tokens issued for it are revoked",
                ),
                revoke: family,
            };
        }
        CodeState::Fresh(grant) => grant,
    };
    if now_ms >= grant.issued_at_ms.saturating_add(CODE_LIFETIME_MS) {
        return refuse("the authorization code expired (codes live 60 s); start the sign-in again");
    }
    if exchange.client_id != grant.client_id {
        return refuse("the authorization code was issued to another client");
    }
    if exchange.redirect_uri != Some(grant.redirect_uri.as_str()) {
        return refuse("redirect_uri must be the one of the authorization request, exactly");
    }
    let Some(verifier) = exchange.code_verifier else {
        return refuse("code_verifier is missing (PKCE is required)");
    };
    if let Err(error) = pkce::verify(verifier, &grant.code_challenge) {
        return CodeOutcome::Refuse {
            error,
            revoke: None,
        };
    }
    CodeOutcome::Issue(grant)
}

/// A refresh-token family: every refresh token issued from one code, of
/// which only the newest is good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshFamily {
    /// The family's id.
    pub family_id: String,
    /// The client.
    pub client_id: String,
    /// The person.
    pub subject: String,
    /// The scopes.
    pub scopes: Scopes,
    /// The access token's audience.
    pub resource: Option<String>,
    /// `auth_time` of the login it came from, Unix seconds.
    pub auth_time_s: u64,
    /// [`handle_hash`] of the current refresh token.
    pub current_hash: String,
    /// [`handle_hash`] of the token the current one replaced, if any.
    pub previous_hash: Option<String>,
    /// When the current token was issued (the last use), ms.
    pub rotated_at_ms: u64,
    /// Revoked (reuse, consent revoked, or `/oauth2/revoke`).
    pub revoked: bool,
}

/// What to do with a presented refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Rotate: replace `current_hash` by the new token's hash if it is still
    /// `expected_current` (the store's compare-and-swap; of two concurrent
    /// refreshes exactly one succeeds), then issue.
    Rotate {
        /// The hash the swap must find.
        expected_current: String,
    },
    /// Refuse with `invalid_grant`; revoke the family when `revoke_family`.
    Refuse {
        /// The error.
        error: OAuthError,
        /// A rotated-out token was presented outside the race window:
        /// it was stolen or leaked, so the whole family goes (RFC 9700
        /// §4.14.2).
        revoke_family: bool,
    },
}

/// Decides a refresh request for `family` (found by the presented token's
/// hash, current or previous), presented by `client_id`.
#[must_use]
pub fn refresh(
    family: &RefreshFamily,
    presented_hash: &str,
    client_id: &str,
    now_ms: u64,
) -> RefreshOutcome {
    let refuse = |description: &str, revoke_family| RefreshOutcome::Refuse {
        error: OAuthError::invalid_grant(description),
        revoke_family,
    };
    if family.client_id != client_id {
        return refuse("the refresh token was issued to another client", false);
    }
    if family.revoked {
        return refuse("the refresh token was revoked; sign in again", false);
    }
    if presented_hash == family.current_hash {
        if now_ms >= family.rotated_at_ms.saturating_add(REFRESH_IDLE_MS) {
            return refuse(
                "the refresh token expired (unused for 30 days); sign in again",
                false,
            );
        }
        return RefreshOutcome::Rotate {
            expected_current: family.current_hash.clone(),
        };
    }
    if family.previous_hash.as_deref() == Some(presented_hash)
        && now_ms < family.rotated_at_ms.saturating_add(ROTATION_RACE_MS)
    {
        return refuse(
            "the refresh token was just rotated by a concurrent request; use the newest one",
            false,
        );
    }
    refuse(
        "the refresh token was already used; every token of this sign-in is revoked",
        true,
    )
}

/// Whether a login at `auth_time_s` is recent enough for `max_age_s`
/// (OIDC Core §3.1.2.1) at `now_s`.
#[must_use]
pub fn login_fresh_enough(auth_time_s: u64, max_age_s: Option<u64>, now_s: u64) -> bool {
    max_age_s.is_none_or(|max| now_s.saturating_sub(auth_time_s) <= max)
}

/// `Err` unless `grant` was issued for `client_id` (revocation, RFC 7009
/// §2.1: a client may revoke only its own tokens; the endpoint still
/// answers 200).
///
/// # Errors
/// `invalid_grant` when the family belongs to another client.
pub fn check_revocation(family: &RefreshFamily, client_id: &str) -> Result<()> {
    if family.client_id == client_id {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "the token was issued to another client",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const NOW: u64 = 1_700_000_000_000;

    fn grant() -> CodeGrant {
        CodeGrant {
            client_id: "app".into(),
            redirect_uri: "https://app.example/cb".into(),
            code_challenge: CHALLENGE.into(),
            nonce: Some("n".into()),
            scopes: Scopes::parse(Some("openid")).unwrap(),
            resource: None,
            subject: "02aa".into(),
            auth_time_s: NOW / 1000,
            issued_at_ms: NOW,
        }
    }

    fn exchange<'a>() -> CodeExchange<'a> {
        CodeExchange {
            client_id: "app",
            redirect_uri: Some("https://app.example/cb"),
            code_verifier: Some(VERIFIER),
        }
    }

    #[test]
    fn a_grant_round_trips_through_its_stored_form() {
        assert_eq!(CodeGrant::from_json(&grant().to_json()), Ok(grant()));
    }

    #[test]
    fn a_fresh_code_with_its_verifier_is_redeemed() {
        assert_eq!(
            redeem_code(CodeState::Fresh(grant()), &exchange(), NOW + 59_999),
            CodeOutcome::Issue(grant())
        );
    }

    #[test]
    fn every_mismatch_is_invalid_grant() {
        let cases: Vec<(CodeExchange<'_>, u64, &str)> = vec![
            (exchange(), NOW + 60_000, "expired"),
            (
                CodeExchange {
                    client_id: "other",
                    ..exchange()
                },
                NOW,
                "another client",
            ),
            (
                CodeExchange {
                    redirect_uri: Some("https://app.example/cb2"),
                    ..exchange()
                },
                NOW,
                "redirect_uri",
            ),
            (
                CodeExchange {
                    redirect_uri: None,
                    ..exchange()
                },
                NOW,
                "redirect_uri",
            ),
            (
                CodeExchange {
                    code_verifier: None,
                    ..exchange()
                },
                NOW,
                "code_verifier is missing",
            ),
            (
                CodeExchange {
                    code_verifier: Some("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"),
                    ..exchange()
                },
                NOW,
                "does not match",
            ),
        ];
        for (exchange, now, phrase) in cases {
            match redeem_code(CodeState::Fresh(grant()), &exchange, now) {
                CodeOutcome::Refuse {
                    error,
                    revoke: None,
                } => {
                    assert_eq!(error.error, crate::OAuthErrorCode::InvalidGrant);
                    assert!(error.error_description.contains(phrase), "{error}");
                }
                other => panic!("{exchange:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_reused_code_revokes_what_it_issued() {
        let outcome = redeem_code(
            CodeState::Used {
                family: Some("fam-1".into()),
            },
            &exchange(),
            NOW,
        );
        assert!(matches!(
            outcome,
            CodeOutcome::Refuse { revoke: Some(ref f), .. } if f == "fam-1"
        ));
        assert!(matches!(
            redeem_code(CodeState::Unknown, &exchange(), NOW),
            CodeOutcome::Refuse { revoke: None, .. }
        ));
    }

    fn family() -> RefreshFamily {
        RefreshFamily {
            family_id: "fam".into(),
            client_id: "app".into(),
            subject: "02aa".into(),
            scopes: Scopes::parse(Some("openid offline_access")).unwrap(),
            resource: None,
            auth_time_s: NOW / 1000,
            current_hash: handle_hash("new"),
            previous_hash: Some(handle_hash("old")),
            rotated_at_ms: NOW,
            revoked: false,
        }
    }

    #[test]
    fn refresh_rotates_the_current_token_only() {
        let f = family();
        assert_eq!(
            refresh(&f, &handle_hash("new"), "app", NOW + 1),
            RefreshOutcome::Rotate {
                expected_current: handle_hash("new")
            }
        );
        // The replaced token, at once: a race; nothing issued, nothing revoked.
        assert!(matches!(
            refresh(&f, &handle_hash("old"), "app", NOW + 500),
            RefreshOutcome::Refuse {
                revoke_family: false,
                ..
            }
        ));
        // The replaced token later: reuse, the family goes.
        assert!(matches!(
            refresh(&f, &handle_hash("old"), "app", NOW + ROTATION_RACE_MS),
            RefreshOutcome::Refuse {
                revoke_family: true,
                ..
            }
        ));
        // Another client, a revoked family, an idle one.
        assert!(matches!(
            refresh(&f, &handle_hash("new"), "other", NOW),
            RefreshOutcome::Refuse {
                revoke_family: false,
                ..
            }
        ));
        let revoked = RefreshFamily {
            revoked: true,
            ..family()
        };
        assert!(matches!(
            refresh(&revoked, &handle_hash("new"), "app", NOW),
            RefreshOutcome::Refuse {
                revoke_family: false,
                ..
            }
        ));
        assert!(matches!(
            refresh(&f, &handle_hash("new"), "app", NOW + REFRESH_IDLE_MS),
            RefreshOutcome::Refuse {
                revoke_family: false,
                ..
            }
        ));
    }

    #[test]
    fn max_age_and_handles() {
        assert!(login_fresh_enough(100, None, 10_000));
        assert!(login_fresh_enough(100, Some(60), 160));
        assert!(!login_fresh_enough(100, Some(60), 161));
        assert!(!login_fresh_enough(100, Some(0), 101));
        assert_eq!(new_handle([1; 32]).len(), 43);
        assert_eq!(handle_hash("x").len(), 64);
        assert!(check_revocation(&family(), "app").is_ok());
        assert!(check_revocation(&family(), "other").is_err());
    }
}
