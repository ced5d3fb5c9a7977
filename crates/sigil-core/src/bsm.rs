//! Bitcoin Signed Message (BSM) with BIP-137 headers (docs/protocol.md §2).
//!
//! Digest = SHA256d(`0x18 ‖ "Bitcoin Signed Message:\n" ‖ CompactSize(len) ‖ message`);
//! signature = 65 bytes `header ‖ r ‖ s`. Verification recovers the key and
//! compares it with the claimed key or address tuple; high-S signatures
//! verify (as in Bitcoin Core), which is why the replay key is computed from
//! the statement, never from these bytes.

use secp256k1::Message;
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};

use crate::address::{Address, AddressKind};
use crate::error::{Error, Result};
use crate::hash::sha256d;
use crate::keys::{Network, PrivateKey, PublicKey};

const MAGIC: &[u8] = b"\x18Bitcoin Signed Message:\n";

/// The secp256k1 group order n, big-endian.
pub(crate) const CURVE_ORDER: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
    0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41,
];

/// Whether a 32-byte big-endian integer is in [1, n − 1].
pub(crate) fn in_scalar_range(value: &[u8; 32]) -> bool {
    value.iter().any(|&b| b != 0) && value < &CURVE_ORDER
}

/// Bitcoin's CompactSize encoding of `len`.
#[must_use]
pub fn compact_size(len: usize) -> Vec<u8> {
    let len = len as u64;
    match len {
        0..=0xFC => vec![len as u8],
        0xFD..=0xFFFF => {
            let mut v = vec![0xFD];
            v.extend_from_slice(&(len as u16).to_le_bytes());
            v
        }
        0x1_0000..=0xFFFF_FFFF => {
            let mut v = vec![0xFE];
            v.extend_from_slice(&(len as u32).to_le_bytes());
            v
        }
        _ => {
            let mut v = vec![0xFF];
            v.extend_from_slice(&len.to_le_bytes());
            v
        }
    }
}

/// The BSM preimage `0x18 ‖ magic ‖ CompactSize(len) ‖ message`.
#[must_use]
pub fn preimage(message: &[u8]) -> Vec<u8> {
    let size = compact_size(message.len());
    let mut out = Vec::with_capacity(MAGIC.len() + size.len() + message.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&size);
    out.extend_from_slice(message);
    out
}

/// The BSM digest: SHA256d of the [`preimage`].
#[must_use]
pub fn magic_hash(message: &[u8]) -> [u8; 32] {
    sha256d(&preimage(message))
}

/// The address form a BIP-137 header announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderKind {
    /// 27–30: P2PKH of the uncompressed key.
    P2pkhUncompressed,
    /// 31–34: P2PKH of the compressed key.
    P2pkhCompressed,
    /// 35–38: P2SH-P2WPKH (nested segwit).
    P2shP2wpkh,
    /// 39–42: P2WPKH (native segwit).
    P2wpkh,
}

impl HeaderKind {
    fn base(self) -> u8 {
        match self {
            Self::P2pkhUncompressed => 27,
            Self::P2pkhCompressed => 31,
            Self::P2shP2wpkh => 35,
            Self::P2wpkh => 39,
        }
    }

    fn from_header(header: u8) -> Option<Self> {
        match header {
            27..=30 => Some(Self::P2pkhUncompressed),
            31..=34 => Some(Self::P2pkhCompressed),
            35..=38 => Some(Self::P2shP2wpkh),
            39..=42 => Some(Self::P2wpkh),
            _ => None,
        }
    }

    /// The address of `key` that this header claims, on `network`.
    #[must_use]
    pub fn address_of(self, key: &PublicKey, network: Network) -> Address {
        match self {
            Self::P2pkhUncompressed => Address::p2pkh_uncompressed(key, network),
            Self::P2pkhCompressed => Address::p2pkh(key, network),
            Self::P2shP2wpkh => Address::p2sh_p2wpkh(key, network),
            Self::P2wpkh => Address::p2wpkh(key, network),
        }
    }

    fn address_kind(self) -> AddressKind {
        match self {
            Self::P2pkhUncompressed | Self::P2pkhCompressed => AddressKind::P2pkh,
            Self::P2shP2wpkh => AddressKind::P2sh,
            Self::P2wpkh => AddressKind::P2wpkh,
        }
    }
}

/// A 65-byte BSM signature whose header is one of BIP-137's 27–42.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactSignature {
    header: u8,
    rs: [u8; 64],
}

impl CompactSignature {
    /// Parses 65 bytes `header ‖ r ‖ s`.
    ///
    /// # Errors
    /// [`Error::SignatureEncoding`] for another length or a header outside 27–42.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bytes: &[u8; 65] = bytes.try_into().map_err(|_| {
            Error::encoding(format!("a BSM signature is 65 bytes, got {}", bytes.len()))
        })?;
        let header = bytes[0];
        if HeaderKind::from_header(header).is_none() {
            return Err(Error::encoding(format!(
                "BSM header out of range: {header} (BIP-137 allows 27-42)"
            )));
        }
        let mut rs = [0u8; 64];
        rs.copy_from_slice(&bytes[1..]);
        Ok(Self { header, rs })
    }

    /// The 65 bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[0] = self.header;
        out[1..].copy_from_slice(&self.rs);
        out
    }

    /// The header byte.
    #[must_use]
    pub fn header(&self) -> u8 {
        self.header
    }

    /// The address form the header announces.
    #[must_use]
    pub fn header_kind(&self) -> HeaderKind {
        HeaderKind::from_header(self.header).expect("header range checked at construction")
    }

    /// The recovery id (0–3) in the header.
    #[must_use]
    pub fn recovery_id(&self) -> u8 {
        self.header - self.header_kind().base()
    }

    /// Whether s is at most n/2 (the form every signer here produces).
    #[must_use]
    pub fn is_low_s(&self) -> bool {
        let s: [u8; 32] = self.rs[32..].try_into().expect("64 bytes split in halves");
        // n/2 rounded down, big-endian.
        const HALF_N: [u8; 32] = [
            0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            0xFF, 0xFF, 0x5D, 0x57, 0x6E, 0x73, 0x57, 0xA4, 0x50, 0x1D, 0xDF, 0xE9, 0x2F, 0x46,
            0x68, 0x1B, 0x20, 0xA0,
        ];
        s <= HALF_N
    }

    /// Recovers the public key that signed `message`.
    ///
    /// # Errors
    /// [`Error::SignatureInvalid`] when r or s is outside [1, n − 1] or no
    /// key can be recovered.
    pub fn recover(&self, message: &[u8]) -> Result<PublicKey> {
        self.recover_digest(magic_hash(message))
    }

    fn recover_digest(&self, digest: [u8; 32]) -> Result<PublicKey> {
        let r: &[u8; 32] = self.rs[..32].try_into().expect("64 bytes split in halves");
        let s: &[u8; 32] = self.rs[32..].try_into().expect("64 bytes split in halves");
        if !in_scalar_range(r) {
            return Err(Error::invalid("r out of range [1, n-1]"));
        }
        if !in_scalar_range(s) {
            return Err(Error::invalid("s out of range [1, n-1]"));
        }
        let id = RecoveryId::from_u8_masked(self.recovery_id());
        let sig = RecoverableSignature::from_compact(&self.rs, id)
            .map_err(|_| Error::invalid("r or s out of range"))?;
        sig.recover_ecdsa(Message::from_digest(digest))
            .map(PublicKey)
            .map_err(|_| Error::invalid("no public key can be recovered from this signature"))
    }

    /// Checks that `key` signed `message`. The header's compression and
    /// BIP-137 type bits do not matter in this mode (same key, same statement).
    ///
    /// # Errors
    /// [`Error::SignatureInvalid`] when the recovered key is another key.
    pub fn verify_public_key(&self, message: &[u8], key: &PublicKey) -> Result<()> {
        if self.recover(message)? == *key {
            Ok(())
        } else {
            Err(Error::invalid(
                "recovered key does not match the claimed public key",
            ))
        }
    }

    /// Checks that the owner of `address` signed `message`: the address must
    /// be on `network`, of the kind the header announces, and carry the hash
    /// of the recovered key in that form.
    ///
    /// # Errors
    /// [`Error::NetworkMismatch`], [`Error::KindMismatch`] or
    /// [`Error::SignatureInvalid`].
    pub fn verify_address(
        &self,
        message: &[u8],
        address: &Address,
        network: Network,
    ) -> Result<PublicKey> {
        if address.network != network {
            return Err(Error::NetworkMismatch {
                expected: network,
                found: address.network,
            });
        }
        let kind = self.header_kind();
        if kind.address_kind() != address.kind {
            return Err(Error::KindMismatch {
                signature: kind.address_kind(),
                address: address.kind,
            });
        }
        let key = self.recover(message)?;
        if kind.address_of(&key, network) == *address {
            Ok(key)
        } else {
            Err(Error::invalid("recovered key does not match the address"))
        }
    }
}

/// Signs `message` the way Bitcoin Core `signmessage` and @bsv/sdk
/// `BSM.sign` do: RFC 6979 nonce, low-S, header 27 + id (+4 when the key is
/// compressed).
#[must_use]
pub fn sign(message: &[u8], key: &PrivateKey) -> CompactSignature {
    let kind = if key.is_compressed() {
        HeaderKind::P2pkhCompressed
    } else {
        HeaderKind::P2pkhUncompressed
    };
    sign_as(message, key, kind)
}

/// Signs `message` with an explicit BIP-137 header kind (for segwit
/// addresses; the key is then used compressed).
#[must_use]
pub fn sign_as(message: &[u8], key: &PrivateKey, kind: HeaderKind) -> CompactSignature {
    let digest = Message::from_digest(magic_hash(message));
    let sig = RecoverableSignature::sign_ecdsa_recoverable(digest, key.secret());
    let (id, rs) = sig.serialize_compact();
    CompactSignature {
        header: kind.base() + id.to_u8(),
        rs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::to_hex;

    #[test]
    fn compact_size_boundaries() {
        assert_eq!(compact_size(252), vec![0xFC]);
        assert_eq!(compact_size(253), vec![0xFD, 0xFD, 0x00]);
        assert_eq!(compact_size(65_535), vec![0xFD, 0xFF, 0xFF]);
        assert_eq!(compact_size(65_536), vec![0xFE, 0x00, 0x00, 0x01, 0x00]);
    }

    #[test]
    fn known_digests() {
        assert_eq!(
            to_hex(&magic_hash(b"hello world")),
            "0b6b6ce07bc55ee4aeba0098a5e5d2c8986cab228a54199723f9962316633733"
        );
        assert_eq!(
            to_hex(&magic_hash(b"")),
            "80e795d4a4caadd7047af389d9f7f220562feb6196032e2131e10563352c4bcc"
        );
    }

    #[test]
    fn headers_outside_bip137_are_refused() {
        for header in [0u8, 26, 43, 59, 255] {
            let mut bytes = [1u8; 65];
            bytes[0] = header;
            let err = CompactSignature::from_bytes(&bytes).unwrap_err();
            assert!(err.to_string().contains("header out of range"), "{err}");
        }
    }
}
