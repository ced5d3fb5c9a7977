//! A resource server's whole check of one request (docs/protocol.md §4, §6,
//! §7): `Authorization`, the signed-request headers and `X-Auth-Token`,
//! from fuzzed header lines and body, through `Validator::authenticate`.
//!
//! Input: `name: value` lines, a blank line, then the body.
#![no_main]
use std::sync::OnceLock;

use http::{HeaderName, HeaderValue, Request};
use libfuzzer_sys::fuzz_target;
use sigil_core::{Es256SigningKey, JwkSet};
use sigil_validator::Validator;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    validator: Validator,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let pkcs8 = sigil_core::es256::generate_pkcs8(&[9; 32]).unwrap();
        let key = Es256SigningKey::from_pkcs8(&pkcs8).unwrap();
        let set = JwkSet::from_keys([(key.kid().to_owned(), key.verifying_key().clone())]).unwrap();
        let validator = runtime.block_on(async {
            Validator::builder("https://sigil.example", "https://api.example")
                .keys(set)
                .build()
                .unwrap()
        });
        Fixture { runtime, validator }
    })
}

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    let mut request = Request::builder()
        .method("POST")
        .uri("https://api.example/orders?id=1")
        .body(())
        .unwrap();
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        request.headers_mut().append(name, value);
    }
    let (parts, ()) = request.into_parts();
    let fixture = fixture();
    let _ = fixture
        .runtime
        .block_on(fixture.validator.authenticate(&parts, body));
});
