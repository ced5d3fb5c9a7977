//! The account registry (docs/protocol.md §9).

use sigil_store::{Account, AccountUpdate, Error};

use super::{Fixture, NOW, full_account, pubkey, together};

pub(crate) async fn accounts_add_get_list_revoke(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let accounts = store.accounts();
    let first = full_account(1, NOW);
    let second = Account::new(pubkey(2), NOW + 1);
    accounts.add_account(first.clone()).await.unwrap();
    accounts.add_account(second.clone()).await.unwrap();

    assert_eq!(
        accounts.get_account(pubkey(1)).await,
        Ok(Some(first.clone()))
    );
    assert_eq!(
        accounts.get_account(pubkey(2)).await,
        Ok(Some(second.clone()))
    );
    assert_eq!(accounts.get_account(pubkey(3)).await, Ok(None));
    assert_eq!(
        accounts.list_accounts().await,
        Ok(vec![first.clone(), second.clone()])
    );

    let revoked = accounts.revoke_account(pubkey(1), NOW + 50).await.unwrap();
    assert_eq!(revoked.revoked_at_ms, Some(NOW + 50));
    assert!(revoked.is_revoked());
    let mut unrevoked = revoked.clone();
    unrevoked.revoked_at_ms = None;
    assert_eq!(unrevoked, first, "only revoked_at_ms changed");
    assert_eq!(
        accounts.get_account(pubkey(1)).await,
        Ok(Some(revoked.clone()))
    );

    let again = accounts.revoke_account(pubkey(1), NOW + 90).await.unwrap();
    assert_eq!(
        again.revoked_at_ms,
        Some(NOW + 50),
        "the first revocation time stays"
    );

    let listed = accounts.list_accounts().await.unwrap();
    assert_eq!(listed, vec![revoked, second]);
    assert!(!listed[1].is_revoked());
}

pub(crate) async fn accounts_duplicate_add_is_refused(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let accounts = store.accounts();
    let original = full_account(1, NOW);
    accounts.add_account(original.clone()).await.unwrap();

    let mut other = Account::new(pubkey(1), NOW + 5);
    other.name = Some("impostor".into());
    let answer = accounts.add_account(other).await;
    match answer {
        Err(Error::Conflict { what }) => assert!(what.contains(&pubkey(1).to_hex()), "{what}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    accounts.revoke_account(pubkey(1), NOW + 10).await.unwrap();
    let revoked_again = accounts
        .add_account(Account::new(pubkey(1), NOW + 20))
        .await;
    assert!(
        matches!(revoked_again, Err(Error::Conflict { .. })),
        "a revoked key is not re-added: {revoked_again:?}"
    );
    let stored = accounts.get_account(pubkey(1)).await.unwrap().unwrap();
    assert_eq!(stored.name, original.name);
    assert_eq!(stored.created_at_ms, NOW);
    assert_eq!(accounts.list_accounts().await.map(|a| a.len()), Ok(1));
}

pub(crate) async fn accounts_revoke_unknown_is_not_found(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let answer = store.accounts().revoke_account(pubkey(7), NOW).await;
    assert!(matches!(answer, Err(Error::NotFound { .. })), "{answer:?}");
    assert_eq!(
        store.accounts().list_accounts().await,
        Ok(vec![]),
        "nothing was created"
    );
}

pub(crate) async fn accounts_concurrent_adds_of_one_key_have_one_winner(fixture: &impl Fixture) {
    const TASKS: usize = 16;
    let store = fixture.open().await;
    let results = together(TASKS, |i| {
        let accounts = store.accounts().clone();
        async move {
            let mut account = Account::new(pubkey(9), NOW);
            account.name = Some(format!("writer {i}"));
            accounts.add_account(account).await
        }
    })
    .await;
    let added = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(Error::Conflict { .. })))
        .count();
    assert_eq!((added, conflicts), (1, TASKS - 1), "{results:?}");
    // The winner's write, and only it, was committed beside the refusals.
    let winner = results.iter().position(Result::is_ok).unwrap();
    let stored = store
        .accounts()
        .get_account(pubkey(9))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.name, Some(format!("writer {winner}")));
}

pub(crate) async fn accounts_update_changes_only_the_fields_named(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let accounts = store.accounts();
    let original = full_account(1, NOW);
    let other = full_account(2, NOW + 1);
    accounts.add_account(original.clone()).await.unwrap();
    accounts.add_account(other.clone()).await.unwrap();

    let mut rename = AccountUpdate::default();
    rename.name = Some(Some("renamed".into()));
    let renamed = accounts.update_account(pubkey(1), rename).await.unwrap();
    let mut want = original.clone();
    want.name = Some("renamed".into());
    assert_eq!(renamed, want, "only the name changed");
    assert_eq!(
        accounts.get_account(pubkey(1)).await,
        Ok(Some(want.clone()))
    );

    let mut clear = AccountUpdate::default();
    clear.bap_id = Some(None);
    clear.audiences = Some(vec!["https://only.example/".into()]);
    let cleared = accounts.update_account(pubkey(1), clear).await.unwrap();
    want.bap_id = None;
    want.audiences = vec!["https://only.example/".into()];
    assert_eq!(cleared, want);

    // A revoked account stays revoked; an empty update changes nothing.
    accounts.revoke_account(pubkey(1), NOW + 5).await.unwrap();
    let unchanged = accounts
        .update_account(pubkey(1), AccountUpdate::default())
        .await
        .unwrap();
    want.revoked_at_ms = Some(NOW + 5);
    assert_eq!(unchanged, want);
    assert_eq!(
        accounts.get_account(pubkey(2)).await,
        Ok(Some(other)),
        "the other account is untouched"
    );

    let missing = accounts
        .update_account(pubkey(7), AccountUpdate::default())
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
    assert_eq!(accounts.get_account(pubkey(7)).await, Ok(None));
}

pub(crate) async fn accounts_unrevoke_clears_the_revocation(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let accounts = store.accounts();
    let original = full_account(1, NOW);
    accounts.add_account(original.clone()).await.unwrap();
    accounts.revoke_account(pubkey(1), NOW + 5).await.unwrap();

    let active = accounts.unrevoke_account(pubkey(1)).await.unwrap();
    assert_eq!(active, original, "as it was before the revocation");
    assert_eq!(
        accounts.get_account(pubkey(1)).await,
        Ok(Some(original.clone()))
    );
    assert_eq!(
        accounts.unrevoke_account(pubkey(1)).await,
        Ok(original),
        "an active account is returned unchanged"
    );
    // Revoking again records the new time.
    let revoked = accounts.revoke_account(pubkey(1), NOW + 9).await.unwrap();
    assert_eq!(revoked.revoked_at_ms, Some(NOW + 9));

    let missing = accounts.unrevoke_account(pubkey(7)).await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
}

pub(crate) async fn accounts_remove_deletes_the_account(fixture: &impl Fixture) {
    let store = fixture.open().await;
    let accounts = store.accounts();
    let first = full_account(1, NOW);
    let second = full_account(2, NOW + 1);
    accounts.add_account(first.clone()).await.unwrap();
    accounts.add_account(second.clone()).await.unwrap();
    let revoked = accounts.revoke_account(pubkey(1), NOW + 5).await.unwrap();

    assert_eq!(accounts.remove_account(pubkey(1)).await, Ok(revoked));
    assert_eq!(accounts.get_account(pubkey(1)).await, Ok(None));
    assert_eq!(accounts.list_accounts().await, Ok(vec![second]));
    let again = accounts.remove_account(pubkey(1)).await;
    assert!(matches!(again, Err(Error::NotFound { .. })), "{again:?}");
    // The key may be registered again, afresh.
    let fresh = Account::new(pubkey(1), NOW + 10);
    accounts.add_account(fresh.clone()).await.unwrap();
    assert_eq!(accounts.get_account(pubkey(1)).await, Ok(Some(fresh)));
}
