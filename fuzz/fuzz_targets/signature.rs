//! Signature decoding (every text and byte form of docs/protocol.md §2) and
//! BSM key recovery over the remaining bytes as the message.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_core::Signature;
use sigil_core::bsm::CompactSignature;
use sigil_core::signature::decode_text;

fuzz_target!(|data: &[u8]| {
    let split = data
        .len()
        .min(usize::from(data.first().copied().unwrap_or(0)));
    let (sig, message) = data.split_at(split);
    if let Ok(text) = std::str::from_utf8(sig) {
        let _ = decode_text(text);
        let _ = Signature::from_text(text);
    }
    if let Ok(signature) = Signature::from_bytes(sig) {
        let _ = signature.scheme();
    }
    if let Ok(compact) = CompactSignature::from_bytes(sig) {
        // Recovery either fails or yields a key the same signature verifies.
        if let Ok(key) = compact.recover(message) {
            assert!(compact.verify_public_key(message, &key).is_ok());
        }
    }
});
