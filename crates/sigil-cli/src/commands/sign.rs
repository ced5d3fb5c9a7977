//! `sigil sign`: a BSM or BRC-77 signature over a message.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use sigil_core::{PrivateKey, Scheme, brc77, bsm};

use crate::cli::SignArgs;
use crate::{output, random, secret};

/// What `sign --json` prints.
#[derive(Debug, Serialize)]
struct Signed<'a> {
    scheme: &'static str,
    pubkey: String,
    address: String,
    message: &'a str,
    signature: String,
}

/// Signs the message with the key from the key source and prints the
/// base64 signature.
///
/// # Errors
/// When the key cannot be read or decoded, or output fails.
pub(crate) fn run(args: &SignArgs, json: bool) -> anyhow::Result<()> {
    let key = secret::private_key(&args.key)?;
    let scheme = Scheme::from(args.scheme);
    let signature = STANDARD.encode(sign(args.message.as_bytes(), &key, scheme)?);
    if !json {
        return output::line(&signature);
    }
    output::json(&Signed {
        scheme: scheme.as_str(),
        pubkey: key.public_key().to_hex(),
        address: key.address().to_string(),
        message: &args.message,
        signature,
    })
}

/// The signature bytes: BSM with the key's compression, or a BRC-77
/// envelope with a random keyID.
fn sign(message: &[u8], key: &PrivateKey, scheme: Scheme) -> anyhow::Result<Vec<u8>> {
    Ok(match scheme {
        Scheme::Bsm => bsm::sign(message, key).to_bytes().to_vec(),
        Scheme::Brc77 => brc77::sign(message, key, random::bytes32()?)?,
    })
}
