//! The login challenge (docs/protocol.md §17): the server issues
//! `sigil-login:v1\nissuer:<issuer>\nnonce:<128-bit random, hex>\nissued-at:<ms>`,
//! the wallet signs it with BSM, and the server recovers the key. The
//! challenge is single-use (the store consumes it) and lives 300 s.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sigil_core::PublicKey;
use sigil_core::bsm::{CompactSignature, HeaderKind};
use sigil_core::hash::to_hex;

use crate::error::{OAuthError, Result};
use sigil_core::quoted;

/// The first line of a challenge.
pub const PREFIX: &str = "sigil-login:v1\n";

/// How long a challenge may be signed and sent back, milliseconds.
pub const CHALLENGE_LIFETIME_MS: u64 = 300_000;

/// A login challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginChallenge {
    /// The issuer it was made by.
    pub issuer: String,
    /// 32 lower-case hex characters (128 random bits).
    pub nonce: String,
    /// When it was made, ms since the Unix epoch.
    pub issued_at_ms: u64,
}

impl LoginChallenge {
    /// A challenge from 16 random bytes the caller supplies.
    #[must_use]
    pub fn new(issuer: &str, random: [u8; 16], now_ms: u64) -> Self {
        Self {
            issuer: issuer.to_owned(),
            nonce: to_hex(&random),
            issued_at_ms: now_ms,
        }
    }

    /// The text the wallet signs.
    #[must_use]
    pub fn message(&self) -> String {
        format!(
            "{PREFIX}issuer:{}\nnonce:{}\nissued-at:{}",
            self.issuer, self.nonce, self.issued_at_ms
        )
    }

    /// Reads a challenge text strictly (exactly what [`Self::message`]
    /// writes).
    ///
    /// # Errors
    /// `invalid_request` naming the line that is wrong.
    pub fn parse(message: &str) -> Result<Self> {
        let bad = |what: &str| {
            OAuthError::invalid_request(format!(
                "the signed login message is not a sigil-login:v1 challenge: {what}"
            ))
        };
        let rest = message
            .strip_prefix(PREFIX)
            .ok_or_else(|| bad("first line"))?;
        let mut lines = rest.split('\n');
        let mut line = |name: &str| {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .map(str::to_owned)
                .ok_or_else(|| bad(name))
        };
        let issuer = line("issuer:")?;
        let nonce = line("nonce:")?;
        let issued_at = line("issued-at:")?;
        if lines.next().is_some() {
            return Err(bad("lines after issued-at"));
        }
        if nonce.len() != 32
            || !nonce
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(bad("nonce is not 32 lower-case hex characters"));
        }
        let issued_at_ms = sigil_core::timestamp::parse_ms(&issued_at)
            .map_err(|_| bad("issued-at is not milliseconds"))?;
        let challenge = Self {
            issuer,
            nonce,
            issued_at_ms,
        };
        if challenge.message() != message {
            return Err(bad("not in canonical form"));
        }
        Ok(challenge)
    }

    /// Checks this challenge was made by `issuer` and is still young at
    /// `now_ms` (the store then checks it is unused).
    ///
    /// # Errors
    /// `invalid_request` for another issuer, an expired challenge or one
    /// from the future.
    pub fn check(&self, issuer: &str, now_ms: u64) -> Result<()> {
        if self.issuer != issuer {
            return Err(OAuthError::invalid_request(format!(
                "the login challenge names issuer {}, this server is {}; sign the challenge this page shows",
                quoted(&self.issuer),
                quoted(issuer)
            )));
        }
        if now_ms >= self.issued_at_ms.saturating_add(CHALLENGE_LIFETIME_MS) {
            return Err(OAuthError::invalid_request(
                "the login challenge expired (challenges live 300 s); reload the page and sign again",
            ));
        }
        if self.issued_at_ms > now_ms.saturating_add(60_000) {
            return Err(OAuthError::invalid_request(
                "the login challenge is dated in the future",
            ));
        }
        Ok(())
    }
}

/// Recovers the key that signed `message` with the base64 BSM `signature`,
/// requiring the compressed-key P2PKH header (31–34) the wallet writes.
///
/// # Errors
/// `invalid_request` when the signature cannot be decoded, has another
/// header, or recovers no key.
pub fn recover_signer(message: &str, signature: &str) -> Result<PublicKey> {
    let bytes = STANDARD.decode(signature.trim()).map_err(|_| {
        OAuthError::invalid_request("signature must be standard base64 of a 65-byte BSM signature")
    })?;
    let compact = CompactSignature::from_bytes(&bytes)
        .map_err(|e| OAuthError::invalid_request(format!("signature: {e}")))?;
    if compact.header_kind() != HeaderKind::P2pkhCompressed {
        return Err(OAuthError::invalid_request(
            "signature must use the compressed-key header (31-34), as the wallet signs",
        ));
    }
    compact
        .recover(message.as_bytes())
        .map_err(|e| OAuthError::invalid_request(format!("signature: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_core::{Network, PrivateKey};

    const ISSUER: &str = "https://sigil.example";
    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn round_trip_sign_recover() {
        let challenge = LoginChallenge::new(ISSUER, [0xab; 16], NOW);
        let text = challenge.message();
        assert_eq!(
            text,
            format!(
                "sigil-login:v1\nissuer:{ISSUER}\nnonce:{}\nissued-at:{NOW}",
                "ab".repeat(16)
            )
        );
        assert_eq!(LoginChallenge::parse(&text).unwrap(), challenge);
        challenge.check(ISSUER, NOW + 299_999).unwrap();

        let key = PrivateKey::from_bytes([5; 32], Network::Mainnet, true).unwrap();
        let signature = STANDARD.encode(sigil_core::bsm::sign(text.as_bytes(), &key).to_bytes());
        assert_eq!(recover_signer(&text, &signature).unwrap(), key.public_key());
        // The same signature over another challenge recovers another key.
        let other = LoginChallenge::new(ISSUER, [0xac; 16], NOW).message();
        assert_ne!(
            recover_signer(&other, &signature).ok(),
            Some(key.public_key())
        );
        let uncompressed = PrivateKey::from_bytes([5; 32], Network::Mainnet, false).unwrap();
        let old_header =
            STANDARD.encode(sigil_core::bsm::sign(text.as_bytes(), &uncompressed).to_bytes());
        assert!(recover_signer(&text, &old_header).is_err());
    }

    #[test]
    fn refusals() {
        let challenge = LoginChallenge::new(ISSUER, [1; 16], NOW);
        assert!(
            challenge
                .check("https://other.example", NOW)
                .unwrap_err()
                .error_description
                .contains("names issuer")
        );
        assert!(
            challenge
                .check(ISSUER, NOW + 300_000)
                .unwrap_err()
                .error_description
                .contains("expired")
        );
        assert!(challenge.check(ISSUER, NOW - 60_001).is_err());
        for bad in [
            "sigil-login:v2\nissuer:x\nnonce:00\nissued-at:1".to_owned(),
            challenge.message().replace("nonce:", "nonce:0"),
            format!("{}\n", challenge.message()),
            challenge
                .message()
                .replace(&NOW.to_string(), &format!("0{NOW}")),
        ] {
            assert!(LoginChallenge::parse(&bad).is_err(), "{bad:?}");
        }
        assert!(recover_signer("x", "not base64!").is_err());
    }
}
