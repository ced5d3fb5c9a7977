//! The edge of every request: a request id, the timeout, one error body for
//! whatever the router or a layer refused (404, 405, extractor rejections),
//! the access log, and the metrics.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sigil_core::api::ErrorCode;
use tracing::{Instrument, debug, debug_span, error, info};

use crate::error::{ApiError, HiddenCause};
use crate::metrics::{MethodLabel, RouteLabel};
use crate::state::AppState;

/// The request id header, set on every response.
pub(crate) const REQUEST_ID: &str = "x-request-id";

/// Marks a refusal whose body its handler wrote on purpose (an OAuth error
/// body, an HTML error page): [`normalise`] leaves it as it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OwnBody;

/// [`REQUEST_ID`] as a header name (a standard name allocates nothing; a
/// custom one parsed per request would).
const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static(REQUEST_ID);

/// A request id: a random per-process prefix and a counter, printed as
/// `pppppppp-cccccccc` in hex.
#[derive(Debug, Clone, Copy)]
struct RequestId {
    prefix: u32,
    counter: u64,
}

impl RequestId {
    fn next() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
        let prefix = *PREFIX.get_or_init(|| {
            let mut bytes = [0u8; 4];
            let _ = getrandom::fill(&mut bytes);
            u32::from_le_bytes(bytes)
        });
        Self {
            prefix,
            counter: COUNTER.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The id as a header value, formatted without an intermediate string.
    fn to_header_value(self) -> HeaderValue {
        let mut text = [0u8; 8 + 1 + 16];
        let mut cursor = std::io::Cursor::new(&mut text[..]);
        // Cannot fail: at most 25 bytes into 25.
        let _ = write!(cursor, "{self}");
        let len = usize::try_from(cursor.position()).unwrap_or(0);
        HeaderValue::from_bytes(&text[..len]).unwrap_or(HeaderValue::from_static("-"))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:08x}-{:08x}", self.prefix, self.counter)
    }
}

/// The outermost middleware (see the module summary).
pub(crate) async fn edge(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = RequestId::next();
    let method = MethodLabel::of(request.method());
    let path = request.uri().path();
    let route = RouteLabel::of_path(path);
    // Only a 404 names the path; a known route is its own path.
    let unmatched_path = route.is_unmatched().then(|| path.to_owned());
    // A debug span: with the default `info` filter it costs nothing; the
    // lines logged here at info and above name the request themselves.
    let span = debug_span!(
        "request",
        id = %request_id,
        method = method.as_str(),
        route = route.as_str()
    );
    let timeout = state.settings().request_timeout;
    let mut response = match tokio::time::timeout(timeout, next.run(request))
        .instrument(span.clone())
        .await
    {
        Ok(response) => {
            let path = unmatched_path.as_deref().unwrap_or(route.path());
            normalise(response, path, state.settings().body_limit_bytes).await
        }
        Err(_) => ApiError::RequestTimeout {
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        }
        .into_response(),
    };
    let status = response.status();
    let code = response.extensions().get::<ErrorCode>().copied();
    let elapsed = started.elapsed();
    let _entered = span.enter();
    if let Some(HiddenCause(cause)) = response.extensions().get::<HiddenCause>() {
        error!(
            id = %request_id,
            method = method.as_str(),
            route = route.as_str(),
            status = status.as_u16(),
            cause = %cause,
            "request failed"
        );
    }
    // Refusals and failures at info; successes at debug: one formatted
    // line and one write per token would cost about a tenth of a token's
    // CPU (BENCHMARKS.md). The metrics count every answer.
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    if status.is_client_error() || status.is_server_error() {
        info!(
            id = %request_id,
            method = method.as_str(),
            route = route.as_str(),
            status = status.as_u16(),
            error = code.map(ErrorCode::as_str),
            micros,
            "answered"
        );
    } else {
        debug!(status = status.as_u16(), micros, "answered");
    }
    state
        .metrics()
        .record_request(route, method, status.as_u16(), code, elapsed);
    response
        .headers_mut()
        .insert(REQUEST_ID_HEADER, request_id.to_header_value());
    response
}

/// Turns a refusal that did not come from an [`ApiError`] (the router's
/// 404 and 405, axum's extractor rejections, a panic caught below) into
/// docs/protocol.md §8's body.
async fn normalise(response: Response, path: &str, body_limit: usize) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<ErrorCode>().is_some()
        || response.extensions().get::<OwnBody>().is_some()
    {
        return response;
    }
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound {
            path: path.to_owned(),
        },
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed {
            allowed: response
                .headers()
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
        },
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::BodyTooLarge { limit: body_limit },
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
        s if s.is_client_error() => {
            let text = body_text(response.into_body()).await;
            ApiError::InvalidRequest(format!("the request was refused: {text}"))
        }
        _ => {
            let text = body_text(response.into_body()).await;
            ApiError::Internal(format!("{status}: {text}"))
        }
    };
    error.into_response()
}

async fn body_text(body: Body) -> String {
    let bytes = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    String::from_utf8_lossy(&bytes).chars().take(200).collect()
}
