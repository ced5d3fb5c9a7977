//! `sigil-bench connections`: idle and slowloris clients (issue 13).
//!
//! Starts `sigil serve` (or the example `resource-server`, with a `sigil
//! serve` issuer beside it) with a short header read timeout and keep-alive
//! timeout, then, from this process:
//!
//! 1. reads the server's resident memory (after one warm-up request of
//!    each kind, so the figure is the server's, not its first request's);
//! 2. opens `--idle` connections that send nothing and `--slowloris`
//!    connections that send a request line and `Host`, then one more header
//!    byte every `--trickle-ms`, never finishing the head;
//! 3. while they are open, times `--requests` `GET /health` and as many
//!    token requests, each on a fresh connection and on one keep-alive
//!    connection, interleaved;
//! 4. notes when the server closes each held connection (end of stream or
//!    reset): a slowloris one after its first byte, an idle one after it
//!    connected; a connection still open `--grace-ms` past its timeout is
//!    counted as still open and closed here;
//! 5. reads the server's memory again once they are all closed.
//!
//! The held connections run on a thread of their own (one current-thread
//! runtime), the timed requests on another, so that holding 1,200 sockets
//! does not delay the timer of a request. The exit status says only
//! whether the run worked (servers started, kept running): a slow figure
//! is printed, never enforced.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use serde::Serialize;
use sigil_core::api::paths;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::ceiling::{ENDPOINT_HOST, now_ms};
use crate::cli::{ConnectionsArgs, ConnectionsTarget};
use crate::commands::validate::tag;
use crate::issuer;
use crate::load::{self, error_code};
use crate::pin;
use crate::procfs;
use crate::report::{Machine, errors_text, opt};
use crate::requests::{self, Bodies, FormArg, RequestSpec, SchemeArg};
use crate::server::{self, ResourceServerOptions, Server, SpawnOptions};
use crate::stats::percentile;

/// The resource server's protected route.
const PROTECTED_PATH: &str = "/api/protected";

/// Connections being opened at once (the server's accept backlog is 1024;
/// more at once would overflow it and cost a SYN retry of a second).
const CONNECT_BATCH: usize = 64;

/// File descriptors this process keeps for everything but the held
/// connections (the timed requests, the runtimes, standard streams).
const RESERVED_FILES: u64 = 64;

/// How often the server's resident memory is sampled while connections are
/// held.
const RSS_EVERY: Duration = Duration::from_millis(100);

/// Pause between the last held connection closing and the "after" memory
/// figure, so the server has dropped what those connections held.
const SETTLE: Duration = Duration::from_millis(500);

/// What a slowloris connection trickles after its request line and `Host`:
/// one byte per tick, a header name and then its value forever.
const TRICKLE: &[u8] = b"X-Slowloris: ";

/// Idle or slowloris.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Idle,
    Slowloris,
}

/// How a held connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The server closed it: end of stream.
    Eof,
    /// The server reset it (or a write failed after it closed).
    Reset,
    /// Still open at the end; closed by this program.
    StillOpen,
}

/// One held connection's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    kind: Kind,
    /// From its first byte written (slowloris) or its connect started (idle; see [`open_one`]) to the close
    /// seen here; `None` when still open.
    lived: Option<Duration>,
    ending: Ending,
    /// The status of an answer the server sent before closing (a 503 over
    /// the connection cap, say); `None` when it closed silently.
    answered: Option<u16>,
}

/// The close figures of one kind of held connection.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Closes {
    kind: Kind,
    /// The timeout that should close them, ms.
    timeout_ms: u64,
    /// What the close times count from.
    measured_from: &'static str,
    opened: usize,
    /// Closed by the server (end of stream or reset) before the grace ran out.
    closed: usize,
    /// Still open `grace_ms` past the timeout.
    still_open: usize,
    eof: usize,
    reset: usize,
    /// Answers the server sent before closing, by status.
    answered: BTreeMap<String, usize>,
    /// Closed before their timeout (less 2 ms of rounding): not by it.
    early: usize,
    min_ms: Option<f64>,
    p50_ms: Option<f64>,
    max_ms: Option<f64>,
    /// Longest close time − timeout.
    max_over_timeout_ms: Option<f64>,
}

/// Slack for the server rounding its clock down to milliseconds.
const EARLY_SLACK: Duration = Duration::from_millis(2);

fn closes(held: &[Held], kind: Kind, timeout: Duration) -> Closes {
    let mine: Vec<&Held> = held.iter().filter(|h| h.kind == kind).collect();
    let mut lived: Vec<u64> = mine
        .iter()
        .filter_map(|h| h.lived)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .collect();
    lived.sort_unstable();
    let ms = |us: Option<u64>| us.map(|us| us as f64 / 1000.0);
    let mut answered = BTreeMap::new();
    for status in mine.iter().filter_map(|h| h.answered) {
        *answered.entry(status.to_string()).or_default() += 1;
    }
    let count = |ending: Ending| mine.iter().filter(|h| h.ending == ending).count();
    let max_ms = ms(lived.last().copied());
    Closes {
        kind,
        timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        measured_from: match kind {
            Kind::Idle => "connect started",
            Kind::Slowloris => "first byte written",
        },
        opened: mine.len(),
        closed: lived.len(),
        still_open: count(Ending::StillOpen),
        eof: count(Ending::Eof),
        reset: count(Ending::Reset),
        answered,
        early: mine
            .iter()
            .filter_map(|h| h.lived)
            .filter(|&d| d + EARLY_SLACK < timeout)
            .count(),
        min_ms: ms(lived.first().copied()),
        p50_ms: ms(percentile(&lived, 50.0)),
        max_ms,
        max_over_timeout_ms: max_ms.map(|m| m - timeout.as_secs_f64() * 1000.0),
    }
}

/// Latency of one series of timed requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Series {
    /// `GET /health`, `POST /api/auth/token-for-endpoint`, …
    request: String,
    /// `fresh` (a new connection per request, its connect timed) or
    /// `keep-alive` (one connection, opened before timing).
    connection: &'static str,
    sent: usize,
    /// 200 answers.
    ok: usize,
    /// Other answers by docs/protocol.md §8 `error` code, `transport` for a failed
    /// connection.
    errors: BTreeMap<String, u64>,
    /// Keep-alive connections opened again after the server closed one.
    reconnects: usize,
    min_ms: Option<f64>,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
    /// Every request answered 200 under the latency target.
    under_target: bool,
}

fn series(
    request: String,
    connection: &'static str,
    mut timed: Samples,
    target: Duration,
) -> Series {
    timed.latencies_us.sort_unstable();
    let l = &timed.latencies_us;
    let ms = |us: Option<u64>| us.map(|us| us as f64 / 1000.0);
    let max_ms = ms(l.last().copied());
    let errors: u64 = timed.errors.values().sum();
    Series {
        request,
        connection,
        sent: timed.sent,
        ok: timed.ok,
        reconnects: timed.reconnects,
        min_ms: ms(l.first().copied()),
        p50_ms: ms(percentile(l, 50.0)),
        p99_ms: ms(percentile(l, 99.0)),
        under_target: errors == 0
            && timed.ok == timed.sent
            && max_ms.is_some_and(|m| m < target.as_secs_f64() * 1000.0),
        max_ms,
        errors: timed.errors,
    }
}

/// What one series measured.
#[derive(Debug, Default)]
struct Samples {
    sent: usize,
    ok: usize,
    errors: BTreeMap<String, u64>,
    reconnects: usize,
    latencies_us: Vec<u64>,
}

/// The server's resident memory at the steps of the run, MiB.
#[derive(Debug, Clone, Serialize)]
struct Memory {
    /// After the warm-up requests, before any held connection.
    before_mib: Option<f64>,
    /// Once every held connection is open.
    open_mib: Option<f64>,
    /// Largest `VmRSS` sampled every 100 ms while connections were held.
    during_max_mib: Option<f64>,
    /// Half a second after the last held connection closed.
    after_mib: Option<f64>,
    /// `VmHWM` (peak since start) at the end.
    peak_mib: Option<f64>,
}

/// Opening the held connections.
#[derive(Debug, Clone, Serialize)]
struct Opened {
    idle: usize,
    slowloris: usize,
    /// Connects that failed, by error.
    failures: BTreeMap<String, usize>,
    /// From the first connect to the last slowloris's first byte.
    seconds: f64,
    /// The longest connect, ms (an idle connection's close time includes
    /// its connect).
    slowest_connect_ms: f64,
    /// Connects that took over a second: a SYN retransmitted, the server's
    /// accept queue (1024) having been full.
    connects_over_1s: usize,
}

/// The timed requests.
#[derive(Debug, Clone, Serialize)]
struct Timed {
    /// From the first timed request to the last answer.
    seconds: f64,
    /// Fewest held connections open when a timed request was sent.
    idle_open_min: usize,
    slowloris_open_min: usize,
    latency_target_ms: u64,
    series: Vec<Series>,
    /// Every series under the target.
    all_under_target: bool,
}

#[derive(Serialize)]
struct Settings {
    idle: usize,
    slowloris: usize,
    requests: usize,
    interval_ms: u64,
    header_read_timeout_ms: u64,
    keep_alive_timeout_ms: u64,
    trickle_ms: u64,
    grace_ms: u64,
    /// This process's open-files limit after raising it.
    file_limit: Option<u64>,
}

#[derive(Serialize)]
struct ConnectionsReport {
    machine: Machine,
    target: ConnectionsTarget,
    server: String,
    server_pid: Option<u32>,
    /// The issuer beside the resource server (not loaded).
    issuer: Option<String>,
    server_cpus: Option<String>,
    load_cpus: Option<String>,
    settings: Settings,
    opened: Opened,
    timed: Timed,
    slowloris: Closes,
    idle: Closes,
    memory: Memory,
    /// `GET /health` once everything was closed: status and ms.
    health_after: Option<(u16, f64)>,
    loadavg_after: Option<[f64; 3]>,
}

/// The requests the run sends, besides `/health`.
struct TokenRequests {
    method: Method,
    path: &'static str,
    /// Bodies (sigil serve) or `Authorization` values (resource server);
    /// one per request, none sent twice.
    items: Bodies,
    carry_in_body: bool,
}

impl TokenRequests {
    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn request(&self, host: &str, index: usize) -> anyhow::Result<Request<Full<Bytes>>> {
        let item = self
            .items
            .get(index)
            .context("ran out of prepared token requests")?;
        let builder = Request::builder()
            .method(self.method.clone())
            .uri(self.path)
            .header(HOST, host);
        Ok(if self.carry_in_body {
            builder
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(item))?
        } else {
            builder
                .header(AUTHORIZATION, item.as_ref())
                .body(Full::new(Bytes::new()))?
        })
    }
}

fn health_request(host: &str) -> anyhow::Result<Request<Full<Bytes>>> {
    Ok(Request::builder()
        .method(Method::GET)
        .uri(paths::HEALTH)
        .header(HOST, host)
        .body(Full::new(Bytes::new()))?)
}

/// Raises this process's open-files soft limit to the hard limit; the soft
/// limit after.
fn raise_file_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(hard)) = (limit.current, limit.maximum)
        && current < hard
    {
        let raised = Rlimit {
            current: Some(hard),
            maximum: Some(hard),
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return Some(hard);
        }
    }
    limit.current
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn rss_mib(pid: Option<u32>) -> Option<f64> {
    pid.and_then(procfs::process_memory_kib)
        .map(|(rss, _)| mib(rss))
}

/// Runs `sigil-bench connections`.
///
/// # Errors
/// Bad arguments, a file limit too low for the connections asked for, a
/// server that cannot be started or stops during the run, or an issuer
/// that refuses to issue the resource server's tokens.
pub(crate) fn run(args: &ConnectionsArgs) -> anyhow::Result<()> {
    ensure!(args.requests > 0, "--requests must be positive");
    ensure!(
        args.header_read_timeout_ms > 0 && args.keep_alive_timeout_ms > 0,
        "the timeouts must be positive"
    );
    ensure!(args.trickle_ms > 0, "--trickle-ms must be positive");
    let server_cpus = args.pin.pin.then(|| args.pin.server_cpus.clone());
    let load_cpus = args.pin.pin.then(|| args.pin.load_cpus.clone());
    for list in server_cpus.iter().chain(load_cpus.iter()) {
        pin::parse_cpu_list(list)?;
    }
    let file_limit = raise_file_limit();
    let held = (args.idle + args.slowloris) as u64;
    if let Some(limit) = file_limit {
        ensure!(
            held + RESERVED_FILES <= limit,
            "{held} held connections need {} open files; this process may open {limit} (raise the hard limit: ulimit -Hn)",
            held + RESERVED_FILES
        );
    }
    let machine = Machine::announce(args.json);
    let header_timeout = Duration::from_millis(args.header_read_timeout_ms);
    let keep_alive = Duration::from_millis(args.keep_alive_timeout_ms);
    let (mut server, issuer, tokens) =
        start(args, server_cpus.clone(), load_cpus.clone(), machine.cpus)?;
    let pid = server.pid();
    let addr = server.addr();
    let host = server.host().to_owned();
    if !args.json {
        println!(
            "{} http://{host} pid {} | header read timeout {} ms, keep-alive timeout {} ms | server CPUs {} | load CPUs {} | file limit here {}",
            args.target.as_str(),
            pid.map_or_else(|| "?".into(), |p| p.to_string()),
            args.header_read_timeout_ms,
            args.keep_alive_timeout_ms,
            server_cpus.as_deref().unwrap_or("any (unpinned)"),
            load_cpus.as_deref().unwrap_or("any (unpinned)"),
            file_limit.map_or_else(|| "?".into(), |l| l.to_string()),
        );
    }

    // Warm-up: the first /health and the first token request, not timed,
    // on their own connection.
    let tokens = Arc::new(tokens);
    let warm = {
        let (tokens, host) = (Arc::clone(&tokens), host.clone());
        on_thread(load_cpus.clone(), "sigil-bench-warm", move || {
            current_thread()?.block_on(async {
                let mut sender = load::connect(addr).await?;
                let health = load::send(&mut sender, health_request(&host)?).await?;
                let token = load::send(&mut sender, tokens.request(&host, 0)?).await?;
                anyhow::Ok((health.0, token))
            })
        })?
    };
    if warm.0 != 200 || warm.1.0 != 200 {
        bail!(
            "the warm-up was refused: /health {}, {} {} {}",
            warm.0,
            tokens.label(),
            warm.1.0,
            error_code(warm.1.0, &warm.1.1)
        );
    }
    let before_mib = rss_mib(pid);

    // The held connections.
    let open_idle = Arc::new(AtomicUsize::new(0));
    let open_slow = Arc::new(AtomicUsize::new(0));
    let (opened_tx, opened_rx) = mpsc::channel();
    let plan = HoldPlan {
        addr,
        host: host.clone(),
        idle: args.idle,
        slowloris: args.slowloris,
        trickle: Duration::from_millis(args.trickle_ms),
        header_timeout,
        keep_alive,
        grace: Duration::from_millis(args.grace_ms),
        open_idle: Arc::clone(&open_idle),
        open_slow: Arc::clone(&open_slow),
    };
    eprintln!(
        "opening {} idle and {} slowloris connections (load average {})…",
        args.idle,
        args.slowloris,
        procfs::loadavg().map_or_else(|| "?".into(), |l| format!("{:.2}", l[0]))
    );
    let holder = {
        let cpus = load_cpus.clone();
        thread::Builder::new()
            .name("sigil-bench-hold".into())
            .spawn(move || -> anyhow::Result<Vec<Held>> {
                if let Some(list) = &cpus {
                    pin::pin_current_thread(list)?;
                }
                current_thread()?.block_on(hold_all(plan, opened_tx))
            })?
    };
    let Ok(opened) = opened_rx.recv() else {
        return match holder.join() {
            Ok(Err(e)) => Err(e.context("opening the held connections")),
            Ok(Ok(_)) => bail!("the connection holder stopped before opening"),
            Err(_) => bail!("the connection holder panicked"),
        };
    };
    let open_mib = rss_mib(pid);
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = Arc::clone(&sampling);
        thread::spawn(move || {
            let mut max: Option<u64> = None;
            while sampling.load(Ordering::Relaxed) {
                if let Some((rss, _)) = pid.and_then(procfs::process_memory_kib) {
                    max = Some(max.map_or(rss, |m| m.max(rss)));
                }
                thread::sleep(RSS_EVERY);
            }
            max
        })
    };

    eprintln!(
        "{} idle and {} slowloris open in {:.2} s; timing {} requests of each kind…",
        opened.idle, opened.slowloris, opened.seconds, args.requests
    );
    let timed = {
        let (tokens, host) = (Arc::clone(&tokens), host.clone());
        let (open_idle, open_slow) = (Arc::clone(&open_idle), Arc::clone(&open_slow));
        let (k, target) = (args.requests, Duration::from_millis(args.latency_target_ms));
        let interval = Duration::from_millis(args.interval_ms);
        on_thread(load_cpus.clone(), "sigil-bench-timed", move || {
            current_thread()?.block_on(time_requests(TimedPlan {
                addr,
                host,
                tokens,
                requests: k,
                interval,
                target,
                open_idle,
                open_slow,
            }))
        })?
    };
    let held = holder
        .join()
        .map_err(|_| anyhow::anyhow!("the connection holder panicked"))??;
    sampling.store(false, Ordering::Relaxed);
    let during_max = sampler.join().ok().flatten();
    if !server.is_running() {
        bail!(
            "the server stopped during the run; its log:\n{}",
            server.log_tail()
        );
    }
    thread::sleep(SETTLE);
    let after = pid.and_then(procfs::process_memory_kib);
    let health_after = {
        let host = host.clone();
        on_thread(load_cpus.clone(), "sigil-bench-after", move || {
            current_thread()?.block_on(async {
                let started = Instant::now();
                let mut sender = load::connect(addr).await?;
                let (status, _) = load::send(&mut sender, health_request(&host)?).await?;
                anyhow::Ok((status, started.elapsed().as_secs_f64() * 1000.0))
            })
        })
        .ok()
    };
    let report = ConnectionsReport {
        target: args.target,
        server: format!("http://{host}"),
        server_pid: pid,
        issuer: issuer.as_ref().map(|i| i.issuer().to_owned()),
        server_cpus,
        load_cpus,
        settings: Settings {
            idle: args.idle,
            slowloris: args.slowloris,
            requests: args.requests,
            interval_ms: args.interval_ms,
            header_read_timeout_ms: args.header_read_timeout_ms,
            keep_alive_timeout_ms: args.keep_alive_timeout_ms,
            trickle_ms: args.trickle_ms,
            grace_ms: args.grace_ms,
            file_limit,
        },
        opened,
        timed,
        slowloris: closes(&held, Kind::Slowloris, header_timeout),
        idle: closes(&held, Kind::Idle, keep_alive),
        memory: Memory {
            before_mib,
            open_mib,
            during_max_mib: during_max.map(mib),
            after_mib: after.map(|(rss, _)| mib(rss)),
            peak_mib: after.map(|(_, hwm)| mib(hwm)),
        },
        health_after,
        loadavg_after: procfs::loadavg(),
        machine,
    };
    server.stop();
    if let Some(mut issuer) = issuer {
        issuer.stop();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report));
    }
    Ok(())
}

/// Starts the server under test (and the issuer beside a resource server)
/// and prepares `2 × --requests + 1` token requests (the first for the
/// warm-up): signed bodies for `sigil serve`, bearer tokens from the issuer
/// for the resource server.
fn start(
    args: &ConnectionsArgs,
    server_cpus: Option<String>,
    load_cpus: Option<String>,
    signing_threads: usize,
) -> anyhow::Result<(Server, Option<Server>, TokenRequests)> {
    let bin = args
        .server_bin
        .clone()
        .unwrap_or_else(server::default_server_bin);
    let count = 2 * args.requests + 1;
    let prefix = format!("{ENDPOINT_HOST}/{}", tag()?);
    Ok(match args.target {
        ConnectionsTarget::Sigil => {
            let server = Server::spawn(&SpawnOptions {
                bin,
                store: None,
                redis: None,
                issuer: None,
                cpus: server_cpus,
                log_level: None,
                log: None,
                env: vec![
                    (
                        "SIGIL_HEADER_READ_TIMEOUT_MS".into(),
                        args.header_read_timeout_ms.to_string(),
                    ),
                    (
                        "SIGIL_KEEP_ALIVE_TIMEOUT_MS".into(),
                        args.keep_alive_timeout_ms.to_string(),
                    ),
                ],
            })?;
            let spec = RequestSpec {
                scheme: SchemeArg::Bsm,
                form: FormArg::Compat,
                issuer: server.issuer().to_owned(),
                endpoint_prefix: prefix,
                timestamp_ms: now_ms(),
                spacing_ns: 0,
            };
            let keys = requests::random_keys(count.min(100))?;
            let items = requests::generate(&spec, &keys, count, signing_threads)?;
            let tokens = TokenRequests {
                method: Method::POST,
                path: paths::TOKEN_FOR_ENDPOINT,
                items,
                carry_in_body: true,
            };
            (server, None, tokens)
        }
        ConnectionsTarget::ResourceServer => {
            let issuer = Server::spawn(&SpawnOptions {
                bin,
                store: None,
                redis: None,
                issuer: None,
                cpus: load_cpus,
                log_level: None,
                log: None,
                env: Vec::new(),
            })?;
            let spec = RequestSpec {
                scheme: SchemeArg::Bsm,
                form: FormArg::Compat,
                issuer: issuer.issuer().to_owned(),
                endpoint_prefix: prefix,
                timestamp_ms: now_ms(),
                spacing_ns: 0,
            };
            let keys = requests::random_keys(count.min(100))?;
            let bodies = requests::generate(&spec, &keys, count, signing_threads)?;
            let fetched = issuer::fetch_tokens(issuer.addr(), issuer.host(), Arc::new(bodies), 4)?;
            let server = Server::spawn_resource_server(&ResourceServerOptions {
                bin: args
                    .resource_server_bin
                    .clone()
                    .unwrap_or_else(|| server::sibling_bin("resource-server")),
                issuer: issuer.issuer().to_owned(),
                audience: ENDPOINT_HOST.to_owned(),
                cpus: server_cpus,
                extra_args: vec![
                    "--header-read-timeout-ms".into(),
                    args.header_read_timeout_ms.to_string(),
                    "--keep-alive-timeout-ms".into(),
                    args.keep_alive_timeout_ms.to_string(),
                ],
            })?;
            let tokens = TokenRequests {
                method: Method::GET,
                path: PROTECTED_PATH,
                items: Bodies::from_items(fetched.iter().map(|t| format!("Bearer {t}"))),
                carry_in_body: false,
            };
            (server, Some(issuer), tokens)
        }
    })
}

fn current_thread() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Runs `f` on a named thread of its own, pinned to `cpus` when given.
fn on_thread<T: Send + 'static>(
    cpus: Option<String>,
    name: &str,
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            if let Some(list) = &cpus {
                pin::pin_current_thread(list)?;
            }
            f()
        })?
        .join()
        .map_err(|_| anyhow::anyhow!("a thread of this program panicked"))?
}

/// The held connections.
struct HoldPlan {
    addr: SocketAddr,
    host: String,
    idle: usize,
    slowloris: usize,
    trickle: Duration,
    header_timeout: Duration,
    keep_alive: Duration,
    grace: Duration,
    open_idle: Arc<AtomicUsize>,
    open_slow: Arc<AtomicUsize>,
}

/// Opens the idle connections, then the slowloris ones; says so on
/// `opened`; waits until the server has closed them all or the grace
/// after the last one's timeout has run out (then closes the rest).
async fn hold_all(plan: HoldPlan, opened: mpsc::Sender<Opened>) -> anyhow::Result<Vec<Held>> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut holding = JoinSet::new();
    let mut failures = BTreeMap::new();
    let started = Instant::now();
    let head = format!("GET {} HTTP/1.1\r\nHost: {}\r\n", paths::HEALTH, plan.host);
    let head = Bytes::from(head);
    let mut last = [Instant::now(); 2];
    let (mut slowest, mut over_1s) = (Duration::ZERO, 0);
    for (kind, wanted) in [(Kind::Idle, plan.idle), (Kind::Slowloris, plan.slowloris)] {
        let mut left = wanted;
        while left > 0 {
            let batch = left.min(CONNECT_BATCH);
            left -= batch;
            let mut connecting = JoinSet::new();
            for _ in 0..batch {
                let head = (kind == Kind::Slowloris).then(|| head.clone());
                connecting.spawn(open_one(plan.addr, head));
            }
            while let Some(joined) = connecting.join_next().await {
                match joined.context("a connect task failed")? {
                    Ok((stream, since, connect)) => {
                        slowest = slowest.max(connect);
                        over_1s += usize::from(connect > Duration::from_secs(1));
                        let open = match kind {
                            Kind::Idle => Arc::clone(&plan.open_idle),
                            Kind::Slowloris => Arc::clone(&plan.open_slow),
                        };
                        open.fetch_add(1, Ordering::Relaxed);
                        last[usize::from(kind == Kind::Slowloris)] = since;
                        holding.spawn(hold(
                            stream,
                            kind,
                            since,
                            plan.trickle,
                            stop_rx.clone(),
                            open,
                        ));
                    }
                    Err(error) => *failures.entry(error).or_default() += 1,
                }
            }
        }
    }
    let _ = opened.send(Opened {
        idle: plan.open_idle.load(Ordering::Relaxed),
        slowloris: plan.open_slow.load(Ordering::Relaxed),
        failures,
        seconds: started.elapsed().as_secs_f64(),
        slowest_connect_ms: slowest.as_secs_f64() * 1000.0,
        connects_over_1s: over_1s,
    });
    let deadline = (last[0] + plan.keep_alive).max(last[1] + plan.header_timeout) + plan.grace;
    let mut held = Vec::with_capacity(plan.idle + plan.slowloris);
    let expiry = tokio::time::sleep_until(deadline.into());
    tokio::pin!(expiry);
    let mut stopped = false;
    loop {
        tokio::select! {
            joined = holding.join_next() => match joined {
                Some(joined) => held.push(joined.context("a held connection's task failed")?),
                None => break,
            },
            () = &mut expiry, if !stopped => {
                stopped = true;
                let _ = stop_tx.send(true);
            }
        }
    }
    Ok(held)
}

/// Connects (and for a slowloris connection writes `head`). Returns the
/// stream, the instant its server-side clock cannot have started before,
/// and how long the connect took. That instant is just before connecting
/// (idle: the server counts from its accept), or just before the first
/// write (slowloris: the server counts from the first byte it reads), so
/// close times measured from it are never shorter than the server's own,
/// and longer only by the connect (a retransmitted SYN: a second) or the
/// write. The instant after the connect would not do: this task may be
/// polled after the server has accepted.
async fn open_one(
    addr: SocketAddr,
    head: Option<Bytes>,
) -> Result<(TcpStream, Instant, Duration), String> {
    let mut since = Instant::now();
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {}", e.kind()))?;
    let connect = since.elapsed();
    let _ = stream.set_nodelay(true);
    if let Some(head) = head {
        since = Instant::now();
        stream
            .write_all(&head)
            .await
            .map_err(|e| format!("first write: {}", e.kind()))?;
    }
    Ok((stream, since, connect))
}

/// Holds one connection until the server closes it or `stop` says so; a
/// slowloris one writes a header byte every `trickle`.
async fn hold(
    stream: TcpStream,
    kind: Kind,
    since: Instant,
    trickle: Duration,
    mut stop: watch::Receiver<bool>,
    open: Arc<AtomicUsize>,
) -> Held {
    let (mut reader, mut writer) = stream.into_split();
    let mut buf = [0u8; 1024];
    let mut answer = Vec::new();
    let mut ticks = tokio::time::interval_at((since + trickle).into(), trickle);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut written = 0usize;
    let ending = loop {
        tokio::select! {
            read = reader.read(&mut buf) => match read {
                Ok(0) => break Ending::Eof,
                Ok(n) => {
                    if answer.len() < 64 {
                        answer.extend_from_slice(&buf[..n]);
                    }
                }
                Err(_) => break Ending::Reset,
            },
            _ = ticks.tick(), if kind == Kind::Slowloris => {
                let byte = TRICKLE.get(written).copied().unwrap_or(b'a');
                if writer.write_all(&[byte]).await.is_err() {
                    break Ending::Reset;
                }
                written += 1;
            }
            _ = stop.changed() => break Ending::StillOpen,
        }
    };
    let lived = (ending != Ending::StillOpen).then(|| since.elapsed());
    open.fetch_sub(1, Ordering::Relaxed);
    Held {
        kind,
        lived,
        ending,
        answered: status_of(&answer),
    }
}

/// The status of an HTTP/1.x answer's first line.
fn status_of(answer: &[u8]) -> Option<u16> {
    let rest = answer
        .strip_prefix(b"HTTP/1.1 ")
        .or_else(|| answer.strip_prefix(b"HTTP/1.0 "))?;
    std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()
}

/// The timed requests.
struct TimedPlan {
    addr: SocketAddr,
    host: String,
    tokens: Arc<TokenRequests>,
    requests: usize,
    interval: Duration,
    target: Duration,
    open_idle: Arc<AtomicUsize>,
    open_slow: Arc<AtomicUsize>,
}

/// A keep-alive connection that is opened again (untimed) when the server
/// closes it.
struct KeepAlive {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl KeepAlive {
    async fn sender(
        &mut self,
        samples: &mut Samples,
    ) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            if self.sender.is_some() {
                samples.reconnects += 1;
            }
            self.sender = Some(load::connect(self.addr).await?);
        }
        self.sender.as_mut().context("no keep-alive connection")
    }
}

/// One timed request: on a fresh connection (connect timed) or on `kept`.
async fn timed_one(
    addr: SocketAddr,
    kept: Option<&mut KeepAlive>,
    request: Request<Full<Bytes>>,
    samples: &mut Samples,
) {
    samples.sent += 1;
    let (answer, took) = match kept {
        Some(kept) => match kept.sender(samples).await {
            Ok(sender) => {
                let started = Instant::now();
                let answer = load::send(sender, request).await;
                (answer, started.elapsed())
            }
            Err(e) => (Err(e), Duration::ZERO),
        },
        None => {
            let started = Instant::now();
            let answer = match load::connect(addr).await {
                Ok(mut sender) => load::send(&mut sender, request).await,
                Err(e) => Err(e),
            };
            (answer, started.elapsed())
        }
    };
    match answer {
        Ok((status, body)) => {
            samples
                .latencies_us
                .push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
            if status == 200 {
                samples.ok += 1;
            } else {
                *samples.errors.entry(error_code(status, &body)).or_default() += 1;
            }
        }
        Err(_) => *samples.errors.entry("transport".into()).or_default() += 1,
    }
}

/// `requests` rounds, `interval` apart, of: `/health` fresh, `/health`
/// kept, token fresh, token kept.
async fn time_requests(plan: TimedPlan) -> anyhow::Result<Timed> {
    let mut samples: [Samples; 4] = Default::default();
    let mut kept_health = KeepAlive {
        addr: plan.addr,
        sender: Some(load::connect(plan.addr).await?),
    };
    let mut kept_token = KeepAlive {
        addr: plan.addr,
        sender: Some(load::connect(plan.addr).await?),
    };
    let mins = [AtomicU64::new(u64::MAX), AtomicU64::new(u64::MAX)];
    let note_open = || {
        for (min, open) in mins.iter().zip([&plan.open_idle, &plan.open_slow]) {
            min.fetch_min(open.load(Ordering::Relaxed) as u64, Ordering::Relaxed);
        }
    };
    let started = Instant::now();
    // Token item 0 was the warm-up.
    let mut next_token = 1;
    for round in 0..plan.requests {
        if round > 0 && !plan.interval.is_zero() {
            tokio::time::sleep(plan.interval).await;
        }
        let [health_fresh, health_kept, token_fresh, token_kept] = &mut samples;
        note_open();
        timed_one(plan.addr, None, health_request(&plan.host)?, health_fresh).await;
        note_open();
        let request = health_request(&plan.host)?;
        timed_one(plan.addr, Some(&mut kept_health), request, health_kept).await;
        note_open();
        let request = plan.tokens.request(&plan.host, next_token)?;
        next_token += 1;
        timed_one(plan.addr, None, request, token_fresh).await;
        note_open();
        let request = plan.tokens.request(&plan.host, next_token)?;
        next_token += 1;
        timed_one(plan.addr, Some(&mut kept_token), request, token_kept).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let [health_fresh, health_kept, token_fresh, token_kept] = samples;
    let health = format!("GET {}", paths::HEALTH);
    let series = vec![
        series(health.clone(), "fresh", health_fresh, plan.target),
        series(health, "keep-alive", health_kept, plan.target),
        series(plan.tokens.label(), "fresh", token_fresh, plan.target),
        series(plan.tokens.label(), "keep-alive", token_kept, plan.target),
    ];
    let min = |i: usize| usize::try_from(mins[i].load(Ordering::Relaxed)).unwrap_or(0);
    Ok(Timed {
        seconds,
        idle_open_min: min(0),
        slowloris_open_min: min(1),
        latency_target_ms: u64::try_from(plan.target.as_millis()).unwrap_or(u64::MAX),
        all_under_target: series.iter().all(|s| s.under_target),
        series,
    })
}

/// The report as tables.
fn text(r: &ConnectionsReport) -> String {
    let mut out = String::new();
    let failures = if r.opened.failures.is_empty() {
        "none failed".to_owned()
    } else {
        r.opened
            .failures
            .iter()
            .map(|(e, n)| format!("{e}: {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        out,
        "opened {} idle + {} slowloris connections in {:.2} s ({failures}; slowest connect {:.1} ms, {} over 1 s)",
        r.opened.idle,
        r.opened.slowloris,
        r.opened.seconds,
        r.opened.slowest_connect_ms,
        r.opened.connects_over_1s
    );
    let t = &r.timed;
    let _ = writeln!(
        out,
        "timed requests while they were open ({} each, ms; target < {} ms) over {:.2} s, with at least {} idle and {} slowloris still open:",
        r.settings.requests, t.latency_target_ms, t.seconds, t.idle_open_min, t.slowloris_open_min
    );
    let _ = writeln!(
        out,
        "  {:<38} {:<10} {:>4} {:>4} {:>7} {:>7} {:>7} {:>7} {:>6}  errors",
        "request", "connection", "sent", "ok", "min", "p50", "p99", "max", "target"
    );
    for s in &t.series {
        let reconnects = if s.reconnects > 0 {
            format!(" ({} reconnects)", s.reconnects)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {:<38} {:<10} {:>4} {:>4} {:>7} {:>7} {:>7} {:>7} {:>6}  {}{reconnects}",
            s.request,
            s.connection,
            s.sent,
            s.ok,
            opt(s.min_ms, 2),
            opt(s.p50_ms, 2),
            opt(s.p99_ms, 2),
            opt(s.max_ms, 2),
            if s.under_target { "met" } else { "NOT met" },
            errors_text(&s.errors),
        );
    }
    let _ = writeln!(
        out,
        "closed by the server (ms from the first byte written, or from the connect started when idle; still open: {} ms past the timeout):",
        r.settings.grace_ms
    );
    let _ = writeln!(
        out,
        "  {:<9} {:>7} {:>6} {:>6} {:>6} {:>5} {:>8} {:>8} {:>8} {:>7}  how",
        "kind", "timeout", "opened", "closed", "open", "early", "min", "p50", "max", "over"
    );
    for c in [&r.slowloris, &r.idle] {
        let mut how = format!("eof={} reset={}", c.eof, c.reset);
        for (status, n) in &c.answered {
            let _ = write!(how, " answered {status}: {n}");
        }
        let _ = writeln!(
            out,
            "  {:<9} {:>7} {:>6} {:>6} {:>6} {:>5} {:>8} {:>8} {:>8} {:>7}  {how}",
            match c.kind {
                Kind::Idle => "idle",
                Kind::Slowloris => "slowloris",
            },
            c.timeout_ms,
            c.opened,
            c.closed,
            c.still_open,
            c.early,
            opt(c.min_ms, 1),
            opt(c.p50_ms, 1),
            opt(c.max_ms, 1),
            c.max_over_timeout_ms
                .map_or_else(|| "-".into(), |o| format!("{o:+.1}")),
        );
    }
    let m = &r.memory;
    let _ = writeln!(
        out,
        "server RSS, MiB: before {} | all open {} | largest while open {} | after closed {} | peak {}",
        opt(m.before_mib, 1),
        opt(m.open_mib, 1),
        opt(m.during_max_mib, 1),
        opt(m.after_mib, 1),
        opt(m.peak_mib, 1),
    );
    let _ = writeln!(
        out,
        "GET /health afterwards: {} | load average at the end {}",
        r.health_after.map_or_else(
            || "no answer".into(),
            |(status, ms)| format!("{status} in {ms:.2} ms")
        ),
        r.loadavg_after
            .map_or_else(|| "?".into(), |[a, b, c]| format!("{a:.2} {b:.2} {c:.2}")),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(kind: Kind, ms: Option<u64>, ending: Ending, answered: Option<u16>) -> Held {
        Held {
            kind,
            lived: ms.map(Duration::from_millis),
            ending,
            answered,
        }
    }

    #[test]
    fn close_figures_per_kind() {
        let all = [
            held(Kind::Slowloris, Some(2003), Ending::Eof, None),
            held(Kind::Slowloris, Some(2001), Ending::Reset, None),
            held(Kind::Slowloris, Some(2010), Ending::Eof, None),
            held(Kind::Slowloris, None, Ending::StillOpen, None),
            held(Kind::Idle, Some(40), Ending::Eof, Some(503)),
            held(Kind::Idle, Some(5002), Ending::Eof, None),
        ];
        let slow = closes(&all, Kind::Slowloris, Duration::from_secs(2));
        assert_eq!(
            (slow.opened, slow.closed, slow.still_open),
            (4, 3, 1),
            "{slow:?}"
        );
        assert_eq!((slow.eof, slow.reset, slow.early), (2, 1, 0));
        assert_eq!(slow.min_ms, Some(2001.0));
        assert_eq!(slow.p50_ms, Some(2003.0));
        assert_eq!(slow.max_ms, Some(2010.0));
        assert_eq!(slow.max_over_timeout_ms, Some(10.0));
        assert!(slow.answered.is_empty());
        let idle = closes(&all, Kind::Idle, Duration::from_secs(5));
        assert_eq!((idle.opened, idle.closed, idle.early), (2, 2, 1));
        assert_eq!(idle.answered.get("503"), Some(&1));
        let none = closes(&[], Kind::Idle, Duration::from_secs(5));
        assert_eq!(
            (none.opened, none.max_ms, none.max_over_timeout_ms),
            (0, None, None)
        );
    }

    #[test]
    fn series_figures_and_the_target() {
        let samples = |latencies_us: Vec<u64>, errors: &[(&str, u64)]| Samples {
            sent: latencies_us.len() + errors.iter().map(|e| e.1 as usize).sum::<usize>(),
            ok: latencies_us.len(),
            errors: errors.iter().map(|(c, n)| ((*c).to_owned(), *n)).collect(),
            reconnects: 0,
            latencies_us,
        };
        let target = Duration::from_millis(100);
        let fast = series(
            "GET /health".into(),
            "fresh",
            samples(vec![900, 300, 500], &[]),
            target,
        );
        assert_eq!(fast.min_ms, Some(0.3));
        assert_eq!(fast.p50_ms, Some(0.5));
        assert_eq!(fast.p99_ms, Some(0.9));
        assert_eq!(fast.max_ms, Some(0.9));
        assert!(fast.under_target);
        let slow = series("x".into(), "fresh", samples(vec![100_000], &[]), target);
        assert!(!slow.under_target, "100 ms is not under 100 ms");
        let refused = series(
            "x".into(),
            "fresh",
            samples(vec![1], &[("transport", 1)]),
            target,
        );
        assert!(!refused.under_target);
        let empty = series("x".into(), "fresh", samples(vec![], &[]), target);
        assert_eq!((empty.min_ms, empty.under_target), (None, false));
    }

    #[test]
    fn answer_statuses() {
        assert_eq!(
            status_of(b"HTTP/1.1 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(status_of(b"HTTP/1.0 408 "), Some(408));
        assert_eq!(status_of(b"HTTP/1.1 5"), None);
        assert_eq!(status_of(b""), None);
    }
}
