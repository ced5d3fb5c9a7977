//! The example resource server of docs/protocol.md §15: the seed's Express
//! example, as an axum service built on `sigil-validator`.
//!
//! ```text
//! resource-server --listen 127.0.0.1:3000 --issuer http://localhost:1911 \
//!     --audience http://127.0.0.1:3000 [--require-signed-requests] \
//!     [--x-auth-token off|path|url] [--rate-limits on|off] \
//!     [--rate-limit-per-minute N] [--rate-limit-burst N] \
//!     [--replay-capacity N | --redis redis://HOST:PORT/DB [--redis-prefix P]] \
//!     [--trusted-proxies CIDR,…]
//! ```
//!
//! `GET /health` is open. `GET` and `POST /api/protected` accept a sigil
//! bearer token (with the signed-request headers of docs/protocol.md §6 when present,
//! or always with `--require-signed-requests`) or a bitcoin-auth
//! `X-Auth-Token` (docs/protocol.md §7), and answer
//! `{"sub": "<pubkey hex>", "auth": "bearer" | "signed" | "x-auth-token", "bap_id"?}`.
//! Every refusal, unknown paths and methods included, is docs/protocol.md §8's body.
//!
//! An `X-Auth-Token` names a path, so in its plain form it is good at every
//! server with that path; its absolute-URL form (`requestPath` =
//! `--audience`'s origin + path and query) names this server only.
//! `--x-auth-token url` (implied by `--require-signed-requests`) accepts
//! only that form, `path` (the default) both, `off` none. X-Auth-Tokens
//! never reach the issuer: its account registry does not see them, and
//! revoking an account does not stop them; where revocation must hold, use
//! `--x-auth-token off` (bearer tokens only).
//!
//! Signed requests and X-Auth-Tokens are limited per client address
//! (default 300 a minute, burst 60; 429 with `Retry-After` and
//! `X-RateLimit-*`) before anything is verified, and the replay memory
//! (default 195,840 records: 64 addresses at that rate for the 600 s a
//! record lives), when full, refuses only the addresses holding their share
//! of it. The client address is the connection's peer, or `X-Forwarded-For`
//! from `--trusted-proxies`; IPv6 clients count per /64. Without the
//! connection's peer address every client counts as one.
//!
//! With `--redis`, the replay records live in Redis (`SET NX PX`, keys
//! `<prefix>replay:<kind>:<hex>`) and every instance given the same Redis
//! and prefix refuses a statement another one accepted; a Redis that cannot
//! answer is 503 for signed requests and X-Auth-Tokens (fail closed), while
//! bearer-only requests go on.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use serde_json::json;
use sigil_core::api::Fault;
use sigil_edge::ConnectionLimits;
use sigil_validator::{
    Authenticated, BucketConfig, IpNet, RedisReplayGuard, Validator, XAuthTokenMode,
};

/// An axum resource server protected by sigil tokens (docs/protocol.md §15).
#[derive(Debug, Parser)]
#[command(name = "resource-server", version)]
struct Args {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:3000", value_name = "ADDR")]
    listen: SocketAddr,

    /// The sigil issuer whose tokens are accepted (its discovery document
    /// gives the JWKS).
    #[arg(long, value_name = "URL")]
    issuer: String,

    /// This service's audience: a token's `aud` must equal it or continue it
    /// at a path boundary (`URL/…`, `URL?…`).
    #[arg(long, value_name = "URL")]
    audience: String,

    /// Refuse a bare bearer token: every request must also be signed with
    /// the token's key (docs/protocol.md §6).
    #[arg(long)]
    require_signed_requests: bool,

    /// After a token with an unknown `kid`, the JWKS is fetched again at
    /// most once per this many seconds (a rotation at the issuer is picked
    /// up on the first token of the new key after it).
    #[arg(long, default_value_t = 30, value_name = "S")]
    jwks_refetch_cooldown_s: u64,

    /// Which bitcoin-auth X-Auth-Tokens are accepted: `path` (the default)
    /// takes `requestPath` as the path and query or as the request's
    /// absolute URL on the audience's origin; `url` only the absolute URL
    /// (a token good at this server only; implied by
    /// --require-signed-requests); `off` none. X-Auth-Tokens bypass the
    /// issuer's account registry: revoking an account does not stop them.
    #[arg(long, default_value_t = XAuthTokenMode::Path, value_name = "off|path|url")]
    x_auth_token: XAuthTokenMode,

    /// The per-client-address limit on signed requests and X-Auth-Tokens,
    /// checked before any verification (429 over it). `off` is for
    /// benchmarks, or when a proxy in front limits per address.
    #[arg(long, default_value = "on", value_parser = ["on", "off"], value_name = "on|off")]
    rate_limits: String,

    /// The limit's sustained rate per client address, requests per minute.
    #[arg(long, default_value_t = 300, value_name = "N")]
    rate_limit_per_minute: u32,

    /// The limit's burst per client address.
    #[arg(long, default_value_t = 60, value_name = "N")]
    rate_limit_burst: u32,

    /// Live replay records kept in memory (each about 150 bytes). Default:
    /// what 64 client addresses sending flat out at the rate limit hold in
    /// the 600 s a record lives (195,840 at 300/min burst 60). When full,
    /// only the addresses holding their share of it are refused (429).
    #[arg(long, value_name = "N", conflicts_with = "redis")]
    replay_capacity: Option<usize>,

    /// Keep the replay records in this Redis (`redis://host:port/DB`; no
    /// TLS), shared by every instance given the same one and prefix,
    /// instead of in this process's memory.
    #[arg(long, value_name = "URL")]
    redis: Option<String>,

    /// Put before every Redis key.
    #[arg(long, default_value = sigil_validator::DEFAULT_REDIS_PREFIX, value_name = "PREFIX")]
    redis_prefix: String,

    /// Proxies (addresses or CIDR networks, comma-separated) whose
    /// `X-Forwarded-For` names the client; by default the connection's peer
    /// is the client.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    trusted_proxies: Vec<IpNet>,

    /// Connection limits (docs/decisions/0013-connection-limits.md).
    #[command(flatten)]
    connections: ConnectionArgs,
}

/// The connection limits every sigil HTTP process has
/// ([`sigil_edge::ConnectionLimits`]), as flags.
#[derive(Debug, clap::Args)]
struct ConnectionArgs {
    /// A request head must be complete this long after its first byte, ms;
    /// slower connections are closed.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    header_read_timeout_ms: u64,

    /// An idle keep-alive connection is closed after this long, ms.
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    keep_alive_timeout_ms: u64,

    /// Most connections open at once (lowered to what the open-files limit
    /// allows); beyond it new connections are answered 503 and closed.
    #[arg(long, default_value_t = ConnectionLimits::DEFAULT_MAX_CONNECTIONS, value_name = "N")]
    max_connections: usize,

    /// Largest request head (request line and headers), bytes; larger is 431.
    #[arg(long, default_value_t = ConnectionLimits::DEFAULT_MAX_HEADER_BYTES, value_name = "BYTES")]
    max_header_bytes: usize,

    /// Most header fields in one request; more is 431.
    #[arg(long, default_value_t = ConnectionLimits::DEFAULT_MAX_HEADERS, value_name = "N")]
    max_headers: usize,

    /// Longest a request may take from its head to its answer (the body
    /// included), ms; then 408.
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    request_timeout_ms: u64,
}

impl ConnectionArgs {
    fn limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
            keep_alive_timeout: Duration::from_millis(self.keep_alive_timeout_ms),
            max_connections: self.max_connections,
            max_header_bytes: self.max_header_bytes,
            max_headers: self.max_headers,
            request_timeout: Some(Duration::from_millis(self.request_timeout_ms)),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("resource-server: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = Validator::builder(args.issuer.as_str(), args.audience.as_str())
        .require_signed_requests(args.require_signed_requests)
        .refetch_cooldown(Duration::from_secs(args.jwks_refetch_cooldown_s))
        .x_auth_token(args.x_auth_token)
        .rate_limit((args.rate_limits == "on").then_some(BucketConfig {
            per_minute: args.rate_limit_per_minute,
            burst: args.rate_limit_burst,
        }))
        .trusted_proxies(args.trusted_proxies.iter().copied());
    if let Some(capacity) = args.replay_capacity {
        builder = builder.replay_capacity(capacity);
    }
    if let Some(url) = &args.redis {
        let guard = RedisReplayGuard::connect(url, &args.redis_prefix)
            .await
            .map_err(|e| format!("--redis: {e}"))?;
        builder = builder.replay_guard(Arc::new(guard));
    }
    let validator = builder
        .discover()
        .await
        .map_err(|e| format!("cannot use issuer {}: {e}", args.issuer))?;
    let app = app(&validator);
    let listener = sigil_edge::bind(args.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    eprintln!(
        "resource-server: listening on http://{}, issuer {}, audience {}{}{}",
        listener.local_addr()?,
        args.issuer,
        args.audience,
        if args.require_signed_requests {
            ", signed requests required"
        } else {
            ""
        },
        if args.redis.is_some() {
            ", replay records in Redis"
        } else {
            ""
        }
    );
    sigil_edge::serve(listener, app, args.connections.limits(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

/// The routes: `/health` open, `/api/protected` behind the validator.
fn app(validator: &Validator) -> Router {
    let protected = Router::new()
        .route("/api/protected", get(protected).post(protected))
        .route_layer(validator.layer());
    Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .merge(protected)
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
}

/// docs/protocol.md §15's answer: who, and how.
async fn protected(who: Authenticated) -> Json<Authenticated> {
    Json(who)
}

async fn not_found(uri: Uri) -> Response {
    sigil_edge::refusal(&Fault::NotFound {
        path: uri.path().to_owned(),
    })
}

async fn method_not_allowed(uri: Uri) -> Response {
    let allowed = if uri.path() == "/health" {
        "GET, HEAD"
    } else {
        "GET, HEAD, POST"
    };
    sigil_edge::refusal(&Fault::MethodNotAllowed {
        allowed: allowed.to_owned(),
    })
}
