//! `sigil keygen`: a random compressed key and everything derived from it.

use anyhow::Context as _;
use serde::Serialize;
use sigil_core::{Network, bap};

use crate::cli::KeygenArgs;
use crate::{output, random};

/// What `keygen` prints, in this order.
#[derive(Debug, Serialize)]
struct Generated {
    wif: String,
    pubkey: String,
    address: String,
    cashaddr: String,
    bap_id: String,
}

/// Generates a key and prints it.
///
/// # Errors
/// When the system random source or standard output fails.
pub(crate) fn run(args: &KeygenArgs, json: bool) -> anyhow::Result<()> {
    let network = if args.testnet {
        Network::Testnet
    } else {
        Network::Mainnet
    };
    let key = random::private_key(network)?;
    let pubkey = key.public_key();
    let address = key.address();
    let generated = Generated {
        wif: key.to_wif(),
        pubkey: pubkey.to_hex(),
        address: address.to_string(),
        cashaddr: address
            .to_cashaddr()
            .context("a P2PKH address always has a cashaddr form")?,
        bap_id: bap::bap_id_of_member_key(&pubkey),
    };
    if json {
        return output::json(&generated);
    }
    output::fields(&[
        ("wif", &generated.wif),
        ("pubkey", &generated.pubkey),
        ("address", &generated.address),
        ("cashaddr", &generated.cashaddr),
        ("bap_id", &generated.bap_id),
    ])
}
