//! RFC 7591 dynamic client registration metadata (docs/protocol.md §17).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_oauth::client::{ClientMetadata, register};

fuzz_target!(|data: &[u8]| {
    let Ok(metadata) = serde_json::from_slice::<ClientMetadata>(data) else {
        return;
    };
    if let Ok(client) = register(&metadata, "c".into()) {
        // Every registered redirect URI is in its canonical, checked form.
        for uri in &client.redirect_uris {
            assert!(
                sigil_oauth::redirect::check_registered(uri).is_ok(),
                "{uri}"
            );
        }
    }
});
