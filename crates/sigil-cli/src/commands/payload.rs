//! `sigil payload sign | verify`: Signup signed payloads (docs/protocol.md §11) from
//! the command line, with the same functions the server's
//! `POST /api/payloads/verify` uses (`sigil_core::payload`).

use std::io::Read as _;
use std::path::Path;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use sigil_core::api::PayloadVerification;
use sigil_core::payload::{self, JsValue, Payload, Policy};

use super::keys::now_ms;
use crate::cli::{PayloadArgs, PayloadCommand, PayloadSignArgs, PayloadVerifyArgs};
use crate::{output, secret};

/// What `payload sign` prints: what a wallet hands back to the app.
#[derive(Debug, Serialize)]
struct Signed {
    payload: String,
    address: String,
    signature: String,
}

/// What `payload verify --json` prints when verification fails.
#[derive(Debug, Serialize)]
struct Refused {
    verified: bool,
    error: String,
}

/// Runs `sigil payload …`.
///
/// # Errors
/// Malformed input (exit 2), or a payload that does not verify (exit 1).
pub(crate) fn run(args: &PayloadArgs, json: bool) -> anyhow::Result<()> {
    match &args.command {
        PayloadCommand::Sign(args) => sign(args),
        PayloadCommand::Verify(args) => verify(args, json),
    }
}

/// Prints `{payload, address, signature}` as one JSON line (with or without
/// `--json`: it is what an app receives from the wallet).
fn sign(args: &PayloadSignArgs) -> anyhow::Result<()> {
    let data = JsValue::parse(&args.data).context("--data is not a JSON value")?;
    let key = secret::private_key(&args.key)?;
    let text = Payload::new(
        args.signed_by.as_str(),
        args.requested_by.as_str(),
        data,
        args.timestamp.unwrap_or_else(now_ms),
    )
    .to_text();
    let signature = STANDARD.encode(payload::sign(&text, &key).to_bytes());
    let address = key
        .address()
        .to_cashaddr()
        .context("a P2PKH address always has a CashAddr form")?;
    output::json(&Signed {
        payload: text,
        address,
        signature,
    })
}

/// `{payload, address, signature}`, as `payload sign` prints it (and the
/// server's `POST /api/payloads/verify` takes it, docs/protocol.md §11).
#[derive(Debug, serde::Deserialize)]
struct SignedIn {
    payload: String,
    address: String,
    signature: String,
}

/// The payload text, address and signature: from `--from-file`, else from
/// `--payload-file`, `--address` and `--signature` (clap requires them).
fn inputs(args: &PayloadVerifyArgs) -> anyhow::Result<(String, String, String)> {
    if let Some(path) = &args.from_file {
        let text = read_text(path, "--from-file")?;
        let signed: SignedIn = serde_json::from_str(&text).with_context(|| {
            format!(
                "--from-file {}: not a JSON object {{\"payload\": \"<signed text>\", \"address\", \"signature\"}} \
                 as `sigil payload sign` prints",
                path.display()
            )
        })?;
        return Ok((signed.payload, signed.address, signed.signature));
    }
    match (&args.payload_file, &args.address, &args.signature) {
        (Some(path), Some(address), Some(signature)) => Ok((
            read_text(path, "--payload-file")?.trim_end().to_owned(),
            address.clone(),
            signature.clone(),
        )),
        _ => anyhow::bail!("give --from-file FILE, or --payload-file, --address and --signature"),
    }
}

fn verify(args: &PayloadVerifyArgs, json: bool) -> anyhow::Result<()> {
    let (text, address, signature) = inputs(args)?;
    let hosts = if args.requested_by.is_empty() {
        // No host given: accept the payload's own (printed below).
        Payload::parse(&text)
            .map(|p| vec![p.requested_by])
            .unwrap_or_default()
    } else {
        args.requested_by.clone()
    };
    let outcome = payload::verify(
        &text,
        address.trim(),
        signature.trim(),
        &Policy::new(hosts),
        args.at.unwrap_or_else(now_ms),
    );
    let verified = match outcome {
        Ok(verified) => verified,
        Err(e) => {
            if json {
                output::json(&Refused {
                    verified: false,
                    error: e.to_string(),
                })?;
            }
            return Err(e.into());
        }
    };
    let report = PayloadVerification {
        verified: true,
        address: verified.address,
        requested_by: verified.requested_by,
        signed_by: verified.signed_by,
        timestamp: verified.timestamp_ms,
        payload_sha256: verified.payload_sha256,
        reserialised: false,
    };
    if json {
        return output::json(&report);
    }
    output::line("verified (replay not checked: remember payload_sha256 to accept it once)")?;
    output::fields(&[
        ("address", &report.address),
        ("requestedBy", &report.requested_by),
        ("signedBy", &report.signed_by),
        ("timestamp", &report.timestamp.to_string()),
        ("payload_sha256", &report.payload_sha256),
    ])
}

/// The file's text (or standard input's for `-`). A payload's trailing
/// whitespace is removed by the caller: a payload ends with `}`, so it never
/// belongs to the signed text.
fn read_text(path: &Path, flag: &str) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .with_context(|| format!("{flag} -: reading standard input"))?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("{flag} {}: cannot read it", path.display()))
    }
}
