//! `sigil inspect`: a token verified against a sigil server's JWKS (through
//! `sigil-validator`, with every check a resource server makes), then its
//! header and claims printed.

use std::io::Read as _;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::Value;
use sigil_validator::{Audience, Validator};

use super::client::Discovery;
use super::keys::runtime;
use crate::cli::InspectArgs;
use crate::exit::Refused;
use crate::output;

/// What `inspect --json` prints, valid or not.
#[derive(Debug, Serialize)]
struct Report {
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    header: Value,
    claims: Value,
}

/// Runs `sigil inspect`.
///
/// # Errors
/// A token that is not three base64url JSON segments (exit 2), a server that
/// cannot be reached (exit 3), or a token that does not verify (exit 1, after
/// the decoded header and claims were printed).
pub(crate) fn run(args: &InspectArgs, json: bool) -> anyhow::Result<()> {
    let token = read_token(&args.token)?;
    let (header, claims) = decode(&token)?;
    let audience = match &args.audience {
        Some(audience) => audience.clone(),
        None => own_audience(&claims)?,
    };
    let outcome = runtime()?.block_on(async {
        let validator = validator(&args.server, &audience).await?;
        anyhow::Ok(validator.validate_token(&token).await)
    })?;
    let error = outcome.as_ref().err().map(|r| r.description());
    if json {
        output::json(&Report {
            valid: error.is_none(),
            error: error.clone(),
            header,
            claims,
        })?;
    } else {
        output::line(
            error
                .as_deref()
                .map_or("valid", |_| "invalid (decoded, NOT verified):"),
        )?;
        output::line(&format!(
            "header: {}",
            serde_json::to_string_pretty(&header)?
        ))?;
        output::line(&format!(
            "claims: {}",
            serde_json::to_string_pretty(&claims)?
        ))?;
    }
    match error {
        None => Ok(()),
        Some(reason) => Err(Refused(reason).into()),
    }
}

/// A validator for `audience` (exactly) whose issuer and JWKS come from the
/// discovery document of `server` (reached through that base URL).
async fn validator(server: &str, audience: &str) -> anyhow::Result<Validator> {
    let server = Discovery::fetch(server).await?;
    let jwks_uri = server.reach(server.member(&["jwks_uri"])?);
    Ok(Validator::builder(server.issuer.as_str(), audience)
        .audience(Audience::Exact(audience.to_owned()))
        .jwks_uri(jwks_uri)
        .build()?)
}

/// The token from the argument, or standard input for `-`.
fn read_token(arg: &str) -> anyhow::Result<String> {
    if arg != "-" {
        return Ok(arg.trim().to_owned());
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading the token from standard input")?;
    Ok(text.trim().to_owned())
}

/// The header and claims as JSON, unverified.
fn decode(token: &str) -> anyhow::Result<(Value, Value)> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        bail!(
            "a token has three dot-separated parts (a compact JWS), this one has {}",
            parts.len()
        );
    }
    let segment = |i: usize, name: &str| -> anyhow::Result<Value> {
        let bytes = URL_SAFE_NO_PAD
            .decode(parts[i])
            .with_context(|| format!("the {name} is not base64url"))?;
        serde_json::from_slice(&bytes).with_context(|| format!("the {name} is not JSON"))
    };
    Ok((segment(0, "header")?, segment(1, "claims")?))
}

/// The token's own `aud` (a string, or the first of an array).
fn own_audience(claims: &Value) -> anyhow::Result<String> {
    let aud = match &claims["aud"] {
        Value::Array(list) => list.first().and_then(Value::as_str),
        other => other.as_str(),
    };
    aud.map(str::to_owned)
        .context("the token has no aud claim; give --audience URL")
}
