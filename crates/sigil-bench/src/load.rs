//! The closed-loop load: `concurrency` tasks, each with its own keep-alive
//! HTTP/1.1 connection (hyper's client connection, no pool), each sending
//! its next request as soon as the previous answer has arrived. Requests
//! are taken in order from a shared set made beforehand: each item is a
//! request body, or the value of its `Authorization` header ([`Carry`]).
//! The set is sent once (signed token requests: a repeat is a replay), or
//! over and over ([`LoadPlan::cycle`]: bearer tokens, which may be reused).
//!
//! Time line: every connection is opened, then all tasks start together;
//! answers during the warm-up are not counted; answers that arrive within
//! the measured window are; at the end of the window the tasks stop
//! sending. The server's CPU time and this process's are read from `/proc`
//! at the window's start and end, and the server's resident memory every
//! 100 ms in between.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::pin;
use crate::procfs::{self, CpuTicks};
use crate::requests::Bodies;

/// What each item of the prepared set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Carry {
    /// The request body, sent with this `Content-Type`.
    Body(&'static str),
    /// The whole value of the `Authorization` header (`Bearer …`); no body.
    Authorization,
}

/// One server instance to send to.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Its socket.
    pub(crate) addr: SocketAddr,
    /// The `Host` header.
    pub(crate) host: String,
}

/// What to send, where, and how.
#[derive(Debug, Clone)]
pub(crate) struct LoadPlan {
    /// The server instances; connection `i` goes to `targets[i mod len]`.
    pub(crate) targets: Vec<Target>,
    /// The method of every request.
    pub(crate) method: Method,
    /// The request target of every request.
    pub(crate) path: String,
    /// What the items of the set are.
    pub(crate) carry: Carry,
    /// Send the set over and over (item `i mod len`) instead of once.
    pub(crate) cycle: bool,
    /// Connections, each with one request in flight.
    pub(crate) concurrency: usize,
    /// Answers not counted at the start.
    pub(crate) warmup: Duration,
    /// The measured window.
    pub(crate) duration: Duration,
    /// The server instances' process ids, for their CPU time and memory.
    pub(crate) server_pids: Vec<u32>,
    /// The command names of the store's processes (`postgres`,
    /// `redis-server`), listed at the window's start, for their CPU time.
    pub(crate) store_processes: Vec<&'static str>,
    /// `taskset -c` list for the load generator's threads; `None`: not pinned.
    pub(crate) cpus: Option<String>,
}

/// What a load run measured.
#[derive(Debug, Default)]
pub(crate) struct LoadOutcome {
    /// 200 answers in the window.
    pub(crate) ok: u64,
    /// Other answers in the window, by docs/protocol.md §8 `error` code (`http_<status>`
    /// when the body names none; `transport` for a broken connection).
    pub(crate) errors: BTreeMap<String, u64>,
    /// Error answers during the warm-up.
    pub(crate) warmup_errors: u64,
    /// Time from sending to the whole answer, for every answer in the window.
    pub(crate) latencies_ns: Vec<u64>,
    /// Length of the window actually measured (shorter when the requests ran out).
    pub(crate) window: Duration,
    /// Whether the prepared requests ran out.
    pub(crate) exhausted: bool,
    /// Requests taken from the set (warm-up included; with `cycle`, every
    /// request sent).
    pub(crate) used: usize,
    /// Server CPU time (user + system, every instance) in the window.
    pub(crate) server_cpu: Option<Duration>,
    /// The store processes' CPU time in the window.
    pub(crate) store_cpu: Option<Duration>,
    /// This process's CPU time in the window.
    pub(crate) load_cpu: Option<Duration>,
    /// Largest server `VmRSS` sampled in the window (summed over the
    /// instances), KiB.
    pub(crate) server_rss_kib: Option<u64>,
    /// Server `VmHWM` (peak resident since it started, summed over the
    /// instances) at the end, KiB.
    pub(crate) server_hwm_kib: Option<u64>,
}

/// Runs `plan` on a thread of its own (pinned if asked) with its own
/// runtime: one thread when pinned to one CPU, else one per CPU.
///
/// # Errors
/// When pinning fails, the connections cannot be opened, or the requests
/// run out during the warm-up.
pub(crate) fn run(plan: &LoadPlan, bodies: Arc<Bodies>) -> anyhow::Result<LoadOutcome> {
    let plan = plan.clone();
    let handle = thread::Builder::new()
        .name("sigil-bench-load".into())
        .spawn(move || -> anyhow::Result<LoadOutcome> {
            let workers = match &plan.cpus {
                Some(list) => {
                    pin::pin_current_thread(list)?;
                    pin::parse_cpu_list(list)?.len()
                }
                None => thread::available_parallelism().map_or(1, usize::from),
            };
            let runtime = if workers <= 1 {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?
            } else {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .enable_all()
                    .build()?
            };
            runtime.block_on(drive(Arc::new(plan), bodies))
        })?;
    handle
        .join()
        .map_err(|_| anyhow::anyhow!("the load thread panicked"))?
}

/// When counting starts and sending stops.
#[derive(Debug, Clone, Copy)]
struct Timeline {
    from: Instant,
    until: Instant,
}

/// One task's share.
#[derive(Debug, Default)]
struct TaskOutcome {
    ok: u64,
    errors: BTreeMap<String, u64>,
    warmup_errors: u64,
    latencies_ns: Vec<u64>,
}

/// State shared by the tasks.
struct Shared {
    plan: Arc<LoadPlan>,
    bodies: Arc<Bodies>,
    next: AtomicUsize,
    exhausted: AtomicBool,
    uri: Uri,
    /// The `Host` header of each target.
    hosts: Vec<HeaderValue>,
}

impl Shared {
    /// The item for request number `index`: `None` once a set sent only
    /// once has run out.
    fn item(&self, index: usize) -> Option<Bytes> {
        let index = if self.plan.cycle {
            index.checked_rem(self.bodies.len())?
        } else {
            index
        };
        self.bodies.get(index)
    }

    /// The request carrying `item` to target `target`.
    ///
    /// # Errors
    /// When an `Authorization` item is not a valid header value.
    fn request(&self, item: Bytes, target: usize) -> anyhow::Result<Request<Full<Bytes>>> {
        let (body, header) = match self.plan.carry {
            Carry::Body(content_type) => {
                (item, (CONTENT_TYPE, HeaderValue::from_static(content_type)))
            }
            Carry::Authorization => (
                Bytes::new(),
                (
                    AUTHORIZATION,
                    HeaderValue::from_maybe_shared(item).context("Authorization header value")?,
                ),
            ),
        };
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = self.plan.method.clone();
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        headers.insert(HOST, self.hosts[target % self.hosts.len()].clone());
        headers.insert(header.0, header.1);
        Ok(request)
    }
}

async fn drive(plan: Arc<LoadPlan>, bodies: Arc<Bodies>) -> anyhow::Result<LoadOutcome> {
    if plan.targets.is_empty() {
        bail!("no server to send to");
    }
    let hosts = plan
        .targets
        .iter()
        .map(|t| HeaderValue::from_str(&t.host).context("Host header"))
        .collect::<anyhow::Result<_>>()?;
    let shared = Arc::new(Shared {
        uri: plan.path.parse().context("request target")?,
        hosts,
        plan: plan.clone(),
        bodies,
        next: AtomicUsize::new(0),
        exhausted: AtomicBool::new(false),
    });
    if shared.bodies.is_empty() {
        bail!("no requests prepared");
    }
    if plan.carry == Carry::Authorization {
        for index in 0..shared.bodies.len() {
            if let Some(item) = shared.item(index) {
                HeaderValue::from_maybe_shared(item)
                    .with_context(|| format!("item {index} is not a header value"))?;
            }
        }
    }
    let (ready_tx, mut ready_rx) = mpsc::channel(plan.concurrency.max(1));
    let (start_tx, start_rx) = watch::channel(None::<Timeline>);
    let tasks: Vec<_> = (0..plan.concurrency)
        .map(|i| {
            let target = i % plan.targets.len();
            tokio::spawn(task(
                shared.clone(),
                target,
                ready_tx.clone(),
                start_rx.clone(),
            ))
        })
        .collect();
    drop(ready_tx);
    for _ in 0..plan.concurrency {
        match ready_rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e.context("connecting to the server")),
            None => bail!("a load task ended before connecting"),
        }
    }
    let started = Instant::now();
    let timeline = Timeline {
        from: started + plan.warmup,
        until: started + plan.warmup + plan.duration,
    };
    start_tx.send_replace(Some(timeline));
    let monitor = monitor(&shared, timeline).await;
    let mut outcome = LoadOutcome {
        used: if plan.cycle {
            shared.next.load(Ordering::Relaxed)
        } else {
            shared.next.load(Ordering::Relaxed).min(shared.bodies.len())
        },
        exhausted: shared.exhausted.load(Ordering::Relaxed),
        ..monitor
    };
    for joined in tasks {
        let part = joined.await.context("a load task failed")?;
        outcome.ok += part.ok;
        outcome.warmup_errors += part.warmup_errors;
        for (code, n) in part.errors {
            *outcome.errors.entry(code).or_default() += n;
        }
        outcome.latencies_ns.extend(part.latencies_ns);
    }
    if outcome.exhausted && outcome.window.is_zero() {
        bail!(
            "the {} prepared requests ran out during the warm-up: pass a larger --requests",
            shared.bodies.len()
        );
    }
    Ok(outcome)
}

/// CPU time so far of each of `pids` (`None` for one that cannot be read).
fn cpu_of(pids: &[u32]) -> Vec<Option<CpuTicks>> {
    pids.iter().map(|&pid| procfs::process_cpu(pid)).collect()
}

/// The CPU time `after − before` summed over the processes: `None` when
/// there are none, or (`strict`) when one could not be read at an edge;
/// otherwise the processes that ended in the window are left out.
fn cpu_between(
    after: &[Option<CpuTicks>],
    before: &[Option<CpuTicks>],
    ticks: u64,
    strict: bool,
) -> Option<Duration> {
    let pairs: Vec<_> = after.iter().zip(before).collect();
    if pairs.is_empty() || (strict && pairs.iter().any(|(a, b)| a.is_none() || b.is_none())) {
        return None;
    }
    Some(
        pairs
            .into_iter()
            .filter_map(|(a, b)| Some(a.as_ref()?.since(*b.as_ref()?, ticks)))
            .sum(),
    )
}

/// `VmRSS` and `VmHWM` summed over `pids`, KiB (`None` when one cannot be read).
fn memory_of(pids: &[u32]) -> Option<(u64, u64)> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().try_fold((0, 0), |(rss, hwm), &pid| {
        let (r, h) = procfs::process_memory_kib(pid)?;
        Some((rss + r, hwm + h))
    })
}

/// Reads CPU time at the window's edges and memory in between.
async fn monitor(shared: &Shared, timeline: Timeline) -> LoadOutcome {
    let plan = &shared.plan;
    let ticks = procfs::ticks_per_second();
    tokio::time::sleep_until(timeline.from).await;
    let store_pids = if plan.store_processes.is_empty() {
        Vec::new()
    } else {
        procfs::processes_named(&plan.store_processes)
    };
    let server_before = cpu_of(&plan.server_pids);
    let store_before = cpu_of(&store_pids);
    let own_before = [procfs::own_cpu()];
    let from = Instant::now();
    let mut rss_max: Option<u64> = None;
    let end = loop {
        if let Some((rss, _)) = memory_of(&plan.server_pids) {
            rss_max = Some(rss_max.map_or(rss, |m| m.max(rss)));
        }
        let now = Instant::now();
        if now >= timeline.until || shared.exhausted.load(Ordering::Relaxed) {
            break now;
        }
        let next = (now + Duration::from_millis(100)).min(timeline.until);
        tokio::time::sleep_until(next).await;
    };
    let server_after = cpu_of(&plan.server_pids);
    let store_after = cpu_of(&store_pids);
    let own_after = [procfs::own_cpu()];
    LoadOutcome {
        window: end.saturating_duration_since(from),
        server_cpu: cpu_between(&server_after, &server_before, ticks, true),
        store_cpu: cpu_between(&store_after, &store_before, ticks, false),
        load_cpu: cpu_between(&own_after, &own_before, ticks, true),
        server_rss_kib: rss_max,
        server_hwm_kib: memory_of(&plan.server_pids).map(|(_, hwm)| hwm),
        ..LoadOutcome::default()
    }
}

/// A keep-alive HTTP/1.1 connection to `addr` (no delay), its driver spawned.
///
/// # Errors
/// When the TCP connection or the handshake fails.
pub(crate) async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends `request` on `sender` once it is ready: status and whole body.
///
/// # Errors
/// When the connection fails before the whole answer has arrived.
pub(crate) async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<(u16, Bytes)> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// The docs/protocol.md §8 `error` code of a refusal, or `http_<status>`.
pub(crate) fn error_code(status: u16, body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("http_{status}"))
}

async fn task(
    shared: Arc<Shared>,
    target: usize,
    ready: mpsc::Sender<anyhow::Result<()>>,
    mut start: watch::Receiver<Option<Timeline>>,
) -> TaskOutcome {
    let plan = &shared.plan;
    let mut outcome = TaskOutcome::default();
    let addr = plan.targets[target].addr;
    let mut sender = match connect(addr).await {
        Ok(sender) => sender,
        Err(e) => {
            let _ = ready.send(Err(e)).await;
            return outcome;
        }
    };
    let _ = ready.send(Ok(())).await;
    drop(ready);
    let Ok(Some(timeline)) = start.wait_for(Option::is_some).await.map(|t| *t) else {
        return outcome;
    };
    let expected = plan.duration.as_secs_f64() * 30_000.0 / plan.concurrency.max(1) as f64;
    outcome.latencies_ns.reserve(expected as usize);
    while Instant::now() < timeline.until {
        let index = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some(item) = shared.item(index) else {
            shared.exhausted.store(true, Ordering::Relaxed);
            break;
        };
        // Checked before the start for header items; a body always fits.
        let Ok(request) = shared.request(item, target) else {
            *outcome.errors.entry("bad_item".into()).or_default() += 1;
            break;
        };
        let sent = Instant::now();
        let answer = send(&mut sender, request).await;
        let done = Instant::now();
        let in_window = done >= timeline.from && done < timeline.until;
        let code = match answer {
            Ok((200, _)) => None,
            Ok((status, body)) => Some(error_code(status, &body)),
            Err(_) => Some("transport".to_owned()),
        };
        if in_window && code.as_deref() != Some("transport") {
            outcome
                .latencies_ns
                .push(u64::try_from((done - sent).as_nanos()).unwrap_or(u64::MAX));
        }
        match code {
            None if in_window => outcome.ok += 1,
            None => {}
            Some(code) if in_window => *outcome.errors.entry(code).or_default() += 1,
            Some(_) if done < timeline.from => outcome.warmup_errors += 1,
            Some(_) => {}
        }
        if sender.is_closed() {
            // Reconnect; count a failure and back off if that fails too.
            loop {
                match connect(addr).await {
                    Ok(fresh) => {
                        sender = fresh;
                        break;
                    }
                    Err(_) if Instant::now() < timeline.until => {
                        *outcome.errors.entry("connect".into()).or_default() += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err(_) => return outcome,
                }
            }
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use hyper::body::Body as _;

    use super::*;

    fn shared(carry: Carry, cycle: bool, items: &[&str]) -> Shared {
        let plan = LoadPlan {
            targets: vec![
                Target {
                    addr: SocketAddr::from(([127, 0, 0, 1], 1)),
                    host: "127.0.0.1:1".into(),
                },
                Target {
                    addr: SocketAddr::from(([127, 0, 0, 1], 2)),
                    host: "127.0.0.1:2".into(),
                },
            ],
            method: Method::GET,
            path: "/api/protected".into(),
            carry,
            cycle,
            concurrency: 1,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(1),
            server_pids: Vec::new(),
            store_processes: Vec::new(),
            cpus: None,
        };
        Shared {
            uri: plan.path.parse().unwrap(),
            hosts: plan
                .targets
                .iter()
                .map(|t| HeaderValue::from_str(&t.host).unwrap())
                .collect(),
            plan: Arc::new(plan),
            bodies: Arc::new(Bodies::from_items(items)),
            next: AtomicUsize::new(0),
            exhausted: AtomicBool::new(false),
        }
    }

    #[test]
    fn a_set_is_sent_once_or_cycled() {
        let once = shared(Carry::Body("application/json"), false, &["a", "b"]);
        assert_eq!(once.item(1).as_deref(), Some(&b"b"[..]));
        assert!(once.item(2).is_none());
        let cycled = shared(Carry::Authorization, true, &["a", "b", "c"]);
        let items: Vec<Bytes> = (0..7).map(|i| cycled.item(i).unwrap()).collect();
        assert_eq!(items, ["a", "b", "c", "a", "b", "c", "a"]);
        assert!(shared(Carry::Authorization, true, &[]).item(0).is_none());
    }

    #[test]
    fn items_go_in_the_body_or_the_authorization_header() {
        let body = shared(Carry::Body("application/json"), false, &["{}"]);
        let request = body.request(body.item(0).unwrap(), 0).unwrap();
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.uri().path(), "/api/protected");
        assert_eq!(request.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(request.headers()[HOST], "127.0.0.1:1");
        assert!(!request.headers().contains_key(AUTHORIZATION));
        assert_eq!(request.body().size_hint().exact(), Some(2));

        let bearer = shared(Carry::Authorization, true, &["Bearer a.b.c", "Bearer \n"]);
        let request = bearer.request(bearer.item(0).unwrap(), 1).unwrap();
        assert_eq!(request.headers()[AUTHORIZATION], "Bearer a.b.c");
        assert_eq!(
            request.headers()[HOST],
            "127.0.0.1:2",
            "the second target's host"
        );
        assert!(!request.headers().contains_key(CONTENT_TYPE));
        assert_eq!(request.body().size_hint().exact(), Some(0));
        assert!(bearer.request(bearer.item(1).unwrap(), 0).is_err());
    }

    #[test]
    fn error_codes_come_from_the_body() {
        let body = br#"{"error":"replay_detected","error_description":"already used"}"#;
        assert_eq!(error_code(401, body), "replay_detected");
        assert_eq!(error_code(502, b"<html>bad gateway</html>"), "http_502");
        assert_eq!(error_code(500, br#"{"error":42}"#), "http_500");
    }
}
