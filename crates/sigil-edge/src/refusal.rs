//! docs/protocol.md §8's error body for the refusals made at the connection level,
//! before any route runs: as an axum [`Response`], and as the raw bytes of
//! a whole HTTP/1.1 answer for a connection that is closed after it.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use sigil_core::api::{ErrorBody, ErrorCode};

fn body(code: ErrorCode, description: &str) -> Vec<u8> {
    let body = ErrorBody {
        error: code,
        error_description: description.to_owned(),
    };
    // An enum and a string: serialising cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}

/// A refusal with docs/protocol.md §8's body and `Cache-Control: no-store`.
#[must_use]
pub fn refusal(status: StatusCode, code: ErrorCode, description: &str) -> Response {
    let mut response = Response::new(Body::from(body(code, description)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.extensions_mut().insert(code);
    response
}

/// The same refusal as the bytes of a complete HTTP/1.1 answer that ends
/// the connection (`connection: close`), with `extra` headers.
#[must_use]
pub fn refusal_bytes(
    status: StatusCode,
    code: ErrorCode,
    description: &str,
    extra: &[(&str, &str)],
) -> Vec<u8> {
    let body = body(code, description);
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncache-control: no-store\r\ncontent-length: {}\r\nconnection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    for (name, value) in extra {
        answer.push_str(name);
        answer.push_str(": ");
        answer.push_str(value);
        answer.push_str("\r\n");
    }
    answer.push_str("\r\n");
    let mut bytes = answer.into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}
