//! How the validator sits in an app: no credentials, open routes, the
//! body limit, the layer handing the body on, the extractor used without
//! the layer, bearer precedence, a failing or full replay guard, an
//! unreachable issuer, and the staleness limit: each answer with docs/protocol.md
//! §8's body.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use sigil_core::auth_token::{NewAuthToken, build};
use sigil_validator::{
    Authenticated, BoxFuture, Error, Insertion, MemoryReplayGuard, ReplayGuard, ReplayRecord,
    Validator,
};

use crate::support::tokens::{claims, good_token, token};
use crate::support::{
    AUDIENCE, Answer, IAT, ISSUER, Issuer, Mode, Resource, SIGNER_WIF, SUB, TestClock,
    VECTOR_NOW_MS, setup,
};

pub(crate) fn auth_token(path: &str, timestamp_ms: u64) -> String {
    let key = sigil_core::PrivateKey::from_wif(SIGNER_WIF).unwrap();
    build(
        &key,
        &NewAuthToken {
            request_path: path,
            body: None,
            timestamp_ms,
            scheme: sigil_core::Scheme::Bsm,
            key_id: [0; 32],
        },
    )
    .unwrap()
}

#[tokio::test]
async fn no_credentials_and_open_routes() {
    for mode in Mode::ALL {
        let s = setup(mode, |b| b).await;
        let r = &s.resource;
        Answer::of(r.request("GET", "/api/protected"))
            .await
            .check_no_credentials()
            .unwrap();
        Answer::of(r.request("POST", "/anything/else?x=1").body("x"))
            .await
            .check_no_credentials()
            .unwrap();
        let health = Answer::of(r.request("GET", "/health")).await;
        assert_eq!((health.status, health.text.as_str()), (200, "ok"));
        for (value, status, code, phrase) in [
            ("Basic dXNlcjpwdw==", 401, "invalid_token", "Bearer <token>"),
            ("Bearer", 401, "invalid_token", "Bearer <token>"),
            ("Bearer not.a.jwt", 401, "invalid_token", "header segment"),
        ] {
            Answer::of(r.request("GET", "/p").header("authorization", value))
                .await
                .assert_refused(status, code, phrase);
        }
        Answer::of(
            r.request("GET", "/p")
                .header("authorization", format!("Bearer {}", good_token()))
                .header("authorization", "Bearer x"),
        )
        .await
        .assert_refused(400, "invalid_request", "more than once");
        // Authorization wins over X-Auth-Token.
        Answer::of(
            r.request("GET", "/p")
                .header("authorization", format!("Bearer {}", good_token()))
                .header("x-auth-token", auth_token("/p", VECTOR_NOW_MS)),
        )
        .await
        .assert_ok(SUB, "bearer");
        assert_eq!(s.issuer.jwks_fetches(), 1, "{mode:?}");
    }
}

/// Bodies: a signed request or X-Auth-Token body over the limit is 413;
/// the layer hands the checked body on unchanged; the layer does not
/// buffer a bearer-only request (the extractor, which yields the body,
/// always reads it within the limit).
#[tokio::test]
async fn body_limit_and_hand_over() {
    let big = "x".repeat(2048);
    for mode in Mode::ALL {
        let s = setup(mode, |b| b.max_body_bytes(1024)).await;
        let r = &s.resource;
        let signed = Answer::of(
            r.request("POST", "/p")
                .header("authorization", format!("Bearer {}", good_token()))
                .header("x-timestamp", VECTOR_NOW_MS.to_string())
                .header(
                    "x-body-hash",
                    sigil_core::signed_request::body_hash(big.as_bytes()),
                )
                .header("x-signature", "AAAA")
                .body(big.clone()),
        )
        .await;
        signed.assert_refused(413, "invalid_request", "body too large");
        Answer::of(
            r.request("POST", "/p")
                .header("x-auth-token", auth_token("/p", VECTOR_NOW_MS))
                .body(big.clone()),
        )
        .await
        .assert_refused(413, "invalid_request", "body too large");
        let bearer_only = Answer::of(
            r.request("POST", "/p")
                .header("authorization", format!("Bearer {}", good_token()))
                .body(big.clone()),
        )
        .await;
        match mode {
            Mode::Layer => {
                bearer_only.assert_ok(SUB, "bearer");
                assert_eq!(bearer_only.body["body"], big.as_str(), "body handed on");
            }
            Mode::Extractor => {
                bearer_only.assert_refused(413, "invalid_request", "body too large");
            }
        }
        let small = Answer::of(
            r.request("POST", "/p")
                .header("x-auth-token", auth_token("/p", VECTOR_NOW_MS))
                .body(""),
        )
        .await;
        small.assert_ok(SUB, "x-auth-token");
    }
}

/// The `Authenticated` extractor on a route without the layer is a wiring
/// bug: 500 `server_error` with nothing internal in the body.
#[tokio::test]
async fn extractor_without_layer_is_a_500() {
    async fn handler(who: Authenticated) -> String {
        who.sub_hex()
    }
    async fn optional(who: Option<Authenticated>) -> String {
        format!("{}", who.is_some())
    }
    let app = Router::new()
        .route("/p", get(handler))
        .route("/o", get(optional));
    let r = Resource::serve(app, Mode::Layer).await;
    let answer = Answer::of(r.request("GET", "/p")).await;
    answer.assert_refused(500, "server_error", "logged");
    assert!(!answer.text.contains("layer"), "{}", answer.text);
    assert_eq!(Answer::of(r.request("GET", "/o")).await.text, "false");
}

/// `route_layer` protects the routes it wraps and nothing else.
#[tokio::test]
async fn route_layer_protects_its_routes() {
    let s = setup(Mode::Layer, |b| b).await;
    let issuer = Issuer::start(&[&crate::support::tokens::fixed_key()]).await;
    let clock = TestClock::at(VECTOR_NOW_MS);
    let validator = crate::support::builder(&issuer, &clock).build().unwrap();
    async fn who(who: Authenticated) -> axum::Json<Authenticated> {
        axum::Json(who)
    }
    let app = Router::new()
        .route("/api/protected", get(who).post(who))
        .route_layer(validator.layer())
        .route("/open", get(|| async { "open" }));
    let r = Resource::serve(app, Mode::Layer).await;
    let answer = r.bearer(&good_token()).await;
    answer.assert_ok(SUB, "bearer");
    assert_eq!(answer.body.as_object().unwrap().len(), 2, "{}", answer.text);
    Answer::of(r.request("GET", "/api/protected"))
        .await
        .check_no_credentials()
        .unwrap();
    assert_eq!(Answer::of(r.request("GET", "/open")).await.text, "open");
    drop(s);
}

#[derive(Debug)]
struct BrokenGuard;

impl ReplayGuard for BrokenGuard {
    fn insert_once(&self, _: ReplayRecord, _: u64) -> BoxFuture<'_, Result<Insertion, Error>> {
        Box::pin(async { Err(Error::ReplayGuard("connection refused by 10.0.0.7".into())) })
    }
}

/// A replay guard that cannot answer means 503 and nothing accepted (fail
/// closed); a full one refuses the address filling it with 429; bearer-only
/// requests need no guard.
#[tokio::test]
async fn replay_guard_failures_fail_closed() {
    for mode in Mode::ALL {
        let s = setup(mode, |b| b.replay_guard(Arc::new(BrokenGuard))).await;
        let answer = Answer::of(
            s.resource
                .request("GET", "/p")
                .header("x-auth-token", auth_token("/p", VECTOR_NOW_MS)),
        )
        .await;
        answer.assert_refused(503, "temporarily_unavailable", "retry later");
        assert!(!answer.text.contains("10.0.0.7"), "{}", answer.text);
        s.resource
            .bearer(&good_token())
            .await
            .assert_ok(SUB, "bearer");

        let s = setup(mode, |b| {
            b.replay_guard(Arc::new(MemoryReplayGuard::new(1)))
        })
        .await;
        let send = |path: &'static str| {
            Answer::of(
                s.resource
                    .request("GET", path)
                    .header("x-auth-token", auth_token(path, VECTOR_NOW_MS)),
            )
        };
        send("/one").await.assert_ok(SUB, "x-auth-token");
        let full = send("/two").await;
        full.assert_refused(
            429,
            "rate_limit_exceeded",
            "share of the full replay memory",
        );
        assert_eq!(
            full.headers.get("retry-after").unwrap(),
            "600",
            "{}",
            full.text
        );
        send("/one")
            .await
            .assert_refused(401, "replay_detected", "already used");
        // Once the first record has left the window, there is room again.
        s.clock.advance_ms(600_000);
        let later = Answer::of(
            s.resource
                .request("GET", "/two")
                .header("x-auth-token", auth_token("/two", VECTOR_NOW_MS + 600_000)),
        )
        .await;
        later.assert_ok(SUB, "x-auth-token");
    }
}

/// No usable key set: 503, never a 200, for good and bad tokens alike;
/// a stale set serves while refreshes fail, up to `max_stale`.
#[tokio::test]
async fn unreachable_issuer_and_staleness() {
    let closed = {
        let listener = sigil_testkit::local_tokio_listener().await;
        listener.local_addr().unwrap()
    };
    for mode in Mode::ALL {
        let validator = Validator::builder(ISSUER, AUDIENCE)
            .jwks_uri(format!("http://{closed}/jwks.json"))
            .clock(|| VECTOR_NOW_MS)
            .build()
            .unwrap();
        let r = Resource::start(validator, mode).await;
        r.bearer(&good_token())
            .await
            .assert_refused(503, "temporarily_unavailable", "retry later");
        r.bearer(&token(&claims(IAT - 10_000)))
            .await
            .assert_refused(503, "temporarily_unavailable", "retry later");

        let s = setup(mode, |b| b.max_stale(Duration::from_secs(600))).await;
        s.resource
            .bearer(&good_token())
            .await
            .assert_ok(SUB, "bearer");
        s.issuer.set_status(500);
        s.clock.advance_ms(300_000 + 599_000); // TTL 300 s + 599 s
        s.resource
            .bearer(&good_token())
            .await
            .assert_ok(SUB, "bearer");
        s.clock.advance_ms(1_000);
        s.resource.bearer(&good_token()).await.assert_refused(
            503,
            "temporarily_unavailable",
            "retry later",
        );
        // The issuer is back: at the next allowed fetch, all is well.
        s.issuer.set_status(200);
        s.clock.advance_ms(30_000);
        s.resource
            .bearer(&good_token())
            .await
            .assert_ok(SUB, "bearer");
    }
}
