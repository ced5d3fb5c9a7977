//! `RedisReplayGuard` (feature `redis`) over the real Redis
//! (`SIGIL_TEST_REDIS_URL`), each test under a key prefix of its own: two
//! resource servers sharing it accept one X-Auth-Token or signed request
//! once; its keys are sigil-store's; a Redis that cannot answer is 503
//! (docs/security.md B7 across instances).

use std::sync::Arc;

use sigil_core::ReplayKey;
use sigil_store::{
    Insertion as StoreInsertion, RedisOptions, RedisReplayStore, ReplayNamespace, ReplayStore as _,
};
use sigil_testkit::{RedisPrefix, TcpProxy};
use sigil_validator::{
    ClientKey, Error, Insertion, RedisReplayGuard, ReplayGuard as _, ReplayKind, ReplayRecord,
};

use crate::signed::{Signed, signer, vector_token};
use crate::support::{Answer, Mode, SUB, Setup, VECTOR_NOW_MS, setup};
use crate::wiring::auth_token;

async fn guarded(mode: Mode, guard: &RedisReplayGuard) -> Setup {
    let guard = Arc::new(guard.clone());
    setup(mode, move |b| b.replay_guard(guard)).await
}

#[tokio::test]
async fn two_validators_sharing_redis_accept_a_statement_once() {
    let space = RedisPrefix::new("validator");
    for mode in Mode::ALL {
        // Two connections, as two instances have.
        let a = RedisReplayGuard::connect(space.url(), space.prefix())
            .await
            .unwrap();
        let b = RedisReplayGuard::connect(space.url(), space.prefix())
            .await
            .unwrap();
        let (one, two) = (guarded(mode, &a).await, guarded(mode, &b).await);

        let path = format!("/x-auth/{mode:?}");
        let send = |s: &Setup| {
            Answer::of(
                s.resource
                    .request("GET", &path)
                    .header("x-auth-token", auth_token(&path, VECTOR_NOW_MS)),
            )
        };
        send(&one).await.assert_ok(SUB, "x-auth-token");
        send(&two)
            .await
            .assert_refused(401, "replay_detected", "already used");
        send(&one)
            .await
            .assert_refused(401, "replay_detected", "already used");

        let signed = Signed::bsm(
            &signer(),
            "POST",
            &format!("/signed/{mode:?}"),
            b"{}",
            VECTOR_NOW_MS,
        );
        let token = vector_token();
        signed
            .send(&two.resource, &token)
            .await
            .assert_ok(SUB, "signed");
        signed.send(&one.resource, &token).await.assert_refused(
            401,
            "replay_detected",
            "already used",
        );
    }
    let keys = space.keys();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("{}replay:auth-token:", space.prefix()))),
        "{keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with(&format!("{}replay:signed-request:", space.prefix()))),
        "{keys:?}"
    );
}

/// The guard's keys are sigil-store's: a statement recorded by the token
/// service's Redis replay store is a replay here, and the reverse.
#[tokio::test]
async fn the_guard_and_the_store_share_one_key_scheme() {
    let space = RedisPrefix::new("validator-scheme");
    let guard = RedisReplayGuard::connect(space.url(), space.prefix())
        .await
        .unwrap();
    let store = RedisReplayStore::open(space.url(), RedisOptions::with_prefix(space.prefix()))
        .await
        .unwrap();
    let client = ClientKey::of([127, 0, 0, 1].into());
    let expires = VECTOR_NOW_MS + 600_000;
    for (n, (kind, namespace)) in [
        (ReplayKind::SignedRequest, ReplayNamespace::SignedRequest),
        (ReplayKind::AuthToken, ReplayNamespace::AuthToken),
    ]
    .into_iter()
    .enumerate()
    {
        let by_store = ReplayKey::for_payload(format!("store {n}").as_bytes());
        let record = sigil_store::ReplayRecord {
            namespace,
            key: by_store,
            signed_at_ms: VECTOR_NOW_MS,
            expires_at_ms: expires,
        };
        assert_eq!(
            store.insert_if_absent(record, VECTOR_NOW_MS).await,
            Ok(StoreInsertion::Inserted)
        );
        let answer = guard
            .insert_once(
                ReplayRecord::new(kind, by_store, client, expires),
                VECTOR_NOW_MS,
            )
            .await
            .unwrap();
        assert_eq!(answer, Insertion::Replay, "{kind:?}");

        let by_guard = ReplayKey::for_payload(format!("guard {n}").as_bytes());
        let answer = guard
            .insert_once(
                ReplayRecord::new(kind, by_guard, client, expires),
                VECTOR_NOW_MS,
            )
            .await
            .unwrap();
        assert_eq!(answer, Insertion::Recorded, "{kind:?}");
        let record = sigil_store::ReplayRecord {
            key: by_guard,
            ..record
        };
        assert_eq!(
            store.insert_if_absent(record, VECTOR_NOW_MS).await,
            Ok(StoreInsertion::AlreadyUsed)
        );
    }
}

/// A Redis that cannot answer: 503 `temporarily_unavailable`, nothing
/// accepted, within the timeout; bearer-only requests need no guard; once
/// Redis is back the same X-Auth-Token is accepted (nothing was recorded).
/// A `rediss://` URL is refused naming TLS.
#[tokio::test]
async fn an_unanswering_redis_fails_closed() {
    let space = RedisPrefix::new("validator-down");
    let proxy = TcpProxy::start(space.server_addr());
    let guard = RedisReplayGuard::connect_with_timeout(
        &space.url_via(proxy.addr()),
        space.prefix(),
        std::time::Duration::from_millis(500),
    )
    .await
    .unwrap();
    let s = guarded(Mode::Layer, &guard).await;
    let send = || {
        Answer::of(
            s.resource
                .request("GET", "/down")
                .header("x-auth-token", auth_token("/down", VECTOR_NOW_MS)),
        )
    };
    proxy.cut();
    send()
        .await
        .assert_refused(503, "temporarily_unavailable", "retry later");
    s.resource
        .bearer(&crate::support::tokens::good_token())
        .await
        .assert_ok(SUB, "bearer");
    proxy.restore();
    send().await.assert_ok(SUB, "x-auth-token");

    let refused = RedisReplayGuard::connect("rediss://:hunter2@cache:6380/0", "sigil:")
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, Error::Config(m) if m.contains("TLS") && !m.contains("hunter2")),
        "{refused}"
    );
}
