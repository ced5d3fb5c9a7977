//! Every vector of `tests/vectors/` that concerns sigil-core, looped by case
//! name. `expected` is sigil's answer; `library_results` is never used as
//! an expectation (see tests/vectors/README.md).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sigil_core::auth_token::{self, BodyEncoding, RequestFacts};
use sigil_core::bsm::{self, CompactSignature, HeaderKind};
use sigil_core::cashaddr::CashAddr;
use sigil_core::hash::{from_hex, hash160, sha256, to_hex};
use sigil_core::signature::decode_text;
use sigil_core::timestamp::parse_iso_ms;
use sigil_core::{
    Address, AddressKind, ErrorClass, Network, PrivateKey, PublicKey, ReplayKey, Signature,
    TokenMessage, Window, bap, brc42, brc77, signed_request,
};
use support::*;

fn network_of(name: &str) -> Result<Network, String> {
    match name {
        "mainnet" => Ok(Network::Mainnet),
        "testnet" => Ok(Network::Testnet),
        "regtest" => Ok(Network::Regtest),
        other => Err(format!("unknown network {other}")),
    }
}

fn kind_of(name: &str) -> Result<AddressKind, String> {
    match name {
        "p2pkh" => Ok(AddressKind::P2pkh),
        "p2sh" => Ok(AddressKind::P2sh),
        "p2wpkh" => Ok(AddressKind::P2wpkh),
        other => Err(format!("unknown kind {other}")),
    }
}

/// Checks that a refusal says what the vector's `reason` says, in sigil's words.
fn expect_reason(err: &sigil_core::Error, reason: &str) -> Result<(), String> {
    let text = err.to_string();
    let ok = match reason {
        "malformed signature" => {
            err.class() == ErrorClass::Malformed && text.starts_with("signature:")
        }
        "length" => text.contains("65 bytes"),
        "signer mismatch" => text.contains("not by the claimed key"),
        "unknown version" => text.contains("unknown version"),
        "malformed DER" => text.contains("malformed DER"),
        "malformed envelope" => text.contains("malformed envelope"),
        "malformed token" => text.contains("malformed token"),
        "unparseable timestamp" => text.contains("unparseable timestamp"),
        "path mismatch" => text.contains("path mismatch"),
        other => text.contains(other),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("refused with {text:?}, expected reason {reason:?}"))
    }
}

fn expect_refused<T: std::fmt::Debug>(
    got: sigil_core::Result<T>,
    reason: Option<&str>,
) -> Result<(), String> {
    match (got, reason) {
        (Ok(v), _) => Err(format!("accepted ({v:?}), expected a refusal")),
        (Err(e), Some(reason)) => expect_reason(&e, reason),
        (Err(_), None) => Ok(()),
    }
}

#[test]
fn bsm_sign() {
    let n = each_case("bsm_sign.json", |_, case| {
        let (input, want) = (&case["input"], &case["expected"]);
        let key = key_of(input)?;
        let message = message_of(input)?;
        expect_eq(
            "private key",
            to_hex(&key.to_bytes()),
            str_of(want, "private_key_hex")?.to_string(),
        )?;
        let pk = key.public_key();
        expect_eq(
            "public key",
            pk.to_hex(),
            str_of(want, "public_key_compressed_hex")?.to_string(),
        )?;
        let pre = bsm::preimage(&message);
        if let Some(hex) = want["preimage_hex"].as_str() {
            expect_eq("preimage", to_hex(&pre), hex.to_string())?;
        }
        let prefix = str_of(want, "preimage_length_prefix_hex")?;
        expect_eq(
            "CompactSize",
            to_hex(&bsm::compact_size(message.len())),
            prefix.to_string(),
        )?;
        expect_eq(
            "magic hash",
            to_hex(&bsm::magic_hash(&message)),
            str_of(want, "magic_hash_hex")?.to_string(),
        )?;
        let kind = match input["segwit_type"].as_str() {
            None => None,
            Some("p2sh(p2wpkh)") => Some(HeaderKind::P2shP2wpkh),
            Some("p2wpkh") => Some(HeaderKind::P2wpkh),
            Some(other) => return Err(format!("unknown segwit_type {other}")),
        };
        let sig = match kind {
            Some(kind) => bsm::sign_as(&message, &key, kind),
            None => bsm::sign(&message, &key),
        };
        expect_eq(
            "signature",
            STANDARD.encode(sig.to_bytes()),
            str_of(want, "signature_base64")?.to_string(),
        )?;
        expect_eq(
            "header",
            u64::from(sig.header()),
            want["header"].as_u64().ok_or("header")?,
        )?;
        expect_eq(
            "recovery id",
            u64::from(sig.recovery_id()),
            want["recovery_id"].as_u64().ok_or("recovery_id")?,
        )?;
        expect_eq("low s", sig.is_low_s(), true)?;
        // The address the vector names verifies against this signature (tuple comparison).
        let address = Address::parse(str_of(want, "address")?).map_err(|e| e.to_string())?;
        let signer = sig
            .verify_address(&message, &address, address.network)
            .map_err(|e| e.to_string())?;
        expect_eq("recovered signer", signer, pk)?;
        if let Some(testnet) = want["address_testnet"].as_str() {
            let addr = Address::parse(testnet).map_err(|e| e.to_string())?;
            sig.verify_address(&message, &addr, Network::Testnet)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    });
    assert_eq!(n, 30);
}

#[test]
fn bsm_verify() {
    let doc = load("bsm_verify.json");
    // Replay keys of valid cases, for the replay_equivalent_to checks.
    let mut twins = Twins::default();
    let n = each_case("bsm_verify.json", |name, case| {
        let (input, want) = (&case["input"], &case["expected"]);
        let message = message_of(input)?;
        let decoded = match (
            input["signature_base64"].as_str(),
            input["signature_hex"].as_str(),
        ) {
            (Some(b64), _) => decode_text(b64),
            (None, Some(hex)) => Ok(from_hex(hex).ok_or("signature_hex is not hex")?),
            _ => return Err("no signature".into()),
        };
        let network = input["expected_network"]
            .as_str()
            .map_or(Ok(Network::Mainnet), network_of)?;
        let result = decoded
            .and_then(|bytes| CompactSignature::from_bytes(&bytes))
            .and_then(|sig| {
                let signer = if let Some(addr) = input["address"].as_str() {
                    let address = Address::parse(addr)?;
                    sig.verify_address(&message, &address, network)?
                } else {
                    let key =
                        PublicKey::from_hex(input["public_key_hex"].as_str().unwrap_or_default())?;
                    sig.verify_public_key(&message, &key)?;
                    key
                };
                Ok((sig, signer))
            });
        let valid = want["valid"].as_bool().ok_or("expected.valid")?;
        if !valid {
            return expect_refused(result, want["reason"].as_str());
        }
        let (sig, signer) = result.map_err(|e| format!("refused: {e}"))?;
        if let Some(low) = want["s_is_low"].as_bool() {
            expect_eq("s is low", sig.is_low_s(), low)?;
        }
        if let Some(id) = want["recovery_id"].as_u64() {
            expect_eq("recovery id", u64::from(sig.recovery_id()), id)?;
        }
        twins.accepted(name, ReplayKey::for_statement(&signer, &message), want);
        Ok(())
    });
    assert_eq!(n, doc["cases"].as_array().map(Vec::len).unwrap_or_default());
    twins.assert_same_statements();
}

#[test]
fn wif_and_addresses() {
    each_case("wif_address.json", |_, case| {
        let (input, want) = (&case["input"], &case["expected"]);
        let wif = str_of(input, "wif")?;
        let parsed = PrivateKey::from_wif(wif);
        if want["valid"].as_bool() == Some(false) {
            let reason = str_of(want, "reason")?;
            let err = match parsed {
                Ok(_) => return Err("accepted an invalid WIF".into()),
                Err(e) => e,
            };
            let text = err.to_string();
            let needle = if reason.starts_with("private key") {
                "out of range"
            } else if reason.starts_with("version byte") {
                "version byte 0x00"
            } else if reason.starts_with("34-byte payload") {
                "compressed flag"
            } else if reason.starts_with("payload of") {
                reason
                    .split(':')
                    .next()
                    .unwrap_or(reason)
                    .split(" (")
                    .next()
                    .unwrap_or(reason)
            } else {
                reason
            };
            return if text.contains(needle) {
                Ok(())
            } else {
                Err(format!("{text:?} does not say {needle:?}"))
            };
        }
        let key = parsed.map_err(|e| e.to_string())?;
        expect_eq(
            "network",
            key.network(),
            network_of(str_of(want, "network")?)?,
        )?;
        expect_eq(
            "compressed",
            key.is_compressed(),
            want["compressed"].as_bool().ok_or("compressed")?,
        )?;
        expect_eq(
            "private key",
            to_hex(&key.to_bytes()),
            str_of(want, "private_key_hex")?.to_string(),
        )?;
        expect_eq("WIF round trip", key.to_wif(), wif.to_string())?;
        let pk = key.public_key();
        expect_eq(
            "compressed key",
            pk.to_hex(),
            str_of(want, "public_key_compressed_hex")?.to_string(),
        )?;
        let serialised = if key.is_compressed() {
            pk.serialize().to_vec()
        } else {
            pk.serialize_uncompressed().to_vec()
        };
        expect_eq(
            "public key",
            to_hex(&serialised),
            str_of(want, "public_key_hex")?.to_string(),
        )?;
        expect_eq(
            "hash160",
            to_hex(&hash160(&serialised)),
            str_of(want, "hash160_hex")?.to_string(),
        )?;
        expect_eq(
            "parsed public key",
            PublicKey::from_hex(str_of(want, "public_key_hex")?).ok(),
            Some(pk),
        )?;
        let forms = [
            ("p2pkh_mainnet", p2pkh_as(&key, Network::Mainnet)),
            ("p2pkh_testnet", p2pkh_as(&key, Network::Testnet)),
            (
                "p2sh_p2wpkh",
                Address::p2sh_p2wpkh(&pk, Network::Mainnet).to_legacy(),
            ),
            (
                "p2wpkh",
                Some(Address::p2wpkh(&pk, Network::Mainnet).to_string()),
            ),
            (
                "cashaddr",
                p2pkh_address(&key, Network::Mainnet).to_cashaddr(),
            ),
        ];
        for (field, made) in forms {
            if let Some(text) = want[field].as_str() {
                expect_eq(field, made, Some(text.to_string()))?;
                // And every textual form decodes back to a 20-byte tuple.
                Address::parse(text).map_err(|e| format!("{field}: {e}"))?;
            }
        }
        Ok(())
    });
}

/// P2PKH of the key in the form its WIF names (compressed or not).
fn p2pkh_address(key: &PrivateKey, network: Network) -> Address {
    let pk = key.public_key();
    if key.is_compressed() {
        Address::p2pkh(&pk, network)
    } else {
        Address::p2pkh_uncompressed(&pk, network)
    }
}

fn p2pkh_as(key: &PrivateKey, network: Network) -> Option<String> {
    p2pkh_address(key, network).to_legacy()
}

/// The address is the `(network, kind, hash160_hex)` tuple `want` names.
fn expect_tuple(addr: &Address, want: &Value) -> Result<(), String> {
    expect_eq(
        "network",
        addr.network,
        network_of(str_of(want, "network")?)?,
    )?;
    expect_eq("kind", addr.kind, kind_of(str_of(want, "kind")?)?)?;
    expect_eq(
        "hash",
        to_hex(&addr.hash),
        str_of(want, "hash160_hex")?.to_string(),
    )
}

#[test]
fn cashaddr() {
    each_case("cashaddr.json", |_, case| {
        let (input, want) = (&case["input"], &case["expected"]);
        match case["group"].as_str().ok_or("group")? {
            "legacy_translation" => {
                let legacy = Address::parse(str_of(input, "legacy")?).map_err(|e| e.to_string())?;
                let cash = Address::parse(str_of(input, "cashaddr")?).map_err(|e| e.to_string())?;
                expect_eq("same tuple", legacy, cash)?;
                expect_tuple(&cash, want)?;
                expect_eq(
                    "encode",
                    legacy.to_cashaddr(),
                    Some(str_of(input, "cashaddr")?.to_string()),
                )?;
                let bare = Address::parse(str_of(want, "cashaddr_without_prefix")?)
                    .map_err(|e| e.to_string())?;
                expect_eq("without prefix", bare, cash)
            }
            "sized" | "token_aware" => {
                let text = str_of(input, "cashaddr")?;
                let decoded = CashAddr::decode(text, &[]).map_err(|e| e.to_string())?;
                expect_eq("prefix", decoded.prefix.as_str(), str_of(want, "prefix")?)?;
                expect_eq(
                    "type",
                    u64::from(decoded.address_type()),
                    want["type"].as_u64().ok_or("type")?,
                )?;
                expect_eq(
                    "version",
                    u64::from(decoded.version),
                    want["version_byte"].as_u64().ok_or("version")?,
                )?;
                expect_eq(
                    "hash",
                    to_hex(&decoded.hash),
                    str_of(want, "hash_hex")?.to_string(),
                )?;
                expect_eq(
                    "network",
                    decoded.network(),
                    want["network"].as_str().map(network_of).transpose()?,
                )?;
                expect_eq("re-encode", decoded.encode(), text.to_string())?;
                let as_address = Address::parse(text);
                let usable = want["usable_as_sigil_address"]
                    .as_bool()
                    .unwrap_or(decoded.hash.len() == 20);
                expect_eq("usable as an address", as_address.is_ok(), usable)?;
                if let Ok(addr) = as_address {
                    expect_eq("kind", addr.kind, kind_of(str_of(want, "kind")?)?)?;
                }
                Ok(())
            }
            "checksum_only" => expect_refused(
                CashAddr::decode(str_of(input, "cashaddr")?, &[]),
                want["reason"].as_str(),
            ),
            "signup_forms" => {
                let got = Address::parse(str_of(input, "address")?);
                if want["valid"].as_bool() == Some(true) {
                    expect_tuple(&got.map_err(|e| e.to_string())?, want)
                } else {
                    // bchtest: with the mainnet hash is a valid testnet
                    // address, but never the mainnet one the case is about.
                    match got {
                        Ok(addr) if addr.network != Network::Mainnet => Ok(()),
                        Ok(addr) => Err(format!("accepted as {addr:?}")),
                        Err(_) => Ok(()),
                    }
                }
            }
            other => Err(format!("unknown group {other}")),
        }
    });
}

#[test]
fn bap_id() {
    each_case("bap_id.json", |name, case| {
        let (input, want) = (&case["input"], &case["expected"]);
        let address = match input["address"].as_str() {
            Some(a) => a.to_string(),
            None => {
                let pk = PublicKey::from_hex(str_of(input, "public_key_hex")?)
                    .map_err(|e| e.to_string())?;
                let addr = pk.to_address().to_string();
                expect_eq(
                    "address",
                    addr.clone(),
                    str_of(want, "address")?.to_string(),
                )?;
                addr
            }
        };
        if let Some(hex) = want["sha256_of_address_text_hex"].as_str() {
            expect_eq(
                "sha256",
                to_hex(&sha256(address.as_bytes())),
                hex.to_string(),
            )?;
        }
        if name == "sigma-cli-account-key-is-not-the-member-key" {
            let own = bap::bap_id_of_address(&address);
            expect_eq(
                "hash of this address",
                own.as_str(),
                str_of(want, "hash_of_this_address")?,
            )?;
            return if own == str_of(want, "registered_bap_id")? {
                Err("an account key must not hash to its identity's bap_id".into())
            } else {
                Ok(())
            };
        }
        expect_eq(
            "bap_id",
            bap::bap_id_of_address(&address),
            str_of(want, "bap_id")?.to_string(),
        )?;
        if let Some(wrong) = want["wrong_hash_of_decoded_bytes"].as_str() {
            let decoded = Address::parse(&address).map_err(|e| e.to_string())?;
            if bap::bap_id_of_address(&address) == wrong || to_hex(&decoded.hash) == wrong {
                return Err("matched a wrong formula".into());
            }
        }
        Ok(())
    });
}

#[test]
fn brc42() {
    each_case("brc42.json", |name, case| {
        let (input, want) = (&case["input"], &case["expected"]);
        let priv_of = |field: &str| -> Result<PrivateKey, String> {
            PrivateKey::from_bytes(bytes32_of(input, field)?, Network::Mainnet, true)
                .map_err(|e| e.to_string())
        };
        let pub_of =
            |field: &str| PublicKey::from_hex(str_of(input, field)?).map_err(|e| e.to_string());
        // Two named parties: the recipient derives its child private key,
        // the sender derives the recipient's child public key.
        let parties = if name.starts_with("private-") {
            Some(("recipient_private_key_hex", "sender_public_key_hex"))
        } else if name.starts_with("public-") {
            Some(("sender_private_key_hex", "recipient_public_key_hex"))
        } else {
            None
        };
        if let Some((own_field, other_field)) = parties {
            let own = priv_of(own_field)?;
            let other = pub_of(other_field)?;
            let invoice = str_of(input, "invoice_number")?;
            let shared = brc42::shared_secret(&own, &other).map_err(|e| e.to_string())?;
            expect_eq(
                "shared",
                to_hex(&shared),
                str_of(want, "shared_secret_compressed_hex")?.to_string(),
            )?;
            expect_eq(
                "hmac",
                to_hex(&brc42::invoice_hmac(&shared, invoice)),
                str_of(want, "hmac_hex")?.to_string(),
            )?;
            let child_public = if own_field.starts_with("recipient") {
                let child =
                    brc42::child_private_key(&own, &other, invoice).map_err(|e| e.to_string())?;
                expect_eq(
                    "child",
                    to_hex(&child.to_bytes()),
                    str_of(want, "child_private_key_hex")?.to_string(),
                )?;
                child.public_key()
            } else {
                brc42::child_public_key(&own, &other, invoice).map_err(|e| e.to_string())?
            };
            if let Some(hex) = want["child_public_key_hex"].as_str() {
                expect_eq("child public", child_public.to_hex(), hex.to_string())?;
            } else if own_field.starts_with("sender") {
                return Err("public case without child_public_key_hex".into());
            }
        } else {
            let key = key_of(input)?;
            let key_id = bytes32_of(input, "key_id_hex")?;
            let invoice = brc77::invoice(&key_id);
            expect_eq("invoice", invoice.as_str(), str_of(want, "invoice_number")?)?;
            expect_eq(
                "hmac key",
                key.public_key().to_hex(),
                str_of(want, "hmac_key_hex")?.to_string(),
            )?;
            let t = brc42::invoice_hmac(&key.public_key().serialize(), &invoice);
            expect_eq("t", to_hex(&t), str_of(want, "t_hex")?.to_string())?;
            let child =
                brc42::anyone_child_private_key(&key, &invoice).map_err(|e| e.to_string())?;
            expect_eq(
                "child",
                to_hex(&child.to_bytes()),
                str_of(want, "child_private_key_hex")?.to_string(),
            )?;
            let child_pub = brc42::anyone_child_public_key(&key.public_key(), &invoice)
                .map_err(|e| e.to_string())?;
            expect_eq("child public", child_pub, child.public_key())?;
            if let Some(hex) = want["child_public_key_hex"].as_str() {
                expect_eq("child public hex", child_pub.to_hex(), hex.to_string())?;
            }
        }
        Ok(())
    });
}

fn envelope_of(input: &Value) -> Result<Vec<u8>, String> {
    match (
        input["envelope_base64"].as_str(),
        input["envelope_hex"].as_str(),
    ) {
        (Some(b64), _) => STANDARD.decode(b64).map_err(|e| e.to_string()),
        (None, Some(_)) => hex_of(input, "envelope_hex"),
        _ => Err("no envelope".into()),
    }
}

#[test]
fn brc77() {
    let mut twins = Twins::default();
    each_case("brc77.json", |name, case| {
        let (input, want) = (&case["input"], &case["expected"]);
        let message = message_of(input)?;
        if input["signer_wif"].is_string() {
            let key = key_of(input)?;
            let envelope = brc77::sign(&message, &key, bytes32_of(input, "key_id_hex")?)
                .map_err(|e| e.to_string())?;
            expect_eq(
                "envelope",
                to_hex(&envelope),
                str_of(want, "envelope_hex")?.to_string(),
            )?;
            expect_eq(
                "base64",
                STANDARD.encode(&envelope),
                str_of(want, "envelope_base64")?.to_string(),
            )?;
            let from_array =
                decode_text(str_of(want, "envelope_json_array")?).map_err(|e| e.to_string())?;
            expect_eq("JSON array form", &from_array, &envelope)?;
            let sig = Signature::from_bytes(&envelope).map_err(|e| e.to_string())?;
            sig.verify(&message, &key.public_key())
                .map_err(|e| e.to_string())?;
            twins.accepted(
                name,
                ReplayKey::for_statement(&key.public_key(), &message),
                want,
            );
            return Ok(());
        }
        let claimed = PublicKey::from_hex(str_of(input, "claimed_public_key_hex")?)
            .map_err(|e| e.to_string())?;
        let result = Signature::from_bytes(&envelope_of(input)?)
            .and_then(|sig| sig.verify(&message, &claimed));
        if want["verifies"].as_bool() == Some(true) {
            result.map_err(|e| format!("refused: {e}"))?;
            twins.accepted(name, ReplayKey::for_statement(&claimed, &message), want);
            if let Some(layout) = want.get("layout") {
                let env =
                    brc77::Envelope::from_bytes(&envelope_of(input)?).map_err(|e| e.to_string())?;
                expect_eq(
                    "sender",
                    env.sender().to_hex(),
                    str_of(layout, "sender_hex")?.to_string(),
                )?;
                expect_eq(
                    "key id",
                    to_hex(env.key_id()),
                    str_of(layout, "key_id_hex")?.to_string(),
                )?;
            }
            Ok(())
        } else {
            expect_refused(result, want["reason"].as_str())
        }
    });
    twins.assert_same_statements();
}

#[test]
fn bitcoin_auth_tokens() {
    let mut twins = Twins::default();
    each_case("bitcoin_auth_tokens.json", |name, case| {
        let (input, want) = (&case["input"], &case["expected"]);
        let token = str_of(input, "token")?;
        let check = &input["verify"];
        let body_encoding: BodyEncoding = check["body_encoding"]
            .as_str()
            .unwrap_or("utf8")
            .parse()
            .map_err(|e: sigil_core::Error| e.to_string())?;
        let facts = RequestFacts {
            request_path: str_of(check, "request_path")?,
            body: check["body"].as_str().map(str::as_bytes),
            body_encoding,
            now_ms: parse_iso_ms(str_of(check, "now")?).map_err(|e| e.to_string())?,
            window: Window::SYMMETRIC_300S,
        };
        let result = auth_token::verify(token, &facts);
        if want["valid"].as_bool() != Some(true) {
            return expect_refused(result, want["reason"].as_str());
        }
        let verified = result.map_err(|e| format!("refused: {e}"))?;
        if let Some(signer) = want["signer_public_key_hex"].as_str() {
            expect_eq("signer", verified.signer.to_hex(), signer.to_string())?;
        }
        if let Some(hash) = want["body_hash"].as_str() {
            let parsed = auth_token::AuthToken::parse(token).map_err(|e| e.to_string())?;
            let body = facts
                .body
                .map(|b| body_encoding.decode(b))
                .transpose()
                .map_err(|e| e.to_string())?;
            let statement = parsed.signed_string(body.as_deref());
            expect_eq(
                "body hash",
                statement.rsplit('|').next().unwrap_or_default(),
                hash,
            )?;
        }
        twins.accepted(name, verified.replay_key, want);
        Ok(())
    });
    twins.assert_same_statements();
}

#[test]
fn token_for_endpoint_messages() {
    let mut replay_keys: HashMap<String, ReplayKey> = HashMap::new();
    each_case("token_for_endpoint.json", |name, case| {
        let (input, want) = (&case["input"], &case["expected"]);
        let now = input["server_now_ms"].as_u64().ok_or("server_now_ms")?;
        if input["signer_wif"].is_string() {
            // A body we build ourselves with a fixed keyID: exact bytes.
            let key = key_of(input)?;
            let endpoint = str_of(input, "endpoint")?;
            let ts = input["timestamp"].as_u64().ok_or("timestamp")?;
            let message = match input["issuer"].as_str() {
                Some(issuer) => TokenMessage::bound(issuer, endpoint, ts).to_message(),
                None => TokenMessage::compat(endpoint, ts).to_message(),
            };
            expect_eq("message", message.as_str(), str_of(want, "message")?)?;
            if let Some(hex) = want["message_hex"].as_str() {
                expect_eq("message bytes", to_hex(message.as_bytes()), hex.to_string())?;
            }
            let sig_bytes = match input["key_id_hex"].as_str() {
                Some(_) => {
                    let env =
                        brc77::sign(message.as_bytes(), &key, bytes32_of(input, "key_id_hex")?)
                            .map_err(|e| e.to_string())?;
                    expect_eq(
                        "envelope",
                        to_hex(&env),
                        str_of(want, "signature_envelope_hex")?.to_string(),
                    )?;
                    env
                }
                None => {
                    let sig = bsm::sign(message.as_bytes(), &key).to_bytes().to_vec();
                    if let Some(b64) = want["signature_base64"].as_str() {
                        expect_eq("bsm signature", STANDARD.encode(&sig), b64.to_string())?;
                    }
                    sig
                }
            };
            Signature::from_bytes(&sig_bytes)
                .and_then(|s| s.verify(message.as_bytes(), &key.public_key()))
                .map_err(|e| e.to_string())?;
            let rk = ReplayKey::for_statement(&key.public_key(), message.as_bytes());
            if let Some(hex) = want["replay_key_hex"].as_str() {
                expect_eq("replay key", rk.to_hex(), hex.to_string())?;
            }
            replay_keys.insert(name.into(), rk);
            return Ok(());
        }
        // A request body as a client sends it: the core-level checks of docs/protocol.md §3.
        let body: Value =
            serde_json::from_str(str_of(input, "request_body")?).map_err(|e| e.to_string())?;
        let issuer = input["server_issuer"]
            .as_str()
            .unwrap_or("http://localhost:1911");
        let ts_text = match &body["timestamp"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => return Err("timestamp".into()),
        };
        let outcome = (|| {
            let endpoint = body["endpoint"].as_str().unwrap_or_default();
            sigil_core::validate_endpoint(endpoint)?;
            let message = body["message"].as_str().unwrap_or_default();
            TokenMessage::check(message, endpoint, &ts_text, issuer)?;
            let ts = sigil_core::timestamp::parse_ms(&ts_text)?;
            Window::TOKEN_REQUEST.check(ts, now)?;
            let key = PublicKey::from_hex(body["pubkey"].as_str().unwrap_or_default())?;
            let sig =
                Signature::from_bytes(&sigil_core::signature::decode_json(&body["signature"])?)?;
            sig.verify(message.as_bytes(), &key)?;
            Ok::<_, sigil_core::Error>(ReplayKey::for_statement(&key, message.as_bytes()))
        })();
        if want["accepted_if_first"].as_bool() == Some(true) {
            let rk = outcome.map_err(|e| format!("refused: {e}"))?;
            expect_eq(
                "replay key",
                rk.to_hex(),
                str_of(want, "replay_key_hex")?.to_string(),
            )?;
            if let Some(twin) = want["replay_equivalent_to"].as_str() {
                expect_eq(
                    "same statement as the twin",
                    Some(&rk),
                    replay_keys.get(twin),
                )?;
            }
            replay_keys.insert(name.into(), rk);
            return Ok(());
        }
        let err = match outcome {
            Ok(_) => return Err("accepted, expected a refusal".into()),
            Err(e) => e,
        };
        match want["error"].as_str() {
            Some("timestamp_expired") => {
                expect_eq("class", err.class(), ErrorClass::Timestamp)?;
                if name == "timestamp-in-seconds" && !err.to_string().contains("milliseconds") {
                    return Err(format!("{err} does not say milliseconds are expected"));
                }
                Ok(())
            }
            Some("invalid_signature") => expect_eq("class", err.class(), ErrorClass::Verification),
            _ => Ok(()),
        }
    });
}

#[test]
fn signed_requests() {
    each_case("signed_requests.json", |_, case| {
        let (input, want) = (&case["input"], &case["expected"]);
        let key = key_of(input)?;
        let body = input["body"].as_str().unwrap_or("").as_bytes();
        let hash = signed_request::body_hash(body);
        expect_eq("body hash", hash.as_str(), str_of(want, "body_hash_hex")?)?;
        let ts = input["timestamp"].as_u64().ok_or("timestamp")?;
        let statement = signed_request::statement(
            str_of(input, "method")?,
            str_of(input, "target")?,
            &hash,
            ts,
        );
        expect_eq(
            "statement",
            statement.as_str(),
            str_of(want, "signed_string")?,
        )?;
        let sig = if let Some(headers) = want.get("headers_on_the_wire") {
            let wire = str_of(headers, "x-signature")?;
            let bytes = decode_text(wire).map_err(|e| e.to_string())?;
            let made = brc77::sign(statement.as_bytes(), &key, bytes32_of(input, "key_id_hex")?)
                .map_err(|e| e.to_string())?;
            expect_eq(
                "envelope",
                to_hex(&made),
                str_of(want, "x_signature_envelope_hex")?.to_string(),
            )?;
            expect_eq("decimal list decodes to the envelope", &bytes, &made)?;
            expect_eq(
                "x-body-hash",
                str_of(headers, "x-body-hash")?,
                hash.as_str(),
            )?;
            bytes
        } else {
            let made = bsm::sign(statement.as_bytes(), &key).to_bytes();
            expect_eq(
                "bsm",
                STANDARD.encode(made),
                str_of(want, "x_signature_bsm_base64")?.to_string(),
            )?;
            made.to_vec()
        };
        Signature::from_bytes(&sig)
            .and_then(|s| s.verify(statement.as_bytes(), &key.public_key()))
            .map_err(|e| e.to_string())?;
        if let Some(hex) = want["replay_key_hex"].as_str() {
            expect_eq(
                "replay key",
                ReplayKey::for_statement(&key.public_key(), statement.as_bytes()).to_hex(),
                hex.to_string(),
            )?;
        }
        Ok(())
    });
}

/// Wycheproof `ecdsa_secp256k1_sha256_bitcoin`: every case through
/// [`sigil_core::brc77::verify_der`], the strict-DER secp256k1 check inside
/// BRC-77 envelopes. Every expected result is honoured except for high-S
/// signatures, on purpose: the file marks them `invalid` (Bitcoin
/// transactions must not be malleable) but sigil accepts them, because JS
/// signers produce them and a replay key names the key and message, never
/// the signature bytes, so a high-S twin is the same statement. The test
/// pins exactly which cases that exception covers (tcId 1,
/// `SignatureMalleabilityBitcoin`, and tcId 388, s = n/2 + 1) and that each
/// is high-S with a low-S twin that verifies.
#[test]
fn wycheproof_secp256k1_bitcoin() {
    use secp256k1::ecdsa::Signature as Secp;
    let doc = load("wycheproof/ecdsa_secp256k1_sha256_bitcoin_test.json");
    assert_eq!(doc["schema"], "ecdsa_bitcoin_verify_schema.json");
    let (mut valid, mut invalid) = (0, 0);
    let mut high_s_accepted = Vec::new();
    let mut failures = Vec::new();
    for group in doc["testGroups"].as_array().unwrap() {
        assert_eq!(group["sha"], "SHA-256");
        assert_eq!(group["publicKey"]["curve"], "secp256k1");
        let point = from_hex(group["publicKey"]["uncompressed"].as_str().unwrap()).unwrap();
        let key = PublicKey::from_slice(&point).unwrap();
        for test in group["tests"].as_array().unwrap() {
            let id = test["tcId"].as_u64().unwrap();
            let msg = from_hex(test["msg"].as_str().unwrap()).unwrap();
            let der = from_hex(test["sig"].as_str().unwrap()).unwrap();
            let got = sigil_core::brc77::verify_der(&msg, &der, &key);
            let label = format!("tcId {id} {} {}", test["comment"], test["flags"]);
            match (test["result"].as_str().unwrap(), got) {
                ("valid", Ok(())) => valid += 1,
                ("invalid", Err(_)) => invalid += 1,
                ("invalid", Ok(())) => {
                    let sig = Secp::from_der(&der).expect("an accepted signature is DER");
                    let mut twin = sig;
                    twin.normalize_s();
                    let twin_ok =
                        sigil_core::brc77::verify_der(&msg, &twin.serialize_der(), &key).is_ok();
                    if twin == sig || !twin_ok {
                        failures.push(format!("{label}: accepted but not a high-S twin"));
                    }
                    high_s_accepted.push(id);
                }
                (want, got) => failures.push(format!("{label}: want {want}, got {got:?}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        high_s_accepted,
        [1, 388],
        "the high-S exception covers exactly these"
    );
    assert_eq!((valid, invalid), (162, 299));
}
