//! The self-signed X.509 v3 certificate published as `x5c` in the JWKS
//! (docs/protocol.md §5, RFC 7517 section 4.7, RFC 5280).
//!
//! Built by hand with [`crate::der`]: subject = issuer = `CN=sigil <kid>`,
//! serial number from the `kid`, subjectPublicKeyInfo id-ecPublicKey on
//! prime256v1, signature ecdsa-with-SHA256, extensions subjectKeyIdentifier,
//! authorityKeyIdentifier and basicConstraints (as `openssl req -x509` makes
//! them). Nothing in sigil reads the certificate back; it exists for
//! validators that take their key from `x5c[0]`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::der::{self, BOOLEAN, GENERALIZED_TIME, OCTET_STRING, SET, UTC_TIME, UTF8_STRING};
use crate::error::{Error, Result};
use crate::es256::Es256SigningKey;
use crate::hash::sha256;
use crate::timestamp::format_iso_ms;

/// ecdsa-with-SHA256, 1.2.840.10045.4.3.2.
const ECDSA_WITH_SHA256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
/// id-ecPublicKey, 1.2.840.10045.2.1.
const ID_EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
/// prime256v1 (P-256), 1.2.840.10045.3.1.7.
const PRIME256V1: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
/// commonName, 2.5.4.3.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
/// subjectKeyIdentifier, 2.5.29.14.
const SUBJECT_KEY_IDENTIFIER: &[u8] = &[0x55, 0x1D, 0x0E];
/// authorityKeyIdentifier, 2.5.29.35.
const AUTHORITY_KEY_IDENTIFIER: &[u8] = &[0x55, 0x1D, 0x23];
/// basicConstraints, 2.5.29.19.
const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1D, 0x13];

/// How long the certificate is valid: ten years of 365.2 days.
pub(crate) const VALIDITY_S: u64 = 3652 * 86_400;

/// 9999-12-31T23:59:59Z, the last instant an X.509 time can name.
const LAST_X509_TIME: u64 = 253_402_300_799;

/// The DER certificate of `key`, valid from `not_before` for [`VALIDITY_S`].
pub(crate) fn self_signed(key: &Es256SigningKey, not_before: u64) -> Result<Vec<u8>> {
    let not_after = not_before
        .checked_add(VALIDITY_S)
        .filter(|&t| t <= LAST_X509_TIME)
        .ok_or_else(|| {
            Error::SigningKey("certificate not_before is too far in the future".into())
        })?;
    let point = key.verifying_key().to_sec1_uncompressed();
    let algorithm = der::sequence(&[&der::oid(ECDSA_WITH_SHA256)]);
    let name = name(key.kid());
    let validity = der::sequence(&[&time(not_before), &time(not_after)]);
    let spki = der::sequence(&[
        &der::sequence(&[&der::oid(ID_EC_PUBLIC_KEY), &der::oid(PRIME256V1)]),
        &der::bit_string(&point),
    ]);
    let tbs = der::sequence(&[
        &der::explicit(0, &der::unsigned_integer(&[2])),
        &serial(key.kid()),
        &algorithm,
        &name,
        &validity,
        &name,
        &spki,
        &der::explicit(3, &extensions(&point)),
    ]);
    let signature = key.sign(&tbs)?;
    let (r, s) = signature.split_at(32);
    let signature_der = der::sequence(&[&der::unsigned_integer(r), &der::unsigned_integer(s)]);
    Ok(der::sequence(&[
        &tbs,
        &algorithm,
        &der::bit_string(&signature_der),
    ]))
}

/// `CN=sigil <kid>` as a one-RDN `Name`.
fn name(kid: &str) -> Vec<u8> {
    let common_name = format!("sigil {kid}");
    let attribute = der::sequence(&[
        &der::oid(COMMON_NAME),
        &der::tlv(UTF8_STRING, common_name.as_bytes()),
    ]);
    der::sequence(&[&der::tlv(SET, &attribute)])
}

/// A positive serial number of at most 16 bytes, taken from the `kid`
/// (which is itself base64url of a SHA-256, so unique per key).
fn serial(kid: &str) -> Vec<u8> {
    let digest = URL_SAFE_NO_PAD
        .decode(kid)
        .unwrap_or_else(|_| sha256(kid.as_bytes()).to_vec());
    let mut bytes = [0u8; 16];
    for (out, b) in bytes.iter_mut().zip(digest) {
        *out = b;
    }
    bytes[0] &= 0x7F;
    if bytes.iter().all(|&b| b == 0) {
        bytes[15] = 1;
    }
    der::unsigned_integer(&bytes)
}

/// UTCTime for the years 1950–2049, GeneralizedTime after (RFC 5280
/// section 4.1.2.5), always in UTC with seconds and `Z`.
fn time(unix_s: u64) -> Vec<u8> {
    // "YYYY-MM-DDTHH:MM:SS.mmmZ" → "YYYYMMDDHHMMSS"; callers keep the year
    // at four digits (LAST_X509_TIME), so the multiplication cannot overflow.
    let iso = format_iso_ms(unix_s * 1000);
    let digits: String = iso[..19].chars().filter(char::is_ascii_digit).collect();
    if digits.as_str() < "2050" {
        der::tlv(UTC_TIME, format!("{}Z", &digits[2..]).as_bytes())
    } else {
        der::tlv(GENERALIZED_TIME, format!("{digits}Z").as_bytes())
    }
}

/// subjectKeyIdentifier, authorityKeyIdentifier (the same identifier: the
/// certificate is self-signed) and basicConstraints (critical, cA TRUE).
fn extensions(point: &[u8]) -> Vec<u8> {
    // RFC 7093 section 2 method 1: leftmost 160 bits of SHA-256 of the key.
    let key_id = &sha256(point)[..20];
    let ski = der::sequence(&[
        &der::oid(SUBJECT_KEY_IDENTIFIER),
        &der::tlv(OCTET_STRING, &der::tlv(OCTET_STRING, key_id)),
    ]);
    let aki = der::sequence(&[
        &der::oid(AUTHORITY_KEY_IDENTIFIER),
        &der::tlv(OCTET_STRING, &der::sequence(&[&der::tlv(0x80, key_id)])),
    ]);
    let basic = der::sequence(&[
        &der::oid(BASIC_CONSTRAINTS),
        &der::tlv(BOOLEAN, &[0xFF]),
        &der::tlv(OCTET_STRING, &der::sequence(&[&der::tlv(BOOLEAN, &[0xFF])])),
    ]);
    der::sequence(&[&ski, &aki, &basic])
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};

    use super::*;
    use crate::der::{BIT_STRING, INTEGER, SEQUENCE, read, read_all};
    use crate::es256::generate_pkcs8;

    fn key() -> Es256SigningKey {
        let d = sha256(b"sigil ES256 test issuer key (never use outside tests)");
        Es256SigningKey::from_pkcs8(&generate_pkcs8(&d).unwrap()).unwrap()
    }

    /// The items of the single constructed value that is all of `der`.
    fn items(der: &[u8]) -> Vec<der::Tlv<'_>> {
        let (outer, rest) = read(der).unwrap();
        assert!(rest.is_empty(), "trailing bytes");
        assert_eq!(outer.tag, SEQUENCE);
        read_all(outer.content).unwrap()
    }

    #[test]
    fn certificate_parses_back_and_its_signature_verifies() {
        let key = key();
        let cert = key.certificate_der(1_700_000_000).unwrap();
        let top = items(&cert);
        assert_eq!(
            top.len(),
            3,
            "tbsCertificate, signatureAlgorithm, signatureValue"
        );
        let (tbs, algorithm, signature) = (top[0], top[1], top[2]);
        assert_eq!(algorithm.content, der::oid(ECDSA_WITH_SHA256));
        assert_eq!(signature.tag, BIT_STRING);
        assert_eq!(signature.content[0], 0, "no unused bits");

        let fields = items(tbs.raw);
        assert_eq!(fields.len(), 8);
        assert_eq!(fields[0].raw, [0xA0, 0x03, 0x02, 0x01, 0x02], "v3");
        assert_eq!(fields[1].tag, INTEGER);
        assert!(fields[1].content[0] & 0x80 == 0, "positive serial");
        assert_eq!(fields[2].raw, algorithm.raw);
        assert_eq!(fields[3].raw, fields[5].raw, "self-issued");
        let cn = format!("sigil {}", key.kid());
        assert!(fields[3].raw.windows(cn.len()).any(|w| w == cn.as_bytes()));

        let validity = read_all(fields[4].content).unwrap();
        assert_eq!(validity[0].tag, UTC_TIME);
        assert_eq!(validity[0].content, b"231114221320Z");
        assert_eq!(validity[1].content, b"331113221320Z");

        let spki = read_all(fields[6].content).unwrap();
        let algorithms = read_all(spki[0].content).unwrap();
        assert_eq!(algorithms[0].content, ID_EC_PUBLIC_KEY);
        assert_eq!(algorithms[1].content, PRIME256V1);
        let point = key.verifying_key().to_sec1_uncompressed();
        assert_eq!(spki[1].content[0], 0);
        assert_eq!(&spki[1].content[1..], point.as_slice());
        let jwk = key.public_jwk();
        assert_eq!(URL_SAFE_NO_PAD.encode(&point[1..33]), jwk.x);
        assert_eq!(URL_SAFE_NO_PAD.encode(&point[33..]), jwk.y);

        let extensions = read(fields[7].content).unwrap().0;
        assert_eq!(read_all(extensions.content).unwrap().len(), 3);

        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
            .verify(tbs.raw, &signature.content[1..])
            .expect("the certificate signature verifies over the TBSCertificate");
        let mut tampered = tbs.raw.to_vec();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
                .verify(&tampered, &signature.content[1..])
                .is_err()
        );
    }

    #[test]
    fn times_switch_to_generalized_in_2050() {
        assert_eq!(time(1_700_000_000), der::tlv(UTC_TIME, b"231114221320Z"));
        assert_eq!(
            time(2_600_000_000),
            der::tlv(GENERALIZED_TIME, b"20520522141320Z")
        );
        assert_eq!(time(0), der::tlv(UTC_TIME, b"700101000000Z"));
        let key = key();
        assert!(key.certificate_der(LAST_X509_TIME - VALIDITY_S).is_ok());
        assert!(
            key.certificate_der(LAST_X509_TIME - VALIDITY_S + 1)
                .is_err()
        );
        assert!(key.certificate_der(u64::MAX).is_err());
    }

    #[test]
    fn serial_is_positive_and_from_the_kid() {
        let a = serial("MeFfMgxYJMsz5_cT69a8V53p400KwNYhQELpNqyX-Xo");
        let b = serial("T9FuYQ-QLipwaWVePxZEREvbyOxMVyKfeSUl1nzLBMc");
        assert_ne!(a, b);
        assert_eq!(a[0], INTEGER);
        assert!(a[1] <= 16 && a[2] & 0x80 == 0);
    }
}
