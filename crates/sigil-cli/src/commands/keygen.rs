//! `sigil keygen`: a random compressed key and everything derived from it.

use anyhow::Context as _;
use serde::Serialize;
use sigil_core::{Network, bap};

use zeroize::Zeroizing;

use crate::cli::KeygenArgs;
use crate::{output, random, secret};

/// What `keygen` prints, in this order.
#[derive(Debug, Serialize)]
struct Generated {
    wif: String,
    pubkey: String,
    address: String,
    cashaddr: String,
    bap_id: String,
}

/// Generates a key and prints it, or writes it to `--out FILE` (created
/// 0600, never overwritten).
///
/// # Errors
/// When the system random source or standard output fails, or the file
/// exists or cannot be written.
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
    let fields = [
        ("wif", generated.wif.as_str()),
        ("pubkey", &generated.pubkey),
        ("address", &generated.address),
        ("cashaddr", &generated.cashaddr),
        ("bap_id", &generated.bap_id),
    ];
    match &args.out {
        Some(path) => {
            let text = if json {
                Zeroizing::new(output::json_text(&generated)?)
            } else {
                Zeroizing::new(output::fields_text(&fields))
            };
            secret::write_new_private_file(path, text.as_bytes())
        }
        None if json => output::json(&generated),
        None => output::fields(&fields),
    }
}
