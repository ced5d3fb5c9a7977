//! Real access tokens from a running `sigil serve`, for `validate --http`:
//! distinct signed token requests ([`crate::requests`]) posted to its token
//! endpoint over a few keep-alive connections before the load starts.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context as _, ensure};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use sigil_core::api::{TokenResponse, paths};
use tokio::task::JoinSet;

use crate::load::{self, error_code};
use crate::requests::Bodies;

/// Posts every body of `bodies` to the token endpoint of the server at
/// `addr` over `connections` keep-alive connections and returns the access
/// tokens in the order of the bodies.
///
/// # Errors
/// When a connection fails or any request is refused (with its `error`).
pub(crate) fn fetch_tokens(
    addr: SocketAddr,
    host: &str,
    bodies: Arc<Bodies>,
    connections: usize,
) -> anyhow::Result<Vec<String>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let connections = connections.clamp(1, bodies.len().max(1));
        let mut tasks = JoinSet::new();
        for first in 0..connections {
            let (bodies, host) = (Arc::clone(&bodies), host.to_owned());
            tasks.spawn(fetch_share(addr, host, bodies, first, connections));
        }
        let mut tokens = vec![String::new(); bodies.len()];
        while let Some(joined) = tasks.join_next().await {
            for (index, token) in joined.context("a token fetch task failed")?? {
                tokens[index] = token;
            }
        }
        Ok(tokens)
    })
}

/// Bodies `first`, `first + step`, … on one connection.
async fn fetch_share(
    addr: SocketAddr,
    host: String,
    bodies: Arc<Bodies>,
    first: usize,
    step: usize,
) -> anyhow::Result<Vec<(usize, String)>> {
    let mut sender = load::connect(addr)
        .await
        .with_context(|| format!("connecting to the issuer at {addr}"))?;
    let mut out = Vec::new();
    for index in (first..bodies.len()).step_by(step) {
        let body = bodies.get(index).context("a body out of range")?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(paths::TOKEN_FOR_ENDPOINT)
            .header(HOST, &host)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        let (status, answer) = load::send(&mut sender, request).await?;
        out.push((index, access_token(status, &answer)?));
    }
    Ok(out)
}

/// The access token of a token endpoint answer.
///
/// # Errors
/// For a refusal (naming its `error` code) or a body that is not a token
/// response.
pub(crate) fn access_token(status: u16, body: &[u8]) -> anyhow::Result<String> {
    ensure!(
        status == 200,
        "the issuer refused a token request: HTTP {status} {}",
        error_code(status, body)
    );
    let response: TokenResponse =
        serde_json::from_slice(body).context("the issuer's answer is not a token response")?;
    ensure!(
        response.access_token.split('.').count() == 3,
        "the issuer's access token is not a compact JWS"
    );
    Ok(response.access_token)
}

/// One `GET path` with `Authorization: <authorization>` on a fresh
/// connection: status and body (to check the set before loading).
///
/// # Errors
/// When the request cannot be sent or answered.
pub(crate) fn probe(
    addr: SocketAddr,
    host: &str,
    path: &str,
    authorization: Bytes,
) -> anyhow::Result<(u16, Bytes)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut sender = load::connect(addr).await?;
        let request = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(HOST, host)
            .header(AUTHORIZATION, authorization.as_ref())
            .body(Full::new(Bytes::new()))?;
        load::send(&mut sender, request).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers() {
        let ok = br#"{"access_token":"a.b.c","token_type":"Bearer","expires_in":1800}"#;
        assert_eq!(access_token(200, ok).unwrap(), "a.b.c");
        let refused = br#"{"error":"replay_detected","error_description":"already used"}"#;
        let err = access_token(401, refused).unwrap_err().to_string();
        assert!(err.contains("replay_detected"), "{err}");
        assert!(access_token(200, b"{}").is_err());
        let not_jws = br#"{"access_token":"abc","token_type":"Bearer","expires_in":1800}"#;
        assert!(access_token(200, not_jws).is_err());
    }
}
