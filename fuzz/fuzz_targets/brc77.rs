//! BRC-77 envelope parsing, and the strict-DER check on its own.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_core::brc77::{Envelope, verify_der};

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::from_bytes(data) {
        let _ = envelope.verify(b"fuzz", &envelope.sender().clone());
        let _ = verify_der(b"fuzz", &data[70..], envelope.sender());
    }
});
