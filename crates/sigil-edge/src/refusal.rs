//! The refusals made at the connection level, before any route runs, as
//! rows of the one error table (`sigil_core::api::Fault::refusal`,
//! docs/protocol.md §8): as an axum [`Response`], and as the raw bytes of a
//! whole HTTP/1.1 answer for a connection that is closed after it.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderName, HeaderValue, StatusCode, header};
use sigil_core::api::{Fault, Refusal};

fn body(refusal: &Refusal) -> Vec<u8> {
    // An enum and a string: serialising cannot fail.
    serde_json::to_vec(&refusal.body()).unwrap_or_default()
}

/// The answer the table gives for `fault`: its status, docs/protocol.md
/// §8's body, and its headers (`Cache-Control: no-store` always, then
/// `WWW-Authenticate`, `Retry-After`, `Allow` when the row has them).
#[must_use]
pub fn refusal(fault: &Fault) -> Response {
    let refusal = fault.refusal();
    let mut response = Response::new(Body::from(body(&refusal)));
    *response.status_mut() =
        StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in refusal.headers() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response.extensions_mut().insert(refusal.code);
    response
}

/// The same answer as the bytes of a complete HTTP/1.1 response that ends
/// the connection (`connection: close`).
#[must_use]
pub fn refusal_bytes(fault: &Fault) -> Vec<u8> {
    let refusal = fault.refusal();
    let body = body(&refusal);
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    for (name, value) in refusal.headers() {
        answer.push_str(name);
        answer.push_str(": ");
        answer.push_str(&value);
        answer.push_str("\r\n");
    }
    answer.push_str("\r\n");
    let mut bytes = answer.into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_core::api::ConnectionFault;

    /// Both forms carry exactly the table's row.
    #[test]
    fn both_forms_are_the_tables_row() {
        for fault in [
            Fault::Connection(ConnectionFault::TooMany),
            Fault::Connection(ConnectionFault::HeadTooLarge),
            Fault::RequestTimeout { timeout_ms: 250 },
        ] {
            let row = fault.refusal();
            let response = refusal(&fault);
            assert_eq!(response.status().as_u16(), row.status);
            for (name, value) in row.headers() {
                assert_eq!(response.headers()[name], value.as_str(), "{name}");
            }
            let bytes = String::from_utf8(refusal_bytes(&fault)).unwrap();
            let (head, body) = bytes.split_once("\r\n\r\n").unwrap();
            assert!(
                head.starts_with(&format!("HTTP/1.1 {} ", row.status)),
                "{head}"
            );
            for (name, value) in row.headers() {
                assert!(head.contains(&format!("\r\n{name}: {value}")), "{head}");
            }
            assert!(head.contains(&format!("content-length: {}", body.len())));
            let body: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(body["error"], row.code.as_str());
            assert_eq!(body["error_description"], row.description);
        }
        let too_many = refusal_bytes(&Fault::Connection(ConnectionFault::TooMany));
        assert!(
            String::from_utf8(too_many)
                .unwrap()
                .contains("\r\nretry-after: 1\r\n")
        );
    }
}
