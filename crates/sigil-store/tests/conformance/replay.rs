//! Replay records: the insert is the check (security.md B7).

use sigil_store::{Error, Insertion, ReplayNamespace};

use super::{Fixture, NAMESPACES, NOW, TTL, replay_key, tally, together};

const NS: ReplayNamespace = ReplayNamespace::TokenRequest;

pub(crate) async fn replay_first_insert_then_already_used(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let replay = store.replay();
    let key = replay_key("first", 0);

    let first = replay.insert_if_absent(NS, key, NOW + TTL, NOW).await;
    assert_eq!(first, Ok(Insertion::Inserted));
    let second = replay.insert_if_absent(NS, key, NOW + TTL, NOW).await;
    assert_eq!(second, Ok(Insertion::AlreadyUsed));
    let later = replay
        .insert_if_absent(NS, key, NOW + 2 * TTL, NOW + TTL - 1)
        .await;
    assert_eq!(later, Ok(Insertion::AlreadyUsed), "one ms before expiry");

    let other = replay
        .insert_if_absent(NS, replay_key("first", 1), NOW + TTL, NOW)
        .await;
    assert_eq!(other, Ok(Insertion::Inserted), "another key is independent");
}

pub(crate) async fn replay_concurrent_inserts_of_one_key_have_one_winner(fixture: &impl Fixture) {
    const TASKS: usize = 64;
    let store = fixture.open().await;
    let key = replay_key("race", 0);
    let results = together(TASKS, |_| {
        let replay = store.replay().clone();
        async move { replay.insert_if_absent(NS, key, NOW + TTL, NOW).await }
    })
    .await;
    assert_eq!(tally(&results), (1, TASKS - 1));
}

pub(crate) async fn replay_concurrent_inserts_of_many_keys_have_one_winner_each(
    fixture: &impl Fixture,
) {
    const KEYS: usize = 8;
    const PER_KEY: usize = 16;
    let store = fixture.open().await;
    let results = together(KEYS * PER_KEY, |i| {
        let replay = store.replay().clone();
        let n = (i % KEYS) as u64;
        async move {
            (
                n,
                replay
                    .insert_if_absent(NS, replay_key("races", n), NOW + TTL, NOW)
                    .await,
            )
        }
    })
    .await;
    for n in 0..KEYS as u64 {
        let of_key: Vec<_> = results
            .iter()
            .filter(|(k, _)| *k == n)
            .map(|(_, r)| r.clone())
            .collect();
        assert_eq!(tally(&of_key), (1, PER_KEY - 1), "key {n}");
    }
}

pub(crate) async fn replay_namespaces_do_not_collide(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let replay = store.replay();
    let key = replay_key("shared", 0);
    for namespace in NAMESPACES {
        let first = replay
            .insert_if_absent(namespace, key, NOW + TTL, NOW)
            .await;
        assert_eq!(first, Ok(Insertion::Inserted), "{namespace:?}");
    }
    for namespace in NAMESPACES {
        let second = replay
            .insert_if_absent(namespace, key, NOW + TTL, NOW)
            .await;
        assert_eq!(second, Ok(Insertion::AlreadyUsed), "{namespace:?}");
    }
    let codes: Vec<u8> = NAMESPACES.iter().map(|n| n.code()).collect();
    assert_eq!(super::distinct(codes), NAMESPACES.len(), "stored codes");
}

pub(crate) async fn replay_expired_record_counts_as_absent(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let replay = store.replay();
    let key = replay_key("expiry", 0);
    let expires = NOW + TTL;

    assert_eq!(
        replay.insert_if_absent(NS, key, expires, NOW).await,
        Ok(Insertion::Inserted)
    );
    let cases = [
        (
            "live one ms before expiry",
            expires - 1,
            Insertion::AlreadyUsed,
        ),
        (
            "expired at expires_at_ms: taken over",
            expires,
            Insertion::Inserted,
        ),
        (
            "the takeover set a new expiry",
            expires + 1,
            Insertion::AlreadyUsed,
        ),
        (
            "live one ms before the new expiry",
            expires + TTL - 1,
            Insertion::AlreadyUsed,
        ),
        (
            "the new record expired too",
            expires + TTL,
            Insertion::Inserted,
        ),
    ];
    for (name, now, expected) in cases {
        let answer = replay.insert_if_absent(NS, key, now + TTL, now).await;
        assert_eq!(answer, Ok(expected), "{name}");
    }
}

pub(crate) async fn replay_purge_removes_only_expired_records(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let replay = store.replay();
    // (key, namespace, expires_at_ms)
    let records = [
        (
            replay_key("purge", 0),
            ReplayNamespace::TokenRequest,
            NOW + 100,
        ),
        (
            replay_key("purge", 1),
            ReplayNamespace::SignedPayload,
            NOW + 200,
        ),
        (
            replay_key("purge", 2),
            ReplayNamespace::SignedRequest,
            NOW + 201,
        ),
        (
            replay_key("purge", 3),
            ReplayNamespace::AuthToken,
            NOW + 10_000,
        ),
    ];
    for (key, namespace, expires) in records {
        let answer = replay.insert_if_absent(namespace, key, expires, NOW).await;
        assert_eq!(answer, Ok(Insertion::Inserted));
    }

    assert_eq!(
        replay.purge_expired(NOW + 99).await,
        Ok(0),
        "nothing expired yet"
    );
    assert_eq!(
        replay.purge_expired(NOW + 200).await,
        Ok(2),
        "expires_at_ms <= now"
    );
    assert_eq!(
        replay.purge_expired(NOW + 200).await,
        Ok(0),
        "purging twice"
    );

    // The live ones are still there and still refuse replays.
    for (key, namespace, expires) in &records[2..] {
        let answer = replay
            .insert_if_absent(*namespace, *key, NOW + 20_000, NOW + 200)
            .await;
        assert_eq!(
            answer,
            Ok(Insertion::AlreadyUsed),
            "{namespace:?} expiring {expires}"
        );
    }
    // Purging far ahead removes the rest: exactly the two that were left.
    assert_eq!(replay.purge_expired(NOW + 10_000).await, Ok(2));
}

pub(crate) async fn replay_refuses_a_record_born_expired(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let replay = store.replay();
    let key = replay_key("born-expired", 0);
    for expires in [NOW, NOW - 1] {
        let answer = replay.insert_if_absent(NS, key, expires, NOW).await;
        assert!(
            matches!(
                answer,
                Err(Error::InvalidArgument {
                    field: "expires_at_ms",
                    ..
                })
            ),
            "{answer:?}"
        );
    }
    let answer = replay.insert_if_absent(NS, key, NOW + TTL, NOW).await;
    assert_eq!(
        answer,
        Ok(Insertion::Inserted),
        "the refused calls stored nothing"
    );
}
