//! Properties: sign → verify round trips, and every mutation of a signed
//! statement or its signature is refused (or, for a BSM header change
//! against a public key, recognised as the same statement).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use proptest::prelude::*;
use sigil_core::auth_token::{self, BodyEncoding, NewAuthToken, RequestFacts};
use sigil_core::cashaddr::CashAddr;
use sigil_core::{
    Address, Network, PrivateKey, ReplayKey, Scheme, Signature, TokenMessage, Window, brc77, bsm,
};

fn key_strategy() -> impl Strategy<Value = PrivateKey> {
    (any::<[u8; 32]>(), any::<bool>()).prop_filter_map("scalar in range", |(bytes, compressed)| {
        PrivateKey::from_bytes(bytes, Network::Mainnet, compressed).ok()
    })
}

/// Messages around the CompactSize boundaries and with non-ASCII text.
fn message_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::collection::vec(any::<u8>(), 250..260),
        "\\PC{0,300}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn bsm_round_trip(key in key_strategy(), message in message_strategy()) {
        let sig = bsm::sign(&message, &key);
        prop_assert!(sig.is_low_s());
        sig.verify_public_key(&message, &key.public_key()).unwrap();
        let signer = sig.verify_address(&message, &key.address(), Network::Mainnet).unwrap();
        prop_assert_eq!(signer, key.public_key());
        // And through the text forms of docs/protocol.md §2.
        let parsed = Signature::from_bytes(&sig.to_bytes()).unwrap();
        prop_assert_eq!(parsed.scheme(), Scheme::Bsm);
        parsed.verify(&message, &key.public_key()).unwrap();
    }

    #[test]
    fn bsm_message_bit_flip_is_refused(key in key_strategy(), message in message_strategy(), bit in any::<prop::sample::Index>()) {
        prop_assume!(!message.is_empty());
        let sig = bsm::sign(&message, &key);
        let mut changed = message.clone();
        let i = bit.index(changed.len() * 8);
        changed[i / 8] ^= 1 << (i % 8);
        prop_assert!(sig.verify_public_key(&changed, &key.public_key()).is_err());
        prop_assert!(sig.verify_address(&changed, &key.address(), Network::Mainnet).is_err());
    }

    #[test]
    fn bsm_r_or_s_bit_flip_is_refused(key in key_strategy(), message in message_strategy(), bit in 8usize..520) {
        let mut bytes = bsm::sign(&message, &key).to_bytes();
        bytes[bit / 8] ^= 1 << (bit % 8);
        let result = Signature::from_bytes(&bytes).and_then(|s| s.verify(&message, &key.public_key()));
        prop_assert!(result.is_err());
    }

    #[test]
    fn bsm_header_change_is_same_statement_or_refused(key in key_strategy(), message in message_strategy(), header in 27u8..=42) {
        let sig = bsm::sign(&message, &key);
        prop_assume!(header != sig.header());
        let mut bytes = sig.to_bytes();
        bytes[0] = header;
        let changed = bsm::CompactSignature::from_bytes(&bytes).unwrap();
        // Against the address, any other header is refused: another kind,
        // another hash form or another recovered key.
        prop_assert!(changed.verify_address(&message, &key.address(), Network::Mainnet).is_err());
        // Against the public key it either recovers the same key, and is then
        // the very same statement (same replay key), or it is refused.
        match changed.recover(&message) {
            Ok(signer) if signer == key.public_key() => {
                prop_assert_eq!(
                    ReplayKey::for_statement(&signer, &message),
                    ReplayKey::for_statement(&key.public_key(), &message)
                );
                prop_assert_eq!(changed.recovery_id(), sig.recovery_id());
            }
            _ => prop_assert!(changed.verify_public_key(&message, &key.public_key()).is_err()),
        }
    }

    #[test]
    fn brc77_round_trip_and_mutations(key in key_strategy(), other in key_strategy(), message in message_strategy(), key_id in any::<[u8; 32]>(), bit in any::<prop::sample::Index>()) {
        let envelope = brc77::sign(&message, &key, key_id).unwrap();
        let sig = Signature::from_bytes(&envelope).unwrap();
        prop_assert_eq!(sig.scheme(), Scheme::Brc77);
        sig.verify(&message, &key.public_key()).unwrap();
        // Claimed by someone else: refused as a signer mismatch.
        prop_assume!(other.public_key() != key.public_key());
        let err = sig.verify(&message, &other.public_key()).unwrap_err();
        prop_assert!(err.to_string().contains("not by the claimed key"), "{}", err);
        // Any bit of the keyID or the DER signature flipped: refused.
        let mut mutated = envelope.clone();
        let i = 38 * 8 + bit.index((envelope.len() - 38) * 8);
        mutated[i / 8] ^= 1 << (i % 8);
        let result = Signature::from_bytes(&mutated).and_then(|s| s.verify(&message, &key.public_key()));
        prop_assert!(result.is_err());
        // The message changed: refused.
        let mut changed = message.clone();
        changed.push(b'!');
        prop_assert!(sig.verify(&changed, &key.public_key()).is_err());
    }

    #[test]
    fn cashaddr_round_trip_and_single_character_changes(hash in any::<[u8; 20]>(), p2sh in any::<bool>(), pos in any::<prop::sample::Index>(), replacement in 0usize..32) {
        let addr = Address { network: Network::Mainnet, kind: if p2sh { sigil_core::AddressKind::P2sh } else { sigil_core::AddressKind::P2pkh }, hash };
        let text = addr.to_cashaddr().unwrap();
        prop_assert_eq!(Address::parse(&text).unwrap(), addr);
        prop_assert_eq!(Address::parse(&text.to_uppercase()).unwrap(), addr);
        let payload_start = "bitcoincash:".len();
        let i = payload_start + pos.index(text.len() - payload_start);
        let alphabet = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
        prop_assume!(text.as_bytes()[i] != alphabet[replacement]);
        let mut changed = text.into_bytes();
        changed[i] = alphabet[replacement];
        let changed = String::from_utf8(changed).unwrap();
        prop_assert!(CashAddr::decode(&changed, &[]).is_err(), "{} was accepted", changed);
    }

    #[test]
    fn token_message_parse_is_injective(host in "[a-z]{1,10}(\\.[a-z]{2,5})?", port in proptest::option::of(1u16..), path in "(/[a-zA-Z0-9:_.-]{0,8}){0,3}", ts in 0u64..10_000_000_000_000, bound in any::<bool>()) {
        let endpoint = match port {
            Some(p) => format!("https://{host}:{p}{path}"),
            None => format!("https://{host}{path}"),
        };
        let msg = if bound {
            TokenMessage::bound("http://localhost:1911", &endpoint, ts)
        } else {
            TokenMessage::compat(&endpoint, ts)
        };
        let text = msg.to_message();
        prop_assert_eq!(TokenMessage::parse(&text).unwrap(), msg.clone());
        let ts_text = ts.to_string();
        prop_assert!(TokenMessage::check(&text, &endpoint, &ts_text, "http://localhost:1911").is_ok());
        // A leading zero is another text for the same number: refused.
        let zero_padded = text.replace(&format!(":{ts}"), &format!(":0{ts}"));
        let reparsed = TokenMessage::parse(&zero_padded);
        prop_assert!(reparsed.is_err());
    }

    #[test]
    fn x_auth_token_round_trip(key in key_strategy(), body in proptest::option::of("\\PC{0,400}"), path in "/[a-z0-9/?=&]{0,30}", brc in any::<bool>(), key_id in any::<[u8; 32]>(), skew in 0u64..300_000) {
        let now = 1_800_000_000_000;
        let scheme = if brc { Scheme::Brc77 } else { Scheme::Bsm };
        let body_bytes = body.as_deref().map(str::as_bytes);
        let token = auth_token::build(&key, &NewAuthToken { request_path: &path, body: body_bytes, timestamp_ms: now - skew, scheme, key_id }).unwrap();
        let facts = RequestFacts { request_path: &path, body: body_bytes, body_encoding: BodyEncoding::Utf8, now_ms: now, window: Window::SYMMETRIC_300S };
        let verified = auth_token::verify(&token, &facts).unwrap();
        prop_assert_eq!(verified.signer, key.public_key());
        let other_path = format!("{path}x");
        let other = auth_token::verify(&token, &RequestFacts { request_path: &other_path, ..facts });
        prop_assert!(other.is_err());
        let tampered = format!("{}!", body.clone().unwrap_or_default());
        let tampered = auth_token::verify(&token, &RequestFacts { body: Some(tampered.as_bytes()), ..facts });
        prop_assert!(tampered.is_err());
    }
}
