//! JWS compact serialization with ES256 only (RFC 7515, RFC 7518 section
//! 3.4), checked as RFC 8725 asks: the signature layer under
//! [`crate::jwt::validate`].
//!
//! In this order, each failure its own [`Error`]: at most
//! [`MAX_TOKEN_LEN`] bytes; exactly three segments; each segment unpadded
//! base64url (no `=`, `+`, `/`, whitespace; canonical trailing bits); the
//! header valid UTF-8 JSON with no duplicate members; `alg` exactly `ES256`
//! (so `none`, `HS256`, `ES384`… never reach a key); no `crit`; `kid` a
//! string that names a key of the [`JwkSet`] (only ever a map lookup);
//! the signature exactly 64 bytes `r ‖ s` that verifies with that key.
//! `jku`, `x5u`, `x5c` and `jwk` in a header are ignored: nothing is fetched
//! and no key is taken from a token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::{Error, Result, TokenRefusal};
use crate::json::parse_object;
use crate::jwks::JwkSet;

/// The longest token accepted, in bytes, checked before anything else.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The one algorithm sigil issues and accepts (docs/protocol.md §4).
pub const ALG: &str = "ES256";

/// A JWS whose ES256 signature verified with a key of the set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedJws {
    /// The header's `kid`: the key that verified the signature.
    pub kid: String,
    /// The protected header's members.
    pub header: Map<String, Value>,
    /// The decoded payload bytes (not yet parsed).
    pub payload: Vec<u8>,
}

/// Checks a compact JWS and its ES256 signature; does not look at `typ`
/// or at the payload. Access tokens go through [`crate::jwt::validate`],
/// which adds `typ` and every claim check.
///
/// # Errors
/// [`Error::Token`] naming the first failed check (see the module
/// summary), [`TokenRefusal::UnknownKid`] when the `kid` is not in `keys`: the
/// caller may then refresh its key set once and try again.
pub fn verify(token: &str, keys: &JwkSet) -> Result<VerifiedJws> {
    verify_typed(token, keys, None)
}

/// [`verify`], also requiring the header's `typ` to equal `typ` exactly when
/// given (checked before the signature).
pub(crate) fn verify_typed(
    token: &str,
    keys: &JwkSet,
    typ: Option<&'static str>,
) -> Result<VerifiedJws> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenRefusal::TooLong {
            len: token.len(),
            max: MAX_TOKEN_LEN,
        }
        .into());
    }
    let segments: Vec<&str> = token.split('.').collect();
    let [header_b64, payload_b64, signature_b64] = segments[..] else {
        return Err(TokenRefusal::Segments {
            got: segments.len(),
        }
        .into());
    };
    let segment = |segment: &'static str, text: &str| {
        decode_base64url(text).map_err(|e| {
            Error::from(TokenRefusal::Segment {
                segment,
                reason: e.to_string(),
            })
        })
    };
    let header_bytes = segment("header", header_b64)?;
    let header = parse_object(&header_bytes).map_err(|reason| {
        Error::from(TokenRefusal::Json {
            part: "header",
            reason,
        })
    })?;
    check_header(&header, typ)?;
    let kid = match header.get("kid") {
        Some(Value::String(kid)) => kid.clone(),
        Some(_) => return Err(TokenRefusal::NotAString { name: "kid" }.into()),
        None => return Err(TokenRefusal::Missing { name: "kid" }.into()),
    };
    let key = keys.get(&kid).ok_or_else(|| TokenRefusal::UnknownKid {
        kid: kid.clone(),
        issuer: None,
    })?;
    let payload = segment("payload", payload_b64)?;
    let signature = segment("signature", signature_b64)?;
    let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
    key.verify(signing_input.as_bytes(), &signature)?;
    Ok(VerifiedJws {
        kid,
        header,
        payload,
    })
}

/// `alg`, `crit` and (when asked) `typ`.
fn check_header(header: &Map<String, Value>, typ: Option<&'static str>) -> Result<()> {
    match header.get("alg") {
        Some(Value::String(alg)) if alg == ALG => {}
        _ => return Err(TokenRefusal::Alg.into()),
    }
    if header.contains_key("crit") {
        return Err(TokenRefusal::Crit.into());
    }
    if let Some(want) = typ {
        match header.get("typ") {
            Some(Value::String(got)) if got == want => {}
            _ => return Err(TokenRefusal::Typ { expected: want }.into()),
        }
    }
    Ok(())
}

/// Decodes unpadded base64url (RFC 7515 section 2) strictly: only
/// `A–Z a–z 0–9 - _`, no padding, canonical trailing bits.
pub(crate) fn decode_base64url(text: &str) -> std::result::Result<Vec<u8>, String> {
    let allowed = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
    if let Some(bad) = text.bytes().find(|b| !allowed(b)) {
        return Err(match bad {
            b'=' => "padding \"=\" is not allowed (unpadded base64url)".into(),
            b'+' | b'/' => "\"+\" and \"/\" are not base64url (use \"-\" and \"_\")".into(),
            _ => "not base64url".into(),
        });
    }
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| "not canonical base64url".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_is_strict() {
        assert_eq!(decode_base64url("Zm9v").unwrap(), b"foo");
        assert_eq!(decode_base64url("").unwrap(), b"");
        assert!(decode_base64url("Zm9v=").unwrap_err().contains("padding"));
        assert!(decode_base64url("Zm+v").unwrap_err().contains("\"+\""));
        assert!(decode_base64url("Zm/v").is_err());
        assert!(decode_base64url("Zm9 v").is_err());
        assert!(decode_base64url("Z").is_err(), "impossible length");
        assert!(
            decode_base64url("AB").unwrap_err().contains("canonical"),
            "non-zero trailing bits"
        );
        assert!(decode_base64url("AA").is_ok());
    }

    #[test]
    fn header_rules() {
        let header = |json: &str| parse_object(json.as_bytes()).unwrap();
        let ok = header(r#"{"alg":"ES256","typ":"at+jwt","kid":"k"}"#);
        assert!(check_header(&ok, Some("at+jwt")).is_ok());
        assert!(check_header(&header(r#"{"alg":"ES256"}"#), None).is_ok());
        for (json, reason) in [
            (r#"{"alg":"none"}"#, "alg must be ES256"),
            (r#"{"alg":"es256"}"#, "alg must be ES256"),
            (r#"{"alg":["ES256"]}"#, "alg must be ES256"),
            (r#"{"typ":"at+jwt"}"#, "alg must be ES256"),
            (r#"{"alg":"ES256","crit":[]}"#, "crit header not supported"),
            (r#"{"alg":"ES256","typ":"JWT"}"#, "typ must be at+jwt"),
            (r#"{"alg":"ES256","typ":"AT+JWT"}"#, "typ must be at+jwt"),
            (r#"{"alg":"ES256"}"#, "typ must be at+jwt"),
        ] {
            let err = check_header(&header(json), Some("at+jwt")).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("invalid token: {reason}"),
                "{json}"
            );
        }
    }
}
