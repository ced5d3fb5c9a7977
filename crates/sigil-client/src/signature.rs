//! Signing a statement with the client's key in either scheme of docs/protocol.md §2.

use sigil_core::{PrivateKey, Scheme, brc77, bsm};

use crate::error::{Error, Result};

/// Signs `message` (its UTF-8 bytes): a 65-byte BSM signature, or a BRC-77
/// "anyone" envelope with a fresh random keyID, as @bsv/sdk does.
pub(crate) fn sign(scheme: Scheme, message: &str, key: &PrivateKey) -> Result<Vec<u8>> {
    match scheme {
        Scheme::Bsm => Ok(bsm::sign(message.as_bytes(), key).to_bytes().to_vec()),
        Scheme::Brc77 => Ok(brc77::sign(message.as_bytes(), key, random_key_id()?)?),
    }
}

/// 32 bytes from the operating system's generator: a BRC-77 keyID.
pub(crate) fn random_key_id() -> Result<[u8; 32]> {
    let mut key_id = [0u8; 32];
    getrandom::fill(&mut key_id).map_err(|e| Error::Random(e.to_string()))?;
    Ok(key_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_core::{Network, Signature};

    #[test]
    fn both_schemes_verify_and_brc77_key_ids_differ() {
        let key = PrivateKey::from_bytes([7; 32], Network::Mainnet, true).unwrap();
        let message = "GET:/x:e3b0:1";
        for scheme in [Scheme::Bsm, Scheme::Brc77] {
            let bytes = sign(scheme, message, &key).unwrap();
            let signature = Signature::from_bytes(&bytes).unwrap();
            assert_eq!(signature.scheme(), scheme);
            signature
                .verify(message.as_bytes(), &key.public_key())
                .unwrap();
            assert!(
                signature
                    .verify(b"GET:/y:e3b0:1", &key.public_key())
                    .is_err()
            );
        }
        let a = sign(Scheme::Brc77, message, &key).unwrap();
        let b = sign(Scheme::Brc77, message, &key).unwrap();
        assert_ne!(a[38..70], b[38..70], "keyIDs are random");
    }
}
