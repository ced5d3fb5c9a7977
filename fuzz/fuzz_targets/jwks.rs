//! JWKS documents as a validator receives them from an issuer.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_core::JwkSet;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = JwkSet::from_json(data) {
        for kid in set.kids() {
            assert!(set.get(kid).is_some());
        }
    }
});
