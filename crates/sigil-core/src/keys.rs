//! Private keys (WIF) and public keys (SEC1), docs/protocol.md §1.

use std::fmt;
use std::str::FromStr;

use secp256k1::{PublicKey as Point, SecretKey};

use crate::address::Address;
use crate::base58;
use crate::error::{Error, Result};
use crate::hash::{from_hex, hash160, to_hex};

/// The network an address or key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Network {
    /// Bitcoin (BSV, BTC, BCH) main network.
    Mainnet,
    /// Test network (base58 `0x6F`/`0xC4`, WIF `0xEF`, `tb1`, `bchtest:`).
    Testnet,
    /// BCH regression-test network (`bchreg:` cashaddr only; legacy forms
    /// share the testnet bytes).
    Regtest,
}

impl Network {
    /// The lower-case name used in JSON output and messages.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mainnet => "mainnet",
            Self::Testnet => "testnet",
            Self::Regtest => "regtest",
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const WIF_MAINNET: u8 = 0x80;
const WIF_TESTNET: u8 = 0xEF;

/// A secp256k1 private key with the network and public-key form its WIF names.
///
/// `Debug` never prints the key; the secret is wiped (best effort) on drop.
#[derive(Clone)]
pub struct PrivateKey {
    secret: SecretKey,
    network: Network,
    compressed: bool,
}

impl PrivateKey {
    /// Builds a key from its 32 big-endian bytes.
    ///
    /// # Errors
    /// [`Error::PrivateKeyRange`] when the value is 0 or not below n.
    pub fn from_bytes(bytes: [u8; 32], network: Network, compressed: bool) -> Result<Self> {
        let secret = SecretKey::from_secret_bytes(bytes).map_err(|_| Error::PrivateKeyRange)?;
        Ok(Self {
            secret,
            network,
            compressed,
        })
    }

    /// Decodes a WIF: base58check of `0x80|0xEF ‖ key [‖ 0x01]`.
    ///
    /// # Errors
    /// [`Error::Wif`] naming what is wrong (checksum, version byte, length,
    /// compression flag) or [`Error::PrivateKeyRange`].
    pub fn from_wif(wif: &str) -> Result<Self> {
        let payload =
            base58::check_decode(wif.trim()).map_err(|e| Error::Wif(e.describe().into()))?;
        let network = match payload.first() {
            Some(&WIF_MAINNET) => Network::Mainnet,
            Some(&WIF_TESTNET) => Network::Testnet,
            Some(other) => {
                return Err(Error::Wif(format!(
                    "version byte 0x{other:02x} is not a private-key prefix (0x80 mainnet, 0xef testnet)"
                )));
            }
            None => return Err(Error::Wif("empty payload".into())),
        };
        let compressed = match payload.len() {
            33 => false,
            34 if payload[33] == 0x01 => true,
            34 => {
                return Err(Error::Wif(format!(
                    "34-byte payload must end in the compressed flag 0x01, found 0x{:02x}",
                    payload[33]
                )));
            }
            n => {
                return Err(Error::Wif(format!(
                    "payload of {n} bytes; expected 33 (uncompressed) or 34 (compressed)"
                )));
            }
        };
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&payload[1..33]);
        Self::from_bytes(bytes, network, compressed)
    }

    /// Encodes the key as WIF with its network and compression flag.
    #[must_use]
    pub fn to_wif(&self) -> String {
        let mut payload = Vec::with_capacity(34);
        payload.push(match self.network {
            Network::Mainnet => WIF_MAINNET,
            Network::Testnet | Network::Regtest => WIF_TESTNET,
        });
        payload.extend_from_slice(self.secret.as_secret_bytes());
        if self.compressed {
            payload.push(0x01);
        }
        base58::check_encode(&payload)
    }

    /// The public key of this private key.
    #[must_use]
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.secret.public_key())
    }

    /// The network named by the WIF.
    #[must_use]
    pub fn network(&self) -> Network {
        self.network
    }

    /// Whether the WIF asks for the compressed public-key form.
    #[must_use]
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// The P2PKH address of this key in the form its WIF names (compressed
    /// or not) on its network.
    #[must_use]
    pub fn address(&self) -> Address {
        let pk = self.public_key();
        if self.compressed {
            Address::p2pkh(&pk, self.network)
        } else {
            Address::p2pkh_uncompressed(&pk, self.network)
        }
    }

    /// The 32 secret bytes, big-endian. Handle with care.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 32] {
        self.secret.to_secret_bytes()
    }

    pub(crate) fn secret(&self) -> &SecretKey {
        &self.secret
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("public_key", &self.public_key())
            .field("network", &self.network)
            .field("compressed", &self.compressed)
            .finish_non_exhaustive()
    }
}

impl Drop for PrivateKey {
    fn drop(&mut self) {
        self.secret.non_secure_erase();
    }
}

impl FromStr for PrivateKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_wif(s)
    }
}

/// A secp256k1 public key: a valid point, whatever form it arrived in.
///
/// Equality is point equality, so the compressed and uncompressed encodings
/// of one key are equal. Displayed as 66 lower-case hex characters
/// (compressed SEC1), the form of the JWT `sub`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub(crate) Point);

impl PublicKey {
    /// Parses a 33-byte compressed or 65-byte uncompressed SEC1 encoding.
    ///
    /// # Errors
    /// [`Error::PublicKey`] for another length, prefix byte or a point that
    /// is not on the curve.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        match (bytes.len(), bytes.first()) {
            (33, Some(0x02 | 0x03)) | (65, Some(0x04)) => Point::from_slice(bytes)
                .map(Self)
                .map_err(|_| Error::PublicKey("not a point on secp256k1".into())),
            (33 | 65, Some(prefix)) => Err(Error::PublicKey(format!(
                "prefix byte 0x{prefix:02x} does not match its length (02/03 for 33 bytes, 04 for 65)"
            ))),
            (n, _) => Err(Error::PublicKey(format!(
                "{n} bytes; expected 33 (compressed) or 65 (uncompressed)"
            ))),
        }
    }

    /// Parses hex SEC1 text (66 or 130 hex characters).
    ///
    /// # Errors
    /// [`Error::PublicKey`] when the text is not hex or not a valid key.
    pub fn from_hex(text: &str) -> Result<Self> {
        let bytes = from_hex(text).ok_or_else(|| {
            Error::PublicKey("not hex (expected 66 or 130 hex characters)".into())
        })?;
        Self::from_slice(&bytes)
    }

    /// The 33-byte compressed SEC1 encoding.
    #[must_use]
    pub fn serialize(&self) -> [u8; 33] {
        self.0.serialize()
    }

    /// The 65-byte uncompressed SEC1 encoding.
    #[must_use]
    pub fn serialize_uncompressed(&self) -> [u8; 65] {
        self.0.serialize_uncompressed()
    }

    /// 66 lower-case hex characters of the compressed encoding.
    #[must_use]
    pub fn to_hex(&self) -> String {
        to_hex(&self.serialize())
    }

    /// H160 of the compressed encoding (the P2PKH / P2WPKH hash).
    #[must_use]
    pub fn hash160(&self) -> [u8; 20] {
        hash160(&self.serialize())
    }

    /// The mainnet P2PKH address of the compressed key (the JWT `address` claim).
    #[must_use]
    pub fn to_address(&self) -> Address {
        Address::p2pkh(self, Network::Mainnet)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl FromStr for PublicKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_hex(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_one() {
        let k =
            PrivateKey::from_wif("KwDiBf89QgGbjEhKnhXJuH7LrciVrZi3qYjgd9M7rFU73sVHnoWn").unwrap();
        assert!(k.is_compressed());
        assert_eq!(k.network(), Network::Mainnet);
        assert_eq!(
            k.public_key().to_hex(),
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
        );
        assert_eq!(
            k.to_wif(),
            "KwDiBf89QgGbjEhKnhXJuH7LrciVrZi3qYjgd9M7rFU73sVHnoWn"
        );
        assert!(!format!("{k:?}").contains("KwDi"));
    }

    #[test]
    fn public_key_refusals() {
        assert!(PublicKey::from_hex("04").is_err());
        let mut bad =
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798".to_string();
        bad.replace_range(0..2, "05");
        assert!(matches!(
            PublicKey::from_hex(&bad),
            Err(Error::PublicKey(_))
        ));
        // x = 5 is not on the curve for either parity? x=5: y^2 = 132, not a square mod p.
        let off_curve = format!("02{:064x}", 5);
        assert!(PublicKey::from_hex(&off_curve).is_err());
    }
}
