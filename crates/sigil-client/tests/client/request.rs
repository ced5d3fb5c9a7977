//! `Client::request` against a recording resource server (tokens from a
//! real sigil server): the bearer token and its audience, docs/protocol.md §6 signed
//! headers, the retry-once rule; and against the sigil server's own
//! `/userinfo`.

use serde_json::{Value, json};
use sigil_client::{Client, Error, ErrorCode, Method, Scheme};
use sigil_core::hash::{sha256, to_hex};
use sigil_core::signature::decode_text;
use sigil_core::signed_request::statement;
use sigil_core::{PublicKey, Signature};

use crate::support::{App, Reply, Seen, Server, key};

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Checks the docs/protocol.md §6 headers of `seen`: timestamp `now`, the hash of the
/// body received, a `scheme` signature by `signer` over the statement
/// rebuilt from what was received.
fn assert_signed(seen: &Seen, signer: &PublicKey, scheme: Scheme, now: u64) {
    let timestamp: u64 = seen.header("x-timestamp").unwrap().parse().unwrap();
    assert_eq!(timestamp, now);
    let hash = seen.header("x-body-hash").unwrap();
    assert_eq!(hash, to_hex(&sha256(&seen.body)));
    let signature =
        Signature::from_bytes(&decode_text(seen.header("x-signature").unwrap()).unwrap()).unwrap();
    assert_eq!(signature.scheme(), scheme);
    let signed = statement(&seen.method, &seen.target, hash, timestamp);
    signature
        .verify(signed.as_bytes(), signer)
        .unwrap_or_else(|e| panic!("{signed:?}: {e}"));
}

fn now(server: &Server) -> u64 {
    sigil_server::Clock::now_ms(&*server.clock)
}

/// A plain request carries a bearer token whose audience is the URL without
/// query; no signed headers; the answer is handed back as it came. With
/// `.audience(base)`, calls to several paths share one token.
#[tokio::test]
async fn bearer_token_for_the_request_url() {
    let server = Server::start("bearer", |_| {}).await;
    let app = App::start().await;
    let client = server.client(key(30));

    let reply = client
        .get(app.url("/api/items?page=2#top"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["target"], "/api/items?page=2");

    let seen = app.seen();
    assert_eq!(seen.len(), 1);
    let audience = app.url("/api/items");
    let cached = client.token(&audience).await.unwrap();
    assert_eq!(seen[0].bearer(), cached.as_str());
    server.validate(&cached, &audience).await;
    for header in ["x-signature", "x-timestamp", "x-body-hash"] {
        assert!(
            seen[0].header(header).is_none(),
            "{header} on an unsigned request"
        );
    }
    assert_eq!(server.token_requests(), 1);

    // One audience for the whole API.
    for path in ["/api/a", "/api/b?x=1", "/api/c/d"] {
        let reply = client
            .request(Method::DELETE, app.url(path))
            .audience(&app.base)
            .header("x-custom", "yes")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
    }
    let seen = app.seen();
    let shared = client.token(&app.base).await.unwrap();
    server.validate(&shared, &app.base).await;
    for request in &seen[1..] {
        assert_eq!(request.method, "DELETE");
        assert_eq!(request.bearer(), shared.as_str());
        assert_eq!(request.header("x-custom"), Some("yes"));
    }
    assert_eq!(
        server.token_requests(),
        2,
        "one more token, for the base URL"
    );
}

/// Signed requests: BSM by default, BRC-77 with `signed_with` or the
/// client's scheme; JSON, raw bytes and no body (the empty-string hash);
/// the target keeps the query.
#[tokio::test]
async fn signed_request_headers() {
    let server = Server::start("signed", |_| {}).await;
    let app = App::start().await;
    let client = server.client(key(31));
    let signer = client.public_key();

    let payload = json!({"message": "Hello from backend service", "n": 1});
    client
        .post(app.url("/api/data?v=2"))
        .json(&payload)
        .signed()
        .send()
        .await
        .unwrap();
    client
        .put(app.url("/api/blob"))
        .header("content-type", "application/octet-stream")
        .body(vec![0u8, 1, 2, 255])
        .signed_with(Scheme::Brc77)
        .send()
        .await
        .unwrap();
    client
        .clone()
        .scheme(Scheme::Brc77)
        .get(app.url("/api/empty"))
        .signed()
        .send()
        .await
        .unwrap();

    let seen = app.seen();
    assert_eq!(seen.len(), 3);
    let t = now(&server);

    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].target, "/api/data?v=2");
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<Value>(&seen[0].body).unwrap(),
        payload
    );
    assert_signed(&seen[0], &signer, Scheme::Bsm, t);

    assert_eq!(seen[1].body.as_ref(), [0u8, 1, 2, 255]);
    assert_eq!(
        seen[1].header("content-type"),
        Some("application/octet-stream")
    );
    assert_signed(&seen[1], &signer, Scheme::Brc77, t);

    assert!(seen[2].body.is_empty());
    assert_eq!(seen[2].header("x-body-hash"), Some(EMPTY_SHA256));
    assert_signed(&seen[2], &signer, Scheme::Brc77, t);

    // The statement binds method and target: the same signature does not
    // verify for another target.
    let signature =
        Signature::from_bytes(&decode_text(seen[0].header("x-signature").unwrap()).unwrap())
            .unwrap();
    let other = statement(
        "POST",
        "/api/data",
        seen[0].header("x-body-hash").unwrap(),
        t,
    );
    assert!(signature.verify(other.as_bytes(), &signer).is_err());
}

/// 401 `invalid_token` once (with the RFC 6750 challenge, or the docs/protocol.md §8
/// body only): the token is dropped, a new one obtained, the same request
/// re-sent once, freshly signed, with the same body.
#[tokio::test]
async fn retries_once_with_a_fresh_token() {
    let server = Server::start("retry", |_| {}).await;
    let app = App::start().await;
    let client = server.client(key(32));
    let mut expected_requests = 0;
    for (round, refusal) in [Reply::InvalidTokenChallenge, Reply::InvalidTokenBodyOnly]
        .into_iter()
        .enumerate()
    {
        app.script(&[refusal]);
        let reply = client
            .post(app.url("/api/data"))
            .json(&json!({"round": round}))
            .signed()
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200, "{refusal:?}");
        let seen = app.seen();
        expected_requests += 2;
        assert_eq!(
            seen.len(),
            expected_requests,
            "{refusal:?}: exactly one retry"
        );
        let (first, retry) = (&seen[expected_requests - 2], &seen[expected_requests - 1]);
        assert_ne!(first.bearer(), retry.bearer(), "a fresh token");
        assert_eq!(first.body, retry.body, "the same body");
        // The clock stands still: the retry signs the next millisecond, so
        // a resource server does not take it for a replay of the first.
        assert_signed(first, &client.public_key(), Scheme::Bsm, now(&server));
        assert_signed(retry, &client.public_key(), Scheme::Bsm, now(&server) + 1);
        let fresh = client.token(&app.url("/api/data")).await.unwrap();
        assert_eq!(fresh.as_str(), retry.bearer(), "the fresh token is cached");
    }
    // First token, then one fresh token per refusal.
    assert_eq!(server.token_requests(), 3);
}

/// Ten concurrent requests, the cached token refused: one fresh token
/// between them, whichever saw the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refusals_share_one_refresh() {
    let server = Server::start("concurrent-retry", |_| {}).await;
    let app = App::start().await;
    let client = server.client(key(38));
    let url = app.url("/api/data");
    let old = client.token(&url).await.unwrap();
    app.refuse_token(old.as_str());
    let mut calls = tokio::task::JoinSet::new();
    for n in 0..10 {
        let (client, url) = (client.clone(), url.clone());
        calls.spawn(async move { client.post(url).json(&n).send().await.unwrap().status() });
    }
    for status in calls.join_all().await {
        assert_eq!(status, 200);
    }
    assert_eq!(server.token_requests(), 2, "one refresh for all ten");
    // Each request was answered 200 once, with the fresh token; those that
    // went out before the refresh were refused once with the old one.
    let seen = app.seen();
    let new = client.token(&url).await.unwrap();
    assert_ne!(new, old);
    let with_old = seen.iter().filter(|s| s.bearer() == old.as_str()).count();
    let with_new = seen.iter().filter(|s| s.bearer() == new.as_str()).count();
    assert_eq!(with_new, 10);
    assert!((1..=10).contains(&with_old), "{with_old}");
    assert_eq!(seen.len(), with_old + with_new);
}

/// A second `invalid_token` is an error with the server's code, after
/// exactly two requests.
#[tokio::test]
async fn second_refusal_is_a_typed_error() {
    let server = Server::start("refused-twice", |_| {}).await;
    let app = App::start().await;
    let client = server.client(key(33));
    app.script(&[Reply::InvalidTokenChallenge, Reply::InvalidTokenChallenge]);
    let err = client.get(app.url("/api/x")).send().await.unwrap_err();
    assert!(
        matches!(&err, Error::Server { status: 401, error, description }
            if error == "invalid_token" && description == "token expired"),
        "{err:?}"
    );
    assert_eq!(err.code(), Some(ErrorCode::InvalidToken));
    assert_eq!(app.seen().len(), 2, "one retry, no more");
    assert_eq!(server.token_requests(), 2);
}

/// Other refusals are not retried and come back whole: status, headers and
/// body (a 401 without the challenge is read and rebuilt).
#[tokio::test]
async fn other_refusals_are_returned_as_they_came() {
    let server = Server::start("other-refusals", |_| {}).await;
    let app = App::start().await;
    let client = server.client(key(34));
    app.script(&[Reply::InvalidSignature, Reply::Forbidden]);

    let reply = client.get(app.url("/api/x")).signed().send().await.unwrap();
    assert_eq!(reply.status(), 401);
    assert_eq!(reply.headers()["x-test"], "kept");
    assert_eq!(reply.url().as_str(), app.url("/api/x"));
    let err = Error::from_response(reply).await;
    assert_eq!(err.code(), Some(ErrorCode::InvalidSignature), "{err}");

    let reply = client.get(app.url("/api/x")).send().await.unwrap();
    assert_eq!(reply.status(), 403);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["error"], "access_denied");

    assert_eq!(app.seen().len(), 2, "no retries");
    assert_eq!(server.token_requests(), 1);
}

/// The sigil server's `/userinfo` accepts the token the client asks for its
/// URL (docs/protocol.md §5) and names the client's key.
#[tokio::test]
async fn userinfo_of_the_real_server() {
    let server = Server::start("userinfo", |_| {}).await;
    let client: Client = server.client(key(35));
    let reply = client.get(server.url("/userinfo")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let info: Value = reply.json().await.unwrap();
    assert_eq!(info["sub"], client.public_key().to_hex());
    assert_eq!(info["pubkey"], client.public_key().to_hex());

    // A token for another audience is refused by /userinfo, twice: a typed
    // error, not a loop.
    let err = client
        .get(server.url("/userinfo"))
        .audience("https://api.example.com")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidToken), "{err}");
    assert_eq!(server.token_requests(), 3);
}

/// The caller's `reqwest::Client` carries every request: token requests and
/// resource requests (seen here by its `User-Agent`).
#[tokio::test]
async fn uses_the_callers_http_client() {
    let server = Server::start("with-http", |_| {}).await;
    let app = App::start().await;
    let http = sigil_client::reqwest::Client::builder()
        .user_agent("backend-service/1.0")
        .build()
        .unwrap();
    let client = server.client(key(37)).with_http(http);
    let reply = client.get(app.url("/api/x")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(
        app.seen()[0].header("user-agent"),
        Some("backend-service/1.0")
    );
    assert_eq!(server.token_requests(), 1);
}

/// Builder errors surface at `send`, before any request.
#[tokio::test]
async fn builder_errors_surface_at_send() {
    let server = Server::start("builder", |_| {}).await;
    let client = server.client(key(36));
    let err = client.get("not a url").send().await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidUrl { what: "url", .. }),
        "{err:?}"
    );
    let err = client
        .get(server.url("/userinfo"))
        .header("bad header", "x")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidHeader(_)), "{err:?}");
    assert_eq!(server.token_requests(), 0);
}
