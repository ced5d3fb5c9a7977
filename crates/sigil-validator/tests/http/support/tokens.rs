//! Keys and tokens: the fixed key of es256_jwt.json, other keys, and
//! tokens with any header and claims text, signed for real.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sigil_core::es256::generate_pkcs8;
use sigil_core::{Es256SigningKey, PublicKey};

use super::{AUDIENCE, IAT, ISSUER, SUB, load};

/// The P-256 group order n, big-endian.
pub const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// The es256_jwt.json test key, from its private scalar `d`.
pub fn fixed_key() -> Es256SigningKey {
    let d = load("es256_jwt.json")["key"]["jwk_private_for_tests_only"]["d"]
        .as_str()
        .unwrap()
        .to_owned();
    let d: [u8; 32] = unb64(&d).try_into().unwrap();
    Es256SigningKey::from_pkcs8(&generate_pkcs8(&d).unwrap()).unwrap()
}

/// Another P-256 key, made from `seed`.
pub fn other_key(seed: u8) -> Es256SigningKey {
    Es256SigningKey::from_pkcs8(&generate_pkcs8(&[seed; 32]).unwrap()).unwrap()
}

/// The header sigil issues for `key`.
pub fn header_of(key: &Es256SigningKey) -> String {
    format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{}"}}"#, key.kid())
}

/// docs/protocol.md §4 claims for [`SUB`], [`ISSUER`], [`AUDIENCE`], issued at `iat`.
pub fn claims(iat: u64) -> Value {
    json!({
        "iss": ISSUER,
        "sub": SUB,
        "aud": AUDIENCE,
        "client_id": SUB,
        "iat": iat,
        "nbf": iat,
        "exp": iat + 1800,
        "jti": "AAAAAAAAAAAAAAAAAAAAAA",
        "address": PublicKey::from_hex(SUB).unwrap().to_address().to_string(),
    })
}

/// `base64url(header) . base64url(claims) . base64url(ES256 by key)`, for
/// any header and claims bytes.
pub fn sign_raw(key: &Es256SigningKey, header: &[u8], claims: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(signature))
}

/// A token of `key` with its usual header and these claims.
pub fn token_of(key: &Es256SigningKey, claims: &Value) -> String {
    sign_raw(
        key,
        header_of(key).as_bytes(),
        claims.to_string().as_bytes(),
    )
}

/// A token of the fixed key with these claims.
pub fn token(claims: &Value) -> String {
    token_of(&fixed_key(), claims)
}

/// A token of the fixed key with this header text and the usual claims.
pub fn token_with_header(header: &str) -> String {
    sign_raw(
        &fixed_key(),
        header.as_bytes(),
        claims(IAT).to_string().as_bytes(),
    )
}

/// A good token issued 10 s before `now_ms` (for tests that move the clock
/// past the vectors' lifetime).
pub fn fresh_token(now_ms: u64) -> String {
    token(&claims(now_ms / 1000 - 10))
}

/// The good token: fixed key, usual header, claims at [`IAT`].
pub fn good_token() -> String {
    token(&claims(IAT))
}

/// The claims at [`IAT`] with `name` set to `value` (or removed for `None`).
pub fn claims_with(name: &str, value: Option<Value>) -> Value {
    let mut claims = claims(IAT);
    let object = claims.as_object_mut().unwrap();
    match value {
        Some(value) => {
            object.insert(name.to_owned(), value);
        }
        None => {
            object.remove(name);
        }
    }
    claims
}

/// The token with its signature segment replaced by `signature`.
pub fn with_signature(token: &str, signature: &[u8]) -> String {
    let (input, _) = token.rsplit_once('.').unwrap();
    format!("{input}.{}", b64(signature))
}

/// The `r ‖ s` of a token.
pub fn signature_of(token: &str) -> Vec<u8> {
    unb64(token.rsplit_once('.').unwrap().1)
}

/// `a - b` for 32-byte big-endian integers (`a >= b`).
pub fn sub_be(a: &[u8; 32], b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = u8::try_from(d).unwrap();
    }
    assert_eq!(borrow, 0, "a < b");
    out
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` of a 64-byte `r ‖ s`.
pub fn der_of(signature: &[u8]) -> Vec<u8> {
    let integer = |bytes: &[u8]| {
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
        let mut body = if trimmed.first().is_some_and(|&b| b >= 0x80) {
            vec![0]
        } else {
            vec![]
        };
        body.extend(trimmed);
        let mut out = vec![0x02, u8::try_from(body.len()).unwrap()];
        out.extend(body);
        out
    };
    let mut content = integer(&signature[..32]);
    content.extend(integer(&signature[32..]));
    let mut out = vec![0x30, u8::try_from(content.len()).unwrap()];
    out.extend(content);
    out
}
