//! The OAuth provider's records (docs/protocol.md §17): every single-use
//! thing has exactly one winner among concurrent consumers, also when they
//! go through two stores of one database (two instances).

use sigil_store::{
    ClientRecord, CodeConsumption, CodeRecord, ConsentRecord, Error, GrantRecord, Insertion,
    SessionRecord, Store,
};

use super::{Fixture, NOW, tally, together};

/// One `#[tokio::test]` per OAuth conformance case, opened with `$fixture`
/// (a second macro beside `conformance_tests!`, so that a backend without
/// OAuth records yet can leave them out).
macro_rules! oauth_conformance_tests {
    ($fixture:expr) => {
        conformance_tests!(@cases $fixture;
            oauth_clients_add_get_list_remove,
            oauth_code_is_consumed_once,
            oauth_concurrent_code_consumers_have_one_winner,
            oauth_challenge_is_bound_single_use_and_expires,
            oauth_concurrent_challenge_consumers_have_one_winner,
            oauth_sessions_live_until_they_expire_or_end,
            oauth_consents_and_their_revocation,
            oauth_refresh_rotation_is_a_compare_and_swap,
            oauth_concurrent_refresh_rotations_have_one_winner,
            oauth_a_grant_revoked_before_it_exists_is_never_created,
            oauth_revocation_racing_creation_always_revokes,
            oauth_assertion_jti_is_used_once,
            oauth_purge_removes_only_expired_rows,
        );
    };
}
pub(crate) use oauth_conformance_tests;

/// How many consumers race for one single-use thing, spread over two
/// stores of one database (two instances).
const RACERS: usize = 20;

/// Two stores on the fixture's storage, as two instances would open it.
async fn two_instances(fixture: &impl Fixture) -> [Store; 2] {
    [fixture.open().await, fixture.open().await]
}

fn hash(n: u64) -> String {
    format!("{n:064x}")
}

fn client(id: &str, at: u64) -> ClientRecord {
    ClientRecord {
        client_id: id.into(),
        document: format!("{{\"client_id\":\"{id}\"}}"),
        created_at_ms: at,
    }
}

fn code(n: u64) -> CodeRecord {
    CodeRecord {
        code_hash: hash(n),
        grant_json: format!("{{\"n\":{n}}}"),
        grant_id: format!("grant-{n}"),
        expires_at_ms: NOW + 600_000,
    }
}

fn grant(id: &str, refresh: Option<u64>) -> GrantRecord {
    GrantRecord {
        grant_id: id.into(),
        client_id: "app".into(),
        subject: "02aa".into(),
        scopes: "openid offline_access".into(),
        resource: Some("https://api.example/".into()),
        auth_time_s: NOW / 1000,
        current_hash: refresh.map(hash),
        previous_hash: None,
        rotated_at_ms: NOW,
        revoked: false,
    }
}

pub(crate) async fn oauth_clients_add_get_list_remove(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let oauth = store.oauth();
    oauth.add_client(client("b", NOW)).await.unwrap();
    oauth.add_client(client("a", NOW + 1)).await.unwrap();
    assert!(matches!(
        oauth.add_client(client("b", NOW + 2)).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(
        oauth.get_client("b".into()).await,
        Ok(Some(client("b", NOW)))
    );
    assert_eq!(oauth.get_client("c".into()).await, Ok(None));
    assert_eq!(
        oauth.list_clients().await,
        Ok(vec![client("b", NOW), client("a", NOW + 1)])
    );
    // Removing a client revokes its grants and forgets its consents.
    oauth
        .create_grant(GrantRecord {
            client_id: "b".into(),
            ..grant("g", Some(1))
        })
        .await
        .unwrap();
    oauth
        .put_consent(ConsentRecord {
            subject: "02aa".into(),
            client_id: "b".into(),
            scopes: "openid".into(),
            granted_at_ms: NOW,
        })
        .await
        .unwrap();
    assert_eq!(oauth.remove_client("b".into()).await, Ok(client("b", NOW)));
    assert!(matches!(
        oauth.remove_client("b".into()).await,
        Err(Error::NotFound { .. })
    ));
    assert!(oauth.get_grant("g".into()).await.unwrap().unwrap().revoked);
    assert_eq!(oauth.get_consent("02aa".into(), "b".into()).await, Ok(None));
}

pub(crate) async fn oauth_code_is_consumed_once(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let oauth = store.oauth();
    oauth.insert_code(code(1)).await.unwrap();
    assert!(matches!(
        oauth.insert_code(code(1)).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(
        oauth.consume_code(hash(1)).await,
        Ok(CodeConsumption::Fresh {
            grant_json: "{\"n\":1}".into(),
            grant_id: "grant-1".into()
        })
    );
    assert_eq!(
        oauth.consume_code(hash(1)).await,
        Ok(CodeConsumption::Used {
            grant_id: "grant-1".into()
        })
    );
    assert_eq!(
        oauth.consume_code(hash(2)).await,
        Ok(CodeConsumption::Unknown)
    );
}

pub(crate) async fn oauth_concurrent_code_consumers_have_one_winner(fixture: &impl Fixture) {
    let stores = two_instances(fixture).await;
    stores[0].oauth().insert_code(code(7)).await.unwrap();
    let results = together(RACERS, |i| {
        let oauth = stores[i % 2].oauth().clone();
        async move { oauth.consume_code(hash(7)).await }
    })
    .await;
    let fresh = results
        .iter()
        .filter(|r| matches!(r, Ok(CodeConsumption::Fresh { .. })))
        .count();
    let used = results
        .iter()
        .filter(|r| matches!(r, Ok(CodeConsumption::Used { .. })))
        .count();
    assert_eq!((fresh, used), (1, RACERS - 1), "{results:?}");
}

pub(crate) async fn oauth_challenge_is_bound_single_use_and_expires(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let oauth = store.oauth();
    oauth
        .insert_challenge("n1".into(), hash(1), NOW + 300_000)
        .await
        .unwrap();
    assert_eq!(
        oauth.consume_challenge("n1".into(), hash(2), NOW).await,
        Ok(false),
        "another browser's cookie"
    );
    assert_eq!(
        oauth.consume_challenge("n1".into(), hash(1), NOW).await,
        Ok(true)
    );
    assert_eq!(
        oauth.consume_challenge("n1".into(), hash(1), NOW).await,
        Ok(false),
        "used"
    );
    oauth
        .insert_challenge("n2".into(), hash(1), NOW + 300_000)
        .await
        .unwrap();
    assert_eq!(
        oauth
            .consume_challenge("n2".into(), hash(1), NOW + 300_000)
            .await,
        Ok(false),
        "expired"
    );
}

pub(crate) async fn oauth_concurrent_challenge_consumers_have_one_winner(fixture: &impl Fixture) {
    let stores = two_instances(fixture).await;
    stores[0]
        .oauth()
        .insert_challenge("n".into(), hash(1), NOW + 300_000)
        .await
        .unwrap();
    let results = together(RACERS, |i| {
        let oauth = stores[i % 2].oauth().clone();
        async move { oauth.consume_challenge("n".into(), hash(1), NOW).await }
    })
    .await;
    let wins = results.iter().filter(|r| matches!(r, Ok(true))).count();
    assert_eq!(wins, 1, "{results:?}");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

pub(crate) async fn oauth_sessions_live_until_they_expire_or_end(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let oauth = store.oauth();
    let session = SessionRecord {
        id_hash: hash(5),
        subject: "02aa".into(),
        auth_time_ms: NOW,
        csrf_token: "csrf".into(),
        expires_at_ms: NOW + 1_000,
    };
    oauth.create_session(session.clone()).await.unwrap();
    assert_eq!(
        oauth.get_session(hash(5), NOW + 999).await,
        Ok(Some(session))
    );
    assert_eq!(oauth.get_session(hash(5), NOW + 1_000).await, Ok(None));
    assert_eq!(oauth.delete_session(hash(5)).await, Ok(true));
    assert_eq!(oauth.delete_session(hash(5)).await, Ok(false));
    assert_eq!(oauth.get_session(hash(5), NOW).await, Ok(None));
}

pub(crate) async fn oauth_consents_and_their_revocation(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let oauth = store.oauth();
    let consent = |client: &str, scopes: &str, at| ConsentRecord {
        subject: "02aa".into(),
        client_id: client.into(),
        scopes: scopes.into(),
        granted_at_ms: at,
    };
    oauth
        .put_consent(consent("app", "openid", NOW))
        .await
        .unwrap();
    oauth
        .put_consent(consent("app", "openid profile", NOW + 1))
        .await
        .unwrap();
    oauth
        .put_consent(consent("other", "openid", NOW + 2))
        .await
        .unwrap();
    assert_eq!(
        oauth.get_consent("02aa".into(), "app".into()).await,
        Ok(Some(consent("app", "openid profile", NOW + 1))),
        "replaced"
    );
    assert_eq!(oauth.list_consents("02aa".into()).await.unwrap().len(), 2);
    oauth.create_grant(grant("g1", Some(1))).await.unwrap();
    oauth.create_grant(grant("g2", None)).await.unwrap();
    oauth
        .create_grant(GrantRecord {
            client_id: "other".into(),
            ..grant("g3", Some(3))
        })
        .await
        .unwrap();
    assert_eq!(
        oauth.revoke_consent("02aa".into(), "app".into()).await,
        Ok(2)
    );
    assert_eq!(
        oauth.get_consent("02aa".into(), "app".into()).await,
        Ok(None)
    );
    for (id, revoked) in [("g1", true), ("g2", true), ("g3", false)] {
        assert_eq!(
            oauth.get_grant(id.into()).await.unwrap().unwrap().revoked,
            revoked,
            "{id}"
        );
    }
    assert_eq!(oauth.revoke_grant("g3".into()).await, Ok(true));
    assert_eq!(oauth.revoke_grant("g3".into()).await, Ok(false));
}

pub(crate) async fn oauth_refresh_rotation_is_a_compare_and_swap(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let oauth = store.oauth();
    oauth.create_grant(grant("g", Some(1))).await.unwrap();
    assert!(matches!(
        oauth.create_grant(grant("g", Some(9))).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(
        oauth
            .rotate_refresh("g".into(), hash(1), hash(2), NOW + 10)
            .await,
        Ok(true)
    );
    assert_eq!(
        oauth
            .rotate_refresh("g".into(), hash(1), hash(3), NOW + 20)
            .await,
        Ok(false),
        "the old token no longer rotates"
    );
    let now = oauth.get_grant("g".into()).await.unwrap().unwrap();
    assert_eq!(
        (now.current_hash, now.previous_hash, now.rotated_at_ms),
        (Some(hash(2)), Some(hash(1)), NOW + 10)
    );
    oauth
        .rotate_refresh("g".into(), hash(2), hash(3), NOW + 30)
        .await
        .unwrap();
    // Every token the family ever had still finds it (a rotated-out one
    // must revoke it, however old).
    for n in 1..=3 {
        let found = oauth.grant_by_refresh(hash(n)).await.unwrap();
        assert_eq!(found.map(|g| g.grant_id), Some("g".to_owned()), "{n}");
    }
    assert_eq!(oauth.grant_by_refresh(hash(4)).await, Ok(None));
    oauth.revoke_grant("g".into()).await.unwrap();
    assert_eq!(
        oauth
            .rotate_refresh("g".into(), hash(3), hash(4), NOW + 40)
            .await,
        Ok(false),
        "a revoked family does not rotate"
    );
}

pub(crate) async fn oauth_concurrent_refresh_rotations_have_one_winner(fixture: &impl Fixture) {
    let stores = two_instances(fixture).await;
    stores[0]
        .oauth()
        .create_grant(grant("g", Some(1)))
        .await
        .unwrap();
    let results = together(RACERS, |i| {
        let oauth = stores[i % 2].oauth().clone();
        async move {
            oauth
                .rotate_refresh("g".into(), hash(1), hash(100 + i as u64), NOW + 1)
                .await
        }
    })
    .await;
    let wins: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, Ok(true)))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(wins.len(), 1, "{results:?}");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let grant = stores[1]
        .oauth()
        .get_grant("g".into())
        .await
        .unwrap()
        .unwrap();
    let winner = hash(100 + wins[0] as u64);
    assert_eq!(grant.current_hash.as_ref(), Some(&winner));
    assert_eq!(grant.previous_hash, Some(hash(1)));
    // Only the winner's token joined the family.
    for i in 0..RACERS {
        let found = stores[i % 2]
            .oauth()
            .grant_by_refresh(hash(100 + i as u64))
            .await
            .unwrap();
        assert_eq!(found.is_some(), i == wins[0], "racer {i}");
    }
}

pub(crate) async fn oauth_assertion_jti_is_used_once(fixture: &impl Fixture) {
    let stores = two_instances(fixture).await;
    let results = together(RACERS, |i| {
        let oauth = stores[i % 2].oauth().clone();
        async move {
            oauth
                .use_assertion("app".into(), "jti-1".into(), NOW + 60_000, NOW)
                .await
        }
    })
    .await;
    assert_eq!(tally(&results), (1, RACERS - 1));
    let oauth = stores[0].oauth();
    assert_eq!(
        oauth
            .use_assertion("other".into(), "jti-1".into(), NOW + 60_000, NOW)
            .await,
        Ok(Insertion::Inserted),
        "jti is per client"
    );
    assert_eq!(
        oauth
            .use_assertion("app".into(), "jti-1".into(), NOW + 120_000, NOW + 60_000)
            .await,
        Ok(Insertion::Inserted),
        "an expired record counts as absent"
    );
}

pub(crate) async fn oauth_purge_removes_only_expired_rows(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let oauth = store.oauth();
    oauth.insert_code(code(1)).await.unwrap();
    oauth
        .insert_challenge("n".into(), hash(1), NOW + 1_000)
        .await
        .unwrap();
    assert_eq!(
        oauth
            .use_assertion("app".into(), "j".into(), NOW + 1_000, NOW)
            .await,
        Ok(Insertion::Inserted)
    );
    assert_eq!(oauth.purge_oauth(NOW + 999).await, Ok(0));
    assert_eq!(oauth.purge_oauth(NOW + 1_000).await, Ok(2));
    assert_eq!(
        oauth
            .consume_code(hash(1))
            .await
            .map(|c| matches!(c, CodeConsumption::Fresh { .. })),
        Ok(true),
        "the code row lives until its own expiry"
    );
}

pub(crate) async fn oauth_a_grant_revoked_before_it_exists_is_never_created(
    fixture: &impl Fixture,
) {
    // A code's reuse overtook its first use: the revocation comes first.
    let store = fixture.open().await;
    let oauth = store.oauth();
    assert_eq!(oauth.revoke_grant("g".into()).await, Ok(false), "not live");
    assert!(matches!(
        oauth.create_grant(grant("g", Some(1))).await,
        Err(Error::Conflict { .. })
    ));
    let placeholder = oauth.get_grant("g".into()).await.unwrap().unwrap();
    assert!(placeholder.revoked);
    assert_eq!(oauth.grant_by_refresh(hash(1)).await, Ok(None));
    assert_eq!(oauth.revoke_grant("g".into()).await, Ok(false), "once");
    // A live grant is revoked as before.
    oauth.create_grant(grant("h", None)).await.unwrap();
    assert_eq!(oauth.revoke_grant("h".into()).await, Ok(true));
}

pub(crate) async fn oauth_revocation_racing_creation_always_revokes(fixture: &impl Fixture) {
    // Creation (a code's first use) and revocations (its reuses) of one
    // grant at once, over two instances: whichever comes first, the grant
    // ends revoked, and if its creation succeeded a revocation saw it.
    let stores = two_instances(fixture).await;
    for round in 0..10_u64 {
        let id = format!("race-{round}");
        let results = together(RACERS, |i| {
            let oauth = stores[i % 2].oauth().clone();
            let id = id.clone();
            async move {
                if i == 0 {
                    oauth
                        .create_grant(grant(&id, Some(1000 + round)))
                        .await
                        .map(|()| true)
                } else {
                    oauth.revoke_grant(id).await
                }
            }
        })
        .await;
        let created = matches!(results[0], Ok(true));
        let revoked_live = results[1..]
            .iter()
            .filter(|r| matches!(r, Ok(true)))
            .count();
        assert!(
            results[1..].iter().all(Result::is_ok),
            "round {round}: {results:?}"
        );
        if created {
            assert_eq!(revoked_live, 1, "round {round}: {results:?}");
        } else {
            assert!(
                matches!(results[0], Err(Error::Conflict { .. })),
                "round {round}: {results:?}"
            );
            assert_eq!(revoked_live, 0, "round {round}: {results:?}");
        }
        let stored = stores[0].oauth().get_grant(id).await.unwrap().unwrap();
        assert!(stored.revoked, "round {round}");
    }
}
