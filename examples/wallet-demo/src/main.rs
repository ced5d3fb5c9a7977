//! The demo app of docs/protocol.md §16: a page on its own origin that asks
//! sigil's browser wallet for access, a signature and a token through the
//! SDK, and a backend route that verifies the signed payload through
//! sigil's `POST /api/payloads/verify`, once.
//!
//! ```text
//! wallet-demo --listen 127.0.0.1:3000 --sigil http://localhost:1911
//! ```
//!
//! `GET /` is the page ("Connect wallet", "Sign", "Get token", "Verify
//! again"); it loads `<sigil>/sdk.js` with the `sha384` integrity that
//! sigil's discovery document publishes. `POST /api/verify` takes what
//! `wallet.sign` resolved to (`{payloadText, bchAddr, signature}`) and
//! answers sigil's verdict with its status: 200 the first time, 401
//! `replay_detected` for the same payload again. sigil must list this
//! app's `host:port` in `--payload-hosts`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use serde_json::{Value, json};

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("demo.js");
const STYLE: &str = include_str!("demo.css");

/// A web app on its own origin that uses sigil's browser wallet.
#[derive(Debug, Parser)]
#[command(name = "wallet-demo", version)]
struct Args {
    /// Address and port to listen on (the app's origin is
    /// `http://ADDR`; sigil's `--payload-hosts` must list it).
    #[arg(long, default_value = "127.0.0.1:3000", value_name = "ADDR")]
    listen: SocketAddr,

    /// The sigil server: its `/sdk.js` and `/api/payloads/verify`.
    #[arg(long, default_value = "http://localhost:1911", value_name = "URL")]
    sigil: String,
}

struct App {
    sigil: String,
    page: String,
    client: reqwest::Client,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let sigil = args.sigil.trim_end_matches('/').to_owned();
    let client = reqwest::Client::new();
    let integrity = match sdk_integrity(&client, &sigil).await {
        Ok(integrity) => integrity,
        Err(problem) => {
            eprintln!("wallet-demo: {sigil}: {problem}");
            return ExitCode::from(2);
        }
    };
    let page = PAGE
        .replace("__SIGIL__", &sigil)
        .replace("__INTEGRITY__", &integrity);
    let app = Arc::new(App {
        sigil,
        page,
        client,
    });
    let router = Router::new()
        .route("/", get(page_handler))
        .route(
            "/demo.js",
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/demo.css",
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
        .route("/api/verify", post(verify))
        .with_state(app);
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("wallet-demo: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    println!("wallet-demo: http://{}", args.listen);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wallet-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `sigil_sdk_integrity` of sigil's discovery document.
async fn sdk_integrity(client: &reqwest::Client, sigil: &str) -> Result<String, String> {
    let url = format!("{sigil}/.well-known/openid-configuration");
    let document: Value = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("cannot read {url}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("{url} is not JSON: {e}"))?;
    document["sigil_sdk_integrity"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| {
            "its discovery document has no sigil_sdk_integrity (is wallet = false?)".into()
        })
}

async fn page_handler(State(app): State<Arc<App>>) -> Response {
    let mut response = Html(app.page.clone()).into_response();
    let headers = response.headers_mut();
    // The app's own policy; what it must not send is
    // Cross-Origin-Opener-Policy: same-origin (it severs the wallet popup).
    let csp = format!(
        "default-src 'none'; script-src 'self' {sigil}; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
        sigil = app.sigil
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The backend's check: sigil verifies the payload once; its answer (and
/// status) is passed on.
async fn verify(State(app): State<Arc<App>>, Json(signed): Json<Value>) -> Response {
    let body = json!({
        "payload": signed["payloadText"],
        "address": signed["bchAddr"],
        "signature": signed["signature"],
    });
    let url = format!("{}/api/payloads/verify", app.sigil);
    let answer = match app.client.post(&url).json(&body).send().await {
        Ok(answer) => answer,
        Err(e) => {
            return (
                StatusCode::BAD_GATEWAY,
                Json(json!({"error": "sigil_unreachable", "error_description": e.to_string()})),
            )
                .into_response();
        }
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let verdict: Value = answer.json().await.unwrap_or(Value::Null);
    (status, Json(verdict)).into_response()
}
