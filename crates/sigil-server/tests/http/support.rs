#![allow(unreachable_pub)] // test helpers, shared by the modules of one test binary

//! A real server for each test: `serve` on 127.0.0.1:0 over a real SQLite
//! file in a fresh directory, a manual clock, and a reqwest client.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use sigil_core::{Network, PrivateKey, bsm};
use sigil_server::{AppState, Config, ManualClock};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The vectors of tests/vectors are made at this time.
pub const VECTOR_NOW_MS: u64 = 1_700_000_000_000;
pub const TOKEN_PATH: &str = "/api/auth/token-for-endpoint";
pub const ENDPOINT: &str = "https://api.example.com/data";

/// A running server.
pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    pub dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), sigil_server::ServeError>>>,
}

/// A fresh directory under the system temp dir.
pub fn fresh_dir(name: &str) -> PathBuf {
    sigil_testkit::fresh_dir(&format!("http-{name}"))
}

/// The default test configuration for a database in `dir`.
pub fn config_in(dir: &Path) -> Config {
    Config {
        database: format!("sqlite://{}", dir.join("sigil.db").display()),
        ..Config::default()
    }
}

impl TestServer {
    /// Starts a server with the defaults (issuer http://localhost:1911,
    /// rate limits on) at `now_ms`.
    pub async fn start(name: &str, now_ms: u64) -> Self {
        let dir = fresh_dir(name);
        Self::start_with(config_in(&dir), dir, now_ms).await
    }

    /// Starts a server with `config` (its database should be in `dir`).
    pub async fn start_with(config: Config, dir: PathBuf, now_ms: u64) -> Self {
        let settings = config.validate().expect("test config is valid");
        let store = sigil_server::open_store(&settings)
            .await
            .expect("store opens");
        let clock = Arc::new(ManualClock::new(now_ms));
        let state = AppState::new(settings, store, None, clock.clone())
            .await
            .expect("state");
        let listener = sigil_testkit::local_tokio_listener().await;
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(sigil_server::serve(state.clone(), listener, async move {
            let _ = rx.await;
        }));
        Self {
            base,
            state,
            clock,
            client: reqwest::Client::new(),
            dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs a JSON text to the token route.
    pub async fn post_token(&self, body: &str) -> Answer {
        self.post_raw(Some("application/json"), &[], body).await
    }

    /// POSTs `body` to the token route with this `Content-Type` (none when
    /// `None`) and extra headers.
    pub async fn post_raw(
        &self,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Answer {
        self.post_to(TOKEN_PATH, content_type, headers, body).await
    }

    /// POSTs a JSON text to `path`.
    pub async fn post_json(&self, path: &str, body: &str) -> Answer {
        self.post_to(path, Some("application/json"), &[], body)
            .await
    }

    /// POSTs a JSON text to `path` from the loopback address
    /// `127.0.0.<host>` (Linux routes all of 127.0.0.0/8 to the loopback
    /// interface), as another client would.
    pub async fn post_json_from(&self, host: u8, path: &str, body: &str) -> Answer {
        let client = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, host]))
            .build()
            .unwrap();
        let request = client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned());
        Answer::read(request.send().await.unwrap()).await
    }

    /// POSTs `body` to `path` with this `Content-Type` (none when `None`)
    /// and extra headers.
    pub async fn post_to(
        &self,
        path: &str,
        content_type: Option<&str>,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Answer {
        let mut request = self.client.post(self.url(path)).body(body.to_owned());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Answer::read(request.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        Answer::read(self.client.get(self.url(path)).send().await.unwrap()).await
    }

    /// Stops accepting, waits for in-flight requests and the store to close.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    pub async fn read(response: reqwest::Response) -> Self {
        Self {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            text: response.text().await.unwrap(),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts docs/protocol.md §8's body: exactly `error` and `error_description`,
    /// this status and code, and a description containing `phrase`.
    pub fn assert_error(&self, status: u16, code: &str, phrase: &str) {
        assert_eq!(self.status, status, "status of {:?}", self.text);
        let body = self.json();
        let object = body.as_object().expect("error body is an object");
        assert_eq!(object.len(), 2, "only error and error_description: {body}");
        assert_eq!(body["error"], code, "{body}");
        let description = body["error_description"].as_str().expect("a description");
        assert!(
            description.contains(phrase),
            "{code}: description {description:?} lacks {phrase:?}"
        );
        assert!(
            self.header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "error content type: {:?}",
            self.header("content-type")
        );
    }

    /// The access token of a 200 answer.
    pub fn token(&self) -> String {
        assert_eq!(self.status, 200, "expected a token, got {}", self.text);
        self.json()["access_token"].as_str().unwrap().to_owned()
    }
}

/// A test key, distinct per `seed`.
pub fn key(seed: u32) -> PrivateKey {
    let mut bytes = [0x11u8; 32];
    bytes[..4].copy_from_slice(&seed.to_be_bytes());
    PrivateKey::from_bytes(bytes, Network::Mainnet, true).unwrap()
}

/// A compat-form request body, BSM-signed by `key`.
pub fn request(key: &PrivateKey, endpoint: &str, timestamp_ms: u64) -> String {
    let message = format!("{endpoint}:{timestamp_ms}");
    request_for_message(key, endpoint, timestamp_ms, &message)
}

/// A request body whose `message` is given; BSM-signed by `key`.
pub fn request_for_message(
    key: &PrivateKey,
    endpoint: &str,
    timestamp_ms: u64,
    message: &str,
) -> String {
    let signature = bsm::sign(message.as_bytes(), key).to_bytes();
    json!({
        "endpoint": endpoint,
        "timestamp": timestamp_ms,
        "message": message,
        "pubkey": key.public_key().to_hex(),
        "signature": base64(&signature),
    })
    .to_string()
}

pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The decoded header and claims of a compact JWT (no verification).
pub fn decode(token: &str) -> (Value, Value) {
    use base64::Engine as _;
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "three segments");
    let part = |s: &str| -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    (part(parts[0]), part(parts[1]))
}

/// A vector file of the repository's `tests/vectors/`.
pub fn vectors(file: &str) -> Value {
    sigil_testkit::vector_file(file)
}
