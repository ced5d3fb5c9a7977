//! Signed payloads (docs/protocol.md §11, docs/security.md section 4): every case of
//! `signup_payloads.json` by name, its `json_stringify_cases`, the
//! `signup_forms` of `cashaddr.json`, addresses with the signer's hash on
//! another network or of another kind, and build → sign → verify round trips.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use std::collections::{BTreeMap, HashSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sigil_core::bsm::{self, CompactSignature, HeaderKind};
use sigil_core::hash::to_hex;
use sigil_core::payload::{
    self, JsString, JsValue, Payload, Policy, SIGNUP_WALLET, VerifiedPayload, stringify,
};
use sigil_core::{Address, AddressKind, Error, ErrorClass, Network, PrivateKey, ReplayKey};
use support::*;

/// The published Signup vector (`signup-utils-test-vector`).
const SIGNUP_TEXT: &str = r#"{"signedBy":"Signup.cash","requestedBy":"localhost:5000","data":{"message":"Testing verify() fn for Signup.cash utils"},"timestamp":1601555811427}"#;
const SIGNUP_SIGNATURE: &str =
    "IGid4hb8JNwmpvHtgFuR8riP5y+FRq3BV1+2fprknEPAfJ2DszXa+7gYTkgZjuwf0i7NA9FEfSERS4sDAIy0nFM=";
const SIGNUP_ADDRESS: &str = "bitcoincash:qpgan8qtp0s6vny6mg6ja7zs8599tdfg9yvrk89qm6";
const SIGNUP_NOW_MS: u64 = 1_601_555_811_427;
/// The derived cases' signer.
const WIF: &str = "L4WVo4zZ8QC795KtwPyqgH92T7Q23FC4p4wGkFeZiaWeyewugte7";

fn signup_policy() -> Policy {
    Policy::new(["localhost:5000"])
}

/// Everything a case hands to the verifier.
struct Submission {
    text: String,
    address: String,
    signature: String,
    policy: Policy,
    now_ms: u64,
}

impl Submission {
    fn verify(&self) -> sigil_core::Result<VerifiedPayload> {
        payload::verify(
            &self.text,
            &self.address,
            &self.signature,
            &self.policy,
            self.now_ms,
        )
    }

    fn signature_verifies(&self) -> bool {
        let sig = CompactSignature::from_bytes(&STANDARD.decode(&self.signature).unwrap()).unwrap();
        let address = Address::parse(&self.address).unwrap();
        sig.verify_address(self.text.as_bytes(), &address, Network::Mainnet)
            .is_ok()
    }
}

fn u64_of(v: &Value, field: &str) -> Result<u64, String> {
    v[field]
        .as_u64()
        .ok_or_else(|| format!("missing integer field {field}"))
}

fn policy_of(input: &Value) -> Result<Policy, String> {
    let hosts = input["allowed_hosts"]
        .as_array()
        .ok_or("missing allowed_hosts")?;
    Ok(Policy::new(hosts.iter().filter_map(Value::as_str)))
}

/// A case's submission: given as text, or built and signed as the wallet
/// does (checking every intermediate value the case lists).
fn submission_of(case: &Value) -> Result<Submission, String> {
    let (input, want) = (&case["input"], &case["expected"]);
    let policy = policy_of(input)?;
    let now_ms = u64_of(input, "server_now_ms")?;
    if let Some(text) = input["payload"].as_str() {
        return Ok(Submission {
            text: text.to_owned(),
            address: str_of(input, "address")?.to_owned(),
            signature: str_of(input, "signature")?.to_owned(),
            policy,
            now_ms,
        });
    }
    let key = key_of(input)?;
    let data = JsValue::parse(str_of(input, "data_json_text")?).map_err(|e| e.to_string())?;
    let built = Payload::new(
        SIGNUP_WALLET,
        str_of(input, "requestedBy")?,
        data,
        u64_of(input, "timestamp")?,
    );
    let text = built.to_text();
    expect_eq("payload", text.as_str(), str_of(want, "payload")?)?;
    expect_eq(
        "payload bytes",
        to_hex(text.as_bytes()),
        str_of(want, "payload_utf8_hex")?.to_owned(),
    )?;
    expect_eq(
        "CompactSize",
        to_hex(&bsm::compact_size(text.len())),
        str_of(want, "compact_size_hex")?.to_owned(),
    )?;
    let signature = STANDARD.encode(payload::sign(&text, &key).to_bytes());
    expect_eq("signature", signature.as_str(), str_of(want, "signature")?)?;
    let address = key.address();
    expect_eq(
        "cashaddr",
        address.to_cashaddr().unwrap().as_str(),
        str_of(want, "address")?,
    )?;
    expect_eq(
        "legacy address",
        address.to_string().as_str(),
        str_of(want, "legacy_address")?,
    )?;
    expect_eq(
        "to_text of the parsed text",
        Payload::parse(&text).map(|p| p.to_text()),
        Ok(text.clone()),
    )?;
    Ok(Submission {
        text,
        address: str_of(want, "address")?.to_owned(),
        signature,
        policy,
        now_ms,
    })
}

/// The docs/protocol.md §8 code a case expects, `None` for acceptance.
fn expected_code(want: &Value) -> Result<Option<&str>, String> {
    if want["valid"] == true || (want["valid"].is_null() && want["signature_valid"] == true) {
        return Ok(None);
    }
    if want["error_reason"] == "requestedBy not allowed" {
        return Ok(Some("access_denied"));
    }
    want["error"]
        .as_str()
        .map(Some)
        .ok_or_else(|| "unrecognised expectation".to_owned())
}

fn expect_code(err: &Error, code: &str) -> Result<(), String> {
    let text = err.to_string();
    let (class, phrase) = match code {
        "invalid_signature" => (ErrorClass::Verification, "signature verification failed"),
        "invalid_request" => (ErrorClass::Malformed, "payload: "),
        "timestamp_expired" => (ErrorClass::Timestamp, "timestamp too old"),
        "access_denied" => (ErrorClass::Policy, "not allowed"),
        other => return Err(format!("unknown code {other}")),
    };
    expect_eq("class", err.class(), class)?;
    if text.contains(phrase) {
        Ok(())
    } else {
        Err(format!("{text:?} lacks {phrase:?}"))
    }
}

/// An accepted submission: every form of it (text, parsed object, the JSON
/// of a request body's `payload` member) verifies to the same statement.
fn check_accepted(sub: &Submission, want: &Value) -> Result<ReplayKey, String> {
    let got = sub.verify().map_err(|e| format!("refused: {e}"))?;
    expect_eq("reserialised", got.reserialised, false)?;
    expect_eq(
        "replay key",
        got.replay_key,
        ReplayKey::for_payload(sub.text.as_bytes()),
    )?;
    expect_eq(
        "payload_sha256",
        got.payload_sha256.clone(),
        got.replay_key.to_hex(),
    )?;
    if let Some(sha) = want["payload_sha256_hex"].as_str() {
        expect_eq("payload_sha256", got.payload_sha256.as_str(), sha)?;
    }
    if let Some(hex) = want["magic_hash_hex"].as_str() {
        expect_eq(
            "magic hash",
            to_hex(&bsm::magic_hash(sub.text.as_bytes())),
            hex.to_owned(),
        )?;
    }
    if let Some(len) = want["payload_length"].as_u64() {
        expect_eq("payload length", sub.text.len() as u64, len)?;
    }
    if let Some(pk) = want["signer_public_key_hex"].as_str() {
        expect_eq("signer", got.signer.to_hex().as_str(), pk)?;
    }
    if let Some(response) = want.get("response") {
        expect_eq(
            "address",
            got.address.as_str(),
            str_of(response, "address")?,
        )?;
        expect_eq(
            "requestedBy",
            got.requested_by.as_str(),
            str_of(response, "requestedBy")?,
        )?;
        expect_eq(
            "signedBy",
            got.signed_by.as_str(),
            str_of(response, "signedBy")?,
        )?;
        expect_eq(
            "timestamp",
            got.timestamp_ms,
            u64_of(response, "timestamp")?,
        )?;
        expect_eq(
            "payload_sha256",
            got.payload_sha256.as_str(),
            str_of(response, "payload_sha256")?,
        )?;
    }
    expect_eq(
        "to_text of the parsed text",
        Payload::parse(&sub.text).map(|p| p.to_text()),
        Ok(sub.text.clone()),
    )?;

    let object = JsValue::parse(&sub.text).map_err(|e| e.to_string())?;
    let as_object = payload::verify_object(
        &object,
        &sub.address,
        &sub.signature,
        &sub.policy,
        sub.now_ms,
    )
    .map_err(|e| format!("object form refused: {e}"))?;
    expect_eq("object form reserialised", as_object.reserialised, true)?;
    expect_eq(
        "object form",
        VerifiedPayload {
            reserialised: false,
            ..as_object
        },
        got.clone(),
    )?;
    for (form, json) in [
        ("body string", serde_json::to_string(&sub.text).unwrap()),
        ("body object", sub.text.clone()),
    ] {
        let v = payload::verify_json(&json, &sub.address, &sub.signature, &sub.policy, sub.now_ms)
            .map_err(|e| format!("{form} refused: {e}"))?;
        expect_eq(form, v.replay_key, got.replay_key)?;
    }
    Ok(got.replay_key)
}

/// `reserialised-sorted-keys-fails`: only the signed bytes verify.
fn check_sorted_and_pretty(case: &Value) -> Result<(), String> {
    let (input, want) = (&case["input"], &case["expected"]);
    let signed = str_of(input, "signed_payload")?;
    let payload = Payload::parse(signed).map_err(|e| e.to_string())?;
    // The case gives no host list or clock: those of its own payload.
    let policy = Policy::new([payload.requested_by.clone()]);
    let now_ms = payload.timestamp_ms;
    let (address, signature) = (str_of(input, "address")?, str_of(input, "signature")?);
    let verify = |text: &str| payload::verify(text, address, signature, &policy, now_ms);
    expect_eq(
        "signed payload verifies",
        verify(signed).is_ok(),
        want["verifies_over_signed_payload"] == true,
    )?;
    for field in ["sorted_keys_text", "pretty_text"] {
        let err = verify(str_of(input, field)?)
            .err()
            .ok_or_else(|| format!("{field} verified"))?;
        expect_code(&err, "invalid_signature")?;
    }
    // As objects: the sorted object re-serialises in its (sorted) order and
    // fails, saying why; the pretty one is the signed object and verifies.
    let sorted = JsValue::parse(str_of(input, "sorted_keys_text")?).unwrap();
    let err = payload::verify_object(&sorted, address, signature, &policy, now_ms)
        .err()
        .ok_or("sorted object verified")?;
    expect_code(&err, "invalid_signature")?;
    let text = err.to_string();
    if !(text.contains("re-serialised")
        && text.contains("may differ from the text that was signed"))
    {
        return Err(format!("the refusal does not explain itself: {text}"));
    }
    let pretty = JsValue::parse(str_of(input, "pretty_text")?).unwrap();
    expect_eq(
        "stringify of the pretty text",
        stringify(&pretty),
        signed.to_owned(),
    )?;
    payload::verify_object(&pretty, address, signature, &policy, now_ms)
        .map(|_| ())
        .map_err(|e| format!("pretty object refused: {e}"))
}

#[test]
fn signup_payload_cases() {
    let mut twins = Twins::default();
    let mut refusals: BTreeMap<String, String> = BTreeMap::new();
    let n = each_case("signup_payloads.json", |name, case| {
        if case["input"].get("signed_payload").is_some() {
            return check_sorted_and_pretty(case);
        }
        let want = &case["expected"];
        let sub = submission_of(case)?;
        match expected_code(want)? {
            None => {
                let key = check_accepted(&sub, want)?;
                twins.accepted(name, key, want);
                Ok(())
            }
            Some(code) => {
                let err = sub
                    .verify()
                    .err()
                    .ok_or_else(|| format!("accepted, expected {code}"))?;
                expect_code(&err, code)?;
                if want["signature_valid"] == true || want.get("signature").is_some() {
                    expect_eq("signature over the text", sub.signature_verifies(), true)?;
                }
                refusals.insert(name.to_owned(), err.to_string());
                Ok(())
            }
        }
    });
    assert_eq!(n, 15);
    twins.assert_same_statements();

    // Each refusal says what was wrong, in its own words.
    for (name, phrase) in [
        (
            "signup-utils-wrong-signature",
            "recovered key does not match the address",
        ),
        ("duplicate-timestamp-key", r#"duplicate key "timestamp""#),
        ("extra-top-level-key", r#"unexpected key "admin""#),
        ("missing-requested-by", r#"missing key "requestedBy""#),
        (
            "requested-by-not-allowed",
            r#"requestedBy "evil.example" is not an allowed host"#,
        ),
        ("timestamp-too-old", "signed 301 s ago"),
        ("timestamp-in-seconds", "milliseconds are expected"),
    ] {
        let text = &refusals[name];
        assert!(text.contains(phrase), "{name}: {text:?} lacks {phrase:?}");
    }
    let distinct: HashSet<&String> = refusals.values().collect();
    assert_eq!(distinct.len(), refusals.len(), "{refusals:#?}");
}

#[test]
fn json_stringify_cases() {
    let doc = load("signup_payloads.json");
    let cases = doc["json_stringify_cases"].as_array().unwrap();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let name = case["name"].as_str().unwrap();
            let check = || -> Result<(), String> {
                let value =
                    JsValue::parse(str_of(case, "input_json_text")?).map_err(|e| e.to_string())?;
                let text = stringify(&value);
                expect_eq(
                    "text",
                    text.as_str(),
                    str_of(case, "expected_stringify_of_parse")?,
                )?;
                expect_eq(
                    "bytes",
                    to_hex(text.as_bytes()),
                    str_of(case, "expected_utf8_hex")?.to_owned(),
                )
            };
            check().err().map(|why| format!("  {name}: {why}"))
        })
        .collect();
    assert_eq!(cases.len(), 5);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cashaddr_signup_forms_are_accepted_and_normalised() {
    let doc = load("cashaddr.json");
    let forms: Vec<&Value> = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["group"] == "signup_forms")
        .collect();
    assert_eq!(forms.len(), 9);
    for case in forms {
        let name = case["name"].as_str().unwrap();
        let spelling = case["input"]["address"].as_str().unwrap();
        let got = payload::verify(
            SIGNUP_TEXT,
            spelling,
            SIGNUP_SIGNATURE,
            &signup_policy(),
            SIGNUP_NOW_MS,
        );
        if case["expected"]["valid"] == true {
            let v = got.unwrap_or_else(|e| panic!("{name}: {e}"));
            let want = if spelling == "18TnRKEhfEz1D3g2unXizqXB8Xk97Q1xE9" {
                spelling // legacy stays legacy
            } else {
                SIGNUP_ADDRESS
            };
            assert_eq!(v.address, want, "{name}");
        } else {
            let err = got.expect_err(name);
            assert_eq!(err.class(), ErrorClass::Malformed, "{name}: {err}");
            assert!(err.to_string().starts_with("address: "), "{name}: {err}");
        }
    }
    let mixed = payload::verify(
        SIGNUP_TEXT,
        "bitcoincash:qpgan8qtp0s6vny6mg6ja7zs8599tdfg9yvrk89qM6",
        SIGNUP_SIGNATURE,
        &signup_policy(),
        SIGNUP_NOW_MS,
    )
    .unwrap_err();
    assert!(
        mixed.to_string().contains("mixed upper and lower case"),
        "{mixed}"
    );
}

#[test]
fn same_hash_on_another_network_or_of_another_kind_is_refused() {
    let mainnet = Address::parse(SIGNUP_ADDRESS).unwrap();
    let testnet = Address {
        network: Network::Testnet,
        ..mainnet
    };
    let p2sh = Address {
        kind: AddressKind::P2sh,
        ..mainnet
    };
    let mut texts = HashSet::new();
    for (spelling, phrase) in [
        (testnet.to_cashaddr().unwrap(), "network mismatch"),
        (testnet.to_string(), "network mismatch"),
        (p2sh.to_cashaddr().unwrap(), "address kind mismatch"),
        (p2sh.to_string(), "address kind mismatch"),
    ] {
        let err = payload::verify(
            SIGNUP_TEXT,
            &spelling,
            SIGNUP_SIGNATURE,
            &signup_policy(),
            SIGNUP_NOW_MS,
        )
        .unwrap_err();
        assert_eq!(err.class(), ErrorClass::Verification, "{spelling}: {err}");
        let text = err.to_string();
        assert!(
            text.contains("signature verification failed") && text.contains(phrase),
            "{spelling}: {text}"
        );
        texts.insert(text);
    }
    assert!(testnet.to_cashaddr().unwrap().starts_with("bchtest:"));
    assert_eq!(testnet.to_string(), "mnyjiNKgUGRFzA9edMW6pkjVzXLqyJ71WS");
    assert_eq!(p2sh.to_string(), "399oLrj9D9JPJDNU2tCKRTt7H42rha3t6V");
    assert_eq!(
        texts.len(),
        2,
        "network and kind mismatches read differently"
    );

    // A testnet policy accepts the testnet forms and refuses the mainnet one.
    let mut policy = signup_policy();
    policy.network = Network::Testnet;
    let v = payload::verify(
        SIGNUP_TEXT,
        &testnet.to_string(),
        SIGNUP_SIGNATURE,
        &policy,
        SIGNUP_NOW_MS,
    )
    .unwrap();
    assert_eq!(v.address, "mnyjiNKgUGRFzA9edMW6pkjVzXLqyJ71WS");
    let err = payload::verify(
        SIGNUP_TEXT,
        SIGNUP_ADDRESS,
        SIGNUP_SIGNATURE,
        &policy,
        SIGNUP_NOW_MS,
    )
    .unwrap_err();
    assert!(err.to_string().contains("network mismatch"), "{err}");
}

#[test]
fn build_sign_verify_round_trips() {
    let key = PrivateKey::from_wif(WIF).unwrap();
    let address = key.address().to_cashaddr().unwrap();
    let policy = Policy::new(["app.example.com", "localhost:5000"]);
    let now_ms = 1_700_000_000_000;
    let datas = [
        JsValue::object([("foo", JsValue::from("bar"))]),
        JsValue::object([
            ("name", JsValue::from("Virès is Numéris ✓ 😀 \u{2028}")),
            ("quote", "\"\\\n\t\u{1}/".into()),
            ("lone", JsValue::String(JsString::from_utf16(vec![0xD83D]))),
        ]),
        JsValue::object([
            ("b", JsValue::from(1.0)),
            ("2", 0.1.into()),
            ("1", (-0.0).into()),
            ("x", 1e21.into()),
            ("y", f64::INFINITY.into()),
        ]),
        JsValue::object([("message", JsValue::from("é".repeat(150)))]),
        JsValue::Null,
        JsValue::from(vec![JsValue::from(true), JsValue::from("[]")]),
    ];
    let mut keys = HashSet::new();
    for (i, data) in datas.into_iter().enumerate() {
        let host = if i % 2 == 0 {
            "app.example.com"
        } else {
            "localhost:5000"
        };
        let built = Payload::new(SIGNUP_WALLET, host, data, now_ms - 1_000 * i as u64);
        let text = built.to_text();
        let signature = payload::sign(&text, &key);
        assert!((31..=34).contains(&signature.header()), "compressed header");
        let sig64 = STANDARD.encode(signature.to_bytes());
        let v = payload::verify(&text, &address, &sig64, &policy, now_ms)
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(v.address, address);
        assert_eq!(v.signer, key.public_key());
        // Parsed back, data is in JavaScript's key order with Infinity as null.
        assert_eq!(stringify(&v.data), stringify(&built.data));
        assert_eq!(v.timestamp_ms, built.timestamp_ms);
        // The same statement through every door and every signature encoding.
        let hex = to_hex(&signature.to_bytes());
        let array = serde_json::to_string(&signature.to_bytes().to_vec()).unwrap();
        for sig in [&sig64, &hex, &array] {
            let o = payload::verify_object(&built_object(&built), &address, sig, &policy, now_ms)
                .unwrap_or_else(|e| panic!("object {text}: {e}"));
            assert_eq!(o.replay_key, v.replay_key);
        }
        assert!(
            keys.insert(v.replay_key),
            "distinct payloads, distinct keys"
        );
        if i == 3 {
            assert!(text.len() > 253, "{} bytes", text.len());
            assert_eq!(bsm::compact_size(text.len())[0], 0xFD);
        }
    }

    // An uncompressed WIF still signs with the compressed header, as the
    // Signup wallet does: the signature is for the compressed address.
    let uncompressed = PrivateKey::from_bytes(key.to_bytes(), Network::Mainnet, false).unwrap();
    let text = Payload::new(SIGNUP_WALLET, "localhost:5000", JsValue::Null, now_ms).to_text();
    let sig = STANDARD.encode(payload::sign(&text, &uncompressed).to_bytes());
    assert!(payload::verify(&text, &address, &sig, &policy, now_ms).is_ok());
}

#[test]
fn bip137_segwit_addresses_verify_with_their_headers() {
    let key = PrivateKey::from_wif(WIF).unwrap();
    let pk = key.public_key();
    let now_ms = 1_700_000_000_000;
    let text = Payload::new(SIGNUP_WALLET, "localhost:5000", JsValue::Null, now_ms).to_text();
    let policy = signup_policy();
    for (kind, address) in [
        (HeaderKind::P2wpkh, Address::p2wpkh(&pk, Network::Mainnet)),
        (
            HeaderKind::P2shP2wpkh,
            Address::p2sh_p2wpkh(&pk, Network::Mainnet),
        ),
    ] {
        let sig = STANDARD.encode(bsm::sign_as(text.as_bytes(), &key, kind).to_bytes());
        // Bech32 may be given in upper case; base58 is case-sensitive.
        let spelling = match kind {
            HeaderKind::P2wpkh => address.to_string().to_uppercase(),
            _ => address.to_string(),
        };
        let v = payload::verify(&text, &spelling, &sig, &policy, now_ms)
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(
            v.address,
            address.to_string(),
            "{kind:?}: bech32 in lower case, P2SH as given"
        );
        // The P2PKH header does not speak for a segwit address.
        let p2pkh_sig = STANDARD.encode(payload::sign(&text, &key).to_bytes());
        let err = payload::verify(&text, &spelling, &p2pkh_sig, &policy, now_ms).unwrap_err();
        assert!(err.to_string().contains("address kind mismatch"), "{err}");
    }
}

/// The object a JSON bridge would hand over: the parse of the built text.
fn built_object(payload: &Payload) -> JsValue {
    JsValue::parse(&payload.to_text()).unwrap()
}

#[test]
fn payload_form_refusals_name_the_key() {
    let base = |ts: &str| {
        format!(
            r#"{{"signedBy":"Signup.cash","requestedBy":"localhost:5000","data":{{}},"timestamp":{ts}}}"#
        )
    };
    let cases = [
        ("not json".to_owned(), "not valid JSON"),
        ("[1,2]".to_owned(), "must be a JSON object, not an array"),
        (
            r#""text""#.to_owned(),
            "must be a JSON object, not a string",
        ),
        (
            base("1").replace("{}", r#"{"a":1,"a":2}"#),
            r#"duplicate key "a" in a nested object"#,
        ),
        (
            base("1").replacen("}", r#"},"Data":1"#, 1),
            r#"unexpected key "Data""#,
        ),
        (
            base("1").replace(r#""signedBy":"Signup.cash","#, ""),
            r#"missing key "signedBy""#,
        ),
        (
            base("1").replace(r#","data":{}"#, ""),
            r#"missing key "data""#,
        ),
        (
            base("1").replace(r#","timestamp":1"#, ""),
            r#"missing key "timestamp""#,
        ),
        (
            base("1").replace(r#""Signup.cash""#, "7"),
            r#""signedBy" must be a string, not a number"#,
        ),
        (
            base("1").replace(r#""localhost:5000""#, "null"),
            r#""requestedBy" must be a string, not null"#,
        ),
        (
            base("1").replace(r#""Signup.cash""#, r#""\ud800""#),
            r#""signedBy" contains a lone surrogate"#,
        ),
        (
            base(r#""1700000000000""#),
            r#""timestamp" must be a number of milliseconds since the Unix epoch, not a string"#,
        ),
        (base("1700000000000.5"), r#"got "1700000000000.5""#),
        (base("1.7e12"), r#"got "1.7e12""#),
        (base("-1"), r#"got "-1""#),
        (
            base("99999999999999999999999"),
            r#"got "99999999999999999999999""#,
        ),
    ];
    let mut seen = HashSet::new();
    for (text, phrase) in &cases {
        let err = Payload::parse(text).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Malformed, "{text}");
        let message = err.to_string();
        assert!(message.starts_with("payload: "), "{message}");
        assert!(
            message.contains(phrase),
            "{text}: {message:?} lacks {phrase:?}"
        );
        assert!(seen.insert(message), "{text}: message repeated");
    }
    // Key order is not checked (the signature covers the bytes), whitespace
    // is allowed; to_text writes the canonical form.
    let reordered = r#"{ "timestamp": 5, "data": [1.0], "requestedBy": "h", "signedBy": "s" }"#;
    let p = Payload::parse(reordered).unwrap();
    assert_eq!(
        p.to_text(),
        r#"{"signedBy":"s","requestedBy":"h","data":[1],"timestamp":5}"#
    );
}

#[test]
fn signature_and_body_refusals() {
    let verify = |sig: &str| {
        payload::verify(
            SIGNUP_TEXT,
            SIGNUP_ADDRESS,
            sig,
            &signup_policy(),
            SIGNUP_NOW_MS,
        )
    };
    for sig in [
        "",
        "not base64!",
        "AAAA",
        &SIGNUP_SIGNATURE.replace('I', "?"),
    ] {
        let err = verify(sig).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Malformed, "{sig}: {err}");
        assert!(err.to_string().starts_with("signature: "), "{err}");
    }
    let envelope = format!("42423301{}", "00".repeat(100));
    let err = verify(&envelope).unwrap_err();
    assert!(err.to_string().contains("BRC-77 envelope"), "{err}");
    assert_eq!(err.class(), ErrorClass::Malformed);

    for (json, phrase) in [
        ("42", "not a number"),
        ("null", "not null"),
        (r#"{"a":1,"a":1}"#, "duplicate key"),
        (r#""\ud800""#, "lone surrogate"),
        ("{", "not valid JSON"),
    ] {
        let err = payload::verify_json(
            json,
            SIGNUP_ADDRESS,
            SIGNUP_SIGNATURE,
            &signup_policy(),
            SIGNUP_NOW_MS,
        )
        .unwrap_err();
        assert_eq!(err.class(), ErrorClass::Malformed, "{json}");
        assert!(err.to_string().contains(phrase), "{json}: {err}");
    }
}

#[test]
fn window_and_hosts() {
    let run = |policy: &Policy, now_ms: u64| {
        payload::verify(
            SIGNUP_TEXT,
            SIGNUP_ADDRESS,
            SIGNUP_SIGNATURE,
            policy,
            now_ms,
        )
    };
    let policy = signup_policy();
    assert!(run(&policy, SIGNUP_NOW_MS + 300_000).is_ok());
    assert!(run(&policy, SIGNUP_NOW_MS - 300_000).is_ok());
    let old = run(&policy, SIGNUP_NOW_MS + 300_001).unwrap_err();
    assert!(
        matches!(old, Error::TimestampTooOld { max_age_ms: 300_000, now_ms, .. } if now_ms == SIGNUP_NOW_MS + 300_001),
        "{old}"
    );
    let future = run(&policy, SIGNUP_NOW_MS - 300_001).unwrap_err();
    assert!(
        matches!(
            future,
            Error::TimestampInFuture {
                max_future_ms: 300_000,
                ..
            }
        ),
        "{future}"
    );
    assert_eq!(future.class(), ErrorClass::Timestamp);

    // Hosts are exact strings: no case folding, the port matters.
    for hosts in [
        vec![],
        vec!["localhost"],
        vec!["LOCALHOST:5000"],
        vec!["localhost:5001"],
    ] {
        let err = run(&Policy::new(hosts.clone()), SIGNUP_NOW_MS).unwrap_err();
        assert!(matches!(err, Error::NotAllowed(_)), "{hosts:?}: {err}");
        assert_eq!(err.class(), ErrorClass::Policy);
    }
    // The host check comes before the window.
    let err = run(&Policy::new(["elsewhere"]), 0).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Policy);
}

#[test]
fn the_replay_key_names_the_payload_not_the_signature() {
    // A store keyed on the statement accepts the payload once, however it
    // arrives: text, object, high-S twin, hex.
    let high_s =
        "H2id4hb8JNwmpvHtgFuR8riP5y+FRq3BV1+2fprknEPAg2J8TMolBEfnsbfmcRPgLIvh2RVqy38qdEdbjEOBpO4=";
    let hex = to_hex(&STANDARD.decode(SIGNUP_SIGNATURE).unwrap());
    let object = JsValue::parse(SIGNUP_TEXT).unwrap();
    let policy = signup_policy();
    let mut store = HashSet::new();
    let mut fresh = Vec::new();
    for sig in [SIGNUP_SIGNATURE, high_s, hex.as_str()] {
        let v = payload::verify(SIGNUP_TEXT, SIGNUP_ADDRESS, sig, &policy, SIGNUP_NOW_MS).unwrap();
        fresh.push(store.insert(v.replay_key));
        let o =
            payload::verify_object(&object, SIGNUP_ADDRESS, sig, &policy, SIGNUP_NOW_MS).unwrap();
        fresh.push(store.insert(o.replay_key));
    }
    assert_eq!(fresh, [true, false, false, false, false, false]);
}
