//! Access-token validation (docs/protocol.md §4) against a fixed key set:
//! structure, header, claims and signature checks on any input.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sigil_core::jwt::{Audience, ValidationRules, validate};
use sigil_core::{Es256SigningKey, JwkSet};

fn keys() -> &'static (JwkSet, ValidationRules) {
    static KEYS: OnceLock<(JwkSet, ValidationRules)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let pkcs8 = sigil_core::es256::generate_pkcs8(&[7; 32]).unwrap();
        let key = Es256SigningKey::from_pkcs8(&pkcs8).unwrap();
        let set = JwkSet::from_keys([(key.kid().to_owned(), key.verifying_key().clone())]).unwrap();
        let rules = ValidationRules::new(
            "https://sigil.example",
            Audience::Exact("https://api.example".into()),
        );
        (set, rules)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let (set, rules) = keys();
    // The key is derived from fixed bytes, so a token signed by it could in
    // principle be found; all that is checked is that no input panics.
    let _ = validate(token, set, rules, 1_700_000_000);
});
