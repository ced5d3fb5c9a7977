//! Shared helpers for the vector tests: load a vector file of
//! `tests/vectors/` and run a check on every case, by name.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use std::collections::HashMap;

use serde_json::Value;
use sigil_core::hash::from_hex;
use sigil_core::{PrivateKey, ReplayKey};

/// Parses one vector file of `tests/vectors/`.
pub fn load(file: &str) -> Value {
    sigil_testkit::vector_file(file)
}

/// Runs `check` on every case of `file`'s `cases` array. Every failing case
/// is reported by name; the test fails if any did. Returns how many ran.
pub fn each_case(file: &str, mut check: impl FnMut(&str, &Value) -> Result<(), String>) -> usize {
    let doc = load(file);
    let cases = doc["cases"]
        .as_array()
        .expect("vector file has a cases array");
    assert!(!cases.is_empty(), "{file} has no cases");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let name = case["name"].as_str().expect("every case has a name");
            check(name, case)
                .err()
                .map(|why| format!("  {name}: {why}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{file}: {} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}

/// A string field, or a failure naming it.
pub fn str_of<'a>(v: &'a Value, field: &str) -> Result<&'a str, String> {
    v[field]
        .as_str()
        .ok_or_else(|| format!("missing string field {field}"))
}

/// A hex field decoded.
pub fn hex_of(v: &Value, field: &str) -> Result<Vec<u8>, String> {
    from_hex(str_of(v, field)?).ok_or_else(|| format!("{field} is not hex"))
}

/// A 32-byte hex field.
pub fn bytes32_of(v: &Value, field: &str) -> Result<[u8; 32], String> {
    hex_of(v, field)?
        .try_into()
        .map_err(|_| format!("{field} is not 32 bytes"))
}

/// The message of a case: `message_utf8`, or `message_repeat {char, count}`.
pub fn message_of(input: &Value) -> Result<Vec<u8>, String> {
    if let Some(text) = input["message_utf8"].as_str() {
        return Ok(text.as_bytes().to_vec());
    }
    let rep = &input["message_repeat"];
    let ch = str_of(rep, "char")?;
    let count = rep["count"].as_u64().ok_or("message_repeat.count")?;
    Ok(ch
        .repeat(usize::try_from(count).map_err(|e| e.to_string())?)
        .into_bytes())
}

/// A private key from `wif`/`signer_wif`, or from `priv_hex` (left-padded)
/// with an explicit `compressed` flag.
pub fn key_of(input: &Value) -> Result<PrivateKey, String> {
    for field in ["wif", "signer_wif"] {
        if let Some(wif) = input[field].as_str() {
            return PrivateKey::from_wif(wif).map_err(|e| e.to_string());
        }
    }
    let hex = str_of(input, "priv_hex")?;
    let bytes = from_hex(&format!("{hex:0>64}")).ok_or("priv_hex is not hex")?;
    let compressed = input["compressed"].as_bool().unwrap_or(true);
    PrivateKey::from_bytes(
        bytes.try_into().map_err(|_| "priv_hex too long")?,
        sigil_core::Network::Mainnet,
        compressed,
    )
    .map_err(|e| e.to_string())
}

/// Fails with `what` unless `got == want`.
pub fn expect_eq<T: PartialEq + std::fmt::Debug>(
    what: &str,
    got: T,
    want: T,
) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// Replay keys of accepted cases and the `replay_equivalent_to` links
/// between them: every linked pair must be one statement (one replay key).
#[derive(Default)]
pub struct Twins {
    keys: HashMap<String, ReplayKey>,
    links: Vec<(String, String)>,
}

impl Twins {
    /// Records an accepted case and, if `expected` names a twin, the link.
    pub fn accepted(&mut self, name: &str, key: ReplayKey, expected: &Value) {
        self.keys.insert(name.to_string(), key);
        if let Some(twin) = expected["replay_equivalent_to"].as_str() {
            self.links.push((name.to_string(), twin.to_string()));
        }
    }

    /// Fails unless the file had links and each linked pair has one replay key.
    pub fn assert_same_statements(self) {
        assert!(!self.links.is_empty(), "the file lists replay twins");
        for (name, twin) in &self.links {
            let (a, b) = (self.keys.get(name), self.keys.get(twin));
            assert!(
                a.is_some() && a == b,
                "{name} must be the same statement as {twin}: {a:?} vs {b:?}"
            );
        }
    }
}
