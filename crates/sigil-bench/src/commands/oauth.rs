//! `sigil-bench oauth`: authorization-code exchanges and refreshes per
//! second at `POST /oauth2/token` (docs/protocol.md §17), beside the
//! token-for-endpoint figure of the same server in the same run.
//!
//! Before each measured phase a person is simulated over HTTP exactly as a
//! browser would be (cookies kept, no redirect followed): a public client
//! is registered (`POST /oauth2/register`), the person signs the login
//! challenge with a key (BSM) and allows the client once; from then on each
//! `GET /oauth2/authorize` with the session is answered at once with a
//! fresh code. Codes live 60 s, so each exchange phase is prepared in at
//! most `--prepare-seconds` just before it; a refresh phase sends refresh
//! tokens obtained by exchanges done beforehand (not measured). Every
//! code and refresh token is sent once: a repeat would be a reuse.
//!
//! The ceiling is what the token endpoint computes per exchange without
//! HTTP or store: the PKCE S256 check, the hashes of the code and the new
//! refresh token, and two ES256 JWTs (access token and id_token).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, COOKIE, HOST, LOCATION, SET_COOKIE};
use hyper::{HeaderMap, Method, Request};
use serde::Serialize;
use sigil_core::api::paths;
use sigil_core::jwt::{self, AccessClaims};
use sigil_core::{bsm, hash};

use crate::ceiling::{ENDPOINT_HOST, fresh_signing_key, now_ms};
use crate::cli::OAuthArgs;
use crate::commands::ceiling::measure_all;
use crate::load::{self, Carry, LoadOutcome, LoadPlan, Target};
use crate::measure::{Timing, measure};
use crate::report::{self, Machine};
use crate::requests::{self, FormArg, RequestSpec, SchemeArg};
use crate::server::{self, Server, SpawnOptions};
use crate::stats::Latency;

/// The redirect URI the benchmark's client registers (never visited).
const REDIRECT: &str = "https://rp.bench.sigil.invalid/cb";
/// Codes are single-use and live 60 s (docs/protocol.md §17): a code must
/// still be alive when the phase that sends it ends.
const CODE_LIFETIME: Duration = Duration::from_secs(60);
/// The most codes made for one phase without `--requests`.
const DEFAULT_CODES: usize = 300_000;

/// Which grant a phase measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Grant {
    /// `grant_type=authorization_code` with PKCE.
    AuthorizationCode,
    /// `grant_type=refresh_token` (rotated on every use).
    RefreshToken,
    /// `POST /api/auth/token-for-endpoint`, BSM, compat form: the
    /// backend-token figure of the same server, for comparison.
    TokenForEndpoint,
}

impl Grant {
    fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "code",
            Self::RefreshToken => "refresh",
            Self::TokenForEndpoint => "endpoint",
        }
    }
}

/// One measured phase.
#[derive(Debug, Serialize)]
struct OAuthPhase {
    grant: Grant,
    concurrency: usize,
    prepared: usize,
    window_s: f64,
    ok: u64,
    errors: BTreeMap<String, u64>,
    warmup_errors: u64,
    per_second: f64,
    latency: Option<Latency>,
    /// The ceiling of this kind of request, per core.
    ceiling_per_core: f64,
    /// per_second ÷ (ceiling per core × server cores).
    ratio: f64,
    server_cpu_us_per_request: Option<f64>,
    server_cores_busy: Option<f64>,
    exhausted: bool,
}

#[derive(Serialize)]
struct OAuthReport {
    machine: Machine,
    target: String,
    store: String,
    server_cores: usize,
    /// The exchange's ceiling (PKCE, hashes, two ES256 JWTs).
    exchange_ceiling: Timing,
    /// The token-for-endpoint ceiling (BSM compat).
    endpoint_ceiling_us: f64,
    phases: Vec<OAuthPhase>,
}

/// Runs `sigil-bench oauth`.
///
/// # Errors
/// Bad arguments, a server that cannot be started, or a login, consent or
/// exchange the server refuses (a bug, or a server started without the
/// OAuth provider).
pub(crate) fn run(args: &OAuthArgs) -> anyhow::Result<()> {
    let load = &args.load;
    ensure!(
        args.server.target.is_none(),
        "sigil-bench oauth starts its own server (registration, login and consent need a fresh one)"
    );
    ensure!(load.duration > 0.0, "--duration must be positive");
    ensure!(
        load.concurrency.iter().all(|&c| c > 0),
        "--concurrency must be positive"
    );
    ensure!(
        args.prepare_seconds + load.warmup + load.duration < CODE_LIFETIME.as_secs_f64() - 5.0,
        "--prepare-seconds + --warmup + --duration must stay under {} s: codes live 60 s",
        CODE_LIFETIME.as_secs() - 5
    );
    let machine = Machine::announce(args.json);
    let exchange_ceiling = exchange_ceiling(args.batch.plan())?;
    let endpoint = measure_all(
        &[(SchemeArg::Bsm, FormArg::Compat)],
        args.batch.plan(),
        false,
        None,
    )?
    .remove(0);
    if !args.json {
        println!(
            "ceilings (one core): code exchange {:.1} µs (PKCE, hashes, two ES256 JWTs) | token-for-endpoint bsm compat {:.1} µs",
            exchange_ceiling.ns_per_op / 1000.0,
            endpoint.us_per_request()
        );
    }
    let mut server = Server::spawn(&SpawnOptions {
        bin: args
            .server
            .server_bin
            .clone()
            .unwrap_or_else(server::default_server_bin),
        store: args.server.store.clone(),
        redis: args.server.redis.clone(),
        issuer: None,
        cpus: None,
        log_level: args.server.server_log_level.clone(),
        log: args.server.server_log.clone(),
        env: Vec::new(),
    })?;
    let server_cores = machine.cpus;
    if !args.json {
        println!(
            "server: http://{} pid {} store {} | unpinned: ratio divides by {server_cores} core(s)",
            server.host(),
            server.pid().map_or_else(|| "?".into(), |p| p.to_string()),
            server.store()
        );
        println!("{}", header());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(machine.cpus.max(1))
        .enable_all()
        .build()?;
    let target = Target {
        addr: server.addr(),
        host: server.host().to_owned(),
    };
    let person = runtime.block_on(Person::sign_up(&target, server.issuer()))?;
    let exchange_per_core = exchange_ceiling.per_second();
    let keys = requests::random_keys(100)?;
    let mut phases = Vec::new();
    for &concurrency in &load.concurrency {
        let context = PhaseContext {
            args,
            server: &server,
            target: &target,
            concurrency,
            server_cores,
        };
        // Exchanges: codes made just before, sent once each.
        let codes = runtime.block_on(person.codes(&target, args, concurrency))?;
        let forms: Vec<String> = codes.iter().map(|c| person.exchange_form(c)).collect();
        let phase = context.measure(Grant::AuthorizationCode, forms, exchange_per_core)?;
        print_phase(args, &phase);
        phases.push(phase);

        // Refreshes: refresh tokens of exchanges done beforehand.
        let refresh_tokens = runtime.block_on(person.refresh_tokens(&target, args, concurrency))?;
        let forms: Vec<String> = refresh_tokens
            .iter()
            .map(|t| person.refresh_form(t))
            .collect();
        let phase = context.measure(Grant::RefreshToken, forms, exchange_per_core)?;
        print_phase(args, &phase);
        phases.push(phase);

        // The backend-token route of the same server, for comparison.
        let count = ((endpoint.per_core() * server_cores as f64 * (load.warmup + load.duration))
            as usize)
            .clamp(1000, 400_000);
        let spec = RequestSpec {
            scheme: SchemeArg::Bsm,
            form: FormArg::Compat,
            issuer: server.issuer().to_owned(),
            endpoint_prefix: format!("{ENDPOINT_HOST}/oauth-bench-{}-{concurrency}", now_ms()),
            timestamp_ms: now_ms(),
            spacing_ns: ((load.warmup + load.duration).min(50.0) * 1e9 / count as f64) as u64,
        };
        let bodies = requests::generate(&spec, &keys, count, machine.cpus)?;
        let phase = context.measure_bodies(Grant::TokenForEndpoint, bodies, endpoint.per_core())?;
        print_phase(args, &phase);
        phases.push(phase);
    }
    let report = OAuthReport {
        machine,
        target: format!("http://{}", server.host()),
        store: server.store().to_owned(),
        server_cores,
        exchange_ceiling,
        endpoint_ceiling_us: endpoint.us_per_request(),
        phases,
    };
    server.stop();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "per s: answers 200 per second. ratio: per s ÷ (ceiling per core × {server_cores} cores); code and refresh use the exchange ceiling.\nsrv µs/r: server CPU per answer. cores: server CPU ÷ window."
        );
    }
    Ok(())
}

fn header() -> String {
    format!(
        "{:<8} {:>4} {:>8} {:>6} {:>7} {:>7} {:>7} {:>8} {:>6}  {}",
        "grant",
        "conc",
        "per s",
        "ratio",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "srv µs/r",
        "cores",
        "errors"
    )
}

fn print_phase(args: &OAuthArgs, p: &OAuthPhase) {
    if args.json {
        return;
    }
    let ms = |f: fn(&Latency) -> f64| report::opt(p.latency.as_ref().map(|l| f(l) / 1000.0), 2);
    let mut row = format!(
        "{:<8} {:>4} {:>8.0} {:>6.3} {:>7} {:>7} {:>7} {:>8} {:>6}  {}",
        p.grant.as_str(),
        p.concurrency,
        p.per_second,
        p.ratio,
        ms(|l| l.p50_us),
        ms(|l| l.p90_us),
        ms(|l| l.p99_us),
        report::opt(p.server_cpu_us_per_request, 1),
        report::opt(p.server_cores_busy, 2),
        report::errors_text(&p.errors),
    );
    if p.exhausted {
        row.push_str("  (prepared requests ran out: window shortened)");
    }
    println!("{row}");
}

/// What every phase of one concurrency shares.
struct PhaseContext<'a> {
    args: &'a OAuthArgs,
    server: &'a Server,
    target: &'a Target,
    concurrency: usize,
    server_cores: usize,
}

impl PhaseContext<'_> {
    fn measure(
        &self,
        grant: Grant,
        forms: Vec<String>,
        ceiling_per_core: f64,
    ) -> anyhow::Result<OAuthPhase> {
        self.measure_bodies(grant, requests::Bodies::from_items(forms), ceiling_per_core)
    }

    fn measure_bodies(
        &self,
        grant: Grant,
        bodies: requests::Bodies,
        ceiling_per_core: f64,
    ) -> anyhow::Result<OAuthPhase> {
        let load = &self.args.load;
        let prepared = bodies.len();
        let (path, carry) = match grant {
            Grant::TokenForEndpoint => (paths::TOKEN_FOR_ENDPOINT, Carry::Body("application/json")),
            _ => (
                paths::OAUTH_TOKEN,
                Carry::Body("application/x-www-form-urlencoded"),
            ),
        };
        let plan = LoadPlan {
            targets: vec![self.target.clone()],
            method: Method::POST,
            path: path.to_owned(),
            carry,
            cycle: false,
            concurrency: self.concurrency,
            warmup: Duration::from_secs_f64(load.warmup),
            duration: Duration::from_secs_f64(load.duration),
            server_pids: self.server.pid().into_iter().collect(),
            store_processes: Vec::new(),
            cpus: None,
        };
        let outcome = load::run(&plan, Arc::new(bodies))?;
        Ok(self.phase(grant, outcome, prepared, ceiling_per_core))
    }

    fn phase(
        &self,
        grant: Grant,
        mut outcome: LoadOutcome,
        prepared: usize,
        ceiling_per_core: f64,
    ) -> OAuthPhase {
        let window_s = outcome.window.as_secs_f64();
        let answered = outcome.ok + outcome.errors.values().sum::<u64>();
        let per_second = if window_s > 0.0 {
            outcome.ok as f64 / window_s
        } else {
            0.0
        };
        OAuthPhase {
            grant,
            concurrency: self.concurrency,
            prepared,
            window_s,
            ok: outcome.ok,
            errors: std::mem::take(&mut outcome.errors),
            warmup_errors: outcome.warmup_errors,
            per_second,
            latency: Latency::from_nanos(&mut outcome.latencies_ns),
            ceiling_per_core,
            ratio: per_second / (ceiling_per_core * self.server_cores as f64),
            server_cpu_us_per_request: outcome
                .server_cpu
                .filter(|_| answered > 0)
                .map(|c| c.as_secs_f64() * 1e6 / answered as f64),
            server_cores_busy: outcome
                .server_cpu
                .filter(|_| window_s > 0.0)
                .map(|c| c.as_secs_f64() / window_s),
            exhausted: outcome.exhausted,
        }
    }
}

/// The CPU cost of what the token endpoint computes for one code exchange,
/// without HTTP and store: the PKCE S256 check, SHA-256 of the code and of
/// the new refresh token (both stored hashed), 48 random bytes, and two
/// ES256 JWTs of the size the provider issues.
fn exchange_ceiling(plan: crate::measure::BatchPlan) -> anyhow::Result<Timing> {
    let key = fresh_signing_key()?;
    let subject = requests::random_keys(1)?.remove(0).public_key();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = URL_SAFE_NO_PAD.encode(hash::sha256(verifier.as_bytes()));
    let issuer = "http://127.0.0.1:1911";
    Ok(measure(plan, |i| {
        let pkce = URL_SAFE_NO_PAD.encode(hash::sha256(black_box(verifier).as_bytes()));
        let _ = black_box(pkce == challenge);
        let mut random = [0u8; 48];
        let _ = aws_lc_rs::rand::fill(&mut random);
        let _ = black_box(hash::sha256(&random[..32]));
        let _ = black_box(hash::sha256(&random[16..]));
        let mut jti = [0u8; 16];
        jti.copy_from_slice(&random[..16]);
        let now_s = now_ms() / 1000 + (i & 1);
        let access = AccessClaims::new(issuer, &subject, issuer, now_s, 3600, jti);
        let _ = black_box(jwt::issue(&key, &access));
        let id = AccessClaims::new(issuer, &subject, "bench-client-id", now_s, 3600, jti);
        let _ = black_box(jwt::issue(&key, &id));
    }))
}

/// An answer: status, headers, body.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn location(&self) -> anyhow::Result<&str> {
        ensure!(
            self.status == 303 || self.status == 302,
            "expected a redirect, got HTTP {}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .context("a redirect without Location")
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A browser's connection: keeps cookies, follows no redirect.
struct Browser {
    host: String,
    sender: SendRequest<Full<Bytes>>,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    async fn open(target: &Target) -> anyhow::Result<Self> {
        Ok(Self {
            host: target.host.clone(),
            sender: load::connect(target.addr).await?,
            cookies: BTreeMap::new(),
        })
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        content_type: Option<&'static str>,
        body: String,
    ) -> anyhow::Result<Answer> {
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = method;
        *request.uri_mut() = path.parse().context("request target")?;
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.parse()?);
        if let Some(content_type) = content_type {
            headers.insert(CONTENT_TYPE, content_type.parse()?);
        }
        if !self.cookies.is_empty() {
            let jar = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            headers.insert(COOKIE, jar.parse()?);
        }
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes();
        for value in headers.get_all(SET_COOKIE) {
            let Some((name, value)) = value
                .to_str()
                .ok()
                .and_then(|t| t.split(';').next())
                .and_then(|pair| pair.split_once('='))
            else {
                continue;
            };
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    async fn get(&mut self, path: &str) -> anyhow::Result<Answer> {
        self.send(Method::GET, path, None, String::new()).await
    }

    async fn post_form(&mut self, path: &str, form: &[(&str, &str)]) -> anyhow::Result<Answer> {
        let body = encode(form);
        self.send(
            Method::POST,
            path,
            Some("application/x-www-form-urlencoded"),
            body,
        )
        .await
    }
}

/// A signed-in person who has allowed the benchmark's client: their
/// session cookies make codes without pages.
struct Person {
    client_id: String,
    cookies: BTreeMap<String, String>,
    verifier: String,
    authorize_path: String,
}

impl Person {
    /// Registers a public client, signs in with a fresh key and allows it.
    async fn sign_up(target: &Target, issuer: &str) -> anyhow::Result<Self> {
        let mut browser = Browser::open(target).await?;
        let registration = serde_json::json!({
            "client_name": "sigil-bench relying party",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": "openid profile offline_access",
        });
        let registered = browser
            .send(
                Method::POST,
                paths::OAUTH_REGISTER,
                Some("application/json"),
                registration.to_string(),
            )
            .await?;
        ensure!(
            registered.status == 201 || registered.status == 200,
            "dynamic registration refused (HTTP {}): {}",
            registered.status,
            registered.text()
        );
        let document: serde_json::Value = serde_json::from_slice(&registered.body)?;
        let client_id = document["client_id"]
            .as_str()
            .context("the registration answer names no client_id")?
            .to_owned();
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let verifier = URL_SAFE_NO_PAD.encode(random);
        let challenge = URL_SAFE_NO_PAD.encode(hash::sha256(verifier.as_bytes()));
        let authorize_path = format!(
            "{}?{}",
            paths::OAUTH_AUTHORIZE,
            encode(&[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", REDIRECT),
                ("scope", "openid profile offline_access"),
                ("state", "bench"),
                ("nonce", "bench"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
        );
        // Not signed in: to the login page, which names the challenge.
        let first = browser.get(&authorize_path).await?;
        let login_path = first.location()?.to_owned();
        ensure!(
            login_path.starts_with(paths::OAUTH_LOGIN),
            "authorize without a session should go to the login page, went to {login_path}"
        );
        let page = browser.get(&login_path).await?;
        ensure!(page.status == 200, "login page: HTTP {}", page.status);
        let html = page.text();
        let message = page_value(&html, "message")?;
        let key = requests::random_keys(1)?.remove(0);
        let signature = STANDARD.encode(bsm::sign(message.as_bytes(), &key).to_bytes());
        ensure!(
            message.contains(issuer),
            "the login challenge does not name this issuer ({issuer})"
        );
        let csrf = page_value(&html, "csrf_token")?;
        let return_to = page_value(&html, "return_to").unwrap_or_else(|_| authorize_path.clone());
        let signed = browser
            .post_form(
                paths::OAUTH_LOGIN,
                &[
                    ("message", &message),
                    ("signature", &signature),
                    ("csrf_token", &csrf),
                    ("return_to", &return_to),
                ],
            )
            .await?;
        let back = signed
            .location()
            .context("signing in with the challenge")?
            .to_owned();
        // The consent page, once.
        let consent = browser.get(&back).await?;
        ensure!(
            consent.status == 200,
            "expected the consent page, got HTTP {}: {}",
            consent.status,
            consent.text()
        );
        let html = consent.text();
        let allowed = browser
            .post_form(
                paths::OAUTH_CONSENT,
                &[
                    ("csrf_token", &page_value(&html, "csrf_token")?),
                    ("request", &page_value(&html, "request")?),
                    ("decision", "allow"),
                ],
            )
            .await?;
        code_of(allowed.location()?)?;
        Ok(Self {
            client_id,
            cookies: browser.cookies,
            verifier,
            authorize_path,
        })
    }

    /// Fresh codes from `concurrency` connections, for at most
    /// `--prepare-seconds` or `--requests` codes.
    async fn codes(
        &self,
        target: &Target,
        args: &OAuthArgs,
        concurrency: usize,
    ) -> anyhow::Result<Vec<String>> {
        let limit = args.load.requests.unwrap_or(DEFAULT_CODES);
        let until = Instant::now() + Duration::from_secs_f64(args.prepare_seconds);
        let made = Instant::now();
        let mut tasks = Vec::new();
        let per_task = limit.div_ceil(concurrency.max(1));
        for _ in 0..concurrency.max(1) {
            let mut browser = Browser::open(target).await?;
            browser.cookies.clone_from(&self.cookies);
            let path = self.authorize_path.clone();
            tasks.push(tokio::spawn(async move {
                let mut codes = Vec::with_capacity(per_task);
                while codes.len() < per_task && Instant::now() < until {
                    let answer = browser.get(&path).await?;
                    codes.push(code_of(answer.location()?)?);
                }
                anyhow::Ok(codes)
            }));
        }
        let mut codes = Vec::with_capacity(limit);
        for task in tasks {
            codes.extend(task.await.context("a code task failed")??);
        }
        eprintln!(
            "c={concurrency}: {} codes made in {:.1} s",
            codes.len(),
            made.elapsed().as_secs_f64()
        );
        Ok(codes)
    }

    /// Refresh tokens, each of its own family, from exchanges of fresh codes.
    async fn refresh_tokens(
        &self,
        target: &Target,
        args: &OAuthArgs,
        concurrency: usize,
    ) -> anyhow::Result<Vec<String>> {
        let codes = self.codes(target, args, concurrency).await?;
        let made = Instant::now();
        let chunks: Vec<Vec<String>> = codes
            .chunks(codes.len().div_ceil(concurrency.max(1)).max(1))
            .map(<[String]>::to_vec)
            .collect();
        let mut tasks = Vec::new();
        for chunk in chunks {
            let mut browser = Browser::open(target).await?;
            let forms: Vec<String> = chunk.iter().map(|c| self.exchange_form(c)).collect();
            tasks.push(tokio::spawn(async move {
                let mut tokens = Vec::with_capacity(forms.len());
                for form in forms {
                    let answer = browser
                        .send(
                            Method::POST,
                            paths::OAUTH_TOKEN,
                            Some("application/x-www-form-urlencoded"),
                            form,
                        )
                        .await?;
                    if answer.status != 200 {
                        // A code that expired while the others were made.
                        continue;
                    }
                    let body: serde_json::Value = serde_json::from_slice(&answer.body)?;
                    if let Some(token) = body["refresh_token"].as_str() {
                        tokens.push(token.to_owned());
                    }
                }
                anyhow::Ok(tokens)
            }));
        }
        let mut tokens = Vec::new();
        for task in tasks {
            tokens.extend(task.await.context("an exchange task failed")??);
        }
        if tokens.is_empty() {
            bail!("no exchange returned a refresh token (is offline_access granted?)");
        }
        eprintln!(
            "c={concurrency}: {} refresh tokens from exchanges in {:.1} s",
            tokens.len(),
            made.elapsed().as_secs_f64()
        );
        Ok(tokens)
    }

    fn exchange_form(&self, code: &str) -> String {
        encode(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &self.verifier),
            ("client_id", &self.client_id),
        ])
    }

    fn refresh_form(&self, token: &str) -> String {
        encode(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", &self.client_id),
        ])
    }
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn encode(pairs: &[(&str, &str)]) -> String {
    let byte = |b: u8| match b {
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
            char::from(b).to_string()
        }
        b' ' => "+".to_owned(),
        _ => format!("%{b:02X}"),
    };
    pairs
        .iter()
        .map(|(k, v)| {
            let k: String = k.bytes().map(byte).collect();
            let v: String = v.bytes().map(byte).collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The `code` of a redirect to the client.
fn code_of(location: &str) -> anyhow::Result<String> {
    ensure!(
        location.starts_with(REDIRECT),
        "expected a redirect to the client, got {location}"
    );
    let query = location.split_once('?').map_or("", |(_, q)| q);
    for pair in query.split('&') {
        if let Some(code) = pair.strip_prefix("code=") {
            return Ok(decode(code));
        }
    }
    bail!("the redirect carries no code: {location}")
}

/// Percent-decoding of a query value (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value a page gives for `name`: a form field
/// (`name="NAME" value="…"`) or a data attribute (`data-NAME="…"`, with
/// `_` as `-`), HTML entities decoded.
fn page_value(html: &str, name: &str) -> anyhow::Result<String> {
    let markers = [
        format!("name=\"{name}\" value=\""),
        format!("data-{}=\"", name.replace('_', "-")),
    ];
    for marker in &markers {
        if let Some(start) = html.find(marker.as_str()).map(|i| i + marker.len())
            && let Some(len) = html[start..].find('"')
        {
            return Ok(html[start..start + len]
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&#x27;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&"));
        }
    }
    bail!("the page names no {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_round_trip_through_percent_encoding() {
        let form = encode(&[("a b", "x&y=z/é"), ("code", "AbC-_.~+")]);
        assert_eq!(form, "a+b=x%26y%3Dz%2F%C3%A9&code=AbC-_.%7E%2B");
        assert_eq!(decode("x%26y%3Dz%2F%C3%A9"), "x&y=z/é");
        assert_eq!(decode("a+b%2"), "a b%2");
    }

    #[test]
    fn codes_come_from_the_redirect_and_values_from_the_page() {
        let location = format!("{REDIRECT}?code=a%2Bb&state=bench&iss=http%3A%2F%2Fx");
        assert_eq!(code_of(&location).unwrap(), "a+b");
        assert!(code_of("https://evil.example/cb?code=x").is_err());
        assert!(code_of(&format!("{REDIRECT}?error=access_denied")).is_err());
        let html = r#"<input type="hidden" name="csrf_token" value="c&amp;1"><main data-message="sign &quot;this&quot;">"#;
        assert_eq!(page_value(html, "csrf_token").unwrap(), "c&1");
        assert_eq!(page_value(html, "message").unwrap(), "sign \"this\"");
        assert!(page_value(html, "request").is_err());
    }
}
