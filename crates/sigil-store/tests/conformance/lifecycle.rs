//! Opening, closing, health, and failing closed.

use sigil_store::{Account, Insertion, ReplayNamespace, Store};

use super::{
    Fixture, NOW, TTL, assert_unavailable, full_account, new_key, pubkey, record, replay_key,
    summary,
};

const NS: ReplayNamespace = ReplayNamespace::SignedPayload;

pub(crate) async fn records_survive_close_and_reopen(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let key = replay_key("durable", 0);
    let answer = store
        .replay()
        .insert_if_absent(record(NS, key, NOW + TTL), NOW)
        .await;
    assert_eq!(answer, Ok(Insertion::Inserted));
    store.keys().insert_key(new_key("k1", NOW)).await.unwrap();
    store
        .keys()
        .rotate_key(new_key("k2", NOW + 1), NOW + 500)
        .await
        .unwrap();
    store
        .accounts()
        .add_account(full_account(1, NOW))
        .await
        .unwrap();
    let keys_before = store.keys().list_keys().await.unwrap();
    store.close().await.unwrap();

    let store = fixture.open().await;
    let answer = store
        .replay()
        .insert_if_absent(record(NS, key, NOW + TTL), NOW + 1)
        .await;
    assert_eq!(
        answer,
        Ok(Insertion::AlreadyUsed),
        "the replay record survived"
    );
    let keys_after = store.keys().list_keys().await.unwrap();
    assert_eq!(summary(&keys_after), summary(&keys_before));
    assert_eq!(keys_after[1].pkcs8(), keys_before[1].pkcs8());
    assert_eq!(
        store.accounts().get_account(pubkey(1)).await,
        Ok(Some(full_account(1, NOW)))
    );
    store.close().await.unwrap();
}

pub(crate) async fn health_succeeds_on_an_open_store(fixture: &impl Fixture) {
    let store = fixture.open().await;
    assert_eq!(store.health().await, Ok(()));
    assert_eq!(store.replay().health().await, Ok(()));
}

pub(crate) async fn closed_store_is_unavailable(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let clone = store.clone();
    store.close().await.unwrap();
    every_call_fails_closed(&clone).await;
    assert_eq!(store.close().await, Ok(()), "closing twice is not an error");
}

pub(crate) async fn unanswerable_store_fails_closed(fixture: &impl Fixture) {
    let (store, guard) = fixture.open_unanswerable().await;
    every_call_fails_closed(&store).await;
    drop(guard);

    // The failed calls left nothing behind, and the store recovers.
    assert_eq!(store.health().await, Ok(()));
    let key = replay_key("fail-closed", 0);
    let answer = store
        .replay()
        .insert_if_absent(record(NS, key, NOW + TTL), NOW)
        .await;
    assert_eq!(
        answer,
        Ok(Insertion::Inserted),
        "the refused insert stored nothing"
    );
    assert_eq!(store.keys().list_keys().await.map(|k| k.len()), Ok(0));
    assert_eq!(store.accounts().list_accounts().await, Ok(vec![]));
}

/// Every call answers with an `is_unavailable` error: none panics, none
/// claims success.
async fn every_call_fails_closed(store: &Store) {
    let key = replay_key("fail-closed", 0);
    assert_unavailable("health", store.health().await);
    assert_unavailable(
        "insert_if_absent",
        store
            .replay()
            .insert_if_absent(record(NS, key, NOW + TTL), NOW)
            .await,
    );
    assert_unavailable("purge_expired", store.replay().purge_expired(NOW).await);
    assert_unavailable(
        "insert_key",
        store.keys().insert_key(new_key("k1", NOW)).await,
    );
    assert_unavailable("list_keys", store.keys().list_keys().await);
    assert_unavailable(
        "rotate_key",
        store.keys().rotate_key(new_key("k2", NOW), NOW + 1).await,
    );
    assert_unavailable(
        "retire_expired_keys",
        store.keys().retire_expired_keys(NOW).await,
    );
    assert_unavailable(
        "add_account",
        store
            .accounts()
            .add_account(Account::new(pubkey(1), NOW))
            .await,
    );
    assert_unavailable("get_account", store.accounts().get_account(pubkey(1)).await);
    assert_unavailable("list_accounts", store.accounts().list_accounts().await);
    assert_unavailable(
        "revoke_account",
        store.accounts().revoke_account(pubkey(1), NOW).await,
    );
    let oauth = store.oauth();
    assert_unavailable("get_client", oauth.get_client("app".into()).await);
    assert_unavailable("consume_code", oauth.consume_code("0".repeat(64)).await);
    assert_unavailable(
        "consume_challenge",
        oauth
            .consume_challenge("n".into(), "0".repeat(64), NOW)
            .await,
    );
    assert_unavailable(
        "rotate_refresh",
        oauth
            .rotate_refresh("g".into(), "0".repeat(64), "1".repeat(64), NOW)
            .await,
    );
    assert_unavailable(
        "use_assertion",
        oauth
            .use_assertion("app".into(), "jti".into(), NOW + TTL, NOW)
            .await,
    );
    assert_unavailable("get_session", oauth.get_session("0".repeat(64), NOW).await);
}
