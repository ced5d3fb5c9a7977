//! Replay records: the insert is the check (docs/security.md B7).

use sigil_store::{Error, Insertion, ReplayNamespace, ReplayRecord};

use super::{Fixture, NAMESPACES, NOW, TTL, record, replay_key, tally, together};

const NS: ReplayNamespace = ReplayNamespace::TokenRequest;

pub(crate) async fn replay_first_insert_then_already_used(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let replay = store.replay();
    let key = replay_key("first", 0);

    let first = replay
        .insert_if_absent(record(NS, key, NOW + TTL), NOW)
        .await;
    assert_eq!(first, Ok(Insertion::Inserted));
    let second = replay
        .insert_if_absent(record(NS, key, NOW + TTL), NOW)
        .await;
    assert_eq!(second, Ok(Insertion::AlreadyUsed));
    let later = replay
        .insert_if_absent(record(NS, key, NOW + 2 * TTL), NOW + TTL - 1)
        .await;
    assert_eq!(later, Ok(Insertion::AlreadyUsed), "one ms before expiry");

    let other = replay
        .insert_if_absent(record(NS, replay_key("first", 1), NOW + TTL), NOW)
        .await;
    assert_eq!(other, Ok(Insertion::Inserted), "another key is independent");
}

pub(crate) async fn replay_concurrent_inserts_of_one_key_have_one_winner(fixture: &impl Fixture) {
    const TASKS: usize = 64;
    let store = fixture.open().await;
    let key = replay_key("race", 0);
    let results = together(TASKS, |_| {
        let replay = store.replay().clone();
        async move {
            replay
                .insert_if_absent(record(NS, key, NOW + TTL), NOW)
                .await
        }
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
                    .insert_if_absent(record(NS, replay_key("races", n), NOW + TTL), NOW)
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
            .insert_if_absent(record(namespace, key, NOW + TTL), NOW)
            .await;
        assert_eq!(first, Ok(Insertion::Inserted), "{namespace:?}");
    }
    for namespace in NAMESPACES {
        let second = replay
            .insert_if_absent(record(namespace, key, NOW + TTL), NOW)
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
        replay.insert_if_absent(record(NS, key, expires), NOW).await,
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
        let answer = replay
            .insert_if_absent(record(NS, key, now + TTL), now)
            .await;
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
        let answer = replay
            .insert_if_absent(record(namespace, key, expires), NOW)
            .await;
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
            .insert_if_absent(record(*namespace, *key, NOW + 20_000), NOW + 200)
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
        let answer = replay.insert_if_absent(record(NS, key, expires), NOW).await;
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
    let answer = replay
        .insert_if_absent(record(NS, key, NOW + TTL), NOW)
        .await;
    assert_eq!(
        answer,
        Ok(Insertion::Inserted),
        "the refused calls stored nothing"
    );
}

/// The published Signup vector (signup_payloads.json `signup-utils-test-vector`)
/// and its high-S twin.
const SIGNUP_TEXT: &str = r#"{"signedBy":"Signup.cash","requestedBy":"localhost:5000","data":{"message":"Testing verify() fn for Signup.cash utils"},"timestamp":1601555811427}"#;
const SIGNUP_ADDRESS: &str = "bitcoincash:qpgan8qtp0s6vny6mg6ja7zs8599tdfg9yvrk89qm6";
const SIGNUP_SIGNATURE: &str =
    "IGid4hb8JNwmpvHtgFuR8riP5y+FRq3BV1+2fprknEPAfJ2DszXa+7gYTkgZjuwf0i7NA9FEfSERS4sDAIy0nFM=";
const SIGNUP_HIGH_S: &str =
    "H2id4hb8JNwmpvHtgFuR8riP5y+FRq3BV1+2fprknEPAg2J8TMolBEfnsbfmcRPgLIvh2RVqy38qdEdbjEOBpO4=";
const SIGNUP_WRONG: &str =
    "INmSM+yycDpu03E0AppgQMNZnHn8wUX2D2HbYTLxqogoWXXH/M2Od1JMHrqxoeObADfV/kD0mXEwbdF/pbSsixY=";
const SIGNUP_NOW: u64 = 1_601_555_811_427;

/// `verify_payload_once` with this store as the replay store: the published
/// vector once, then its twin (another signature encoding of the same
/// bytes) and the object form are replays; a wrong signature never reaches
/// the store; the record outlives the window.
pub(crate) async fn payload_verified_once(fixture: &impl Fixture) {
    use sigil_core::ErrorClass;
    use sigil_core::payload::Policy;
    use sigil_store::{PAYLOAD_RECORD_TTL_MS, PayloadRefusal, verify_payload_once};

    let store = fixture.open().await;
    let replay = store.replay().as_ref();
    let policy = Policy::new(["localhost:5000"]);
    let text = serde_json_string(SIGNUP_TEXT);
    let once = |payload: String, signature: &'static str, now: u64| {
        let policy = policy.clone();
        async move {
            verify_payload_once(replay, &payload, SIGNUP_ADDRESS, signature, &policy, now).await
        }
    };
    match once(text.clone(), SIGNUP_WRONG, SIGNUP_NOW).await {
        Err(PayloadRefusal::Invalid(e)) => assert_eq!(e.class(), ErrorClass::Verification),
        other => panic!("wrong signature: {other:?}"),
    }
    let verified = once(text.clone(), SIGNUP_SIGNATURE, SIGNUP_NOW)
        .await
        .expect("the published vector verifies once");
    assert_eq!(
        verified.payload_sha256,
        "81d76b5b4907c5bc765cbe541415958f6b04b3d1a91daa7172636d0cea7aaa5e"
    );
    assert!(matches!(
        once(text.clone(), SIGNUP_SIGNATURE, SIGNUP_NOW).await,
        Err(PayloadRefusal::Replay)
    ));
    assert!(matches!(
        once(text, SIGNUP_HIGH_S, SIGNUP_NOW).await,
        Err(PayloadRefusal::Replay)
    ));
    // The object form is the same bytes once re-serialised: a replay too.
    assert!(matches!(
        once(SIGNUP_TEXT.to_owned(), SIGNUP_SIGNATURE, SIGNUP_NOW).await,
        Err(PayloadRefusal::Replay)
    ));
    // The record is live far past the window; purging at the window's end
    // leaves it.
    let purged = replay
        .purge_expired(SIGNUP_NOW + 301_000)
        .await
        .expect("purge");
    assert_eq!(purged, 0);
    // The payload's record: its replay key, signed at its own timestamp.
    let record = ReplayRecord {
        namespace: ReplayNamespace::SignedPayload,
        key: verified.replay_key,
        signed_at_ms: verified.timestamp_ms,
        expires_at_ms: SIGNUP_NOW + 2 * PAYLOAD_RECORD_TTL_MS,
    };
    let again = replay
        .insert_if_absent(record, SIGNUP_NOW + PAYLOAD_RECORD_TTL_MS - 1)
        .await;
    assert_eq!(again, Ok(Insertion::AlreadyUsed), "still live a day later");
}

/// `text` as a JSON string literal (the body's `payload` member).
fn serde_json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
