//! `sigil keys list|rotate|seal` (docs/protocol.md §12, §13).

use std::path::Path;

use anyhow::{Context as _, bail};
use serde_json::json;
use sigil_core::timestamp::format_iso_ms;
use sigil_server::{AtRest, Config, MasterKey, Overrides, Settings};
use sigil_store::Store;

use crate::cli::{KeysArgs, KeysCommand, StoreArgs};
use crate::output;

/// Longest validator leeway sigil allows (tokens may be accepted this long
/// after `exp`), seconds.
const MAX_LEEWAY_MS: u64 = sigil_core::jwt::MAX_LEEWAY_S * 1000;
/// Largest `reload_interval_ms` a server accepts (docs/protocol.md §13: 10 s).
const MAX_RELOAD_MS: u64 = 10_000;

/// Opens the store the layered configuration names. An SQLite file that
/// does not exist is refused, not created: an admin command on a mistyped
/// path would otherwise write to a new, empty store no server reads (only
/// `sigil serve` creates the database).
pub(crate) async fn open_store(args: &StoreArgs) -> anyhow::Result<(Settings, Store)> {
    let overrides = Overrides {
        database: args.database.clone(),
        ..Overrides::default()
    };
    let settings = Config::load(args.config.as_deref(), &overrides)?.validate()?;
    if let Some(path) = sqlite_file(&settings.database)
        && !path.exists()
    {
        bail!(
            "no database at {}; start `sigil serve` once or check --database",
            path.display()
        );
    }
    let store = Store::open(&settings.database)
        .await
        .context("opening the store")?;
    Ok((settings, store))
}

/// The file of an `sqlite://PATH` (or `sqlite:PATH`) store URL, read as
/// sigil-store reads it (docs/protocol.md §12); `None` for `sqlite::memory:`
/// and other schemes (which `Store::open` judges).
fn sqlite_file(url: &str) -> Option<&Path> {
    let (scheme, rest) = url.split_once(':')?;
    if !scheme.eq_ignore_ascii_case("sqlite") || rest == ":memory:" {
        return None;
    }
    let path = rest.strip_prefix("//").unwrap_or(rest);
    (!path.is_empty()).then(|| Path::new(path))
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Runs `sigil keys …`.
///
/// # Errors
/// The store cannot be opened or written; a key cannot be made or sealed.
pub(crate) fn run(args: &KeysArgs, json: bool) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let (settings, store) = open_store(&args.store).await?;
        let result = match args.command {
            KeysCommand::List => list(&store, json).await,
            KeysCommand::Rotate => rotate(&settings, &store, json).await,
            KeysCommand::Seal => seal(&store, json).await,
        };
        store.close().await.context("closing the store")?;
        result
    })
}

async fn list(store: &Store, json: bool) -> anyhow::Result<()> {
    let keys = store.keys().list_keys().await.context("listing keys")?;
    if json {
        let rows: Vec<_> = keys
            .iter()
            .map(|k| {
                json!({
                    "kid": k.kid,
                    "state": k.state.as_str(),
                    "created_at": format_iso_ms(k.created_at_ms),
                    "retires_at": k.retires_at_ms.map(format_iso_ms),
                    "at_rest": AtRest::of(k).as_str(),
                })
            })
            .collect();
        return output::json(&rows);
    }
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.kid.clone(),
                k.state.as_str().to_owned(),
                format_iso_ms(k.created_at_ms),
                k.retires_at_ms
                    .map_or_else(|| "-".to_owned(), format_iso_ms),
                AtRest::of(k).as_str().to_owned(),
            ]
        })
        .collect();
    output::table(
        &[
            ("KID", 44),
            ("STATE", 8),
            ("CREATED", 24),
            ("RETIRES-AT", 24),
            ("AT-REST", 0),
        ],
        &rows,
    )
}

async fn rotate(settings: &Settings, store: &Store, json: bool) -> anyhow::Result<()> {
    let master = MasterKey::from_env().context("master key")?;
    // The old key stays published until every token it signed has expired:
    // the lifetime (from the same configuration layers the servers read:
    // run rotate with their sigil.toml / SIGIL_TOKEN_LIFETIME_S), plus the
    // longest time a running server may still sign with it (the largest
    // reload interval allowed, 10 s, whatever this configuration says),
    // plus the largest validator leeway.
    let overlap_ms = settings.token_lifetime_s * 1000 + MAX_RELOAD_MS + MAX_LEEWAY_MS;
    let rotation =
        sigil_server::rotate(store.keys().as_ref(), master.as_ref(), now_ms(), overlap_ms)
            .await
            .context("rotating the signing key")?;
    if json {
        return output::json(&json!({
            "new_kid": rotation.new_kid,
            "old_kid": rotation.old_kid,
            "old_key_retires_at": format_iso_ms(rotation.retires_at_ms),
        }));
    }
    let old = rotation.old_kid.as_deref().unwrap_or("-");
    output::fields(&[
        ("new kid", &rotation.new_kid),
        ("old kid", old),
        ("old key retires at", &format_iso_ms(rotation.retires_at_ms)),
    ])
}

async fn seal(store: &Store, json: bool) -> anyhow::Result<()> {
    let master = MasterKey::from_env().context("master key")?.context(
        "sigil keys seal encrypts the stored keys with the master key: set SIGIL_MASTER_KEY or SIGIL_MASTER_KEY_FILE",
    )?;
    let sealing = sigil_server::seal(store.keys().as_ref(), &master, now_ms())
        .await
        .context("sealing the signing keys")?;
    if json {
        return output::json(&json!({
            "sealed": sealing.sealed,
            "already_sealed": sealing.already_sealed,
        }));
    }
    let list = |kids: &[String]| {
        if kids.is_empty() {
            "-".to_owned()
        } else {
            kids.join(", ")
        }
    };
    output::fields(&[
        ("sealed", &list(&sealing.sealed)),
        ("already sealed", &list(&sealing.already_sealed)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_file_reads_urls_as_the_store_does() {
        assert_eq!(
            sqlite_file("sqlite://sigil.db"),
            Some(Path::new("sigil.db"))
        );
        assert_eq!(
            sqlite_file("SQLite:///var/s.db"),
            Some(Path::new("/var/s.db"))
        );
        assert_eq!(sqlite_file("sqlite:rel/s.db"), Some(Path::new("rel/s.db")));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
        assert_eq!(sqlite_file("sqlite://"), None);
    }
}
