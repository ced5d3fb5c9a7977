//! `Client::token` against a real sigil server: the per-audience cache, one
//! request under concurrency, refresh, message forms, schemes, refusals.

use std::sync::Arc;

use sigil_client::{Client, Error, ErrorCode, Scheme};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::support::{Server, key};

const API: &str = "https://api.example.com/data";

/// 50 concurrent calls for one audience: one request reached the server,
/// and every caller got that one token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_calls_for_one_audience_make_one_request() {
    let server = Server::start("concurrent", |_| {}).await;
    let client = server.client(key(1));
    let barrier = Arc::new(Barrier::new(50));
    let mut calls = JoinSet::new();
    for _ in 0..50 {
        let (client, barrier) = (client.clone(), barrier.clone());
        calls.spawn(async move {
            barrier.wait().await;
            client.token(API).await.unwrap()
        });
    }
    let tokens = calls.join_all().await;
    assert_eq!(tokens.len(), 50);
    assert!(
        tokens.iter().all(|t| t == &tokens[0]),
        "every caller got the same token"
    );
    assert_eq!(server.token_requests(), 1, "one request reached the server");
    assert_eq!(server.tokens_issued(), 1);
    let claims = server.validate(&tokens[0], API).await;
    assert_eq!(claims.sub, client.public_key());
    // Later calls are served from the cache.
    assert_eq!(client.token(API).await.unwrap(), tokens[0]);
    assert_eq!(server.token_requests(), 1);
}

/// Distinct audiences, concurrently: one token each, each with its `aud`;
/// asking again is served from the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn distinct_audiences_get_distinct_tokens() {
    let server = Server::start("audiences", |_| {}).await;
    let client = server.client(key(2));
    let audiences = [
        "https://api.example.com/data",
        "https://api.example.com/other",
        "https://billing.example.com",
    ];
    let mut calls = JoinSet::new();
    for round in 0..3 {
        for audience in audiences {
            let client = client.clone();
            calls.spawn(async move { (round, audience, client.token(audience).await.unwrap()) });
        }
    }
    let results = calls.join_all().await;
    assert_eq!(server.token_requests(), 3, "one request per audience");
    for audience in audiences {
        let tokens: Vec<_> = results
            .iter()
            .filter(|(_, a, _)| *a == audience)
            .map(|(_, _, t)| t)
            .collect();
        assert_eq!(tokens.len(), 3);
        assert!(tokens.iter().all(|t| *t == tokens[0]), "{audience}: cached");
        assert_eq!(tokens[0].audience(), audience);
        let claims = server.validate(tokens[0], audience).await;
        assert_eq!(claims.aud, vec![audience.to_owned()]);
    }
    let firsts: Vec<_> = audiences
        .iter()
        .map(|a| results.iter().find(|(_, b, _)| b == a).unwrap().2.clone())
        .collect();
    assert_ne!(firsts[0], firsts[1]);
    assert_ne!(firsts[1], firsts[2]);
    assert_ne!(firsts[0], firsts[2]);
}

/// A token is reused while at least 60 s remain and replaced after; an
/// invalidated token is replaced at once.
#[tokio::test]
async fn refreshes_when_less_than_a_minute_remains() {
    let server = Server::start("refresh", |_| {}).await;
    let client = server.client(key(3));
    let first = client.token(API).await.unwrap();
    let lifetime_ms = 1_800_000;
    assert_eq!(
        first.expires_at_ms(),
        sigil_server::Clock::now_ms(&*server.clock) + lifetime_ms
    );
    // 61 s left: still the cached token.
    server.clock.advance(lifetime_ms - 61_000);
    assert_eq!(client.token(API).await.unwrap(), first);
    assert_eq!(server.token_requests(), 1);
    // 59 s left: a new one.
    server.clock.advance(2_000);
    let second = client.token(API).await.unwrap();
    assert_ne!(second, first);
    assert_eq!(server.token_requests(), 2);
    assert_eq!(client.token(API).await.unwrap(), second, "cached again");
    // Invalidated: a new one, once.
    client.invalidate(API).await;
    let third = client.token(API).await.unwrap();
    assert_ne!(third, second);
    assert_eq!(client.token(API).await.unwrap(), third);
    assert_eq!(server.token_requests(), 3);
}

/// The bound form by default: a server that refuses the compat form issues
/// to the default client and refuses the compat client; a server that
/// accepts both issues to the compat client.
#[tokio::test]
async fn bound_form_by_default_compat_form_on_request() {
    let strict = Server::start("strict", |c| c.require_bound_message = true).await;
    let token = strict.client(key(4)).token(API).await.unwrap();
    strict.validate(&token, API).await;
    let err = strict
        .client(key(4))
        .compat_messages()
        .token(API)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{err}");
    assert!(err.to_string().contains("bound form"), "{err}");

    let lenient = Server::start("lenient", |_| {}).await;
    let token = lenient
        .client(key(4))
        .compat_messages()
        .token(API)
        .await
        .unwrap();
    lenient.validate(&token, API).await;
}

/// The bound message names the issuer the client was given: a client that
/// thinks the issuer is another URL is refused, even at the right address.
#[tokio::test]
async fn bound_form_names_the_issuer() {
    let server = Server::start("issuer", |_| {}).await;
    let clock = server.clock.clone();
    let client = Client::new("https://auth.example.com/", key(5))
        .unwrap()
        .with_token_endpoint(&server.url("/api/auth/token-for-endpoint"))
        .unwrap()
        .with_clock(move || sigil_server::Clock::now_ms(&*clock));
    assert_eq!(client.issuer(), "https://auth.example.com");
    let err = client.token(API).await.unwrap_err();
    assert!(
        matches!(&err, Error::Server { status: 400, error, description }
            if error == "invalid_request" && description.contains("another issuer")),
        "{err:?}"
    );
    // The same client in compat form is not bound, and is accepted.
    let token = client.compat_messages().token(API).await.unwrap();
    server.validate(&token, API).await;
}

/// BRC-77 token requests, in both forms, are accepted.
#[tokio::test]
async fn brc77_scheme_obtains_tokens() {
    let server = Server::start("brc77", |_| {}).await;
    let bound = server.client(key(6)).scheme(Scheme::Brc77);
    let token = bound.token(API).await.unwrap();
    assert_eq!(server.validate(&token, API).await.sub, bound.public_key());
    let compat = server
        .client(key(7))
        .scheme(Scheme::Brc77)
        .compat_messages();
    let token = compat.token(API).await.unwrap();
    assert_eq!(server.validate(&token, API).await.sub, compat.public_key());
    assert_eq!(server.tokens_issued(), 2);
}

/// Refusals keep the server's code and status; they are not cached; an
/// audience the client can see is unusable never reaches the server.
#[tokio::test]
async fn refusals_keep_the_server_code() {
    let closed = Server::start("closed", |c| c.open_registration = false).await;
    let client = closed.client(key(8));
    for attempt in 1..=2 {
        let err = client.token(API).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::AccessDenied), "{err}");
        assert_eq!(err.status(), Some(403));
        assert!(
            matches!(&err, Error::Server { error, description, .. }
                if error == "access_denied" && description.contains("not allowed")),
            "{err:?}"
        );
        assert_eq!(closed.token_requests(), attempt, "errors are not cached");
    }

    let allowlist = Server::start("allowlist", |c| {
        c.audiences = vec!["https://api.example.com".into()];
    })
    .await;
    let client = allowlist.client(key(9));
    let err = client
        .token("https://evil.example.com/x")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidTarget), "{err}");
    assert!(
        matches!(&err, Error::Server { status: 400, error, .. } if error == "invalid_target"),
        "{err:?}"
    );
    let token = client.token(API).await.unwrap();
    allowlist.validate(&token, API).await;

    for bad in [
        "ftp://api.example.com",
        "https://api.example.com/#x",
        "/relative",
    ] {
        let err = client.token(bad).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidUrl {
                    what: "audience",
                    ..
                }
            ),
            "{bad}: {err:?}"
        );
    }
    assert_eq!(allowlist.token_requests(), 2, "bad audiences were not sent");
}

/// Neither the key nor a cached token shows in `Debug`.
#[tokio::test]
async fn debug_output_redacts_secrets() {
    let server = Server::start("debug", |_| {}).await;
    let signer = key(10);
    let wif = signer.to_wif();
    let client = server.client(signer);
    let token = client.token(API).await.unwrap();
    for text in [
        format!("{client:?}"),
        format!("{token:?}"),
        format!("{:?}", client.get(API)),
    ] {
        assert!(!text.contains(&wif), "{text}");
        assert!(!text.contains(token.as_str()), "{text}");
        assert!(
            !text.contains(token.as_str().split('.').nth(2).unwrap()),
            "{text}"
        );
    }
    assert!(format!("{client:?}").contains(&client.public_key().to_hex()));
}

/// A transport failure prints each cause once: the message names the URL,
/// and the sources (hyper's, then the OS's) follow without repeating it.
#[tokio::test]
async fn a_refused_connection_prints_each_cause_once() {
    let port = sigil_testkit::free_port();
    let client = Client::new(&format!("http://127.0.0.1:{port}"), key(40)).unwrap();
    let err = client
        .token(&format!("http://127.0.0.1:{port}/api/x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Http(_)), "{err:?}");
    let mut chain = vec![err.to_string()];
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        chain.push(cause.to_string());
        source = cause.source();
    }
    assert!(chain[0].contains(&format!("127.0.0.1:{port}")), "{chain:?}");
    for (i, text) in chain.iter().enumerate() {
        for later in &chain[i + 1..] {
            assert!(!text.contains(later.as_str()), "{text:?} repeats {later:?}");
        }
    }
}
