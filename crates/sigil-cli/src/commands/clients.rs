//! `sigil clients add|list|show|remove` (docs/protocol.md §17): the apps
//! that may send people to sigil's login, kept through the store's
//! `OAuthStore` trait (so on whatever backend `--database` names).

use std::path::Path;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sigil_core::timestamp::format_iso_ms;
use sigil_core::{Address, Es256VerifyingKey, PublicKey};
use sigil_oauth::client::{ClientMetadata, add_by_operator, new_secret};
use sigil_oauth::{AuthMethod, GrantType, RegisteredClient, SecretHash};
use sigil_store::{ClientRecord, Store};

use super::keys::{now_ms, open_store, runtime};
use crate::cli::{AuthArg, ClientAddArgs, ClientsArgs, ClientsCommand, GrantArg};
use crate::{output, random};

/// The longest `--client-id` accepted, characters.
const MAX_CLIENT_ID: usize = 128;

/// Runs `sigil clients …`.
///
/// # Errors
/// Metadata the provider would refuse (named by its member), an existing
/// or missing client, or a store that cannot be opened or written.
pub(crate) fn run(args: &ClientsArgs, json: bool) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let (_, store) = open_store(&args.store).await?;
        let result = match &args.command {
            ClientsCommand::Add(add) => self::add(&store, add, json).await,
            ClientsCommand::List => list(&store, json).await,
            ClientsCommand::Show { client_id } => show(&store, client_id, json).await,
            ClientsCommand::Remove { client_id } => remove(&store, client_id, json).await,
        };
        store.close().await.context("closing the store")?;
        result
    })
}

impl From<AuthArg> for AuthMethod {
    fn from(arg: AuthArg) -> Self {
        match arg {
            AuthArg::None => Self::None,
            AuthArg::ClientSecretBasic => Self::ClientSecretBasic,
            AuthArg::ClientSecretPost => Self::ClientSecretPost,
            AuthArg::PrivateKeyJwt => Self::PrivateKeyJwt,
            AuthArg::BitcoinAuthToken => Self::BitcoinAuthToken,
        }
    }
}

impl From<GrantArg> for GrantType {
    fn from(arg: GrantArg) -> Self {
        match arg {
            GrantArg::AuthorizationCode => Self::AuthorizationCode,
            GrantArg::RefreshToken => Self::RefreshToken,
        }
    }
}

/// A `--client-id`: 1 to 128 of RFC 3986's unreserved characters, so it
/// needs no escaping in a URL, a form or a Basic header.
fn check_client_id(id: &str) -> anyhow::Result<()> {
    let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
    if id.is_empty() || id.chars().count() > MAX_CLIENT_ID || !id.chars().all(unreserved) {
        bail!(
            "--client-id {id:?}: 1 to {MAX_CLIENT_ID} letters, digits, '-', '.', '_' or '~' are expected"
        );
    }
    Ok(())
}

/// The `--jwks` file: a JWKS document, or one JWK made into one (with its
/// RFC 7638 thumbprint as `kid` when it has none).
fn read_jwks(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--jwks: cannot read {}", path.display()))?;
    let value: Value = serde_json::from_str(&text)
        .with_context(|| format!("--jwks: {} is not JSON", path.display()))?;
    if value.get("keys").is_some() {
        return Ok(value);
    }
    let Value::Object(mut jwk) = value else {
        bail!(
            "--jwks: {} must hold a JWKS ({{\"keys\": [...]}}) or one JWK object",
            path.display()
        );
    };
    if !jwk.contains_key("kid")
        && let Some(kid) = thumbprint(&jwk)
    {
        jwk.insert("kid".into(), Value::String(kid));
    }
    Ok(json!({ "keys": [jwk] }))
}

/// The RFC 7638 thumbprint of an EC P-256 JWK, when its coordinates read.
fn thumbprint(jwk: &serde_json::Map<String, Value>) -> Option<String> {
    let coordinate = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
    };
    let key = Es256VerifyingKey::from_coordinates(&coordinate("x")?, &coordinate("y")?).ok()?;
    Some(key.thumbprint())
}

/// The `--pubkey`, with the answer an address gets: an X-Auth-Token is
/// checked against a key, which an address does not give back.
fn read_pubkey(text: &str) -> anyhow::Result<String> {
    let text = text.trim();
    if PublicKey::from_hex(text).is_err() && text.parse::<Address>().is_ok() {
        bail!(
            "--pubkey {text:?} is an address; give the app's public key (hex), which `sigil keygen` prints beside its address"
        );
    }
    let key = PublicKey::from_hex(text).with_context(|| format!("--pubkey {text:?}"))?;
    Ok(key.to_hex())
}

fn view(client: &RegisteredClient, created_at_ms: u64) -> Value {
    let mut view = json!({
        "client_id": client.client_id,
        "client_name": client.client_name,
        "redirect_uris": client.redirect_uris,
        "token_endpoint_auth_method": client.auth_method.as_str(),
        "grant_types": client.grant_types,
        "scope": client.scope,
        "created_at": format_iso_ms(created_at_ms),
    });
    if let Some(pubkey) = &client.bitcoin_pubkey {
        view["bitcoin_pubkey"] = json!(pubkey);
    }
    if let Some(jwks) = &client.jwks {
        view["jwks"] = jwks.clone();
    }
    view
}

fn print(
    client: &RegisteredClient,
    created_at_ms: u64,
    secret: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let mut view = view(client, created_at_ms);
        if let Some(secret) = secret {
            view["client_secret"] = json!(secret);
        }
        return output::json(&view);
    }
    let grant_types: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
    let kids = client
        .jwks
        .as_ref()
        .and_then(|jwks| jwks.get("keys"))
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k.get("kid").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(", ")
        });
    let created = format_iso_ms(created_at_ms);
    let mut fields = vec![
        ("client_id", client.client_id.as_str()),
        ("client_name", client.client_name.as_str()),
    ];
    let redirect_uris = client.redirect_uris.join(", ");
    let grant_types = grant_types.join(", ");
    fields.extend([
        ("redirect_uris", redirect_uris.as_str()),
        ("token_endpoint_auth_method", client.auth_method.as_str()),
        ("grant_types", grant_types.as_str()),
        ("scope", client.scope.as_deref().unwrap_or("any")),
    ]);
    if let Some(pubkey) = &client.bitcoin_pubkey {
        fields.push(("bitcoin_pubkey", pubkey));
    }
    if let Some(kids) = &kids {
        fields.push(("jwks kids", kids));
    }
    fields.push(("created", &created));
    if let Some(secret) = secret {
        fields.push(("client_secret", secret));
    }
    output::fields(&fields)?;
    if secret.is_some() {
        eprintln!("note: the client secret is shown this once; only its hash is stored");
    }
    Ok(())
}

/// A stored client's document back.
fn read(record: &ClientRecord) -> anyhow::Result<RegisteredClient> {
    serde_json::from_str(&record.document)
        .with_context(|| format!("the stored client {} is unreadable", record.client_id))
}

async fn add(store: &Store, args: &ClientAddArgs, json: bool) -> anyhow::Result<()> {
    let method = AuthMethod::from(args.auth);
    if args.jwks.is_some() && method != AuthMethod::PrivateKeyJwt {
        bail!("--jwks is for --auth private_key_jwt");
    }
    if args.pubkey.is_some() && method != AuthMethod::BitcoinAuthToken {
        bail!("--pubkey is for --auth bitcoin_auth_token");
    }
    let client_id = match &args.client_id {
        Some(id) => {
            check_client_id(id)?;
            id.clone()
        }
        None => sigil_oauth::grant::new_handle(random::bytes32()?),
    };
    let secret = if method.uses_secret() {
        Some(new_secret(random::bytes32()?))
    } else {
        None
    };
    let metadata = ClientMetadata {
        redirect_uris: args.redirect_uris.clone(),
        client_name: Some(args.name.clone()),
        grant_types: Some(
            args.grant_types
                .iter()
                .map(|g| GrantType::from(*g).as_str().to_owned())
                .collect(),
        ),
        response_types: None,
        token_endpoint_auth_method: Some(method.as_str().to_owned()),
        jwks: args.jwks.as_deref().map(read_jwks).transpose()?,
        bitcoin_pubkey: args.pubkey.as_deref().map(read_pubkey).transpose()?,
        scope: (!args.scopes.is_empty()).then(|| args.scopes.join(" ")),
    };
    let client = add_by_operator(&metadata, client_id, secret.as_deref().map(SecretHash::of))
        .map_err(|e| anyhow::anyhow!("{}", e.error_description))
        .context("the client was not added")?;
    let document = serde_json::to_string(&client).context("encoding the client")?;
    let created_at_ms = now_ms();
    let record = ClientRecord {
        client_id: client.client_id.clone(),
        document,
        created_at_ms,
    };
    match store.oauth().add_client(record).await {
        Ok(()) => print(&client, created_at_ms, secret.as_deref(), json),
        Err(sigil_store::Error::Conflict { .. }) => {
            bail!("a client {} exists already", client.client_id)
        }
        Err(e) => Err(e).context("adding the client"),
    }
}

async fn list(store: &Store, json: bool) -> anyhow::Result<()> {
    let records = store
        .oauth()
        .list_clients()
        .await
        .context("listing clients")?;
    let clients = records
        .iter()
        .map(|r| read(r).map(|c| (c, r.created_at_ms)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if json {
        return output::json(
            &clients
                .iter()
                .map(|(c, at)| view(c, *at))
                .collect::<Vec<_>>(),
        );
    }
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|(c, _)| {
            vec![
                c.client_id.clone(),
                c.client_name.clone(),
                c.auth_method.as_str().to_owned(),
                c.redirect_uris.join(", "),
            ]
        })
        .collect();
    output::table(
        &[
            ("CLIENT_ID", 43),
            ("NAME", 20),
            ("AUTH", 19),
            ("REDIRECT_URIS", 0),
        ],
        &rows,
    )
}

async fn show(store: &Store, client_id: &str, json: bool) -> anyhow::Result<()> {
    let record = store
        .oauth()
        .get_client(client_id.to_owned())
        .await
        .context("reading the client")?
        .with_context(|| format!("no client {client_id}"))?;
    print(&read(&record)?, record.created_at_ms, None, json)
}

async fn remove(store: &Store, client_id: &str, json: bool) -> anyhow::Result<()> {
    match store.oauth().remove_client(client_id.to_owned()).await {
        Ok(record) => {
            if json {
                let mut removed = view(&read(&record)?, record.created_at_ms);
                removed["removed"] = json!(true);
                return output::json(&removed);
            }
            output::line(&format!(
                "removed the client {client_id}: its consents are forgotten and its tokens revoked"
            ))
        }
        Err(sigil_store::Error::NotFound { .. }) => bail!("no client {client_id}"),
        Err(e) => Err(e).context("removing the client"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_unreserved_characters() {
        for good in ["app", "my-app_1.2~x", &"a".repeat(MAX_CLIENT_ID)] {
            assert!(check_client_id(good).is_ok(), "{good}");
        }
        for bad in ["", "my app", "a:b", "é", &"a".repeat(MAX_CLIENT_ID + 1)] {
            let err = check_client_id(bad).unwrap_err().to_string();
            assert!(err.contains("--client-id"), "{bad}: {err}");
        }
    }

    #[test]
    fn an_address_for_pubkey_is_explained() {
        let key = sigil_core::PrivateKey::from_bytes([3; 32], sigil_core::Network::Mainnet, true)
            .unwrap()
            .public_key();
        assert_eq!(read_pubkey(&key.to_hex()).unwrap(), key.to_hex());
        let address = Address::p2pkh(&key, sigil_core::Network::Mainnet).to_string();
        let err = read_pubkey(&address).unwrap_err().to_string();
        assert!(err.contains("is an address"), "{err}");
        assert!(read_pubkey("zz").is_err());
    }
}
