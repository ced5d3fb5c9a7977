//! `X-Auth-Token` parsing (docs/protocol.md §7) and what is derived from it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_core::auth_token::{AuthToken, Origin};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(token) = AuthToken::parse(text) {
        let _ = token.signed_string(None);
        let _ = token.signed_string(Some(data));
        let _ = token.url_origin();
    }
    let _ = Origin::of_url(text);
});
