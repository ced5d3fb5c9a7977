//! A resource server protected by a validator, in either integration mode,
//! and the checks made on its answers.

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::body::Bytes;
use axum::response::Json;
use axum::routing::get;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sigil_validator::{Authenticated, AuthenticatedRequest, Validator};

/// How the validator is wired into the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `Router::layer(validator.layer())` + the `Authenticated` extractor.
    Layer,
    /// The validator as router state + the `AuthenticatedRequest` extractor.
    Extractor,
}

impl Mode {
    pub const ALL: [Self; 2] = [Self::Layer, Self::Extractor];
}

/// A running resource server: every path but `/health` is protected and
/// answers `{"sub", "auth", "bap_id"?, "body"}` (the body it received).
#[derive(Debug, Clone)]
pub struct Resource {
    pub base: String,
    pub client: reqwest::Client,
    pub mode: Mode,
}

async fn health() -> &'static str {
    "ok"
}

fn echo(who: &Authenticated, body: &Bytes) -> Json<Value> {
    let mut answer = serde_json::to_value(who).unwrap();
    answer["body"] = Value::String(String::from_utf8_lossy(body).into_owned());
    Json(answer)
}

async fn echo_layer(who: Authenticated, body: Bytes) -> Json<Value> {
    echo(&who, &body)
}

async fn echo_extractor(request: AuthenticatedRequest) -> Json<Value> {
    echo(&request.auth, &request.body)
}

/// The router of `mode` (without serving it).
pub fn router(validator: Validator, mode: Mode) -> Router {
    let protected = match mode {
        Mode::Layer => Router::new().fallback(echo_layer).layer(validator.layer()),
        Mode::Extractor => Router::new().fallback(echo_extractor).with_state(validator),
    };
    Router::new().route("/health", get(health)).merge(protected)
}

impl Resource {
    pub async fn start(validator: Validator, mode: Mode) -> Self {
        Self::serve(router(validator, mode), mode).await
    }

    /// Serves `app` on 127.0.0.1:0 with the peer address in each request's
    /// `ConnectInfo<SocketAddr>` (what the validator counts clients by).
    pub async fn serve(app: Router, mode: Mode) -> Self {
        let listener = sigil_testkit::local_tokio_listener().await;
        Self::serve_on(listener, app, mode)
    }

    /// A resource server whose validator is made knowing the server's own
    /// base URL, `http://127.0.0.1:PORT` (to use it as the audience).
    pub async fn start_at_own_origin(mode: Mode, make: impl FnOnce(&str) -> Validator) -> Self {
        let listener = sigil_testkit::local_tokio_listener().await;
        let base = format!("http://{}", listener.local_addr().unwrap());
        Self::serve_on(listener, router(make(&base), mode), mode)
    }

    fn serve_on(listener: tokio::net::TcpListener, app: Router, mode: Mode) -> Self {
        let base = format!("http://{}", listener.local_addr().unwrap());
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await });
        Self {
            base,
            client: reqwest::Client::new(),
            mode,
        }
    }

    /// A client whose connections come from `local` (any 127.0.0.0/8
    /// address reaches the loopback listener on Linux).
    pub fn client_from(local: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .local_address(local.parse::<IpAddr>().unwrap())
            .build()
            .unwrap()
    }

    /// This server as seen from `local`.
    #[must_use]
    pub fn seen_from(&self, local: &str) -> Self {
        Self {
            client: Self::client_from(local),
            ..self.clone()
        }
    }

    /// A request to `path` (path and query, sent as is).
    pub fn request(&self, method: &str, path: &str) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// `GET /api/protected` with `Authorization: Bearer <token>`.
    pub async fn bearer(&self, token: &str) -> Answer {
        Answer::of(
            self.request("GET", "/api/protected")
                .header("authorization", format!("Bearer {token}")),
        )
        .await
    }
}

/// One answer: status, headers and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub async fn of(request: reqwest::RequestBuilder) -> Self {
        let response = request.send().await.expect("the resource server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            text,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// 200 for `sub` by `auth`.
    pub fn check_ok(&self, sub: &str, auth: &str) -> Result<(), String> {
        let want = json!({"sub": sub, "auth": auth});
        if self.status != 200
            || self.body["sub"] != want["sub"]
            || self.body["auth"] != want["auth"]
        {
            return Err(format!(
                "want 200 {want}, got {} {}",
                self.status, self.text
            ));
        }
        Ok(())
    }

    /// A docs/protocol.md §8 refusal: status, exactly `{error, error_description}`,
    /// the code, the phrase in the description, `Cache-Control: no-store`,
    /// `Retry-After` on 429 and 503, and on 401 a `WWW-Authenticate` challenge (`Bearer
    /// error="invalid_token", error_description=…` for a refused token).
    pub fn check_refused(&self, status: u16, code: &str, phrase: &str) -> Result<(), String> {
        let got = format!("{} {}", self.status, self.text);
        if self.status != status {
            return Err(format!("want {status} {code}, got {got}"));
        }
        let Some(object) = self.body.as_object() else {
            return Err(format!("body is not a JSON object: {got}"));
        };
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        if keys != ["error", "error_description"] {
            return Err(format!("body members {keys:?}: {got}"));
        }
        if self.body["error"] != code {
            return Err(format!("want error {code}, got {got}"));
        }
        let description = self.body["error_description"].as_str().unwrap_or_default();
        if !description.contains(phrase) {
            return Err(format!("description lacks {phrase:?}: {got}"));
        }
        if self.header("cache-control") != Some("no-store") {
            return Err(format!("no Cache-Control: no-store: {got}"));
        }
        let challenge = self.header("www-authenticate");
        match (status, code) {
            (401, "invalid_token") => {
                let prefix = "Bearer error=\"invalid_token\", error_description=\"";
                if !challenge.is_some_and(|c| c.starts_with(prefix)) {
                    return Err(format!("WWW-Authenticate {challenge:?}: {got}"));
                }
            }
            (401, _) if challenge != Some("Bearer") => {
                return Err(format!("WWW-Authenticate {challenge:?}: {got}"));
            }
            (503 | 429, _) if self.header("retry-after").is_none() => {
                return Err(format!("{status} without Retry-After: {got}"));
            }
            _ => {}
        }
        Ok(())
    }

    /// 401 with the plain `Bearer` challenge: no credentials were sent.
    pub fn check_no_credentials(&self) -> Result<(), String> {
        self.check_refused(401, "invalid_token", "bearer token")
            .or_else(|e| {
                if e.starts_with("WWW-Authenticate") {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        if self.header("www-authenticate") != Some("Bearer") {
            return Err(format!(
                "want WWW-Authenticate: Bearer, got {:?}",
                self.header("www-authenticate")
            ));
        }
        Ok(())
    }

    #[track_caller]
    pub fn assert_ok(&self, sub: &str, auth: &str) {
        if let Err(why) = self.check_ok(sub, auth) {
            panic!("{why}");
        }
    }

    #[track_caller]
    pub fn assert_refused(&self, status: u16, code: &str, phrase: &str) {
        if let Err(why) = self.check_refused(status, code, phrase) {
            panic!("{why}");
        }
    }
}
