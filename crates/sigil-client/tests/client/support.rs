#![allow(unreachable_pub)] // test helpers, shared by the modules of one test binary

//! A real sigil server per test (`serve` on 127.0.0.1:0 over a real SQLite
//! file, issuer = its own base URL, a manual clock the client shares), and a
//! small recording resource server.

use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::{Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sigil_client::{AccessToken, Client};
use sigil_core::jwt::{Audience, ValidationRules, VerifiedClaims, validate};
use sigil_core::{JwkSet, Network, PrivateKey};
use sigil_server::{AppState, Config, ManualClock};
use sigil_store::Store;
use tokio::sync::oneshot;

/// A running sigil token service.
pub struct Server {
    pub base: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Server {
    /// Starts a server with the defaults (rate limits on), its issuer set to
    /// its own address, after `tweak` changed the config.
    pub async fn start(name: &str, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = fresh_dir(name);
        let listener = sigil_testkit::local_tokio_listener().await;
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = Config {
            database: format!("sqlite://{}", dir.join("sigil.db").display()),
            issuer: base.clone(),
            ..Config::default()
        };
        tweak(&mut config);
        let settings = config.validate().expect("test config is valid");
        let store = Store::open(&settings.database).await.expect("store opens");
        let clock = Arc::new(ManualClock::new(system_now_ms()));
        let state = AppState::new(settings, store, None, clock.clone())
            .await
            .expect("state");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(sigil_server::serve(state.clone(), listener, async move {
            let _ = rx.await;
        }));
        Self {
            base,
            state,
            clock,
            dir,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A client of this server for `key`, on the server's clock.
    pub fn client(&self, key: PrivateKey) -> Client {
        let clock = self.clock.clone();
        Client::new(&self.base, key)
            .unwrap()
            .with_clock(move || sigil_server::Clock::now_ms(&*clock))
    }

    /// Requests that reached the token route, whatever their answer.
    pub fn token_requests(&self) -> u64 {
        let prefix = "sigil_http_requests_total{route=\"/api/auth/token-for-endpoint\"";
        metric_sum(&self.state.metrics().render(), prefix)
    }

    /// Tokens issued so far.
    pub fn tokens_issued(&self) -> u64 {
        metric_sum(&self.state.metrics().render(), "sigil_tokens_issued_total ")
    }

    /// Validates `token` with the server's JWKS (signature, `typ`, `iss`,
    /// time) for exactly the audience `aud`.
    pub async fn validate(&self, token: &AccessToken, aud: &str) -> VerifiedClaims {
        let jwks = sigil_client::reqwest::get(self.url("/.well-known/jwks.json"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let keys = JwkSet::from_json(&jwks).unwrap();
        let rules = ValidationRules::new(self.base.clone(), Audience::Exact(aud.into()));
        let now_s = sigil_server::Clock::now_ms(&*self.clock) / 1000;
        validate(token.as_str(), &keys, &rules, now_s)
            .unwrap_or_else(|e| panic!("token for {aud} does not validate: {e}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn metric_sum(text: &str, prefix: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

fn fresh_dir(name: &str) -> PathBuf {
    sigil_testkit::fresh_dir(&format!("client-{name}"))
}

pub use sigil_testkit::now_ms as system_now_ms;

/// A test key, distinct per `seed`.
pub fn key(seed: u32) -> PrivateKey {
    let mut bytes = [0x22u8; 32];
    bytes[..4].copy_from_slice(&seed.to_be_bytes());
    PrivateKey::from_bytes(bytes, Network::Mainnet, true).unwrap()
}

/// One request as a test app received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query, as received.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// The bearer token received.
    pub fn bearer(&self) -> &str {
        self.header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .expect("a bearer token")
    }
}

/// How the recording app answers a request.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    /// 401 invalid_token with the RFC 6750 challenge and the docs/protocol.md §8 body.
    InvalidTokenChallenge,
    /// 401 invalid_token with the docs/protocol.md §8 body only.
    InvalidTokenBodyOnly,
    /// 401 invalid_signature (no challenge), and an `x-test` header.
    InvalidSignature,
    /// 403 access_denied.
    Forbidden,
}

#[derive(Clone, Default)]
struct Recording {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Answers for the next requests; 200 when empty.
    script: Arc<Mutex<VecDeque<Reply>>>,
    /// Bearer tokens refused with 401 invalid_token (before the script).
    refused: Arc<Mutex<HashSet<String>>>,
}

/// A resource server that records every request and answers from a script.
pub struct App {
    pub base: String,
    recording: Recording,
    shutdown: Option<oneshot::Sender<()>>,
}

impl App {
    pub async fn start() -> Self {
        let recording = Recording::default();
        let router = axum::Router::new()
            .fallback(record)
            .with_state(recording.clone());
        let listener = sigil_testkit::local_tokio_listener().await;
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Self {
            base,
            recording,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Answers the next requests with `replies`, then 200.
    pub fn script(&self, replies: &[Reply]) {
        self.recording
            .script
            .lock()
            .unwrap()
            .extend(replies.iter().copied());
    }

    /// Refuses every request bearing `token` as `invalid_token`.
    pub fn refuse_token(&self, token: &str) {
        self.recording
            .refused
            .lock()
            .unwrap()
            .insert(token.to_owned());
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.recording.seen.lock().unwrap().clone()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn record(State(recording): State<Recording>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let body = to_bytes(body, 1 << 20).await.unwrap();
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    recording.seen.lock().unwrap().push(Seen {
        method: parts.method.as_str().to_owned(),
        target: target.clone(),
        headers: parts.headers,
        body,
    });
    let reply = if recording.refused.lock().unwrap().contains(&bearer) {
        Some(Reply::InvalidTokenChallenge)
    } else {
        recording.script.lock().unwrap().pop_front()
    };
    let error = |status: StatusCode, code: &str, description: &str| {
        let body = serde_json::json!({"error": code, "error_description": description});
        (status, axum::Json(body)).into_response()
    };
    match reply {
        None => axum::Json(serde_json::json!({"ok": true, "target": target})).into_response(),
        Some(Reply::InvalidTokenChallenge) => {
            let mut response = error(StatusCode::UNAUTHORIZED, "invalid_token", "token expired");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer error=\"invalid_token\", error_description=\"token expired\"",
                ),
            );
            response
        }
        Some(Reply::InvalidTokenBodyOnly) => {
            error(StatusCode::UNAUTHORIZED, "invalid_token", "wrong audience")
        }
        Some(Reply::InvalidSignature) => {
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "invalid_signature",
                "signature verification failed",
            );
            response
                .headers_mut()
                .insert("x-test", HeaderValue::from_static("kept"));
            response
        }
        Some(Reply::Forbidden) => error(StatusCode::FORBIDDEN, "access_denied", "not allowed"),
    }
}
