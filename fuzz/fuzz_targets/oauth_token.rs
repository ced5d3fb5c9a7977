//! The token endpoint's request (docs/protocol.md §17) as the server reads
//! it: the form body, the grant it asks for, the client credentials of the
//! `Authorization` and `X-Auth-Token` headers and the form, and client
//! authentication against one registered client of every method.
//!
//! Input: the `Authorization` value on the first line, the `X-Auth-Token`
//! value on the second (an empty line: no such header), the raw body after.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sigil_oauth::client::{AuthMethod, GrantType, RegisteredClient, SecretHash};
use sigil_oauth::client_auth::{Proof, RequestContext, authenticate};
use sigil_oauth::token::{ClientCredentials, TokenGrant, parse_form, parse_grant};

const SECRET: &str = "s3cret";
/// 2023-10-27T11:00:00Z, when the X-Auth-Token vectors were signed.
const NOW_MS: u64 = 1_698_404_400_000;

fn clients() -> &'static [RegisteredClient] {
    static CLIENTS: OnceLock<Vec<RegisteredClient>> = OnceLock::new();
    CLIENTS.get_or_init(|| {
        AuthMethod::ALL
            .into_iter()
            .map(|method| RegisteredClient {
                client_id: method.as_str().to_owned(),
                client_name: method.as_str().to_owned(),
                redirect_uris: vec!["https://app.example/cb".into()],
                grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                auth_method: method,
                secret_hash: method.uses_secret().then(|| SecretHash::of(SECRET)),
                jwks: (method == AuthMethod::PrivateKeyJwt).then(|| {
                    // The key of tests/vectors/es256_jwt.json.
                    serde_json::json!({"keys": [{
                        "kty": "EC", "crv": "P-256",
                        "x": "T9FuYQ-QLipwaWVePxZEREvbyOxMVyKfeSUl1nzLBMc",
                        "y": "ZooY3NOmsI8jcDlSex-fc8L-QIOeuXAKYekzwaRG26U",
                        "kid": "MeFfMgxYJMsz5_cT69a8V53p400KwNYhQELpNqyX-Xo",
                        "use": "sig", "alg": "ES256",
                    }]})
                }),
                // The key of tests/vectors/bitcoin_auth_tokens.json.
                bitcoin_pubkey: (method == AuthMethod::BitcoinAuthToken).then(|| {
                    "027ce4b42b4d2f45169d417007575544b8953a85ff345c63f09871cb2e601dd2bb".to_owned()
                }),
                scope: None,
            })
            .collect()
    })
}

fn line(data: &[u8]) -> (Option<&str>, &[u8]) {
    let (first, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    (std::str::from_utf8(first).ok().filter(|s| !s.is_empty()), rest)
}

fuzz_target!(|data: &[u8]| {
    let (authorization, rest) = line(data);
    let (x_auth_token, body) = line(rest);
    let Ok(params) = parse_form(body) else {
        return;
    };
    // Every parameter at most once (RFC 6749 §3.2).
    for (i, (name, _)) in params.iter().enumerate() {
        assert!(params[..i].iter().all(|(other, _)| other != name), "{name}");
    }
    match parse_grant(&params) {
        Ok(TokenGrant::AuthorizationCode { code, .. }) => assert!(!code.is_empty()),
        Ok(TokenGrant::RefreshToken { refresh_token, .. }) => assert!(!refresh_token.is_empty()),
        Err(_) => {}
    }
    let Ok(credentials) = ClientCredentials::from_request(authorization, x_auth_token, &params)
    else {
        return;
    };
    if let (Some((id, _)), Some(form)) = (&credentials.basic, &credentials.client_id) {
        assert_eq!(id, form, "a Basic id and another client_id were both accepted");
    }
    let _ = credentials.claimed_client_id();
    let request = RequestContext {
        issuer: "https://sigil.example",
        endpoint_url: "https://sigil.example/oauth2/token",
        request_path: "/oauth2/token",
        body,
        now_ms: NOW_MS,
    };
    for client in clients() {
        let Ok(proof) = authenticate(client, &credentials, &request) else {
            continue;
        };
        match client.auth_method {
            // A secret client passes with its secret, by its method only.
            AuthMethod::ClientSecretBasic => {
                assert_eq!(credentials.basic.as_ref().map(|(_, s)| s.as_str()), Some(SECRET));
                assert!(credentials.client_secret.is_none());
            }
            AuthMethod::ClientSecretPost => {
                assert_eq!(credentials.client_secret.as_deref(), Some(SECRET));
                assert!(credentials.basic.is_none());
            }
            AuthMethod::None => assert!(
                credentials.basic.is_none()
                    && credentials.client_secret.is_none()
                    && credentials.client_assertion.is_none()
            ),
            AuthMethod::PrivateKeyJwt => {
                assert!(matches!(&proof, Proof::Assertion { jti, .. } if !jti.is_empty()));
            }
            AuthMethod::BitcoinAuthToken => {
                assert!(matches!(proof, Proof::AuthToken { .. }));
            }
        }
    }
});
