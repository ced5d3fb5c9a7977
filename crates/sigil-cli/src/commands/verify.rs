//! `sigil verify`: checks a BSM or BRC-77 signature against a public key or
//! (BSM only) an address.

use anyhow::bail;
use serde::Serialize;
use sigil_core::{Address, Network, PublicKey, Scheme, Signature};

use crate::cli::VerifyArgs;
use crate::output;

/// What `verify --json` prints, whatever the outcome.
#[derive(Debug, Serialize)]
struct Report {
    valid: bool,
    /// `null` when the signature could not be decoded.
    scheme: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Verifies and prints the outcome. A failure is also returned, so that the
/// caller prints it on standard error and picks the exit code (1 for a
/// signature that does not verify, 2 for malformed input).
///
/// # Errors
/// Malformed input, or a signature that does not verify.
pub(crate) fn run(args: &VerifyArgs, json: bool) -> anyhow::Result<()> {
    let decoded = Signature::from_text(args.signature.trim());
    let scheme = decoded.as_ref().ok().map(Signature::scheme);
    let outcome = decoded
        .map_err(anyhow::Error::from)
        .and_then(|signature| check(args, &signature));
    if json {
        output::json(&Report {
            valid: outcome.is_ok(),
            scheme: scheme.map(Scheme::as_str),
            signer: outcome.as_ref().ok().map(PublicKey::to_hex),
            error: outcome.as_ref().err().map(|e| format!("{e:#}")),
        })?;
    } else if let Ok(signer) = &outcome {
        output::line("valid")?;
        output::fields(&[
            ("scheme", scheme.map_or("", Scheme::as_str)),
            ("signer", &signer.to_hex()),
        ])?;
    }
    outcome.map(|_| ())
}

/// The signer, once `signature` is verified against the claimed key or address.
fn check(args: &VerifyArgs, signature: &Signature) -> anyhow::Result<PublicKey> {
    let message = args.message.as_bytes();
    if let Some(hex) = &args.pubkey {
        let key = PublicKey::from_hex(hex.trim())?;
        signature.verify(message, &key)?;
        return Ok(key);
    }
    let Some(text) = &args.address else {
        bail!("give --pubkey HEX or --address ADDR");
    };
    let address = Address::parse(text.trim())?;
    let network = if args.testnet {
        Network::Testnet
    } else {
        Network::Mainnet
    };
    match signature {
        Signature::Bsm(compact) => Ok(compact.verify_address(message, &address, network)?),
        Signature::Brc77(_) => bail!(
            "a BRC-77 signature cannot be checked against an address: \
             it names its signer by public key; use --pubkey HEX"
        ),
    }
}
