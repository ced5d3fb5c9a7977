//! `POST /api/payloads/verify` (alias `/api/verify`, docs/protocol.md §11): a Signup
//! signed payload in, `{"verified": true, …}` out, at most once per payload.
//!
//! The checks run in this order: per-address limit, Content-Type, body
//! size, the body's three fields, then [`sigil_core::payload::verify_json`]
//! (address, signature, the payload's four keys, `requestedBy`, window),
//! the replay insert ([`sigil_store::record_payload`]), keyed on SHA-256 of
//! the exact payload bytes, kept 24 h and committed before the answer, and
//! last the per-key limit (charged only for a fresh payload whose signature
//! verified, so replays never spend the signer's budget). The rate limiters are the token route's: both routes
//! check signatures, and docs/protocol.md §10 budgets signature checks per client and
//! per key, whichever route they arrive on.

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use sigil_core::api::PayloadVerification;
use sigil_core::payload;
use sigil_store::{PayloadRefusal, record_payload};
use tracing::instrument;

use super::admission::{Limit, admit, charge_key};
use crate::error::ApiError;
use crate::state::AppState;

/// A Signup payload, the address that signed it and the signature.
//
// This type only documents the body in /openapi.json; the handler reads the
// body as [`RawBody`] so that `payload` keeps its exact bytes.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // never constructed: a schema for /openapi.json only
pub(crate) struct PayloadVerifyBody {
    /// The exact signed text (preferred), or the parsed payload object, which
    /// is then re-serialised exactly as `JSON.stringify` would write it.
    #[schema(
        value_type = Object,
        example = r#"{"signedBy":"Signup.cash","requestedBy":"localhost:1911","data":{"foo":"bar"},"timestamp":1700000000000}"#
    )]
    payload: Value,
    /// CashAddr (with or without prefix, all lower or all upper case) or
    /// legacy P2PKH address of the signer.
    #[schema(example = "bitcoincash:qrvzfxwxqf9uad9d6gfryc6uk5uq3cz6hv7hqm6xzx")]
    address: String,
    /// The 65-byte BSM signature: base64, hex, or a JSON array of byte values.
    #[schema(value_type = String)]
    signature: Value,
}

/// The body as received: `payload` keeps its exact text (a JSON string is
/// the signed text; an object must be re-serialised in its own key order,
/// which `serde_json::Value` would not keep). Repeated members are refused
/// by serde ("duplicate field"); unknown members are ignored.
#[derive(Deserialize)]
struct RawBody<'a> {
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    address: Option<Value>,
    signature: Option<Value>,
}

/// Verify a Signup signed payload, once.
#[utoipa::path(
    post,
    path = "/api/payloads/verify",
    tag = "payloads",
    request_body(content = PayloadVerifyBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Verified, for the first time (Cache-Control: no-store)", body = PayloadVerification),
        (status = 400, description = "invalid_request: malformed body, payload not exactly the four keys, malformed or mixed-case address, undecodable signature", body = sigil_core::api::ErrorBody),
        (status = 401, description = "invalid_signature (including an address of another network or kind), timestamp_expired or replay_detected", body = sigil_core::api::ErrorBody),
        (status = 403, description = "access_denied: requestedBy is not an allowed host", body = sigil_core::api::ErrorBody),
        (status = 413, description = "body too large", body = sigil_core::api::ErrorBody),
        (status = 415, description = "Content-Type not application/json", body = sigil_core::api::ErrorBody),
        (status = 429, description = "rate_limit_exceeded (Retry-After)", body = sigil_core::api::ErrorBody),
        (status = 503, description = "temporarily_unavailable: store unreachable, nothing verified", body = sigil_core::api::ErrorBody),
    )
)]
#[instrument(level = "debug", skip_all, fields(client = %peer.ip()))]
pub(crate) async fn verify_payload(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut limit = Limit::default();
    let result = verify(&state, peer, &headers, body, &mut limit)
        .await
        .map(|verified| {
            let mut response = axum::Json(verified).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        });
    limit.answer(result)
}

async fn verify(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
    limit: &mut Limit,
) -> Result<PayloadVerification, ApiError> {
    // 1. Per-address limit and body size, before any parsing.
    let bytes = admit(state, peer, headers, body, limit).await?;

    // 2. The body's fields.
    let request = parse(&bytes)?;

    // 3. Address, signature, the payload's form, host and window.
    state.metrics().signature_checked();
    let now_ms = state.now_ms();
    let verified = payload::verify_json(
        request.payload.get(),
        &request.address,
        &request.signature,
        state.payload_policy(),
        now_ms,
    )
    .map_err(|e| ApiError::from_core(&e))?;

    // 4. Once: the insert is the check, committed before the answer.
    match record_payload(state.store().replay().as_ref(), &verified, now_ms).await {
        Ok(()) => {}
        Err(PayloadRefusal::Replay) => return Err(ApiError::ReplayDetected),
        Err(PayloadRefusal::Store(e)) => return Err(ApiError::from_store(&e)),
        Err(PayloadRefusal::Invalid(e)) => return Err(ApiError::from_core(&e)),
    }

    // 5. Per-key limit, charged only for a fresh payload whose signature
    //    verified, so replays do not spend the signer's budget.
    charge_key(state, &verified.signer.serialize(), limit).await?;
    Ok(PayloadVerification {
        verified: true,
        address: verified.address,
        requested_by: verified.requested_by,
        signed_by: verified.signed_by,
        timestamp: verified.timestamp_ms,
        payload_sha256: verified.payload_sha256,
        reserialised: verified.reserialised,
    })
}

/// The body's fields, typed.
struct PayloadRequest<'a> {
    payload: &'a RawValue,
    address: String,
    /// The signature as text: a string's contents, or a byte array's JSON.
    signature: String,
}

fn parse(bytes: &Bytes) -> Result<PayloadRequest<'_>, ApiError> {
    let raw: RawBody<'_> = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::InvalidRequest(format!(
            "the body is not a JSON object {{payload, address, signature}}: {e}"
        ))
    })?;
    let payload = raw
        .payload
        .ok_or_else(|| ApiError::InvalidRequest("payload is missing".into()))?;
    let address = match raw.address {
        None | Some(Value::Null) => {
            return Err(ApiError::InvalidRequest("address is missing".into()));
        }
        Some(Value::String(text)) => text,
        Some(_) => {
            return Err(ApiError::InvalidRequest(
                "address must be a string (CashAddr or legacy P2PKH)".into(),
            ));
        }
    };
    let signature = match raw.signature {
        None | Some(Value::Null) => {
            return Err(ApiError::InvalidRequest("signature is missing".into()));
        }
        Some(Value::String(text)) => text,
        Some(array @ Value::Array(_)) => array.to_string(),
        Some(_) => {
            return Err(ApiError::InvalidRequest(
                "signature must be a string (base64 or hex) or an array of byte values".into(),
            ));
        }
    };
    Ok(PayloadRequest {
        payload,
        address,
        signature,
    })
}
