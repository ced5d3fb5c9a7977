//! Signup payloads (docs/protocol.md §11): strict parsing, JS-compatible
//! JSON, and the whole verification with the input as every field.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_core::payload::{JsValue, Payload, Policy, stringify, verify};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(payload) = Payload::parse(text) {
        // What a payload writes, it reads back as the same payload.
        let again = Payload::parse(&payload.to_text()).expect("to_text parses");
        assert_eq!(again.to_text(), payload.to_text());
    }
    if let Ok(value) = JsValue::parse(text) {
        // JSON.stringify's output is a fixed point.
        let once = stringify(&value);
        let twice = stringify(&JsValue::parse(&once).expect("stringify output parses"));
        assert_eq!(once, twice);
    }
    let mut parts = text.splitn(3, '\n');
    let (payload, address, signature) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let policy = Policy::new(["app.example"]);
    let _ = verify(payload, address, signature, &policy, 1_700_000_000_000);
});
