//! BCH CashAddr (spec v1.1 plus CashTokens token-aware types).
//!
//! Format: `prefix ":" base32(version ‖ hash) ‖ checksum(8)`. Decoding checks
//! the case rule, the checksum (prefix included), the reserved bit and that
//! the hash length matches the version byte's size code.

use crate::base32::{ALPHABET, convert_bits, lower_if_single_case, value_of};
use crate::error::{Error, Result};
use crate::keys::Network;

/// Prefixes sigil knows, with their networks.
pub(crate) const PREFIXES: [(&str, Network); 3] = [
    ("bitcoincash", Network::Mainnet),
    ("bchtest", Network::Testnet),
    ("bchreg", Network::Regtest),
];

/// The known prefixes alone, in the order a prefix-less address tries them.
pub(crate) const PREFIX_NAMES: [&str; 3] = [PREFIXES[0].0, PREFIXES[1].0, PREFIXES[2].0];

/// A decoded CashAddr, of any size and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CashAddr {
    /// The prefix (lower case), given or re-attached.
    pub prefix: String,
    /// The version byte: type in bits 6–3, size code in bits 2–0.
    pub version: u8,
    /// The hash (20 to 64 bytes).
    pub hash: Vec<u8>,
}

impl CashAddr {
    /// The address type: 0 P2PKH, 1 P2SH, 2 token-aware P2PKH, 3 token-aware P2SH.
    #[must_use]
    pub fn address_type(&self) -> u8 {
        (self.version >> 3) & 0x0f
    }

    /// The network of a known prefix, `None` for any other prefix.
    #[must_use]
    pub fn network(&self) -> Option<Network> {
        PREFIXES
            .iter()
            .find(|(p, _)| *p == self.prefix)
            .map(|&(_, n)| n)
    }

    /// Decodes `text`. Without a prefix, each of `default_prefixes` is tried
    /// in turn (the prefix takes part in the checksum).
    ///
    /// # Errors
    /// [`Error::Address`] naming the rule that failed.
    pub fn decode(text: &str, default_prefixes: &[&str]) -> Result<Self> {
        let lower = lower_if_single_case(text)
            .ok_or_else(|| Error::address("mixed upper and lower case in a cashaddr"))?;
        match lower.split_once(':') {
            Some((prefix, payload)) => decode_with_prefix(prefix, payload),
            None => {
                let mut last = Error::address("cashaddr without prefix");
                for prefix in default_prefixes {
                    match decode_with_prefix(prefix, &lower) {
                        Ok(addr) => return Ok(addr),
                        Err(e) => last = e,
                    }
                }
                Err(last)
            }
        }
    }

    /// Encodes with the stored prefix, in canonical lower case.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut data = Vec::with_capacity(self.hash.len() + 1);
        data.push(self.version);
        data.extend_from_slice(&self.hash);
        let mut values =
            convert_bits(&data, 8, 5, true).expect("8-bit input always regroups to 5 bits");
        let checksum = polymod_of(&self.prefix, &values, true);
        for i in 0..8 {
            values
                .push(u8::try_from((checksum >> (5 * (7 - i))) & 0x1f).expect("masked to 5 bits"));
        }
        let mut out = String::with_capacity(self.prefix.len() + 1 + values.len());
        out.push_str(&self.prefix);
        out.push(':');
        out.extend(values.iter().map(|&v| char::from(ALPHABET[usize::from(v)])));
        out
    }
}

fn decode_with_prefix(prefix: &str, payload: &str) -> Result<CashAddr> {
    if prefix.is_empty() {
        return Err(Error::address("empty cashaddr prefix"));
    }
    if payload.contains(':') {
        return Err(Error::address(
            "more than one ':' in a cashaddr (double prefix?)",
        ));
    }
    if !prefix
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(Error::address("cashaddr prefix must be letters and digits"));
    }
    let values = payload
        .bytes()
        .map(value_of)
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| Error::address("character outside the cashaddr alphabet"))?;
    if values.len() < 8 {
        return Err(Error::address("cashaddr payload shorter than its checksum"));
    }
    if polymod_of(prefix, &values, false) != 0 {
        return Err(Error::address(format!(
            "cashaddr checksum mismatch for prefix {prefix:?}"
        )));
    }
    let data = &values[..values.len() - 8];
    let bytes = convert_bits(data, 5, 8, false)
        .ok_or_else(|| Error::address("cashaddr payload has invalid padding"))?;
    let (&version, hash) = bytes.split_first().ok_or_else(|| {
        Error::address("cashaddr data length does not match the size bits (no version byte)")
    })?;
    if version & 0x80 != 0 {
        return Err(Error::address(
            "cashaddr version byte has the reserved high bit set",
        ));
    }
    let size = match version & 0x07 {
        0 => 20,
        1 => 24,
        2 => 28,
        3 => 32,
        4 => 40,
        5 => 48,
        6 => 56,
        _ => 64,
    };
    if hash.len() != size {
        return Err(Error::address(format!(
            "cashaddr data length does not match the size bits ({} bytes, size code says {size})",
            hash.len()
        )));
    }
    Ok(CashAddr {
        prefix: prefix.to_owned(),
        version,
        hash: hash.to_vec(),
    })
}

/// The CashAddr BCH checksum over prefix, separator and `values`; with
/// `extend`, eight zero values are fed after them (for computing).
fn polymod_of(prefix: &str, values: &[u8], extend: bool) -> u64 {
    const G: [u64; 5] = [
        0x98_F2BC_8E61,
        0x79_B76D_99E2,
        0xF3_3E5F_B3C4,
        0xAE_2EAB_E2A8,
        0x1E_4F43_E470,
    ];
    let mut c: u64 = 1;
    let mut feed = |d: u8| {
        let top = c >> 35;
        c = ((c & 0x07_FFFF_FFFF) << 5) ^ u64::from(d);
        for (i, g) in G.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                c ^= g;
            }
        }
    };
    prefix.bytes().for_each(|b| feed(b & 0x1f));
    feed(0);
    values.iter().for_each(|&v| feed(v));
    if extend {
        (0..8).for_each(|_| feed(0));
    }
    c ^ 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_of_formats_md() {
        let hash = crate::hash::from_hex("51d99c0b0be1a64c9ada352ef8503d0a55b52829").unwrap();
        let addr = CashAddr {
            prefix: "bitcoincash".into(),
            version: 0,
            hash,
        };
        assert_eq!(
            addr.encode(),
            "bitcoincash:qpgan8qtp0s6vny6mg6ja7zs8599tdfg9yvrk89qm6"
        );
        let decoded = CashAddr::decode(
            "qpgan8qtp0s6vny6mg6ja7zs8599tdfg9yvrk89qm6",
            &["bitcoincash"],
        )
        .unwrap();
        assert_eq!(decoded, addr);
    }
}
