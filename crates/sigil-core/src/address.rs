//! Addresses as `(network, kind, hash160)` tuples (docs/protocol.md §1).
//!
//! Every textual form (legacy base58check, CashAddr with or without prefix,
//! upper-case CashAddr, token-aware CashAddr, bech32 P2WPKH) is decoded to an
//! [`Address`]; addresses are compared as tuples, never as strings.

use std::fmt;
use std::str::FromStr;

use crate::base58;
use crate::bech32;
use crate::cashaddr::{CashAddr, PREFIX_NAMES, PREFIXES};
use crate::error::{Error, Result};
use crate::hash::hash160;
use crate::keys::{Network, PublicKey};

/// What an address pays to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressKind {
    /// Pay to public-key hash (legacy `1…`/`m…`, cashaddr types 0 and 2).
    P2pkh,
    /// Pay to script hash (legacy `3…`/`2…`, cashaddr types 1 and 3).
    P2sh,
    /// Pay to witness public-key hash (bech32 v0, `bc1q…`/`tb1q…`).
    P2wpkh,
}

impl AddressKind {
    /// The lower-case name used in JSON output and messages.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::P2pkh => "p2pkh",
            Self::P2sh => "p2sh",
            Self::P2wpkh => "p2wpkh",
        }
    }
}

impl fmt::Display for AddressKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decoded address: the tuple sigil compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address {
    /// The network.
    pub network: Network,
    /// The kind.
    pub kind: AddressKind,
    /// The 20-byte hash.
    pub hash: [u8; 20],
}

impl Address {
    /// P2PKH of the compressed public key.
    #[must_use]
    pub fn p2pkh(key: &PublicKey, network: Network) -> Self {
        Self {
            network,
            kind: AddressKind::P2pkh,
            hash: key.hash160(),
        }
    }

    /// P2PKH of the uncompressed public key (a different hash, hence a
    /// different address, from [`Address::p2pkh`]).
    #[must_use]
    pub fn p2pkh_uncompressed(key: &PublicKey, network: Network) -> Self {
        Self {
            network,
            kind: AddressKind::P2pkh,
            hash: hash160(&key.serialize_uncompressed()),
        }
    }

    /// Nested segwit P2SH-P2WPKH: P2SH of the script `00 14 ‖ H160(key)`.
    #[must_use]
    pub fn p2sh_p2wpkh(key: &PublicKey, network: Network) -> Self {
        let mut script = [0u8; 22];
        script[0] = 0x00;
        script[1] = 0x14;
        script[2..].copy_from_slice(&key.hash160());
        Self {
            network,
            kind: AddressKind::P2sh,
            hash: hash160(&script),
        }
    }

    /// Native segwit P2WPKH of the compressed key.
    #[must_use]
    pub fn p2wpkh(key: &PublicKey, network: Network) -> Self {
        Self {
            network,
            kind: AddressKind::P2wpkh,
            hash: key.hash160(),
        }
    }

    /// Decodes any accepted textual form: legacy base58check, bech32 P2WPKH,
    /// or CashAddr (prefix optional; `bitcoincash`, then `bchtest`, then
    /// `bchreg` are tried when it is absent).
    ///
    /// # Errors
    /// [`Error::Address`] describing why the text is not a usable address.
    pub fn parse(text: &str) -> Result<Self> {
        let lower = text.to_ascii_lowercase();
        if text.contains(':') {
            return Self::from_cashaddr(text);
        }
        if lower.starts_with("bc1") || lower.starts_with("tb1") {
            let (network, hash) = bech32::decode_p2wpkh(text)?;
            return Ok(Self {
                network,
                kind: AddressKind::P2wpkh,
                hash,
            });
        }
        match base58::check_decode(text) {
            Ok(payload) => Self::from_legacy_payload(&payload),
            Err(b58) => {
                // A prefix-less cashaddr is not base58check (wrong checksum,
                // or characters base58 lacks); try it before giving up.
                match Self::from_cashaddr(text) {
                    Ok(addr) => Ok(addr),
                    Err(cash) if looks_like_cashaddr(&lower) => Err(cash),
                    Err(_) => Err(Error::address(format!(
                        "neither a legacy base58check address ({}) nor a cashaddr",
                        b58.describe()
                    ))),
                }
            }
        }
    }

    fn from_legacy_payload(payload: &[u8]) -> Result<Self> {
        let (&version, hash) = payload
            .split_first()
            .ok_or_else(|| Error::address("empty base58check payload"))?;
        let hash: [u8; 20] = hash.try_into().map_err(|_| {
            Error::address(format!(
                "legacy payload of {} bytes; expected 21",
                payload.len()
            ))
        })?;
        let (network, kind) = match version {
            0x00 => (Network::Mainnet, AddressKind::P2pkh),
            0x6F => (Network::Testnet, AddressKind::P2pkh),
            0x05 => (Network::Mainnet, AddressKind::P2sh),
            0xC4 => (Network::Testnet, AddressKind::P2sh),
            other => {
                return Err(Error::address(format!(
                    "legacy version byte 0x{other:02x} is not P2PKH (0x00/0x6f) or P2SH (0x05/0xc4)"
                )));
            }
        };
        Ok(Self {
            network,
            kind,
            hash,
        })
    }

    fn from_cashaddr(text: &str) -> Result<Self> {
        let cash = CashAddr::decode(text, &PREFIX_NAMES)?;
        let network = cash.network().ok_or_else(|| {
            Error::address(format!(
                "unknown cashaddr prefix {:?} (bitcoincash, bchtest or bchreg)",
                cash.prefix
            ))
        })?;
        let kind = match cash.address_type() {
            0 | 2 => AddressKind::P2pkh,
            1 | 3 => AddressKind::P2sh,
            t => {
                return Err(Error::address(format!(
                    "cashaddr type {t} is not an address type"
                )));
            }
        };
        let hash: [u8; 20] = cash.hash.as_slice().try_into().map_err(|_| {
            Error::address(format!(
                "cashaddr hash of {} bytes; sigil uses 20-byte hashes only",
                cash.hash.len()
            ))
        })?;
        Ok(Self {
            network,
            kind,
            hash,
        })
    }

    /// The legacy base58check text (P2PKH and P2SH only; regtest uses the
    /// testnet bytes).
    #[must_use]
    pub fn to_legacy(&self) -> Option<String> {
        let version = match (self.kind, self.network) {
            (AddressKind::P2pkh, Network::Mainnet) => 0x00,
            (AddressKind::P2pkh, _) => 0x6F,
            (AddressKind::P2sh, Network::Mainnet) => 0x05,
            (AddressKind::P2sh, _) => 0xC4,
            (AddressKind::P2wpkh, _) => return None,
        };
        let mut payload = [0u8; 21];
        payload[0] = version;
        payload[1..].copy_from_slice(&self.hash);
        Some(base58::check_encode(&payload))
    }

    /// The canonical CashAddr text (lower case, with prefix, type 0 or 1).
    #[must_use]
    pub fn to_cashaddr(&self) -> Option<String> {
        let version = match self.kind {
            AddressKind::P2pkh => 0x00,
            AddressKind::P2sh => 0x08,
            AddressKind::P2wpkh => return None,
        };
        let prefix = PREFIXES
            .iter()
            .find(|(_, n)| *n == self.network)
            .map(|(p, _)| *p)?;
        Some(
            CashAddr {
                prefix: prefix.into(),
                version,
                hash: self.hash.to_vec(),
            }
            .encode(),
        )
    }
}

fn looks_like_cashaddr(lower: &str) -> bool {
    lower.len() == 42 && lower.bytes().all(|b| crate::base32::value_of(b).is_some())
}

impl fmt::Display for Address {
    /// Legacy text for P2PKH/P2SH, bech32 for P2WPKH.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_legacy() {
            Some(text) => f.write_str(&text),
            None => f.write_str(&bech32::encode_p2wpkh(self.network, &self.hash)),
        }
    }
}

impl FromStr for Address {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_tuple_from_every_spelling() {
        let want = Address::parse("18TnRKEhfEz1D3g2unXizqXB8Xk97Q1xE9").unwrap();
        for spelling in [
            "bitcoincash:qpgan8qtp0s6vny6mg6ja7zs8599tdfg9yvrk89qm6",
            "qpgan8qtp0s6vny6mg6ja7zs8599tdfg9yvrk89qm6",
            "BITCOINCASH:QPGAN8QTP0S6VNY6MG6JA7ZS8599TDFG9YVRK89QM6",
            "bitcoincash:zpgan8qtp0s6vny6mg6ja7zs8599tdfg9ytf9etxyf",
        ] {
            assert_eq!(Address::parse(spelling).unwrap(), want, "{spelling}");
        }
        let p2sh = Address::parse("399oLrj9D9JPJDNU2tCKRTt7H42rha3t6V").unwrap();
        let testnet = Address::parse("mnyjiNKgUGRFzA9edMW6pkjVzXLqyJ71WS").unwrap();
        assert_eq!(p2sh.hash, want.hash);
        assert_eq!(testnet.hash, want.hash);
        assert_ne!(p2sh, want);
        assert_ne!(testnet, want);
        assert_eq!(
            want.to_cashaddr().unwrap(),
            "bitcoincash:qpgan8qtp0s6vny6mg6ja7zs8599tdfg9yvrk89qm6"
        );
    }

    #[test]
    fn mixed_case_cashaddr_is_refused_clearly() {
        let err =
            Address::parse("bitcoincash:qpgan8qtp0s6vny6mg6ja7zs8599tdfg9yvrk89qM6").unwrap_err();
        assert!(
            err.to_string().contains("mixed upper and lower case"),
            "{err}"
        );
        let err = Address::parse("qpgan8qtp0s6vny6mg6ja7zs8599tdfg9yvrk89qM6").unwrap_err();
        assert!(
            err.to_string().contains("mixed upper and lower case"),
            "{err}"
        );
    }
}
