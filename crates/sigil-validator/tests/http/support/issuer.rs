//! A tiny issuer on 127.0.0.1:0: `/.well-known/openid-configuration`,
//! `/jwks.json` with settable contents, status, `Cache-Control`, delay and
//! redirect, and counters of every fetch. Any other path counts as an
//! "other" hit and also answers the JWKS, so that a followed redirect or a
//! fetched `jku` would get a usable document (and be counted).

use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use sigil_core::Es256SigningKey;
use sigil_core::jwks::Jwks;

#[derive(Debug, Default)]
pub struct IssuerState {
    base: OnceLock<String>,
    pub jwks: Mutex<String>,
    pub cache_control: Mutex<Option<String>>,
    pub status: AtomicU16,
    pub redirect_to: Mutex<Option<String>>,
    pub delay_ms: AtomicU64,
    pub discovery: Mutex<Option<Value>>,
    pub jwks_fetches: AtomicUsize,
    pub discovery_fetches: AtomicUsize,
    pub other_hits: AtomicUsize,
}

#[derive(Debug, Clone)]
pub struct Issuer {
    pub base: String,
    pub state: Arc<IssuerState>,
}

/// The JWKS document of `keys`, as sigil publishes it.
pub fn jwks_of(keys: &[&Es256SigningKey]) -> String {
    serde_json::to_string(&Jwks {
        keys: keys.iter().map(|k| k.public_jwk()).collect(),
    })
    .unwrap()
}

impl Issuer {
    /// Starts an issuer serving `keys`.
    pub async fn start(keys: &[&Es256SigningKey]) -> Self {
        let state = Arc::new(IssuerState {
            status: AtomicU16::new(200),
            jwks: Mutex::new(jwks_of(keys)),
            ..IssuerState::default()
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks.json", get(jwks))
            .fallback(other)
            .with_state(Arc::clone(&state));
        let listener = sigil_testkit::local_tokio_listener().await;
        let base = format!("http://{}", listener.local_addr().unwrap());
        state.base.set(base.clone()).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, state }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks.json", self.base)
    }

    pub fn set_keys(&self, keys: &[&Es256SigningKey]) {
        self.set_jwks(&jwks_of(keys));
    }

    pub fn set_jwks(&self, document: &str) {
        *self.state.jwks.lock().unwrap() = document.to_owned();
    }

    pub fn set_cache_control(&self, value: Option<&str>) {
        *self.state.cache_control.lock().unwrap() = value.map(str::to_owned);
    }

    pub fn set_status(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    pub fn set_redirect(&self, to: Option<String>) {
        *self.state.redirect_to.lock().unwrap() = to;
    }

    pub fn set_delay(&self, delay: Duration) {
        self.state
            .delay_ms
            .store(u64::try_from(delay.as_millis()).unwrap(), Ordering::SeqCst);
    }

    pub fn set_discovery(&self, document: Value) {
        *self.state.discovery.lock().unwrap() = Some(document);
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn discovery_fetches(&self) -> usize {
        self.state.discovery_fetches.load(Ordering::SeqCst)
    }

    pub fn other_hits(&self) -> usize {
        self.state.other_hits.load(Ordering::SeqCst)
    }
}

async fn discovery(State(state): State<Arc<IssuerState>>) -> Response {
    state.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    let base = state.base.get().cloned().unwrap_or_default();
    let document = state.discovery.lock().unwrap().clone().unwrap_or_else(|| {
        json!({
            "issuer": base,
            "jwks_uri": format!("{base}/jwks.json"),
            "access_token_signing_alg_values_supported": ["ES256"],
        })
    });
    axum::Json(document).into_response()
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> Response {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let redirect = state.redirect_to.lock().unwrap().clone();
    if let Some(to) = redirect {
        return (StatusCode::FOUND, [(header::LOCATION, to)]).into_response();
    }
    serve_jwks(&state).await
}

async fn other(State(state): State<Arc<IssuerState>>) -> Response {
    state.other_hits.fetch_add(1, Ordering::SeqCst);
    serve_jwks(&state).await
}

async fn serve_jwks(state: &IssuerState) -> Response {
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let status = StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap();
    let body = state.jwks.lock().unwrap().clone();
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(value) = state.cache_control.lock().unwrap().clone() {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, value.parse().unwrap());
    }
    response
}
