//! BIP-173 bech32, only as far as P2WPKH addresses (witness v0, 20-byte
//! program) need it for BIP-137 signatures.

use crate::base32::{ALPHABET, convert_bits, lower_if_single_case, value_of};
use crate::error::{Error, Result};
use crate::keys::Network;

const GEN: [u32; 5] = [
    0x3b6a_57b2,
    0x2650_8e6d,
    0x1ea1_19fa,
    0x3d42_33dd,
    0x2a14_62b3,
];

fn polymod(values: impl Iterator<Item = u8>) -> u32 {
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

fn hrp_expand(hrp: &str) -> impl Iterator<Item = u8> + '_ {
    hrp.bytes()
        .map(|b| b >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.bytes().map(|b| b & 31))
}

fn hrp_of(network: Network) -> &'static str {
    match network {
        Network::Mainnet => "bc",
        Network::Testnet | Network::Regtest => "tb",
    }
}

/// Encodes a P2WPKH address for `program` (a 20-byte key hash).
pub(crate) fn encode_p2wpkh(network: Network, program: &[u8; 20]) -> String {
    let hrp = hrp_of(network);
    let mut data = vec![0u8];
    data.extend(convert_bits(program, 8, 5, true).expect("8-bit input always regroups"));
    let chk = polymod(hrp_expand(hrp).chain(data.iter().copied()).chain([0u8; 6])) ^ 1;
    let mut out = String::with_capacity(hrp.len() + 1 + data.len() + 6);
    out.push_str(hrp);
    out.push('1');
    out.extend(data.iter().map(|&v| char::from(ALPHABET[usize::from(v)])));
    for i in 0..6 {
        let v = (chk >> (5 * (5 - i))) & 31;
        out.push(char::from(ALPHABET[v as usize]));
    }
    out
}

/// Decodes a `bc1q…` / `tb1q…` P2WPKH address to its network and key hash.
pub(crate) fn decode_p2wpkh(text: &str) -> Result<(Network, [u8; 20])> {
    let lower = lower_if_single_case(text)
        .ok_or_else(|| Error::address("mixed upper and lower case in a bech32 address"))?;
    let (hrp, data) = lower
        .rsplit_once('1')
        .ok_or_else(|| Error::address("bech32 address without separator '1'"))?;
    let network = match hrp {
        "bc" => Network::Mainnet,
        "tb" => Network::Testnet,
        _ => {
            return Err(Error::address(format!(
                "unknown bech32 prefix {hrp:?} (bc or tb)"
            )));
        }
    };
    let values = data
        .bytes()
        .map(value_of)
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| Error::address("character outside the bech32 alphabet"))?;
    if values.len() < 7 {
        return Err(Error::address(
            "bech32 data shorter than version and checksum",
        ));
    }
    if polymod(hrp_expand(hrp).chain(values.iter().copied())) != 1 {
        return Err(Error::address(
            "bech32 checksum mismatch (or a bech32m address)",
        ));
    }
    let payload = &values[..values.len() - 6];
    if payload[0] != 0 {
        return Err(Error::address(format!(
            "witness version {} is not a P2WPKH address (v0 only)",
            payload[0]
        )));
    }
    let program = convert_bits(&payload[1..], 5, 8, false)
        .ok_or_else(|| Error::address("bech32 program has invalid padding"))?;
    let program: [u8; 20] = program.try_into().map_err(|p: Vec<u8>| {
        Error::address(format!(
            "witness program of {} bytes is not P2WPKH (20 bytes)",
            p.len()
        ))
    })?;
    Ok((network, program))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_one() {
        let hash = crate::hash::from_hex("751e76e8199196d454941c45d1b3a323f1433bd6").unwrap();
        let hash: [u8; 20] = hash.try_into().unwrap();
        let main = encode_p2wpkh(Network::Mainnet, &hash);
        assert_eq!(main, "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
        assert_eq!(
            encode_p2wpkh(Network::Testnet, &hash),
            "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"
        );
        assert_eq!(
            decode_p2wpkh(&main.to_uppercase()).unwrap(),
            (Network::Mainnet, hash)
        );
        assert!(decode_p2wpkh("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5").is_err());
        assert!(decode_p2wpkh("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kV8f3t4").is_err());
    }
}
