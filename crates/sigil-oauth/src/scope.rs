//! Scopes: the three sigil grants (`openid`, `profile`, `offline_access`),
//! parsed strictly and described in words for the consent screen.

use crate::error::{OAuthError, OAuthErrorCode, Result};
use sigil_core::quoted;

/// One scope sigil knows (docs/protocol.md §17, `scopes_supported`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// OpenID Connect: an id_token naming the person's key.
    OpenId,
    /// The account's name and BAP identity, when the registry knows them.
    Profile,
    /// A refresh token, so the app keeps access while the person is away.
    OfflineAccess,
}

impl Scope {
    /// Every scope, in the order of `scopes_supported`.
    pub const ALL: [Self; 3] = [Self::OpenId, Self::Profile, Self::OfflineAccess];

    /// The wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenId => "openid",
            Self::Profile => "profile",
            Self::OfflineAccess => "offline_access",
        }
    }

    /// What the consent screen says the app gets.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::OpenId => "Confirm who you are: your public key and address",
            Self::Profile => "See your account name and BAP identity, if you have them",
            Self::OfflineAccess => "Stay signed in to the app while you are away",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == name)
    }
}

/// A set of scopes, kept sorted; its text form is the names joined by
/// single spaces in the order of [`Scope::ALL`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Parses a `scope` parameter (RFC 6749 §3.3: space-delimited,
    /// case-sensitive). An absent or empty parameter means `openid`.
    ///
    /// # Errors
    /// `invalid_scope` naming the first unknown scope; `invalid_request`
    /// for characters RFC 6749 §3.3 does not allow.
    pub fn parse(text: Option<&str>) -> Result<Self> {
        let text = text.unwrap_or("").trim_matches(' ');
        if text.is_empty() {
            return Ok(Self(vec![Scope::OpenId]));
        }
        if !text
            .bytes()
            .all(|b| b == b' ' || (b'!'..=b'~').contains(&b) && b != b'"' && b != b'\\')
        {
            return Err(OAuthError::invalid_request(
                "scope may contain only printable ASCII other than '\"' and '\\', separated by spaces",
            ));
        }
        let mut scopes = Vec::new();
        for name in text.split(' ').filter(|n| !n.is_empty()) {
            let scope = Scope::parse(name).ok_or_else(|| {
                OAuthError::new(
                    OAuthErrorCode::InvalidScope,
                    format!(
                        "unknown scope {}; this server knows openid, profile and offline_access",
                        quoted(name)
                    ),
                )
            })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        scopes.sort();
        Ok(Self(scopes))
    }

    /// Whether `scope` is in the set.
    #[must_use]
    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    /// Whether every scope of `other` is in this set.
    #[must_use]
    pub fn covers(&self, other: &Self) -> bool {
        other.0.iter().all(|scope| self.0.contains(scope))
    }

    /// The scopes, in the order of [`Scope::ALL`].
    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, scope) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_strictly_and_prints_canonically() {
        let scopes = Scopes::parse(Some("offline_access openid  profile openid")).unwrap();
        assert_eq!(scopes.to_string(), "openid profile offline_access");
        assert!(scopes.contains(Scope::OfflineAccess));
        assert_eq!(Scopes::parse(None).unwrap().to_string(), "openid");
        assert_eq!(Scopes::parse(Some(" ")).unwrap().to_string(), "openid");
        let err = Scopes::parse(Some("openid email")).unwrap_err();
        assert_eq!(err.error, OAuthErrorCode::InvalidScope);
        assert!(err.error_description.contains("\"email\""), "{err}");
        // Case-sensitive (RFC 6749 §3.3).
        assert_eq!(
            Scopes::parse(Some("OpenID")).unwrap_err().error,
            OAuthErrorCode::InvalidScope
        );
        assert_eq!(
            Scopes::parse(Some("openid\tprofile")).unwrap_err().error,
            OAuthErrorCode::InvalidRequest
        );
        let openid = Scopes::parse(Some("openid")).unwrap();
        assert!(scopes.covers(&openid) && !openid.covers(&scopes));
    }
}
