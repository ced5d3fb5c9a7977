//! [`OAuthError`]: an RFC 6749 §5.2 / RFC 7591 §3.2.2 / OIDC Core §3.1.2.6
//! error code with a description a person can act on.

use serde::Serialize;

/// The OAuth error codes sigil's provider answers with (docs/protocol.md
/// §17). Each serialises as its wire string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    /// A parameter is missing, repeated, malformed or not allowed
    /// (RFC 6749 §4.1.2.1, §5.2).
    InvalidRequest,
    /// Client authentication failed (RFC 6749 §5.2): 401.
    InvalidClient,
    /// The code or refresh token is invalid, expired, revoked, used, or was
    /// issued to another client or redirect URI; or the PKCE verifier does
    /// not match (RFC 6749 §5.2, RFC 7636 §4.6).
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// A `grant_type` this server does not support.
    UnsupportedGrantType,
    /// A scope that is unknown or not allowed.
    InvalidScope,
    /// The person (or the server on their behalf) refused.
    AccessDenied,
    /// A `response_type` other than `code`.
    UnsupportedResponseType,
    /// `prompt=none` and no usable session (OIDC Core §3.1.2.6).
    LoginRequired,
    /// `prompt=none` and no remembered consent (OIDC Core §3.1.2.6).
    ConsentRequired,
    /// A `resource` that is not an absolute URI without fragment (RFC 8707
    /// §2).
    InvalidTarget,
    /// Dynamic registration: a redirect URI this server does not accept
    /// (RFC 7591 §3.2.2).
    InvalidRedirectUri,
    /// Dynamic registration: other metadata this server does not accept
    /// (RFC 7591 §3.2.2).
    InvalidClientMetadata,
}

impl OAuthErrorCode {
    /// The wire string, e.g. `invalid_grant`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
        }
    }

    /// The HTTP status when this code is the answer of the token,
    /// revocation or registration endpoint: 401 for `invalid_client`
    /// (RFC 6749 §5.2), 400 for everything else.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidClient => 401,
            _ => 400,
        }
    }

    /// Every code, for tests that walk them.
    pub const ALL: [Self; 13] = [
        Self::InvalidRequest,
        Self::InvalidClient,
        Self::InvalidGrant,
        Self::UnauthorizedClient,
        Self::UnsupportedGrantType,
        Self::InvalidScope,
        Self::AccessDenied,
        Self::UnsupportedResponseType,
        Self::LoginRequired,
        Self::ConsentRequired,
        Self::InvalidTarget,
        Self::InvalidRedirectUri,
        Self::InvalidClientMetadata,
    ];
}

impl std::fmt::Display for OAuthErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refusal: the code, and one sentence saying what was wrong and what is
/// expected (never a secret: no code, token, secret or verifier value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{error}: {error_description}")]
pub struct OAuthError {
    /// The code.
    pub error: OAuthErrorCode,
    /// The description.
    pub error_description: String,
}

impl OAuthError {
    /// A refusal with this code and description.
    #[must_use]
    pub fn new(error: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            error,
            error_description: description.into(),
        }
    }

    /// `invalid_request`.
    #[must_use]
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    /// `invalid_grant`.
    #[must_use]
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }

    /// `invalid_client`.
    #[must_use]
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidClient, description)
    }
}

/// `Result` with [`OAuthError`].
pub type Result<T, E = OAuthError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_wire_strings() {
        for code in OAuthErrorCode::ALL {
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
            assert_eq!(
                code.status(),
                if code == OAuthErrorCode::InvalidClient {
                    401
                } else {
                    400
                }
            );
        }
        let body = serde_json::to_value(OAuthError::invalid_grant("code already used")).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": "invalid_grant", "error_description": "code already used"})
        );
    }
}
