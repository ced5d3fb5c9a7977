//! The token-request body (docs/protocol.md §3) and the signed message.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_core::token_request::{ParsedTokenRequest, TokenMessage, validate_endpoint};

fuzz_target!(|data: &[u8]| {
    let _ = ParsedTokenRequest::parse(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(message) = TokenMessage::parse(text) {
        // The message is rebuilt from its fields byte for byte.
        assert_eq!(message.to_message(), text);
    }
    let _ = validate_endpoint(text);
});
