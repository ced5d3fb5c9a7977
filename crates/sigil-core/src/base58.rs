//! Base58 and base58check with the Bitcoin alphabet.

use crate::hash::sha256d;

/// Why base58check text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base58Error {
    /// A character outside the Bitcoin base58 alphabet.
    Character,
    /// Fewer than the 4 checksum bytes.
    TooShort,
    /// The last 4 bytes are not the first 4 bytes of SHA256d of the rest.
    Checksum,
}

impl Base58Error {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Character => "not base58 (character outside the Bitcoin base58 alphabet)",
            Self::TooShort => "base58check data shorter than its 4-byte checksum",
            Self::Checksum => "base58check checksum mismatch",
        }
    }
}

/// Plain base58 of `data` (no checksum), as `bap_id` uses it.
pub(crate) fn encode(data: &[u8]) -> String {
    bs58::encode(data).into_string()
}

/// base58check of `payload`: base58(payload ‖ first 4 bytes of SHA256d(payload)).
pub(crate) fn check_encode(payload: &[u8]) -> String {
    let mut data = Vec::with_capacity(payload.len() + 4);
    data.extend_from_slice(payload);
    data.extend_from_slice(&sha256d(payload)[..4]);
    bs58::encode(data).into_string()
}

/// Decodes base58check text and returns the payload without its checksum.
pub(crate) fn check_decode(text: &str) -> Result<Vec<u8>, Base58Error> {
    let mut data = bs58::decode(text)
        .into_vec()
        .map_err(|_| Base58Error::Character)?;
    if data.len() < 4 {
        return Err(Base58Error::TooShort);
    }
    let split = data.len() - 4;
    if sha256d(&data[..split])[..4] != data[split..] {
        return Err(Base58Error::Checksum);
    }
    data.truncate(split);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let text = check_encode(&[0x00; 21]);
        assert_eq!(text, "1111111111111111111114oLvT2");
        assert_eq!(check_decode(&text).unwrap(), vec![0u8; 21]);
        assert_eq!(
            check_decode("1111111111111111111114oLvT3"),
            Err(Base58Error::Checksum)
        );
        assert_eq!(check_decode("0OIl"), Err(Base58Error::Character));
        assert_eq!(check_decode("1"), Err(Base58Error::TooShort));
    }
}
