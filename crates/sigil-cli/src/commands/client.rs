//! `sigil token` and `sigil call`: the token service's client side, built on
//! `sigil-client`.

use std::str::FromStr as _;

use anyhow::{Context as _, bail};
use serde::Serialize;
use serde_json::Value;
use sigil_client::reqwest::{self, Method};
use sigil_client::{Client, Scheme};
use sigil_core::api::paths;

use super::keys::runtime;
use crate::cli::{CallArgs, ServerArgs, TokenArgs};
use crate::exit::{Refused, Unreachable, is_unreachable};
use crate::{output, secret};

/// What `token --json` prints.
#[derive(Debug, Serialize)]
struct TokenReport<'a> {
    access_token: &'a str,
    token_type: &'static str,
    audience: &'a str,
    expires_at_ms: u64,
}

/// What `call --json` prints.
#[derive(Debug, Serialize)]
struct CallReport {
    status: u16,
    /// The body as JSON when it is JSON, else as text.
    body: Value,
}

/// Runs `sigil token`.
///
/// # Errors
/// A key that cannot be read, a server that cannot be reached, or a refusal
/// (its docs/protocol.md §8 code and description).
pub(crate) fn token(args: &TokenArgs, json: bool) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let client = connect(&args.server).await?;
        let token = client
            .token(&args.endpoint)
            .await
            .map_err(refusal)
            .with_context(|| format!("no token for {}", args.endpoint))?;
        if json {
            output::json(&TokenReport {
                access_token: token.as_str(),
                token_type: "Bearer",
                audience: token.audience(),
                expires_at_ms: token.expires_at_ms(),
            })
        } else {
            output::line(token.as_str())
        }
    })
}

/// Runs `sigil call`.
///
/// # Errors
/// As [`token`], a bad `-X`/`-d`/`-H`, or an answer that is not 2xx (exit 1,
/// after the body was printed).
pub(crate) fn call(args: &CallArgs, json: bool) -> anyhow::Result<()> {
    let body = match &args.data {
        Some(data) => Some(read_data(data)?),
        None => None,
    };
    let method = match &args.method {
        Some(m) => Method::from_str(&m.to_ascii_uppercase())
            .with_context(|| format!("-X {m:?} is not an HTTP method"))?,
        None if body.is_some() => Method::POST,
        None => Method::GET,
    };
    let headers = args
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<anyhow::Result<Vec<_>>>()?;
    runtime()?.block_on(async {
        let client = connect(&args.server).await?;
        let mut request = client.request(method, args.url.as_str());
        if let Some(audience) = &args.audience {
            request = request.audience(audience);
        }
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            let is_json = serde_json::from_slice::<Value>(&body).is_ok();
            request = request.body(body);
            if is_json && !args.headers.iter().any(|h| is_content_type(h)) {
                request = request.header("content-type", "application/json");
            }
        }
        if args.sign_request {
            request = request.signed_with(Scheme::from(args.server.scheme));
        }
        let response = request.send().await.map_err(|e| match e {
            sigil_client::Error::Http(source) if is_unreachable(&source) => {
                unreachable(source, &args.url, None)
            }
            e => refusal(e).context(format!("calling {}", args.url)),
        })?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("reading the answer of {}", args.url))?;
        if json {
            let body = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            output::json(&CallReport {
                status: status.as_u16(),
                body,
            })?;
        } else {
            output::line(String::from_utf8_lossy(&bytes).trim_end())?;
        }
        if !status.is_success() {
            return Err(Refused(format!("{} answered {status}", args.url)).into());
        }
        Ok(())
    })
}

/// A client for the server named in `args`: the issuer and token endpoint
/// come from its discovery document, so `--server http://127.0.0.1:1911`
/// works for an issuer configured as `http://localhost:1911`.
async fn connect(args: &ServerArgs) -> anyhow::Result<Client> {
    let key = secret::private_key(&args.key)?;
    let server = Discovery::fetch(&args.server).await?;
    let token_url =
        server.reach(server.member(&["sigil_token_for_endpoint_endpoint", "token_endpoint"])?);
    let mut client = Client::new(&server.issuer, key)?
        .with_token_endpoint(&token_url)?
        .scheme(Scheme::from(args.scheme));
    if args.compat {
        client = client.compat_messages();
    }
    Ok(client)
}

/// A sigil server's discovery document, fetched through the base URL the
/// user gave.
pub(crate) struct Discovery {
    base: String,
    url: String,
    document: Value,
    /// The issuer it names.
    pub(crate) issuer: String,
}

impl Discovery {
    /// Fetches `<server>/.well-known/openid-configuration`.
    pub(crate) async fn fetch(server: &str) -> anyhow::Result<Self> {
        let base = server.trim_end_matches('/').to_owned();
        let url = format!("{base}{}", paths::OPENID_CONFIGURATION);
        let document: Value = reqwest::get(&url)
            .await
            .map_err(|source| unreachable(source, &url, Some(&base)))?
            .error_for_status()
            .with_context(|| format!("fetching {url}"))?
            .json()
            .await
            .with_context(|| format!("{url} is not a JSON document"))?;
        let issuer = document["issuer"]
            .as_str()
            .with_context(|| format!("{url} names no issuer"))?
            .to_owned();
        Ok(Self {
            base,
            url,
            document,
            issuer,
        })
    }

    /// The first of these string members present.
    pub(crate) fn member(&self, names: &[&str]) -> anyhow::Result<&str> {
        names
            .iter()
            .find_map(|name| self.document[name].as_str())
            .with_context(|| format!("{} names no {}", self.url, names.join(" or ")))
    }

    /// `url` (one of the issuer's) reached through the base the user gave,
    /// so `--server http://127.0.0.1:1911` works for an issuer configured as
    /// `http://localhost:1911`.
    pub(crate) fn reach(&self, url: &str) -> String {
        url.replacen(&self.issuer, &self.base, 1)
    }
}

/// A transport error: [`Unreachable`] (exit 3, "is sigil running at …?")
/// when nothing answered at the address, else the error with the URL.
fn unreachable(source: reqwest::Error, url: &str, sigil: Option<&str>) -> anyhow::Error {
    if is_unreachable(&source) {
        Unreachable {
            url: url.to_owned(),
            sigil: sigil.map(str::to_owned),
            source,
        }
        .into()
    } else {
        anyhow::Error::new(source).context(format!("fetching {url}"))
    }
}

/// Keeps the server's refusal readable and maps it onto the exit codes: a
/// refused signature, token or key is a verification failure (1).
fn refusal(e: sigil_client::Error) -> anyhow::Error {
    use sigil_client::ErrorCode as C;
    let verification = matches!(
        e.code(),
        Some(
            C::InvalidSignature
                | C::TimestampExpired
                | C::ReplayDetected
                | C::InvalidToken
                | C::AccessDenied
        )
    );
    if verification {
        Refused(e.to_string()).into()
    } else {
        anyhow::Error::new(e)
    }
}

/// `-d BODY`, or the bytes of a file with `-d @PATH`.
fn read_data(data: &str) -> anyhow::Result<Vec<u8>> {
    match data.strip_prefix('@') {
        Some(path) => std::fs::read(path).with_context(|| format!("reading -d @{path}")),
        None => Ok(data.as_bytes().to_vec()),
    }
}

fn parse_header(header: &str) -> anyhow::Result<(String, String)> {
    let Some((name, value)) = header.split_once(':') else {
        bail!("-H {header:?}: expected `Name: value`");
    };
    Ok((name.trim().to_owned(), value.trim().to_owned()))
}

fn is_content_type(header: &str) -> bool {
    header
        .split_once(':')
        .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("content-type"))
}
