//! The 5-bit alphabet and bit regrouping shared by bech32 and CashAddr.

/// Value → character (`q` = 0 … `l` = 31).
pub(crate) const ALPHABET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// Character (lower case) → value.
pub(crate) fn value_of(c: u8) -> Option<u8> {
    ALPHABET
        .iter()
        .position(|&a| a == c)
        .and_then(|p| u8::try_from(p).ok())
}

/// Regroups `data` from `from`-bit to `to`-bit groups, most significant bit first.
///
/// With `pad`, the last group is filled with zero bits. Without it, leftover
/// bits must be fewer than `from` and all zero (the decoding rule of both
/// BIP-173 and CashAddr); otherwise `None`.
pub(crate) fn convert_bits(data: &[u8], from: u32, to: u32, pad: bool) -> Option<Vec<u8>> {
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let max = (1u32 << to) - 1;
    let mut out = Vec::with_capacity(data.len() * from as usize / to as usize + 1);
    for &value in data {
        if u32::from(value) >> from != 0 {
            return None;
        }
        acc = (acc << from) | u32::from(value);
        bits += from;
        while bits >= to {
            bits -= to;
            out.push(u8::try_from((acc >> bits) & max).ok()?);
        }
    }
    if pad {
        if bits > 0 {
            out.push(u8::try_from((acc << (to - bits)) & max).ok()?);
        }
    } else if bits >= from || (acc << (to - bits)) & max != 0 {
        return None;
    }
    Some(out)
}

/// Case rule shared by both formats: all lower or all upper case, never mixed.
/// Returns the lower-cased text, or `None` for mixed case.
pub(crate) fn lower_if_single_case(text: &str) -> Option<String> {
    let has_lower = text.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = text.bytes().any(|b| b.is_ascii_uppercase());
    if has_lower && has_upper {
        None
    } else {
        Some(text.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regroup_round_trip() {
        let bytes = [0x00, 0x51, 0xd9, 0x9c, 0xff];
        let five = convert_bits(&bytes, 8, 5, true).unwrap();
        assert_eq!(convert_bits(&five, 5, 8, false).unwrap(), bytes);
        assert_eq!(value_of(b'q'), Some(0));
        assert_eq!(value_of(b'l'), Some(31));
        assert_eq!(value_of(b'b'), None);
        assert!(lower_if_single_case("AbC").is_none());
        assert_eq!(lower_if_single_case("ABC1").as_deref(), Some("abc1"));
    }

    #[test]
    fn non_zero_padding_is_refused() {
        // One 5-bit group holds only 5 bits: not a whole byte, too many leftover bits.
        assert!(convert_bits(&[1], 5, 8, false).is_none());
        // Two groups: 10 bits, 8 used, 2 padding bits that must be zero.
        assert!(convert_bits(&[0, 1], 5, 8, false).is_none());
        assert!(convert_bits(&[0, 0], 5, 8, false).is_some());
    }
}
