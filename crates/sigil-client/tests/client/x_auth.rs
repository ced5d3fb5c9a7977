//! `Client::x_auth_token` (docs/protocol.md §7) checked with sigil-core's verifier.

use sigil_client::{Client, Error, Scheme};
use sigil_core::Window;
use sigil_core::auth_token::{
    BodyEncoding, Origin, PathBinding, RequestFacts, verify, verify_bound,
};

use crate::support::key;

const NOW: u64 = 1_750_000_000_000;

fn facts<'a>(path: &'a str, body: Option<&'a [u8]>) -> RequestFacts<'a> {
    RequestFacts {
        request_path: path,
        body,
        body_encoding: BodyEncoding::Utf8,
        now_ms: NOW,
        window: Window::SYMMETRIC_300S,
    }
}

/// Both schemes, with and without a body: the token verifies for the
/// request it was made for, names the scheme, and fails for another body.
#[test]
fn x_auth_tokens_verify_for_both_schemes() {
    let path = "/api/data?page=1";
    let body: &[u8] = br#"{"message":"hi"}"#;
    for scheme in [Scheme::Bsm, Scheme::Brc77] {
        let client = Client::new("http://localhost:1911", key(40))
            .unwrap()
            .scheme(scheme)
            .with_clock(|| NOW);
        for body in [None, Some(body)] {
            let token = client.x_auth_token(path, body).unwrap();
            let fields: Vec<&str> = token.split('|').collect();
            assert_eq!(fields.len(), 5, "{token}");
            assert_eq!(fields[0], client.public_key().to_hex());
            assert_eq!(fields[1], scheme.as_str());
            assert_eq!(fields[2], "2025-06-15T15:06:40.000Z");
            assert_eq!(fields[3], path);
            let verified = verify(&token, &facts(path, body))
                .unwrap_or_else(|e| panic!("{scheme} body={body:?}: {e}"));
            assert_eq!(verified.signer, client.public_key());
            assert_eq!(verified.timestamp_ms, NOW);
            let other_body = match body {
                Some(_) => None,
                None => Some(&b"x"[..]),
            };
            assert!(verify(&token, &facts(path, other_body)).is_err());
            assert!(verify(&token, &facts("/api/other", body)).is_err());
        }
    }
    // The default scheme is BSM.
    let client = Client::new("http://localhost:1911", key(40)).unwrap();
    let token = client.x_auth_token("/x", None).unwrap();
    assert_eq!(token.split('|').nth(1), Some("bsm"));
}

/// The absolute-URL form names its server: it verifies at that origin
/// only.
#[test]
fn x_auth_tokens_for_an_absolute_url() {
    let client = Client::new("http://localhost:1911", key(40))
        .unwrap()
        .with_clock(|| NOW);
    let token = client
        .x_auth_token("https://api.example.com/api/data?page=1", None)
        .unwrap();
    let ours = [Origin::of_url("https://api.example.com").unwrap()];
    let theirs = [Origin::of_url("https://other.example.com").unwrap()];
    let facts = facts("/api/data?page=1", None);
    let verified = verify_bound(&token, &facts, PathBinding::Url(&ours)).unwrap();
    assert_eq!(verified.signer, client.public_key());
    let err = verify_bound(&token, &facts, PathBinding::Url(&theirs)).unwrap_err();
    assert!(err.to_string().contains("origin mismatch"), "{err}");
    assert!(
        verify(&token, &facts).is_err(),
        "the path-only verifier refuses it"
    );
}

/// A path the format cannot carry is refused.
#[test]
fn x_auth_token_path_rules() {
    let client = Client::new("http://localhost:1911", key(41)).unwrap();
    for bad in ["api/data", "/a|b", "https://api.example.com", "ftp://a/x"] {
        let err = client.x_auth_token(bad, None).unwrap_err();
        assert!(matches!(err, Error::Signing(_)), "{bad}: {err:?}");
    }
}
