//! The OAuth authorize query (docs/protocol.md §17), decoded as a server
//! decodes it, against one registered client.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sigil_oauth::RegisteredClient;
use sigil_oauth::authorize::parse;
use sigil_oauth::client::{ClientMetadata, register};

fn client() -> &'static RegisteredClient {
    static CLIENT: OnceLock<RegisteredClient> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let metadata = ClientMetadata {
            redirect_uris: vec![
                "https://app.example/callback".into(),
                "http://127.0.0.1/callback".into(),
            ],
            ..ClientMetadata::default()
        };
        register(&metadata, "app".into()).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(data)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    match parse(&params, |id| (id == "app").then(|| client().clone())) {
        Ok((request, _)) => {
            // An accepted request redirects only to a registered URI.
            assert!(sigil_oauth::redirect::matches(
                &client().redirect_uris,
                &request.redirect_uri
            ));
        }
        Err(refusal) => {
            let _ = refusal.error();
            if let Some(url) = refusal.redirect_url("https://sigil.example") {
                // A refusal redirects only to a registered URI, with `iss`.
                let base = url.split(['?', '#']).next().unwrap_or_default();
                assert!(
                    sigil_oauth::redirect::matches(&client().redirect_uris, base),
                    "{url}"
                );
                assert!(url.contains("iss="), "{url}");
            }
        }
    }
});
