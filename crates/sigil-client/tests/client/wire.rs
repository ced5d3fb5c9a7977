//! The token request on the wire, against a fake issuer that records it:
//! member order, message form, scheme, signature; and answers no real
//! server gives (unknown codes, malformed bodies).

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::Value;
use sigil_client::{Client, Error, Scheme};
use sigil_core::signature::decode_text;
use sigil_core::{Signature, TokenMessage};

use crate::support::key;

const NOW: u64 = 1_750_000_000_000;
const API: &str = "https://api.example.com/data";

#[derive(Clone)]
struct Fake {
    seen: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    reply: (StatusCode, &'static str),
}

/// Starts a fake issuer answering every token request with `reply`.
async fn fake_issuer(
    status: StatusCode,
    body: &'static str,
) -> (String, Arc<Mutex<Vec<(HeaderMap, Bytes)>>>) {
    let fake = Fake {
        seen: Arc::default(),
        reply: (status, body),
    };
    let seen = fake.seen.clone();
    let router = axum::Router::new()
        .route(
            "/api/auth/token-for-endpoint",
            axum::routing::post(
                |State(fake): State<Fake>, headers: HeaderMap, body: Bytes| async move {
                    fake.seen.lock().unwrap().push((headers, body));
                    let (status, text) = fake.reply;
                    (
                        status,
                        [("content-type", "application/json")],
                        text.to_owned(),
                    )
                        .into_response()
                },
            ),
        )
        .with_state(fake);
    let listener = sigil_testkit::local_tokio_listener().await;
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (base, seen)
}

const OK: &str = r#"{"access_token":"aaa.bbb.ccc","token_type":"Bearer","expires_in":1800}"#;

/// Each scheme and form: the body the seed's client sends (same members,
/// same order, timestamp a JSON number), the message built from the fields,
/// and a signature of that scheme by the client's key over it.
#[tokio::test]
async fn token_request_body_per_scheme_and_form() {
    for (scheme, compat) in [
        (Scheme::Bsm, false),
        (Scheme::Bsm, true),
        (Scheme::Brc77, false),
        (Scheme::Brc77, true),
    ] {
        let (base, seen) = fake_issuer(StatusCode::OK, OK).await;
        let http = sigil_client::reqwest::Client::builder()
            .user_agent("backend-service/1.0")
            .build()
            .unwrap();
        let mut client = Client::new(&base, key(20))
            .unwrap()
            .with_http(http)
            .scheme(scheme)
            .with_clock(|| NOW);
        if compat {
            client = client.compat_messages();
        }
        let token = client.token(API).await.unwrap();
        assert_eq!(token.as_str(), "aaa.bbb.ccc");
        assert_eq!(token.expires_at_ms(), NOW + 1_800_000);

        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        let (headers, body) = &seen[0];
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(
            headers["user-agent"], "backend-service/1.0",
            "the caller's client"
        );
        let text = std::str::from_utf8(body).unwrap();
        let order: Vec<usize> = ["endpoint", "signature", "message", "pubkey", "timestamp"]
            .iter()
            .map(|m| text.find(&format!("\"{m}\":")).unwrap())
            .collect();
        assert!(order.is_sorted(), "member order of the seed: {text}");
        let json: Value = serde_json::from_str(text).unwrap();
        assert_eq!(json["endpoint"], API);
        assert_eq!(json["timestamp"], NOW, "a JSON number: {text}");
        assert_eq!(json["pubkey"], client.public_key().to_hex());
        let expected = if compat {
            TokenMessage::compat(API, NOW)
        } else {
            TokenMessage::bound(&base, API, NOW)
        }
        .to_message();
        assert_eq!(
            json["message"],
            expected.as_str(),
            "{scheme} compat={compat}"
        );
        let bytes = decode_text(json["signature"].as_str().unwrap()).unwrap();
        let signature = Signature::from_bytes(&bytes).unwrap();
        assert_eq!(signature.scheme(), scheme);
        signature
            .verify(expected.as_bytes(), &client.public_key())
            .unwrap();
    }
}

/// A code outside docs/protocol.md §8 is kept as the server wrote it; answers that are
/// not docs/protocol.md §8 bodies are `InvalidResponse`, with the status.
#[tokio::test]
async fn unexpected_answers() {
    let (base, _) = fake_issuer(
        StatusCode::BAD_REQUEST,
        r#"{"error":"slow_down","error_description":"wait a little"}"#,
    )
    .await;
    let err = Client::new(&base, key(21))
        .unwrap()
        .token(API)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Server { status: 400, error, description }
            if error == "slow_down" && description == "wait a little"),
        "{err:?}"
    );
    assert_eq!(err.code(), None);

    for (status, body) in [
        (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>"),
        (StatusCode::OK, r#"{"access_token":"x"}"#),
        (
            StatusCode::OK,
            r#"{"access_token":"x","token_type":"DPoP","expires_in":60}"#,
        ),
    ] {
        let (base, _) = fake_issuer(status, body).await;
        let err = Client::new(&base, key(21))
            .unwrap()
            .token(API)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidResponse { status: s, .. } if s == status.as_u16()),
            "{body}: {err:?}"
        );
    }
}

/// `Client::new` takes an absolute http(s) issuer URL without query.
#[test]
fn issuer_url_rules() {
    for bad in [
        "auth.example.com",
        "ftp://auth.example.com",
        "https://auth.example.com?x=1",
        "https://auth.example.com/#f",
        "https://user@auth.example.com",
    ] {
        let err = Client::new(bad, key(22)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidUrl {
                    what: "issuer_url",
                    ..
                }
            ),
            "{bad}: {err:?}"
        );
    }
    let client = Client::new("https://auth.example.com/", key(22)).unwrap();
    assert_eq!(client.issuer(), "https://auth.example.com");
}
