//! Interop with the JavaScript libraries sigil's users run (@bsv/sdk,
//! bitcoinjs-message, bitcoin-auth), through the Node scripts of
//! `tests/interop/` (installed by the test command: `scripts/test`).
//!
//! JS → Rust: `sign.mjs` signs random messages with random keys; every
//! signature must verify in sigil-core. Rust → JS: sigil-core signs random
//! messages; `verify.mjs` must accept every one in every library, and refuse
//! the corrupted controls. At least 200 cases each way and per library,
//! messages of 253 bytes and more, and non-ASCII text.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sigil_core::auth_token::{self, BodyEncoding, NewAuthToken, RequestFacts};
use sigil_core::hash::{from_hex, sha256, to_hex};
use sigil_core::timestamp::{format_iso_ms, parse_iso_ms};
use sigil_core::{Address, Network, PrivateKey, PublicKey, Scheme, Signature, Window, brc77, bsm};

const CASES: usize = 200;

fn node(script: &str, args: &[&str], stdin: Option<&Value>) -> Value {
    let mut command = sigil_testkit::node(script, &["@bsv/sdk"]);
    command.args(args);
    sigil_testkit::run_json(command, stdin)
}

/// A small deterministic generator, seeded per run and printed on failure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes32(&mut self) -> [u8; 32] {
        let seed = self.next().to_le_bytes();
        sha256(&seed)
    }
    fn key(&mut self, compressed: bool) -> PrivateKey {
        loop {
            if let Ok(k) = PrivateKey::from_bytes(self.bytes32(), Network::Mainnet, compressed) {
                return k;
            }
        }
    }
    /// Text messages: a third ≥ 253 bytes, about half non-ASCII.
    fn message(&mut self, i: usize) -> String {
        const PIECES: [&str; 12] = [
            "a", "sigil ", "é", "中文", "😀", "\u{2028}", "\n", "\0", "Numéris", "|", ":",
            "\u{FEFF}",
        ];
        let len = match i % 3 {
            0 => self.below(40),
            1 => 253 + self.below(400),
            _ => 60 + self.below(190),
        };
        let ascii_only = i.is_multiple_of(4);
        let mut out = String::new();
        while (out.len() as u64) < len {
            let piece = if ascii_only {
                PIECES[self.below(2) as usize]
            } else {
                PIECES[self.below(12) as usize]
            };
            out.push_str(piece);
        }
        out
    }
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    (nanos as u64) | 1
}

#[test]
fn js_signatures_verify_in_sigil() {
    let seed = seed() % 1_000_000;
    let out = node("sign.mjs", &[&CASES.to_string(), &seed.to_string()], None);
    let cases = out["cases"].as_array().unwrap();
    let mut per_lib: HashMap<String, usize> = HashMap::new();
    let mut long = 0;
    let mut non_ascii = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let lib = case["lib"].as_str().unwrap();
        let pubkey = PublicKey::from_hex(case["pubkey"].as_str().unwrap()).unwrap();
        let context = format!("seed {seed}, case {name}");
        if lib == "bitcoin-auth" {
            let token = case["token"].as_str().unwrap();
            let body = case["body"].as_str();
            let encoding: BodyEncoding = case["body_encoding"].as_str().unwrap().parse().unwrap();
            let now = parse_iso_ms(case["timestamp"].as_str().unwrap()).unwrap();
            let facts = RequestFacts {
                request_path: case["request_path"].as_str().unwrap(),
                body: body.map(str::as_bytes),
                body_encoding: encoding,
                now_ms: now,
                window: Window::SYMMETRIC_300S,
            };
            let verified =
                auth_token::verify(token, &facts).unwrap_or_else(|e| panic!("{context}: {e}"));
            assert_eq!(verified.signer, pubkey, "{context}");
            let parsed = auth_token::AuthToken::parse(token).unwrap();
            let decoded = body.map(|b| encoding.decode(b.as_bytes()).unwrap());
            assert_eq!(
                parsed.signed_string(decoded.as_deref()),
                case["signed_string"].as_str().unwrap(),
                "{context}"
            );
        } else {
            let message = from_hex(case["message_hex"].as_str().unwrap()).unwrap();
            long += usize::from(message.len() >= 253);
            non_ascii += usize::from(!message.is_ascii());
            let bytes = match case["signature_bytes"].as_array() {
                Some(values) => sigil_core::signature::decode_byte_values(values).unwrap(),
                None => STANDARD
                    .decode(case["signature_base64"].as_str().unwrap())
                    .unwrap(),
            };
            let sig = Signature::from_bytes(&bytes).unwrap_or_else(|e| panic!("{context}: {e}"));
            let expected_scheme = if case["scheme"] == "brc77" {
                Scheme::Brc77
            } else {
                Scheme::Bsm
            };
            assert_eq!(sig.scheme(), expected_scheme, "{context}");
            sig.verify(&message, &pubkey)
                .unwrap_or_else(|e| panic!("{context}: {e}"));
            if let (Signature::Bsm(bsm_sig), Some(address)) = (&sig, case["address"].as_str()) {
                let address = Address::parse(address).unwrap();
                bsm_sig
                    .verify_address(&message, &address, Network::Mainnet)
                    .unwrap_or_else(|e| panic!("{context}: {e}"));
            }
        }
        *per_lib.entry(lib.to_string()).or_default() += 1;
    }
    for lib in [
        "bsv-sdk-bsm",
        "bsv-sdk-signedmessage",
        "bitcoinjs-message",
        "bitcoin-auth",
    ] {
        assert!(
            per_lib.get(lib).copied().unwrap_or_default() >= CASES,
            "{lib}: {per_lib:?}"
        );
    }
    assert!(long >= CASES / 2, "{long} messages of 253 bytes or more");
    assert!(non_ascii >= CASES / 2, "{non_ascii} non-ASCII messages");
}

#[test]
fn sigil_signatures_verify_in_js() {
    let seed = seed();
    let mut rng = Rng(seed);
    let mut cases = Vec::new();
    let mut expect_valid: HashMap<String, bool> = HashMap::new();
    for i in 0..CASES {
        let compressed = i % 5 != 4;
        let key = rng.key(compressed);
        let message = rng.message(i);
        let pubkey = key.public_key().to_hex();

        let sig = bsm::sign(message.as_bytes(), &key);
        cases.push(
            json!({"name": format!("bsm-{i}"), "scheme": "bsm", "pubkey": pubkey,
            "address": key.address().to_string(), "message_hex": to_hex(message.as_bytes()),
            "signature_base64": STANDARD.encode(sig.to_bytes())}),
        );
        expect_valid.insert(format!("bsm-{i}"), true);

        let envelope = brc77::sign(message.as_bytes(), &key, rng.bytes32()).unwrap();
        cases.push(json!({"name": format!("brc77-{i}"), "scheme": "brc77", "pubkey": pubkey,
            "message_hex": to_hex(message.as_bytes()), "signature_base64": STANDARD.encode(&envelope)}));
        expect_valid.insert(format!("brc77-{i}"), true);

        let path = format!("/api/{}?n={i}", ["items", "a/b", "x:y", "~me"][i % 4]);
        let (body, encoding) = match i % 4 {
            0 => (None, "utf8"),
            1 => (
                Some(format!(
                    "{{\"message\":\"{}\"}}",
                    message.replace(['"', '\\', '\n', '\0', '\u{2028}'], "")
                )),
                "utf8",
            ),
            2 => (Some(to_hex(message.as_bytes())), "hex"),
            _ => (Some(STANDARD.encode(message.as_bytes())), "base64"),
        };
        let encoding_value: BodyEncoding = encoding.parse().unwrap();
        let hashed = body
            .as_deref()
            .map(|b| encoding_value.decode(b.as_bytes()).unwrap());
        let now = 1_790_000_000_000 + i as u64 * 1000;
        let scheme = if i % 2 == 0 {
            Scheme::Brc77
        } else {
            Scheme::Bsm
        };
        let token = auth_token::build(
            &key,
            &NewAuthToken {
                request_path: &path,
                body: hashed.as_deref(),
                timestamp_ms: now,
                scheme,
                key_id: rng.bytes32(),
            },
        )
        .unwrap();
        let name = format!("x-auth-token-{i}");
        cases.push(
            json!({"name": name, "scheme": "x-auth-token", "token": token, "request_path": path,
            "body": body, "body_encoding": encoding, "now_iso": format_iso_ms(now)}),
        );
        expect_valid.insert(name, true);
    }
    // Controls that must be refused, so the harness is shown able to fail.
    let key = rng.key(true);
    let msg = b"sigil interop control".to_vec();
    let mut flipped = bsm::sign(&msg, &key).to_bytes();
    flipped[40] ^= 1;
    cases.push(json!({"name": "control-bsm-bit-flip", "scheme": "bsm", "pubkey": key.public_key().to_hex(),
        "address": key.address().to_string(), "message_hex": to_hex(&msg), "signature_base64": STANDARD.encode(flipped)}));
    expect_valid.insert("control-bsm-bit-flip".into(), false);
    let other = rng.key(true);
    let forged = brc77::sign(&msg, &other, [7; 32]).unwrap();
    cases.push(json!({"name": "control-brc77-forged-sender", "scheme": "brc77", "pubkey": key.public_key().to_hex(),
        "message_hex": to_hex(&msg), "signature_base64": STANDARD.encode(&forged)}));
    expect_valid.insert("control-brc77-forged-sender".into(), false);

    let out = node("verify.mjs", &[], Some(&json!({ "cases": cases })));
    let results = out["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());
    let mut checked = 0;
    for result in results {
        let name = result["name"].as_str().unwrap();
        let checks = result["checks"].as_object().unwrap();
        assert!(!checks.is_empty(), "{name}: no library checked it");
        match (name, expect_valid[name]) {
            // The reference verifier accepts a forged sender; sigil's separate
            // sender check (and sigil-core) refuse it.
            ("control-brc77-forged-sender", _) => {
                assert_eq!(
                    checks["@bsv/sdk"],
                    json!(true),
                    "the reference bug is still there: {checks:?}"
                );
                assert_eq!(checks["brc77-sender-is-pubkey"], json!(false), "{checks:?}");
            }
            (_, true) => {
                for (library, verdict) in checks {
                    assert_eq!(
                        verdict,
                        &json!(true),
                        "seed {seed}, {name}: {library} said {verdict}"
                    );
                    checked += 1;
                }
            }
            (_, false) => {
                for (library, verdict) in checks {
                    assert_ne!(
                        verdict,
                        &json!(true),
                        "seed {seed}, {name}: {library} accepted a control"
                    );
                }
            }
        }
    }
    assert!(checked >= 3 * CASES * 2, "{checked} library verdicts");
}
