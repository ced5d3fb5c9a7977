//! ES256 (ECDSA over P-256 with SHA-256) keys for access tokens (docs/protocol.md
//! §4, 5, 13), on aws-lc-rs.
//!
//! [`Es256SigningKey`] is parsed once from PKCS#8 and kept: parsing costs
//! about 9 µs, signing about 15 µs (measured when the crate was chosen: docs/decisions/0004-hand-written-jwt.md).
//! [`Es256VerifyingKey`] holds a parsed public key, so checking a token
//! does not parse the key again.
//!
//! Signatures are the 64-byte IEEE P1363 form `r ‖ s` that JWS uses
//! (RFC 7518 section 3.4), never DER. High-S signatures are valid: JWS has
//! no low-S rule.

use std::fmt;

use aws_lc_rs::agreement;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
    ParsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::error::{Error, Result, TokenRefusal};
use crate::hash::sha256;
use crate::jwks::Jwk;

/// The P-256 field prime p, big-endian.
const FIELD_PRIME: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
];

/// The P-256 group order n, big-endian.
const GROUP_ORDER: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
];

/// Length of an ES256 signature (`r ‖ s`, 32 bytes each).
pub const SIGNATURE_LEN: usize = 64;

/// Whether a 32-byte big-endian integer is in [1, n − 1] for P-256.
fn in_scalar_range(value: &[u8]) -> bool {
    value.iter().any(|&b| b != 0) && value < GROUP_ORDER.as_slice()
}

/// Makes a PKCS#8 v1 document for the P-256 private scalar `random`.
///
/// Pure: the same 32 bytes give the same key. The caller draws them from
/// the OS CSPRNG (security catalogue B9) and wipes both its copy and the
/// returned document when done; sigil-core never reads randomness itself.
///
/// # Errors
/// [`Error::SigningKey`] when the bytes are 0 or not below the group order
/// (probability about 2⁻³²): draw again.
pub fn generate_pkcs8(random: &[u8; 32]) -> Result<Vec<u8>> {
    if !in_scalar_range(random) {
        return Err(Error::SigningKey(
            "the random bytes are not a P-256 scalar in [1, n-1]; draw again".into(),
        ));
    }
    let refused = |what: &str| Error::SigningKey(format!("{what} failed"));
    let private = agreement::PrivateKey::from_private_key(&agreement::ECDH_P256, random)
        .map_err(|_| refused("P-256 scalar import"))?;
    let public = private
        .compute_public_key()
        .map_err(|_| refused("P-256 public key computation"))?;
    let pair = EcdsaKeyPair::from_private_key_and_public_key(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        random,
        public.as_ref(),
    )
    .map_err(|_| refused("P-256 key pair construction"))?;
    let document = pair.to_pkcs8v1().map_err(|_| refused("PKCS#8 encoding"))?;
    Ok(document.as_ref().to_vec())
}

/// The issuer's ES256 signing key, parsed once from PKCS#8.
///
/// `Debug` shows the `kid` only, never key material.
pub struct Es256SigningKey {
    pair: EcdsaKeyPair,
    public: Es256VerifyingKey,
    kid: String,
}

impl Es256SigningKey {
    /// Parses an unencrypted PKCS#8 v1 or v2 P-256 private key (DER).
    ///
    /// # Errors
    /// [`Error::SigningKey`] when the bytes are not such a key.
    pub fn from_pkcs8(der: &[u8]) -> Result<Self> {
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(|e| {
                Error::SigningKey(format!("not an unencrypted P-256 PKCS#8 private key ({e})"))
            })?;
        let public = Es256VerifyingKey::from_sec1_uncompressed(pair.public_key().as_ref())?;
        let kid = public.thumbprint();
        Ok(Self { pair, public, kid })
    }

    /// The RFC 7638 thumbprint of the public key: the `kid` of every token
    /// this key signs and of its JWKS entry.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half, for verification.
    #[must_use]
    pub fn verifying_key(&self) -> &Es256VerifyingKey {
        &self.public
    }

    /// The public JWK without `x5c`: `kty, crv, x, y, kid, use: "sig", alg: "ES256"`.
    #[must_use]
    pub fn public_jwk(&self) -> Jwk {
        Jwk::for_key(&self.public, &self.kid, Vec::new())
    }

    /// The JWKS entry of docs/protocol.md §5: [`Self::public_jwk`] plus `x5c`,
    /// a self-signed certificate valid from `not_before` (Unix seconds) for
    /// ten years, as standard base64 of its DER (RFC 7517 section 4.7).
    ///
    /// The certificate's signature is randomised: build the entry once when
    /// the key is loaded and serve that.
    ///
    /// # Errors
    /// [`Error::SigningKey`] when `not_before` is past the year 9989 or
    /// signing fails.
    pub fn jwk(&self, not_before: u64) -> Result<Jwk> {
        let der = self.certificate_der(not_before)?;
        Ok(Jwk::for_key(
            &self.public,
            &self.kid,
            vec![STANDARD.encode(der)],
        ))
    }

    /// The JWKS entry of docs/protocol.md §5 with a certificate made
    /// earlier (by [`Self::certificate_der`], and stored with the key) as
    /// `x5c`, so every holder of the key publishes the same bytes.
    ///
    /// # Errors
    /// [`Error::SigningKey`] when `der` does not carry this key's public
    /// point (another key's certificate, or not a certificate).
    pub fn jwk_with_certificate(&self, der: &[u8]) -> Result<Jwk> {
        let point = self.public.to_sec1_uncompressed();
        if !der.windows(point.len()).any(|window| window == point) {
            return Err(Error::SigningKey(
                "the stored certificate does not carry this key".into(),
            ));
        }
        Ok(Jwk::for_key(
            &self.public,
            &self.kid,
            vec![STANDARD.encode(der)],
        ))
    }

    /// A self-signed X.509 v3 certificate (DER) of this key, valid from
    /// `not_before` (Unix seconds) for ten years; subject and issuer
    /// `CN=sigil <kid>`, serial number from the `kid`.
    ///
    /// # Errors
    /// As [`Self::jwk`].
    pub fn certificate_der(&self, not_before: u64) -> Result<Vec<u8>> {
        crate::x509::self_signed(self, not_before)
    }

    /// Signs `message` with ECDSA P-256 / SHA-256; the 64-byte `r ‖ s`.
    ///
    /// aws-lc-rs has no deterministic ECDSA: the nonce comes from AWS-LC's
    /// own generator (the `SystemRandom` handed over is ignored by it), so
    /// two signatures of one message differ and both verify.
    ///
    /// # Errors
    /// [`Error::SigningKey`] if AWS-LC reports a failure (it does not for a
    /// parsed key, short of running out of memory or randomness).
    pub fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN]> {
        let signature = self
            .pair
            .sign(&SystemRandom::new(), message)
            .map_err(|_| Error::SigningKey("ECDSA P-256 signing failed".into()))?;
        signature
            .as_ref()
            .try_into()
            .map_err(|_| Error::SigningKey("ECDSA P-256 signature is not 64 bytes".into()))
    }
}

impl fmt::Debug for Es256SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Es256SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A P-256 public key checked once (32-byte coordinates below p, on the
/// curve, not the point at infinity) and kept parsed for ES256 verification.
#[derive(Clone)]
pub struct Es256VerifyingKey {
    parsed: ParsedPublicKey,
    x: [u8; 32],
    y: [u8; 32],
}

impl Es256VerifyingKey {
    /// The key with affine coordinates `x` and `y` (32 bytes each, big-endian).
    ///
    /// # Errors
    /// [`Error::PublicKey`] when a coordinate is not 32 bytes, is not below
    /// the field prime p, or the point is not on P-256 (the point at
    /// infinity has no affine coordinates and is refused with it).
    pub fn from_coordinates(x: &[u8], y: &[u8]) -> Result<Self> {
        let coordinate = |name: &str, value: &[u8]| -> Result<[u8; 32]> {
            let bytes: [u8; 32] = value.try_into().map_err(|_| {
                Error::PublicKey(format!(
                    "P-256 {name} must be 32 bytes, got {}",
                    value.len()
                ))
            })?;
            if bytes >= FIELD_PRIME {
                return Err(Error::PublicKey(format!(
                    "P-256 {name} is not below the field prime"
                )));
            }
            Ok(bytes)
        };
        let x = coordinate("x", x)?;
        let y = coordinate("y", y)?;
        let mut point = [0u8; 65];
        point[0] = 0x04;
        point[1..33].copy_from_slice(&x);
        point[33..].copy_from_slice(&y);
        let parsed = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
            .map_err(|_| Error::PublicKey("not a point on P-256".into()))?;
        Ok(Self { parsed, x, y })
    }

    /// The key from its 65-byte uncompressed SEC1 encoding `04 ‖ x ‖ y`.
    ///
    /// # Errors
    /// [`Error::PublicKey`] for another length or prefix (compressed points
    /// are refused, as in a JWK) or as [`Self::from_coordinates`].
    pub fn from_sec1_uncompressed(point: &[u8]) -> Result<Self> {
        match point.split_first() {
            Some((0x04, xy)) if xy.len() == 64 => Self::from_coordinates(&xy[..32], &xy[32..]),
            _ => Err(Error::PublicKey(
                "P-256 point must be 65 bytes, uncompressed (04 ‖ x ‖ y)".into(),
            )),
        }
    }

    /// The affine x coordinate, big-endian.
    #[must_use]
    pub fn x(&self) -> &[u8; 32] {
        &self.x
    }

    /// The affine y coordinate, big-endian.
    #[must_use]
    pub fn y(&self) -> &[u8; 32] {
        &self.y
    }

    /// The uncompressed SEC1 encoding `04 ‖ x ‖ y`.
    #[must_use]
    pub fn to_sec1_uncompressed(&self) -> [u8; 65] {
        let mut point = [0u8; 65];
        point[0] = 0x04;
        point[1..33].copy_from_slice(&self.x);
        point[33..].copy_from_slice(&self.y);
        point
    }

    /// The RFC 7638 thumbprint: base64url of SHA-256 of
    /// `{"crv":"P-256","kty":"EC","x":"<x>","y":"<y>"}` (those members, that
    /// order, no whitespace).
    #[must_use]
    pub fn thumbprint(&self) -> String {
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(self.x),
            URL_SAFE_NO_PAD.encode(self.y)
        );
        URL_SAFE_NO_PAD.encode(sha256(canonical.as_bytes()))
    }

    /// Verifies a 64-byte `r ‖ s` ES256 signature over `message`.
    ///
    /// DER signatures and any other length are refused; so are r or s equal
    /// to 0 or not below the group order n (CVE-2022-21449). High-S is valid.
    ///
    /// # Errors
    /// [`Error::Token`] naming the reason: wrong length, r or s out of
    /// range, or `signature verification failed`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        if signature.len() != SIGNATURE_LEN {
            return Err(TokenRefusal::SignatureLength {
                len: signature.len(),
            }
            .into());
        }
        let (r, s) = signature.split_at(32);
        if !in_scalar_range(r) || !in_scalar_range(s) {
            return Err(TokenRefusal::SignatureRange.into());
        }
        self.parsed
            .verify_sig(message, signature)
            .map_err(|_| TokenRefusal::Signature.into())
    }
}

impl PartialEq for Es256VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        self.x == other.x && self.y == other.y
    }
}

impl Eq for Es256VerifyingKey {}

impl fmt::Debug for Es256VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Es256VerifyingKey")
            .field("x", &URL_SAFE_NO_PAD.encode(self.x))
            .field("y", &URL_SAFE_NO_PAD.encode(self.y))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// d of `es256_jwt.json`: SHA-256 of its derivation text.
    fn test_scalar() -> [u8; 32] {
        sha256(b"sigil ES256 test issuer key (never use outside tests)")
    }

    #[test]
    fn a_stored_certificate_is_published_as_is_and_only_for_its_key() {
        let key = Es256SigningKey::from_pkcs8(&generate_pkcs8(&test_scalar()).unwrap()).unwrap();
        let other = Es256SigningKey::from_pkcs8(&generate_pkcs8(&[7; 32]).unwrap()).unwrap();
        let der = key.certificate_der(1_700_000_000).unwrap();
        let jwk = key.jwk_with_certificate(&der).unwrap();
        assert_eq!(jwk.x5c, [STANDARD.encode(&der)]);
        // The same bytes every time: nothing is signed again.
        assert_eq!(key.jwk_with_certificate(&der).unwrap(), jwk);
        let theirs = other.certificate_der(1_700_000_000).unwrap();
        assert!(key.jwk_with_certificate(&theirs).is_err(), "another key's");
        assert!(key.jwk_with_certificate(&[]).is_err(), "no bytes");
    }

    #[test]
    fn generated_key_matches_the_vector_jwk_and_kid() {
        let pkcs8 = generate_pkcs8(&test_scalar()).unwrap();
        let key = Es256SigningKey::from_pkcs8(&pkcs8).unwrap();
        let jwk = key.public_jwk();
        assert_eq!(jwk.x, "T9FuYQ-QLipwaWVePxZEREvbyOxMVyKfeSUl1nzLBMc");
        assert_eq!(jwk.y, "ZooY3NOmsI8jcDlSex-fc8L-QIOeuXAKYekzwaRG26U");
        assert_eq!(key.kid(), "MeFfMgxYJMsz5_cT69a8V53p400KwNYhQELpNqyX-Xo");
        assert_eq!(generate_pkcs8(&test_scalar()).unwrap(), pkcs8, "pure");
    }

    #[test]
    fn scalar_range_is_enforced() {
        assert!(generate_pkcs8(&[0; 32]).is_err());
        assert!(generate_pkcs8(&GROUP_ORDER).is_err());
        assert!(generate_pkcs8(&[0xFF; 32]).is_err());
        let mut n_minus_1 = GROUP_ORDER;
        n_minus_1[31] -= 1;
        assert!(generate_pkcs8(&n_minus_1).is_ok());
    }

    #[test]
    fn debug_shows_no_secret() {
        let key = Es256SigningKey::from_pkcs8(&generate_pkcs8(&test_scalar()).unwrap()).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains(key.kid()));
        let d = URL_SAFE_NO_PAD.encode(test_scalar());
        assert!(!shown.contains(&d));
        assert!(!shown.contains("ln5kck1m"));
    }

    #[test]
    fn sign_verify_and_refusals() {
        let key = Es256SigningKey::from_pkcs8(&generate_pkcs8(&test_scalar()).unwrap()).unwrap();
        let public = key.verifying_key();
        let sig = key.sign(b"hello").unwrap();
        public.verify(b"hello", &sig).unwrap();
        assert!(public.verify(b"hellO", &sig).is_err());
        assert!(public.verify(b"hello", &sig[..63]).is_err());
        assert!(public.verify(b"hello", &[0; 64]).is_err());
        let mut s_is_n = sig;
        s_is_n[32..].copy_from_slice(&GROUP_ORDER);
        let err = public.verify(b"hello", &s_is_n).unwrap_err().to_string();
        assert!(err.contains("[1, n-1]"), "{err}");
    }

    #[test]
    fn coordinate_refusals() {
        assert!(Es256VerifyingKey::from_coordinates(&[0; 32], &[0; 32]).is_err());
        assert!(Es256VerifyingKey::from_coordinates(&FIELD_PRIME, &[1; 32]).is_err());
        assert!(Es256VerifyingKey::from_coordinates(&[1; 31], &[1; 32]).is_err());
        assert!(Es256VerifyingKey::from_sec1_uncompressed(&[0x02; 33]).is_err());
    }

    #[test]
    fn pkcs8_refusals() {
        let err = Es256SigningKey::from_pkcs8(b"not a key").unwrap_err();
        assert!(err.to_string().starts_with("signing key: "), "{err}");
    }
}
