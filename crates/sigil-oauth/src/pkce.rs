//! PKCE with S256 only (RFC 7636; docs/protocol.md §17: required of every
//! client, `plain` refused).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sigil_core::hash::sha256;
use subtle::ConstantTimeEq as _;

use crate::error::{OAuthError, Result};

/// A `code_challenge` as RFC 7636 §4.2 makes it with S256: the unpadded
/// base64url of a SHA-256 digest, so exactly 43 characters.
///
/// # Errors
/// `invalid_request` for any other length or alphabet.
pub fn check_challenge(challenge: &str) -> Result<()> {
    let decoded = URL_SAFE_NO_PAD.decode(challenge);
    match decoded {
        Ok(bytes) if challenge.len() == 43 && bytes.len() == 32 => Ok(()),
        _ => Err(OAuthError::invalid_request(
            "code_challenge must be BASE64URL(SHA-256(code_verifier)): 43 characters of [A-Za-z0-9_-]",
        )),
    }
}

/// A `code_verifier` per RFC 7636 §4.1: 43–128 characters of
/// `[A-Za-z0-9-._~]`.
///
/// # Errors
/// `invalid_grant` (the token endpoint's answer for a bad verifier,
/// RFC 7636 §4.6).
pub fn check_verifier(verifier: &str) -> Result<()> {
    let alphabet = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    if (43..=128).contains(&verifier.len()) && verifier.bytes().all(alphabet) {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 section 4.1)",
        ))
    }
}

/// The S256 challenge of `verifier`.
#[must_use]
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()))
}

/// Checks `verifier` against the `challenge` the code was bound to, in
/// constant time.
///
/// # Errors
/// `invalid_grant` when the verifier is malformed or does not match.
pub fn verify(verifier: &str, challenge: &str) -> Result<()> {
    check_verifier(verifier)?;
    let computed = challenge_of(verifier);
    if bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge of the authorization request",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B.
    #[test]
    fn rfc7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(challenge_of(verifier), challenge);
        check_challenge(challenge).unwrap();
        verify(verifier, challenge).unwrap();
        let other = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
        assert!(verify(other, challenge).is_err());
    }

    #[test]
    fn malformed_values_are_refused() {
        assert!(check_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c").is_err());
        assert!(check_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM").is_err());
        // `plain` would send the verifier itself: 43 characters, but not
        // always base64url of 32 bytes.
        assert!(check_challenge(&"a".repeat(44)).is_err());
        assert!(check_verifier(&"a".repeat(42)).is_err());
        assert!(check_verifier(&"a".repeat(129)).is_err());
        assert!(check_verifier(&format!("{}!", "a".repeat(43))).is_err());
        check_verifier(&"a-._~".repeat(9)).unwrap();
    }
}
