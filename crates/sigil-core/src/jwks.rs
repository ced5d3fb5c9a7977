//! JSON Web Keys (RFC 7517): the published form of sigil's signing keys
//! ([`Jwk`], [`Jwks`]) and the checked set a validator verifies with
//! ([`JwkSet`]).
//!
//! Loading a key set enforces security catalogue T12 (RFC 8725 section 3.4):
//! only `kty: "EC"`, `crv: "P-256"`, `alg` absent or `ES256`, `use` absent or
//! `sig`, `key_ops` absent or containing `verify`; `x` and `y` exactly 32
//! bytes of unpadded base64url, below p and on the curve; a `kid` on every
//! key and no `kid` twice; never a private member `d`. One bad key refuses
//! the whole document, so the caller keeps its previous good set.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::es256::Es256VerifyingKey;
use crate::json::{parse_object, quoted};
use crate::jws::decode_base64url;

/// A public EC JWK as sigil publishes it (docs/protocol.md §5), members in the
/// order written: `kty, crv, x, y, kid, use, alg, x5c`.
///
/// This is the output form. To load keys for verification use
/// [`JwkSet::from_json`], which applies the T12 checks; deserialising a
/// `Jwk` checks nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: `EC`.
    pub kty: String,
    /// Curve: `P-256`.
    pub crv: String,
    /// x coordinate, unpadded base64url of 32 bytes.
    pub x: String,
    /// y coordinate, unpadded base64url of 32 bytes.
    pub y: String,
    /// RFC 7638 thumbprint of the key.
    pub kid: String,
    /// Public key use: `sig`.
    #[serde(rename = "use")]
    pub key_use: String,
    /// Algorithm: `ES256`.
    pub alg: String,
    /// Standard base64 of the DER of a self-signed certificate of the key
    /// (RFC 7517 section 4.7); absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub x5c: Vec<String>,
}

impl Jwk {
    /// The JWK of `key` under `kid`, with `x5c` as given.
    pub(crate) fn for_key(key: &Es256VerifyingKey, kid: &str, x5c: Vec<String>) -> Self {
        Self {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: URL_SAFE_NO_PAD.encode(key.x()),
            y: URL_SAFE_NO_PAD.encode(key.y()),
            kid: kid.into(),
            key_use: "sig".into(),
            alg: "ES256".into(),
            x5c,
        }
    }
}

/// A JWKS document, `{"keys": [...]}`: what `/.well-known/jwks.json` serves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    /// The keys, current one first by convention.
    pub keys: Vec<Jwk>,
}

/// The verification keys of one issuer, by `kid`: every key passed the T12
/// checks. A token's `kid` is only ever a lookup key into this map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwkSet {
    keys: BTreeMap<String, Es256VerifyingKey>,
}

impl JwkSet {
    /// Loads a JWKS document (`{"keys": [...]}`, UTF-8 JSON).
    ///
    /// # Errors
    /// [`Error::Jwks`] naming the first refused key and why; the document
    /// is refused as a whole (duplicate members anywhere, no `keys` array, an
    /// empty set, or any key failing the checks of this module's summary).
    pub fn from_json(document: &[u8]) -> Result<Self> {
        let top = parse_object(document).map_err(|e| Error::Jwks(format!("document: {e}")))?;
        let Some(Value::Array(entries)) = top.get("keys") else {
            return Err(Error::Jwks("document: keys must be an array".into()));
        };
        if entries.is_empty() {
            return Err(Error::Jwks("document: keys is empty".into()));
        }
        let keys = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| parse_key(entry).map_err(|e| Error::Jwks(format!("key {i}: {e}"))))
            .collect::<Result<Vec<_>>>()?;
        Self::from_keys(keys)
    }

    /// A set made of already-checked keys, such as the issuer's own
    /// (`(key.kid().to_owned(), key.verifying_key().clone())`).
    ///
    /// # Errors
    /// [`Error::Jwks`] when a `kid` appears twice.
    pub fn from_keys(keys: impl IntoIterator<Item = (String, Es256VerifyingKey)>) -> Result<Self> {
        let mut map = BTreeMap::new();
        for (kid, key) in keys {
            if map.contains_key(&kid) {
                return Err(Error::Jwks(format!("duplicate kid {}", quoted(&kid))));
            }
            map.insert(kid, key);
        }
        Ok(Self { keys: map })
    }

    /// The key with this `kid`, if any.
    #[must_use]
    pub fn get(&self, kid: &str) -> Option<&Es256VerifyingKey> {
        self.keys.get(kid)
    }

    /// The `kid`s of the set, in sorted order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// How many keys the set holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// One JWKS entry checked against T12; the error is the bare reason.
fn parse_key(entry: &Value) -> std::result::Result<(String, Es256VerifyingKey), String> {
    let Value::Object(members) = entry else {
        return Err("not a JSON object".into());
    };
    let kid = match members.get("kid") {
        Some(Value::String(kid)) if !kid.is_empty() => kid.clone(),
        Some(_) => return Err("kid must be a non-empty string".into()),
        None => return Err("kid missing".into()),
    };
    let with_kid = |reason: &str| format!("kid {}: {reason}", quoted(&kid));
    if members.contains_key("d") {
        return Err(with_kid("a private key (member d) is never accepted"));
    }
    required_equal(members, "kty", "EC").map_err(|e| with_kid(&e))?;
    required_equal(members, "crv", "P-256").map_err(|e| with_kid(&e))?;
    optional_equal(members, "alg", "ES256").map_err(|e| with_kid(&e))?;
    optional_equal(members, "use", "sig").map_err(|e| with_kid(&e))?;
    match members.get("key_ops") {
        None => {}
        Some(Value::Array(ops))
            if ops.iter().all(Value::is_string) && ops.iter().any(|op| op == "verify") => {}
        Some(_) => {
            return Err(with_kid(
                "key_ops must be an array of strings containing \"verify\"",
            ));
        }
    }
    let x = coordinate(members, "x").map_err(|e| with_kid(&e))?;
    let y = coordinate(members, "y").map_err(|e| with_kid(&e))?;
    let key = Es256VerifyingKey::from_coordinates(&x, &y).map_err(|e| with_kid(&e.to_string()))?;
    Ok((kid, key))
}

/// A required member that must equal `want`.
fn required_equal(
    members: &Map<String, Value>,
    name: &str,
    want: &str,
) -> std::result::Result<(), String> {
    match members.get(name) {
        Some(Value::String(got)) if got == want => Ok(()),
        _ => Err(format!("{name} must be \"{want}\"")),
    }
}

/// An optional member that, when present, must equal `want`.
fn optional_equal(
    members: &Map<String, Value>,
    name: &str,
    want: &str,
) -> std::result::Result<(), String> {
    match members.get(name) {
        None => Ok(()),
        Some(Value::String(got)) if got == want => Ok(()),
        Some(_) => Err(format!("{name} must be absent or \"{want}\"")),
    }
}

/// `x` or `y`: unpadded base64url of exactly 32 bytes.
fn coordinate(members: &Map<String, Value>, name: &str) -> std::result::Result<Vec<u8>, String> {
    let Some(Value::String(text)) = members.get(name) else {
        return Err(format!("{name} must be a string"));
    };
    let bytes = decode_base64url(text).map_err(|e| format!("{name}: {e}"))?;
    if bytes.len() != 32 {
        return Err(format!("{name} must be 32 bytes, got {}", bytes.len()));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: &str = "T9FuYQ-QLipwaWVePxZEREvbyOxMVyKfeSUl1nzLBMc";
    const Y: &str = "ZooY3NOmsI8jcDlSex-fc8L-QIOeuXAKYekzwaRG26U";
    const KID: &str = "MeFfMgxYJMsz5_cT69a8V53p400KwNYhQELpNqyX-Xo";

    fn doc(extra: &str) -> String {
        format!(
            r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","kid":"{KID}"{extra}}}]}}"#
        )
    }

    fn refused(document: &str, reason: &str) {
        let err = JwkSet::from_json(document.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("jwks: "), "{err}");
        assert!(
            err.contains(reason),
            "{document}\n→ {err}\n(want {reason:?})"
        );
    }

    #[test]
    fn rfc7638_thumbprint_of_the_formats_vector() {
        let set = JwkSet::from_json(doc("").as_bytes()).unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(set.get(KID).unwrap().thumbprint(), KID);
    }

    #[test]
    fn accepted_optional_members() {
        for extra in [
            r#","use":"sig","alg":"ES256""#,
            r#","key_ops":["verify"]"#,
            r#","key_ops":["sign","verify"]"#,
            r#","x5c":["AAAA"],"x5t":"abc","x5u":"https://evil.example/x""#,
        ] {
            assert!(JwkSet::from_json(doc(extra).as_bytes()).is_ok(), "{extra}");
        }
    }

    #[test]
    fn t12_refusals_each_with_its_reason() {
        refused(
            &doc(r#","d":"ln5kck1m9OlXGgsyvXpuCaoQySgBMkkt8NBrRdtFMy0""#),
            "member d",
        );
        refused(&doc(r#","use":"enc""#), "use must be absent or \"sig\"");
        refused(
            &doc(r#","key_ops":["encrypt"]"#),
            "key_ops must be an array of strings containing",
        );
        refused(&doc(r#","key_ops":"verify""#), "containing \"verify\"");
        refused(&doc(r#","key_ops":["verify",1]"#), "key_ops must be");
        refused(&doc(r#","alg":"ES384""#), "alg must be absent or \"ES256\"");
        refused(&doc(r#","alg":"none""#), "alg must be absent");
        refused(&doc(r#","kid":"again""#), "duplicate member \"kid\"");
        let other = |from: &str, to: &str| doc("").replacen(from, to, 1);
        refused(&other("\"EC\"", "\"RSA\""), "kty must be \"EC\"");
        refused(&other("P-256", "P-384"), "crv must be \"P-256\"");
        refused(&other(X, &X[..40]), "x must be 32 bytes, got 30");
        refused(&other(X, &format!("{X}=")), "x: ");
        refused(&other(Y, &Y.replace('-', "+")), "y: ");
        refused(
            &other(Y, "ZooY3NOmsI8jcDlSex-fc8L-QIOeuXAKYekzwaRG26Q"),
            "not a point on P-256",
        );
        let zero = URL_SAFE_NO_PAD.encode([0u8; 32]);
        refused(
            &other(X, &zero).replacen(Y, &zero, 1),
            "not a point on P-256",
        );
        let p = "_____wAAAAEAAAAAAAAAAAAAAAD_______________8";
        refused(&other(X, p), "not below the field prime");
        refused(
            &doc("").replacen(&format!(r#","kid":"{KID}""#), "", 1),
            "kid missing",
        );
        refused(r#"{"keys":[]}"#, "keys is empty");
        refused(r#"{"kty":"EC"}"#, "keys must be an array");
        refused("{\"keys\":[1]}", "not a JSON object");
    }

    #[test]
    fn duplicate_kid_and_mixed_sets_are_refused() {
        let entry = format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","kid":"{KID}"}}"#);
        refused(&format!(r#"{{"keys":[{entry},{entry}]}}"#), "duplicate kid");
        let oct = r#"{"kty":"oct","k":"AAAA","kid":"hmac"}"#;
        refused(
            &format!(r#"{{"keys":[{entry},{oct}]}}"#),
            "key 1: kid \"hmac\": kty",
        );
    }

    #[test]
    fn published_jwk_member_order() {
        let jwk = Jwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: X.into(),
            y: Y.into(),
            kid: KID.into(),
            key_use: "sig".into(),
            alg: "ES256".into(),
            x5c: vec!["MIIB".into()],
        };
        assert_eq!(
            serde_json::to_string(&Jwks { keys: vec![jwk] }).unwrap(),
            format!(
                r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","kid":"{KID}","use":"sig","alg":"ES256","x5c":["MIIB"]}}]}}"#
            )
        );
    }
}
