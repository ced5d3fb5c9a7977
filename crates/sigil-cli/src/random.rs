//! Randomness from the operating system (getrandom).

use anyhow::Context as _;
use sigil_core::{Error, Network, PrivateKey};

/// 32 random bytes.
///
/// # Errors
/// When the operating system's random source fails.
pub(crate) fn bytes32() -> anyhow::Result<[u8; 32]> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .context("reading the system random number generator")?;
    Ok(bytes)
}

/// A fresh compressed private key on `network`: 32 random bytes, drawn again
/// in the (probability ~2^-128) case that they are 0 or not below n.
///
/// # Errors
/// When the operating system's random source fails.
pub(crate) fn private_key(network: Network) -> anyhow::Result<PrivateKey> {
    loop {
        let mut bytes = bytes32()?;
        let key = PrivateKey::from_bytes(bytes, network, true);
        bytes.fill(0);
        std::hint::black_box(&bytes);
        match key {
            Ok(key) => return Ok(key),
            Err(Error::PrivateKeyRange) => continue,
            Err(other) => return Err(other.into()),
        }
    }
}
