//! Signing keys: current → retiring → retired (docs/protocol.md §13).

use sigil_store::{Error, KeyBytesUpdate, KeyState, NewSigningKey};

use super::{Fixture, NOW, distinct, new_key, summary, together};

pub(crate) async fn signing_key_first_insert_then_conflict(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let keys = store.keys();
    assert_eq!(
        keys.list_keys().await.map(|k| k.len()),
        Ok(0),
        "a new store has no key"
    );

    keys.insert_key(new_key("k1", NOW)).await.unwrap();
    let listed = keys.list_keys().await.unwrap();
    assert_eq!(
        summary(&listed),
        [("k1".to_owned(), KeyState::Current, None)]
    );
    assert_eq!(listed[0].created_at_ms, NOW);

    let second = keys.insert_key(new_key("k2", NOW + 1)).await;
    assert!(matches!(second, Err(Error::Conflict { .. })), "{second:?}");
    let same_kid = keys.insert_key(new_key("k1", NOW + 1)).await;
    assert!(
        matches!(same_kid, Err(Error::Conflict { .. })),
        "{same_kid:?}"
    );
    let empty_kid = keys.insert_key(new_key("", NOW)).await;
    assert!(
        matches!(empty_kid, Err(Error::InvalidArgument { field: "kid", .. })),
        "{empty_kid:?}"
    );
    let empty_key = keys
        .insert_key(NewSigningKey::new("k3", Vec::new(), NOW))
        .await;
    assert!(
        matches!(
            empty_key,
            Err(Error::InvalidArgument { field: "pkcs8", .. })
        ),
        "{empty_key:?}"
    );

    let listed = keys.list_keys().await.unwrap();
    assert_eq!(
        summary(&listed),
        [("k1".to_owned(), KeyState::Current, None)]
    );
}

pub(crate) async fn signing_key_rotation_keeps_old_key_until_retires_at(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let keys = store.keys();
    let retires = NOW + 1_900_000;
    keys.insert_key(new_key("k1", NOW)).await.unwrap();

    let previous = keys.rotate_key(new_key("k2", NOW + 10), retires).await;
    assert_eq!(previous, Ok(Some("k1".to_owned())));
    let expected_rotated = [
        ("k1".to_owned(), KeyState::Retiring, Some(retires)),
        ("k2".to_owned(), KeyState::Current, None),
    ];
    assert_eq!(summary(&keys.list_keys().await.unwrap()), expected_rotated);
    assert!(KeyState::Retiring.is_published() && KeyState::Current.is_published());

    assert_eq!(
        keys.retire_expired_keys(retires - 1).await,
        Ok(0),
        "before retires_at"
    );
    assert_eq!(summary(&keys.list_keys().await.unwrap()), expected_rotated);

    assert_eq!(
        keys.retire_expired_keys(retires).await,
        Ok(1),
        "at retires_at"
    );
    assert_eq!(
        summary(&keys.list_keys().await.unwrap()),
        [
            ("k1".to_owned(), KeyState::Retired, Some(retires)),
            ("k2".to_owned(), KeyState::Current, None),
        ]
    );
    assert!(!KeyState::Retired.is_published());
    assert_eq!(
        keys.retire_expired_keys(retires + 1).await,
        Ok(0),
        "retired once"
    );
}

pub(crate) async fn signing_key_rotation_is_atomic(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let keys = store.keys();
    keys.insert_key(new_key("k1", NOW)).await.unwrap();
    keys.rotate_key(new_key("k2", NOW + 1), NOW + 100)
        .await
        .unwrap();
    let before = summary(&keys.list_keys().await.unwrap());

    // A taken kid: nothing may change, in particular k2 must stay current.
    for kid in ["k1", "k2"] {
        let answer = keys.rotate_key(new_key(kid, NOW + 2), NOW + 200).await;
        assert!(
            matches!(answer, Err(Error::Conflict { .. })),
            "{kid}: {answer:?}"
        );
        assert_eq!(summary(&keys.list_keys().await.unwrap()), before, "{kid}");
    }
    let empty = keys.rotate_key(new_key("", NOW + 2), NOW + 200).await;
    assert!(
        matches!(empty, Err(Error::InvalidArgument { .. })),
        "{empty:?}"
    );
    assert_eq!(summary(&keys.list_keys().await.unwrap()), before);
}

pub(crate) async fn signing_key_rotation_without_current_key(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let keys = store.keys();
    assert_eq!(
        keys.rotate_key(new_key("k1", NOW), NOW + 100).await,
        Ok(None)
    );
    assert_eq!(
        summary(&keys.list_keys().await.unwrap()),
        [("k1".to_owned(), KeyState::Current, None)]
    );
}

pub(crate) async fn signing_key_concurrent_rotations_leave_one_current(fixture: &impl Fixture) {
    const ROTATIONS: usize = 16;
    let store = fixture.open().await;
    store.keys().insert_key(new_key("k0", NOW)).await.unwrap();

    let results = together(ROTATIONS, |i| {
        let keys = store.keys().clone();
        async move {
            let kid = format!("k{}", i + 1);
            keys.rotate_key(new_key(&kid, NOW + 1), NOW + 100).await
        }
    })
    .await;
    let previous: Vec<String> = results
        .into_iter()
        .map(|r| {
            r.expect("rotation")
                .expect("there was always a current key")
        })
        .collect();
    // Rotations were serialised: each retired a different key, k0 among them.
    assert_eq!(distinct(previous.iter()), ROTATIONS);
    assert!(previous.iter().any(|kid| kid == "k0"));

    let listed = store.keys().list_keys().await.unwrap();
    let count = |state| listed.iter().filter(|k| k.state == state).count();
    assert_eq!(count(KeyState::Current), 1);
    assert_eq!(count(KeyState::Retiring), ROTATIONS);
    let current = listed
        .iter()
        .find(|k| k.state == KeyState::Current)
        .unwrap();
    assert!(
        !previous.contains(&current.kid),
        "the last new key is current"
    );
}

pub(crate) async fn signing_key_bytes_round_trip_exactly(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let keys = store.keys();
    // Every byte value, as an encrypted blob would have.
    let bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    keys.insert_key(NewSigningKey::new("k1", bytes.clone(), NOW))
        .await
        .unwrap();
    let listed = keys.list_keys().await.unwrap();
    assert_eq!(listed[0].pkcs8(), Some(&bytes[..]));
    let debug = format!("{:?}", listed[0]);
    assert!(
        debug.contains("<512 bytes>") && !debug.contains("255"),
        "{debug}"
    );
}

/// docs/protocol.md §13: once retired (every token it signed has expired) a key keeps
/// no private key, sealed or not; it is still listed, as retired. Keys that
/// are still current or retiring keep theirs.
pub(crate) async fn signing_key_retirement_erases_the_private_key(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let keys = store.keys();
    keys.insert_key(new_key("k1", NOW)).await.unwrap();
    keys.rotate_key(new_key("k2", NOW + 1), NOW + 100)
        .await
        .unwrap();
    keys.rotate_key(new_key("k3", NOW + 2), NOW + 200)
        .await
        .unwrap();
    assert_eq!(keys.retire_expired_keys(NOW + 100).await, Ok(1));

    let listed = keys.list_keys().await.unwrap();
    assert_eq!(
        summary(&listed),
        [
            ("k1".to_owned(), KeyState::Retired, Some(NOW + 100)),
            ("k2".to_owned(), KeyState::Retiring, Some(NOW + 200)),
            ("k3".to_owned(), KeyState::Current, None),
        ]
    );
    let bytes: Vec<Option<&[u8]>> = listed.iter().map(|k| k.pkcs8()).collect();
    assert_eq!(
        bytes,
        [None, Some(&b"pkcs8 of k2"[..]), Some(&b"pkcs8 of k3"[..])]
    );
    assert!(
        format!("{:?}", listed[0]).contains("<erased>"),
        "{:?}",
        listed[0]
    );

    // An erased key's bytes cannot be put back.
    let revived = keys
        .replace_key_bytes(vec![KeyBytesUpdate::new(
            "k1",
            b"pkcs8 of k1".to_vec(),
            b"sealed k1".to_vec(),
        )])
        .await;
    assert!(
        matches!(revived, Err(Error::Conflict { .. })),
        "{revived:?}"
    );
    assert_eq!(keys.list_keys().await.unwrap()[0].pkcs8(), None);
}

/// Replacing stored bytes (sealing keys) is all or nothing, and only
/// over the bytes the caller read.
pub(crate) async fn signing_key_bytes_are_replaced_all_or_nothing(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let keys = store.keys();
    keys.insert_key(new_key("k1", NOW)).await.unwrap();
    keys.rotate_key(new_key("k2", NOW + 1), NOW + 100)
        .await
        .unwrap();
    let update = |kid: &str, expected: &str, replacement: &str| {
        KeyBytesUpdate::new(
            kid,
            expected.as_bytes().to_vec(),
            replacement.as_bytes().to_vec(),
        )
    };
    let stored = |listed: &[sigil_store::SigningKeyRecord]| -> Vec<Vec<u8>> {
        listed
            .iter()
            .map(|k| k.pkcs8().expect("not retired").to_vec())
            .collect()
    };
    let before = stored(&keys.list_keys().await.unwrap());

    let cases = [
        (
            "a stale expected value",
            vec![
                update("k1", "pkcs8 of k1", "sealed k1"),
                update("k2", "not what k2 holds", "sealed k2"),
            ],
        ),
        (
            "an unknown kid",
            vec![
                update("k1", "pkcs8 of k1", "sealed k1"),
                update("k9", "pkcs8 of k9", "sealed k9"),
            ],
        ),
        ("empty bytes", vec![update("k1", "pkcs8 of k1", "")]),
    ];
    for (name, updates) in cases {
        let answer = keys.replace_key_bytes(updates).await;
        let expected_kind = match name {
            "a stale expected value" => matches!(answer, Err(Error::Conflict { .. })),
            "an unknown kid" => matches!(answer, Err(Error::NotFound { .. })),
            _ => matches!(answer, Err(Error::InvalidArgument { .. })),
        };
        assert!(expected_kind, "{name}: {answer:?}");
        assert_eq!(
            stored(&keys.list_keys().await.unwrap()),
            before,
            "{name}: nothing changed"
        );
    }

    keys.replace_key_bytes(vec![
        update("k1", "pkcs8 of k1", "sealed k1"),
        update("k2", "pkcs8 of k2", "sealed k2"),
    ])
    .await
    .unwrap();
    let listed = keys.list_keys().await.unwrap();
    assert_eq!(
        stored(&listed),
        [b"sealed k1".to_vec(), b"sealed k2".to_vec()]
    );
    assert_eq!(
        summary(&listed),
        [
            ("k1".to_owned(), KeyState::Retiring, Some(NOW + 100)),
            ("k2".to_owned(), KeyState::Current, None),
        ],
        "states and times are kept"
    );
}

/// The `x5c` certificate: stored with a new key as given; a key without
/// one gets one by compare-and-set, which only the first of concurrent
/// callers wins; once stored it never changes, and it survives a reopen.
pub(crate) async fn signing_key_certificate_is_stored_once(fixture: &impl Fixture) {
    const CALLERS: usize = 8;
    let store = fixture.open().await;
    let keys = store.keys();
    keys.insert_key(new_key("k1", NOW).with_certificate(b"cert of k1".to_vec()))
        .await
        .unwrap();
    // A key stored without one, as before the certificate column.
    keys.rotate_key(new_key("k2", NOW + 1), NOW + 100)
        .await
        .unwrap();
    let certificates = |listed: &[sigil_store::SigningKeyRecord]| {
        listed
            .iter()
            .map(|k| (k.kid.clone(), k.certificate.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        certificates(&keys.list_keys().await.unwrap()),
        [
            ("k1".to_owned(), Some(b"cert of k1".to_vec())),
            ("k2".to_owned(), None)
        ]
    );

    // A key that has one keeps it.
    assert_eq!(
        keys.set_certificate("k1", b"another".to_vec()).await,
        Ok(false)
    );
    // Concurrent callers, each with its own certificate: exactly one wins.
    let results = together(CALLERS, |i| {
        let keys = store.keys().clone();
        async move {
            keys.set_certificate("k2", format!("cert {i} of k2").into_bytes())
                .await
        }
    })
    .await;
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.as_ref() == Ok(&true))
        .map(|(i, _)| i)
        .collect();
    assert!(
        results.iter().all(|r| r.is_ok()),
        "every caller is answered: {results:?}"
    );
    assert_eq!(winners.len(), 1, "{results:?}");
    let stored = format!("cert {} of k2", winners[0]).into_bytes();
    assert_eq!(
        keys.set_certificate("k2", b"late".to_vec()).await,
        Ok(false)
    );

    let unknown = keys.set_certificate("nope", b"cert".to_vec()).await;
    assert!(
        matches!(unknown, Err(Error::NotFound { .. })),
        "{unknown:?}"
    );
    let empty = keys.set_certificate("k2", Vec::new()).await;
    assert!(
        matches!(
            empty,
            Err(Error::InvalidArgument {
                field: "certificate",
                ..
            })
        ),
        "{empty:?}"
    );
    let empty_new = keys
        .insert_key(new_key("k3", NOW).with_certificate(Vec::new()))
        .await;
    assert!(
        matches!(
            empty_new,
            Err(Error::InvalidArgument {
                field: "certificate",
                ..
            })
        ),
        "{empty_new:?}"
    );

    // Retiring a key leaves its (public) certificate.
    assert_eq!(keys.retire_expired_keys(NOW + 100).await, Ok(1));
    let expected = [
        ("k1".to_owned(), Some(b"cert of k1".to_vec())),
        ("k2".to_owned(), Some(stored)),
    ];
    assert_eq!(certificates(&keys.list_keys().await.unwrap()), expected);
    store.close().await.unwrap();

    let reopened = fixture.open().await;
    let listed = reopened.keys().list_keys().await.unwrap();
    assert_eq!(certificates(&listed), expected, "after a reopen");
    assert_eq!(listed[0].state, KeyState::Retired);
}
