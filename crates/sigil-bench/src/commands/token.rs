//! `sigil-bench token`: ceilings, then one load phase per scheme, form and
//! concurrency against one server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use hyper::Method;
use serde::Serialize;
use sigil_core::PrivateKey;
use sigil_core::api::paths;

use crate::ceiling::{Ceiling, ENDPOINT_HOST, now_ms};
use crate::cli::TokenArgs;
use crate::commands::ceiling::measure_all;
use crate::load::{self, Carry, LoadOutcome, LoadPlan, Target};
use crate::pin;
use crate::procfs;
use crate::report::{self, Machine, Phase};
use crate::requests::{self, FormArg, RequestSpec, SchemeArg};
use crate::server::{self, Server, SpawnOptions};
use crate::stats::Latency;

/// A prepared request must still be inside the server's window (300 s old
/// at most) when it is sent; keep a margin.
const FRESH_FOR: Duration = Duration::from_secs(285);

#[derive(Serialize)]
struct ServerInfo {
    /// The first instance's URL.
    target: String,
    /// Every instance's URL.
    targets: Vec<String>,
    pid: Option<u32>,
    pids: Vec<u32>,
    store: String,
    /// The store's process names whose CPU time is reported.
    store_processes: Vec<&'static str>,
    server_cpus: Option<String>,
    load_cpus: Option<String>,
    log_level: Option<String>,
}

#[derive(Serialize)]
struct TokenReport {
    machine: Machine,
    server: ServerInfo,
    warmup_s: f64,
    duration_s: f64,
    keys: usize,
    ceilings: Vec<Ceiling>,
    /// The ceilings measured again after the load (drift check; the
    /// ratios use the ones measured before).
    ceilings_after: Vec<Ceiling>,
    phases: Vec<Phase>,
}

/// Runs `sigil-bench token`.
///
/// # Errors
/// Bad arguments, a server that cannot be started or reached, or one that
/// stops during the run.
pub(crate) fn run(args: &TokenArgs) -> anyhow::Result<()> {
    let load = &args.load;
    ensure!(load.duration > 0.0, "--duration must be positive");
    ensure!(load.warmup >= 0.0, "--warmup must not be negative");
    ensure!(
        load.warmup + load.duration < FRESH_FOR.as_secs_f64() - 30.0,
        "--warmup + --duration must stay under {} s: requests are signed beforehand and must still be fresh",
        FRESH_FOR.as_secs() - 30
    );
    ensure!(
        load.concurrency.iter().all(|&c| c > 0),
        "--concurrency must be positive"
    );
    ensure!(args.keys > 0, "--keys must be positive");
    ensure!(args.instances > 0, "--instances must be positive");
    let shared_store = args
        .server
        .store
        .as_deref()
        .is_some_and(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"));
    ensure!(
        args.instances == 1 || shared_store,
        "--instances {} needs a store they can share: --store postgres://…",
        args.instances
    );
    // With --target, --server-cpus says where that server runs: the
    // ceiling is measured there before the load starts.
    let server_cpus = args.pin.pin.then(|| args.pin.server_cpus.clone());
    let load_cpus = args.pin.pin.then(|| args.pin.load_cpus.clone());
    for list in server_cpus.iter().chain(load_cpus.iter()) {
        pin::parse_cpu_list(list)?;
    }

    let machine = Machine::announce(args.json);
    let pairs: Vec<(SchemeArg, FormArg)> = args
        .scheme
        .iter()
        .flat_map(|&s| args.form.iter().map(move |&f| (s, f)))
        .collect();
    let ceilings = measure_all(
        &pairs,
        args.batch.plan(),
        args.components,
        server_cpus.as_deref(),
    )?;
    if !args.json {
        print!("{}", report::ceilings_table(&ceilings));
    }

    let mut servers = match &args.server.target {
        Some(url) => vec![Server::target(
            url,
            args.server.server_pid,
            args.server.issuer.as_deref(),
        )?],
        None => spawn_instances(args, server_cpus.as_ref())?,
    };
    // The store's own processes, when it runs on this machine: their CPU
    // time per token is reported beside the server's.
    let mut store_processes = Vec::new();
    if shared_store {
        store_processes.push("postgres");
    }
    if args.server.redis.is_some() {
        store_processes.push("redis-server");
    }
    let server = &servers[0];
    let info = ServerInfo {
        target: format!("http://{}", server.host()),
        targets: servers
            .iter()
            .map(|s| format!("http://{}", s.host()))
            .collect(),
        pid: server.pid(),
        pids: servers.iter().filter_map(Server::pid).collect(),
        store: server.store().to_owned(),
        store_processes: store_processes.clone(),
        server_cpus: server_cpus.clone(),
        load_cpus: load_cpus.clone(),
        log_level: args.server.server_log_level.clone(),
    };
    // The server's own affinity when it can be read (a --target started
    // under taskset counts right), else what was asked for, else every CPU.
    let server_cores = server
        .pid()
        .and_then(procfs::process_cpus_allowed)
        .or_else(|| server_cpus.clone())
        .and_then(|list| pin::parse_cpu_list(&list).ok())
        .map_or(machine.cpus, |cpus| cpus.len().min(machine.cpus).max(1));
    if !args.json {
        println!(
            "server: {} pid {} store {} | server CPUs {} | load CPUs {} | ratio divides by {server_cores} core(s)",
            info.targets.join(" "),
            if info.pids.is_empty() {
                "?".into()
            } else {
                info.pids
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            },
            info.store,
            server
                .pid()
                .and_then(procfs::process_cpus_allowed)
                .or_else(|| server_cpus.clone())
                .unwrap_or_else(|| "unknown".into()),
            load_cpus.as_deref().unwrap_or("any (unpinned)"),
        );
        println!("{}", report::phases_header());
    }

    let keys = requests::random_keys(args.keys)?;
    let mut tag = [0u8; 4];
    getrandom::fill(&mut tag).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let tag = sigil_core::hash::to_hex(&tag);
    let mut phases = Vec::new();
    for (ceiling, &(scheme, form)) in ceilings.iter().zip(&pairs) {
        for &concurrency in &load.concurrency {
            let run = PhaseRun {
                args,
                ceiling,
                scheme,
                form,
                concurrency,
                server_cores,
                generator_threads: machine.cpus,
                load_cpus: load_cpus.clone(),
                endpoint_prefix: format!("{ENDPOINT_HOST}/{tag}-{}", phases.len()),
                keys: &keys,
                store_processes: &store_processes,
            };
            let phase = run.execute(&mut servers)?;
            if !args.json {
                println!("{}", report::phase_row(&phase));
            }
            phases.push(phase);
        }
    }
    for server in &mut servers {
        server.stop();
    }
    // The same ceilings again, now that the machine has worked for a while:
    // how far they moved says how much to trust the ratios.
    let ceilings_after = measure_all(&pairs, args.batch.plan(), false, server_cpus.as_deref())?;
    if !args.json {
        for (before, after) in ceilings.iter().zip(&ceilings_after) {
            println!(
                "ceiling after the load: {} {} {:.2} µs/request (before: {:.2}, {:+.1}%)",
                after.scheme.as_str(),
                after.form.as_str(),
                after.us_per_request(),
                before.us_per_request(),
                (after.us_per_request() / before.us_per_request() - 1.0) * 100.0
            );
        }
    }
    if args.json {
        let report = TokenReport {
            machine,
            server: info,
            warmup_s: load.warmup,
            duration_s: load.duration,
            keys: args.keys,
            ceilings,
            ceilings_after,
            phases,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", report::LEGEND);
    }
    Ok(())
}

/// Starts `--instances` servers on the store (and Redis), one after the
/// other, all under the first one's issuer: one service.
fn spawn_instances(args: &TokenArgs, server_cpus: Option<&String>) -> anyhow::Result<Vec<Server>> {
    let mut servers: Vec<Server> = Vec::with_capacity(args.instances);
    for _ in 0..args.instances {
        servers.push(Server::spawn(&SpawnOptions {
            bin: args
                .server
                .server_bin
                .clone()
                .unwrap_or_else(server::default_server_bin),
            store: args.server.store.clone(),
            redis: args.server.redis.clone(),
            issuer: servers.first().map(|first| first.issuer().to_owned()),
            cpus: server_cpus.cloned(),
            log_level: args.server.server_log_level.clone(),
            log: args.server.server_log.clone(),
            env: Vec::new(),
        })?);
    }
    Ok(servers)
}

/// The longest span of signed timestamps in one phase, seconds.
const MAX_TIMESTAMP_SPAN_S: f64 = 50.0;

/// Requests to prepare when --requests is not given: the most the server
/// could answer at its ceiling on its cores, plus 25 %.
pub(crate) fn auto_requests(
    per_core: f64,
    cores: usize,
    seconds: f64,
    concurrency: usize,
) -> usize {
    (per_core * cores as f64 * seconds * 1.25) as usize + 8 * concurrency + 1000
}

struct PhaseRun<'a> {
    args: &'a TokenArgs,
    ceiling: &'a Ceiling,
    scheme: SchemeArg,
    form: FormArg,
    concurrency: usize,
    server_cores: usize,
    generator_threads: usize,
    load_cpus: Option<String>,
    endpoint_prefix: String,
    keys: &'a [PrivateKey],
    store_processes: &'a [&'static str],
}

impl PhaseRun<'_> {
    fn execute(&self, servers: &mut [Server]) -> anyhow::Result<Phase> {
        let server = &servers[0];
        let load = &self.args.load;
        let loadavg_before = procfs::loadavg();
        let seconds = load.warmup + load.duration;
        let count = load.requests.unwrap_or_else(|| {
            auto_requests(
                self.ceiling.per_core(),
                self.server_cores,
                seconds,
                self.concurrency,
            )
        });
        eprintln!(
            "{} {} c={}: signing {count} requests (load average {})…",
            self.scheme.as_str(),
            self.form.as_str(),
            self.concurrency,
            loadavg_before.map_or_else(|| "?".into(), |l| format!("{:.2}", l[0]))
        );
        let made = Instant::now();
        let spec = RequestSpec {
            scheme: self.scheme,
            form: self.form,
            issuer: server.issuer().to_owned(),
            endpoint_prefix: self.endpoint_prefix.clone(),
            timestamp_ms: now_ms(),
            // As if clients signed each request just before sending it, at
            // a steady rate over the phase: the signed timestamps advance
            // through the warm-up and the measurement, spanning at most
            // 50 s so that none is ever more than the window's 60 s ahead.
            spacing_ns: (seconds.min(MAX_TIMESTAMP_SPAN_S) * 1e9 / count.max(1) as f64) as u64,
        };
        let bodies = requests::generate(&spec, self.keys, count, self.generator_threads)?;
        if made.elapsed() + Duration::from_secs_f64(seconds) > FRESH_FOR {
            bail!(
                "signing took {:?}: the requests would be stale before the phase ends; lower --requests or --duration",
                made.elapsed()
            );
        }
        eprintln!(
            "  {} bytes prepared in {:.1} s; loading for {} + {} s…",
            bodies.total_bytes(),
            made.elapsed().as_secs_f64(),
            load.warmup,
            load.duration
        );
        let plan = LoadPlan {
            targets: servers
                .iter()
                .map(|s| Target {
                    addr: s.addr(),
                    host: s.host().to_owned(),
                })
                .collect(),
            method: Method::POST,
            path: paths::TOKEN_FOR_ENDPOINT.to_owned(),
            carry: Carry::Body("application/json"),
            cycle: false,
            concurrency: self.concurrency,
            warmup: Duration::from_secs_f64(load.warmup),
            duration: Duration::from_secs_f64(load.duration),
            server_pids: servers.iter().filter_map(Server::pid).collect(),
            store_processes: self.store_processes.to_vec(),
            cpus: self.load_cpus.clone(),
        };
        let outcome = load::run(&plan, Arc::new(bodies))?;
        for server in servers.iter_mut() {
            if !server.is_running() {
                bail!(
                    "a server stopped during the run; its log:\n{}",
                    server.log_tail()
                );
            }
        }
        Ok(self.phase(outcome, count, servers.len(), loadavg_before))
    }

    fn phase(
        &self,
        mut outcome: LoadOutcome,
        prepared: usize,
        instances: usize,
        loadavg: Option<[f64; 3]>,
    ) -> Phase {
        let window_s = outcome.window.as_secs_f64();
        let answered = outcome.ok + outcome.errors.values().sum::<u64>();
        let per_request = |cpu: Option<Duration>| {
            cpu.filter(|_| answered > 0)
                .map(|c| c.as_secs_f64() * 1e6 / answered as f64)
        };
        let throughput = if window_s > 0.0 {
            outcome.ok as f64 / window_s
        } else {
            0.0
        };
        let per_core = self.ceiling.per_core();
        let server_cpu_us = per_request(outcome.server_cpu);
        Phase {
            scheme: self.scheme,
            form: self.form,
            concurrency: self.concurrency,
            instances,
            loadavg_before: loadavg,
            prepared,
            used: outcome.used,
            window_s,
            ok: outcome.ok,
            errors: std::mem::take(&mut outcome.errors),
            warmup_errors: outcome.warmup_errors,
            throughput,
            latency: Latency::from_nanos(&mut outcome.latencies_ns),
            ceiling_per_core: per_core,
            server_cores: self.server_cores,
            ratio: throughput / (per_core * self.server_cores as f64),
            server_cpu_us_per_request: server_cpu_us,
            server_cores_busy: outcome
                .server_cpu
                .filter(|_| window_s > 0.0)
                .map(|c| c.as_secs_f64() / window_s),
            cpu_efficiency: server_cpu_us.map(|us| self.ceiling.us_per_request() / us),
            load_cpu_us_per_request: per_request(outcome.load_cpu),
            store_cpu_us_per_request: per_request(outcome.store_cpu),
            server_rss_mib: outcome.server_rss_kib.map(|k| k as f64 / 1024.0),
            server_hwm_mib: outcome.server_hwm_kib.map(|k| k as f64 / 1024.0),
            exhausted: outcome.exhausted,
        }
    }
}
