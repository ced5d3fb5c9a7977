//! `sigil accounts add|list|revoke|unrevoke|update|remove` (docs/protocol.md §9).

use anyhow::{Context as _, bail};
use serde_json::json;
use sigil_core::timestamp::format_iso_ms;
use sigil_core::{PublicKey, validate_endpoint};
use sigil_store::{Account, AccountUpdate, Store};

use super::keys::{now_ms, open_store, runtime};
use crate::cli::{AccountAddArgs, AccountUpdateArgs, AccountsArgs, AccountsCommand};
use crate::output;

/// Runs `sigil accounts …`.
///
/// # Errors
/// A malformed key or audience, an existing or missing account, or a store
/// that cannot be opened or written.
pub(crate) fn run(args: &AccountsArgs, json: bool) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let (_, store) = open_store(&args.store).await?;
        let result = match &args.command {
            AccountsCommand::Add(add) => self::add(&store, add, json).await,
            AccountsCommand::List => list(&store, json).await,
            AccountsCommand::Revoke { pubkey } => revoke(&store, pubkey, json).await,
            AccountsCommand::Unrevoke { pubkey } => unrevoke(&store, pubkey, json).await,
            AccountsCommand::Update(update) => self::update(&store, update, json).await,
            AccountsCommand::Remove { pubkey } => remove(&store, pubkey, json).await,
        };
        store.close().await.context("closing the store")?;
        result
    })
}

/// The `<pubkey>` argument (sigil-core's error names it "public key" once).
fn account_key(hex: &str) -> anyhow::Result<PublicKey> {
    Ok(PublicKey::from_hex(hex.trim())?)
}

/// An `--audience` prefix: an absolute http(s) URL. The refusal names the
/// flag, then why (without sigil-core's `endpoint: ` prefix).
fn check_audience(audience: &str) -> anyhow::Result<()> {
    match validate_endpoint(audience) {
        Ok(()) => Ok(()),
        Err(sigil_core::Error::Endpoint(why)) => bail!("--audience {audience:?}: {why}"),
        Err(e) => Err(e).with_context(|| format!("--audience {audience:?}")),
    }
}

fn view(account: &Account) -> serde_json::Value {
    json!({
        "pubkey": account.pubkey.to_hex(),
        "name": account.name,
        "bap_id": account.bap_id,
        "audiences": account.audiences,
        "created_at": format_iso_ms(account.created_at_ms),
        "revoked_at": account.revoked_at_ms.map(format_iso_ms),
    })
}

fn print(account: &Account, json: bool) -> anyhow::Result<()> {
    if json {
        return output::json(&view(account));
    }
    output::fields(&[
        ("pubkey", &account.pubkey.to_hex()),
        ("name", account.name.as_deref().unwrap_or("-")),
        ("bap_id", account.bap_id.as_deref().unwrap_or("-")),
        ("audiences", &account.audiences.join(", ")),
        ("created", &format_iso_ms(account.created_at_ms)),
        (
            "revoked",
            &account
                .revoked_at_ms
                .map_or_else(|| "-".to_owned(), format_iso_ms),
        ),
    ])
}

async fn add(store: &Store, args: &AccountAddArgs, json: bool) -> anyhow::Result<()> {
    let pubkey = account_key(&args.pubkey)?;
    for audience in &args.audiences {
        check_audience(audience)?;
    }
    let mut account = Account::new(pubkey, now_ms());
    account.name.clone_from(&args.name);
    account.bap_id.clone_from(&args.bap_id);
    account.audiences.clone_from(&args.audiences);
    match store.accounts().add_account(account.clone()).await {
        Ok(()) => print(&account, json),
        Err(sigil_store::Error::Conflict { .. }) => {
            bail!("an account for {} exists already", pubkey.to_hex())
        }
        Err(e) => Err(e).context("adding the account"),
    }
}

async fn list(store: &Store, json: bool) -> anyhow::Result<()> {
    let accounts = store
        .accounts()
        .list_accounts()
        .await
        .context("listing accounts")?;
    if json {
        return output::json(&accounts.iter().map(view).collect::<Vec<_>>());
    }
    let rows: Vec<Vec<String>> = accounts
        .iter()
        .map(|a| {
            vec![
                a.pubkey.to_hex(),
                a.name.clone().unwrap_or_else(|| "-".to_owned()),
                if a.is_revoked() { "revoked" } else { "active" }.to_owned(),
                if a.audiences.is_empty() {
                    "any".to_owned()
                } else {
                    a.audiences.join(", ")
                },
            ]
        })
        .collect();
    output::table(
        &[
            ("PUBKEY", 66),
            ("NAME", 20),
            ("STATE", 10),
            ("AUDIENCES", 0),
        ],
        &rows,
    )
}

async fn revoke(store: &Store, pubkey: &str, json: bool) -> anyhow::Result<()> {
    let pubkey = account_key(pubkey)?;
    match store.accounts().revoke_account(pubkey, now_ms()).await {
        Ok(account) => print(&account, json),
        Err(sigil_store::Error::NotFound { .. }) => {
            bail!("no account for {}", pubkey.to_hex())
        }
        Err(e) => Err(e).context("revoking the account"),
    }
}

async fn unrevoke(store: &Store, pubkey: &str, json: bool) -> anyhow::Result<()> {
    let pubkey = account_key(pubkey)?;
    match store.accounts().unrevoke_account(pubkey).await {
        Ok(account) => print(&account, json),
        Err(sigil_store::Error::NotFound { .. }) => {
            bail!("no account for {}", pubkey.to_hex())
        }
        Err(e) => Err(e).context("lifting the revocation"),
    }
}

async fn update(store: &Store, args: &AccountUpdateArgs, json: bool) -> anyhow::Result<()> {
    let pubkey = account_key(&args.pubkey)?;
    for audience in &args.audiences {
        check_audience(audience)?;
    }
    let mut update = AccountUpdate::default();
    if args.clear_name {
        update.name = Some(None);
    } else if let Some(name) = &args.name {
        update.name = Some(Some(name.clone()));
    }
    if args.clear_bap_id {
        update.bap_id = Some(None);
    } else if let Some(bap_id) = &args.bap_id {
        update.bap_id = Some(Some(bap_id.clone()));
    }
    if args.any_audience {
        update.audiences = Some(Vec::new());
    } else if !args.audiences.is_empty() {
        update.audiences = Some(args.audiences.clone());
    }
    match store.accounts().update_account(pubkey, update).await {
        Ok(account) => print(&account, json),
        Err(sigil_store::Error::NotFound { .. }) => {
            bail!("no account for {}", pubkey.to_hex())
        }
        Err(e) => Err(e).context("updating the account"),
    }
}

async fn remove(store: &Store, pubkey: &str, json: bool) -> anyhow::Result<()> {
    let pubkey = account_key(pubkey)?;
    match store.accounts().remove_account(pubkey).await {
        Ok(account) => {
            if json {
                let mut removed = view(&account);
                removed["removed"] = json!(true);
                return output::json(&removed);
            }
            output::line(&format!("removed the account of {}", pubkey.to_hex()))
        }
        Err(sigil_store::Error::NotFound { .. }) => {
            bail!("no account for {}", pubkey.to_hex())
        }
        Err(e) => Err(e).context("removing the account"),
    }
}
