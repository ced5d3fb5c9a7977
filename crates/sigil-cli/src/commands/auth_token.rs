//! `sigil auth-token`: a bitcoin-auth `X-Auth-Token` header value.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde::Serialize;
use sigil_core::Scheme;
use sigil_core::auth_token::{self, BodyEncoding, NewAuthToken};
use sigil_core::timestamp::format_iso_ms;

use crate::cli::AuthTokenArgs;
use crate::{output, random, secret};

/// What `auth-token --json` prints.
#[derive(Debug, Serialize)]
struct Built<'a> {
    token: &'a str,
    pubkey: String,
    scheme: &'static str,
    /// The ISO 8601 timestamp exactly as written in the token.
    timestamp: String,
    request_path: &'a str,
}

/// Builds the token for the request described by `args`, signed now.
///
/// # Errors
/// When the key cannot be read, the body is not valid in its encoding, the
/// path is not acceptable, or the clock or output fails.
pub(crate) fn run(args: &AuthTokenArgs, json: bool) -> anyhow::Result<()> {
    let key = secret::private_key(&args.key)?;
    let scheme = Scheme::from(args.scheme);
    let body = args
        .body
        .as_deref()
        .map(|text| BodyEncoding::from(args.body_encoding).decode(text.as_bytes()))
        .transpose()
        .context("--body")?;
    let timestamp_ms = now_ms()?;
    let key_id = match scheme {
        Scheme::Brc77 => random::bytes32()?,
        Scheme::Bsm => [0; 32],
    };
    let token = auth_token::build(
        &key,
        &NewAuthToken {
            request_path: &args.path,
            body: body.as_deref(),
            timestamp_ms,
            scheme,
            key_id,
        },
    )
    .context("--path")?;
    if !json {
        return output::line(&token);
    }
    output::json(&Built {
        token: &token,
        pubkey: key.public_key().to_hex(),
        scheme: scheme.as_str(),
        timestamp: format_iso_ms(timestamp_ms),
        request_path: &args.path,
    })
}

/// Milliseconds since the Unix epoch, from the system clock.
fn now_ms() -> anyhow::Result<u64> {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?;
    u64::try_from(elapsed.as_millis()).context("the system clock is beyond the year 584 million")
}
