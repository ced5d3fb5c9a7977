//! The confusions the reference libraries fall for, each refused by sigil
//! with its own clear error (issue: forged BRC-77 sender, high-S twin,
//! testnet/mainnet, P2SH/P2PKH).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sigil_core::auth_token::{self, BodyEncoding, RequestFacts};
use sigil_core::timestamp::parse_iso_ms;
use sigil_core::{Address, Error, ErrorClass, Network, PublicKey, ReplayKey, Signature, Window};
use support::load;

fn case(file: &str, name: &str) -> serde_json::Value {
    let doc = load(file);
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{file} has no case {name}"))
        .clone()
}

fn bsm_against_address(name: &str) -> sigil_core::Result<PublicKey> {
    let c = case("bsm_verify.json", name);
    let input = &c["input"];
    let sig = sigil_core::bsm::CompactSignature::from_bytes(
        &STANDARD
            .decode(input["signature_base64"].as_str().unwrap())
            .unwrap(),
    )?;
    let address = Address::parse(input["address"].as_str().unwrap())?;
    sig.verify_address(
        input["message_utf8"].as_str().unwrap().as_bytes(),
        &address,
        Network::Mainnet,
    )
}

#[test]
fn each_confusion_has_its_own_clear_error() {
    // 1. A forged BRC-77 X-Auth-Token: names key A, envelope signed by key B.
    let forged = case("bitcoin_auth_tokens.json", "brc77-forged-sender");
    let verify = &forged["input"]["verify"];
    let facts = RequestFacts {
        request_path: verify["request_path"].as_str().unwrap(),
        body: None,
        body_encoding: BodyEncoding::Utf8,
        now_ms: parse_iso_ms(verify["now"].as_str().unwrap()).unwrap(),
        window: Window::SYMMETRIC_300S,
    };
    let forged_err =
        auth_token::verify(forged["input"]["token"].as_str().unwrap(), &facts).unwrap_err();
    assert!(
        matches!(forged_err, Error::SignerMismatch { .. }),
        "{forged_err:?}"
    );
    assert_eq!(forged_err.class(), ErrorClass::Verification);
    let text = forged_err.to_string();
    assert!(text.contains("signature verification failed"), "{text}");
    assert!(
        text.contains(forged["expected"]["envelope_sender_hex"].as_str().unwrap()),
        "names the real sender: {text}"
    );

    // 2. A testnet address with the signer's hash, checked for mainnet.
    let network_err = bsm_against_address("signup-testnet-same-hash").unwrap_err();
    assert!(
        matches!(
            network_err,
            Error::NetworkMismatch {
                expected: Network::Mainnet,
                found: Network::Testnet
            }
        ),
        "{network_err:?}"
    );
    assert!(network_err.to_string().contains("network mismatch"));

    // 3. A P2SH address with the signer's hash, for a P2PKH-header signature.
    let kind_err = bsm_against_address("signup-p2sh-same-hash").unwrap_err();
    assert!(
        matches!(kind_err, Error::KindMismatch { .. }),
        "{kind_err:?}"
    );
    assert!(kind_err.to_string().contains("address kind mismatch"));

    let texts: HashSet<String> = [&forged_err, &network_err, &kind_err]
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(texts.len(), 3, "three distinct descriptions");
}

#[test]
fn high_s_twin_verifies_but_is_the_same_statement() {
    // A replay store keyed on the statement (here a set) refuses the twin
    // that a store keyed on signature bytes would accept.
    let mut store: HashSet<ReplayKey> = HashSet::new();
    let mut seen_signatures: HashSet<Vec<u8>> = HashSet::new();
    for name in [
        "core-trust-no-one",
        "core-trust-no-one-high-s-twin",
        "core-trust-no-one-hex",
        "core-header-plus-8-against-pubkey",
    ] {
        let c = case("bsm_verify.json", name);
        let input = &c["input"];
        let message = input["message_utf8"].as_str().unwrap().as_bytes();
        let text = input["signature_base64"]
            .as_str()
            .or(input["signature_hex"].as_str())
            .unwrap();
        let bytes = sigil_core::signature::decode_text(text).unwrap();
        let sig = Signature::from_bytes(&bytes).unwrap();
        let signer = match &sig {
            Signature::Bsm(s) => s.recover(message).unwrap(),
            Signature::Brc77(_) => unreachable!("BSM cases"),
        };
        let first = store.insert(ReplayKey::for_statement(&signer, message));
        assert_eq!(
            first,
            name == "core-trust-no-one",
            "{name}: only the first encoding is new"
        );
        seen_signatures.insert(bytes);
    }
    assert!(
        seen_signatures.len() >= 3,
        "the encodings really differ as bytes"
    );
}
