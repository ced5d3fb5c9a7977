//! The one error table (docs/protocol.md §8,
//! `docs/decisions/0014-one-error-table.md`): every fault, and every
//! sigil-core error, answered by sigil-server's `ApiError` and by this
//! validator's `Rejection` (the refusals of examples/resource-server) with
//! the same status, `error` code, description and headers.

use axum::body::to_bytes;
use axum::response::{IntoResponse, Response};
use sigil_core::api::{Challenge, Fault};
use sigil_server::ApiError;
use sigil_validator::Rejection;

/// What a client sees of a refusal: status, body, and the headers the table
/// decides.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: u16,
    body: serde_json::Value,
    www_authenticate: Option<String>,
    retry_after: Option<String>,
    allow: Option<String>,
    cache_control: Option<String>,
}

async fn seen(response: Response) -> Seen {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (www_authenticate, retry_after, allow, cache_control) = (
        header("www-authenticate"),
        header("retry-after"),
        header("allow"),
        header("cache-control"),
    );
    let status = response.status().as_u16();
    let bytes = to_bytes(response.into_body(), 1 << 16).await.unwrap();
    Seen {
        status,
        body: serde_json::from_slice(&bytes).unwrap(),
        www_authenticate,
        retry_after,
        allow,
        cache_control,
    }
}

/// What the table says a client must see.
fn expected(fault: &Fault) -> Seen {
    let refusal = fault.refusal();
    Seen {
        status: refusal.status,
        body: serde_json::json!({
            "error": refusal.code.as_str(),
            "error_description": refusal.description,
        }),
        www_authenticate: refusal.www_authenticate(),
        retry_after: refusal.retry_after_s.map(|s| s.to_string()),
        allow: refusal.allow.clone(),
        cache_control: Some("no-store".into()),
    }
}

/// Every fault of the table, from both edges. `Fault` is matched
/// exhaustively by both edges' `From<Fault>` and `fault()`: a new variant
/// without a mapping does not compile, and `Fault::examples` is checked
/// complete against `Fault::KINDS` in sigil-core.
#[tokio::test]
async fn every_fault_is_answered_alike_by_server_and_validator() {
    let faults = Fault::examples();
    assert_eq!(faults.len(), Fault::KINDS);
    for fault in faults {
        let want = expected(&fault);
        let server = ApiError::from(fault.clone());
        let validator = Rejection::from(fault.clone());
        assert_eq!(server.fault(), fault, "server round trip");
        assert_eq!(
            validator.fault().index(),
            fault.index(),
            "validator round trip"
        );
        let from_server = seen(server.into_response()).await;
        let from_validator = seen(validator.into_response()).await;
        assert_eq!(from_server, want, "sigil-server: {fault:?}");
        // The validator names X-Auth-Token in the "no credentials"
        // description (it accepts one); everything else is identical.
        if matches!(fault, Fault::MissingCredentials { .. }) {
            assert_eq!(
                (
                    &from_validator.status,
                    &from_validator.body["error"],
                    &from_validator.www_authenticate
                ),
                (&want.status, &want.body["error"], &want.www_authenticate),
            );
            assert_eq!(from_validator.www_authenticate.as_deref(), Some("Bearer"));
        } else {
            assert_eq!(from_validator, want, "sigil-validator: {fault:?}");
        }
        // A challenge on every 401 and nothing else (RFC 9110 §15.5.2,
        // RFC 6750 §3.1).
        assert_eq!(
            want.status == 401,
            want.www_authenticate.is_some(),
            "{fault:?}"
        );
    }
}

/// Every class of sigil-core error reaches both edges through the table:
/// same status, code, description and challenge.
#[tokio::test]
async fn core_errors_are_answered_alike_by_server_and_validator() {
    for error in sigil_core::Error::examples() {
        let fault = Fault::from_core(&error);
        let from_server = seen(ApiError::from_core(&error).into_response()).await;
        let from_validator = seen(Rejection::from_core(&error).into_response()).await;
        assert_eq!(from_server, from_validator, "{error}");
        assert_eq!(from_server, expected(&fault), "{error}");
        assert_eq!(
            from_server.body["error_description"],
            error.to_string(),
            "{error}"
        );
        let challenge = fault.refusal().challenge;
        match error.class() {
            sigil_core::ErrorClass::Token => assert_eq!(challenge, Challenge::InvalidToken),
            sigil_core::ErrorClass::Verification | sigil_core::ErrorClass::Timestamp => {
                assert_eq!(challenge, Challenge::Bearer);
            }
            _ => assert_eq!(challenge, Challenge::None, "{error}"),
        }
    }
}
