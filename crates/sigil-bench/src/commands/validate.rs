//! `sigil-bench validate`: token validation in sigil-validator against its
//! ceiling, one ES256 verify; in process, and with `--http` through the
//! example resource server under load.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::{bail, ensure};
use hyper::Method;
use serde::Serialize;

use crate::cli::ValidateArgs;
use crate::commands::ceiling::CEILING_ISSUER;
use crate::issuer;
use crate::load::{self, Carry, LoadOutcome, LoadPlan, Target};
use crate::measure::Timing;
use crate::pin;
use crate::procfs;
use crate::report::{Machine, errors_text, opt};
use crate::requests::{self, FormArg, RequestSpec, SchemeArg};
use crate::server::{self, ResourceServerOptions, Server, SpawnOptions};
use crate::stats::Latency;
use crate::validation::{self, AUDIENCE, TokenSet, ValidationFigures};

/// Issue 6: validations per second ≥ 0.8 × the ES256-verify ceiling.
pub(crate) const TARGET_RATIO: f64 = 0.8;

/// The resource server's protected route.
const PROTECTED_PATH: &str = "/api/protected";

/// Tokens live 1800 s from when they are fetched; the load must end well
/// before.
const TOKEN_BUDGET_S: f64 = 1500.0;

/// Connections used to fetch the tokens.
const FETCH_CONNECTIONS: usize = 4;

#[derive(Serialize)]
struct HttpPhase {
    concurrency: usize,
    loadavg_before: Option<[f64; 3]>,
    /// Requests sent, warm-up included.
    sent: usize,
    window_s: f64,
    /// 200 answers in the window.
    ok: u64,
    errors: BTreeMap<String, u64>,
    warmup_errors: u64,
    /// Validations (200 answers) per second.
    throughput: f64,
    latency: Option<Latency>,
    ceiling_per_core: f64,
    server_cores: usize,
    /// Throughput ÷ (ceiling per core × server cores).
    ratio: f64,
    server_cpu_us_per_request: Option<f64>,
    server_cores_busy: Option<f64>,
    /// Ceiling µs ÷ server CPU µs per request.
    cpu_efficiency: Option<f64>,
    load_cpu_us_per_request: Option<f64>,
    server_rss_mib: Option<f64>,
    server_hwm_mib: Option<f64>,
}

#[derive(Serialize)]
struct HttpReport {
    issuer: String,
    resource_server: String,
    resource_server_pid: Option<u32>,
    server_cpus: Option<String>,
    load_cpus: Option<String>,
    tokens: usize,
    warmup_s: f64,
    duration_s: f64,
    phases: Vec<HttpPhase>,
    /// The verify ceiling measured again after the load (drift check; the
    /// ratios use the one measured before).
    verify_after: Timing,
}

#[derive(Serialize)]
struct ValidateReport {
    machine: Machine,
    pinned_to: Option<String>,
    target_ratio: f64,
    in_process: ValidationFigures,
    in_process_met: bool,
    http: Option<HttpReport>,
}

/// Runs `f` on a thread of its own, pinned to `cpus` when given.
fn on_cpus<T: Send + 'static>(
    cpus: Option<String>,
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    thread::Builder::new()
        .name("sigil-bench-validate".into())
        .spawn(move || {
            if let Some(list) = &cpus {
                pin::pin_current_thread(list)?;
            }
            f()
        })?
        .join()
        .map_err(|_| anyhow::anyhow!("the measuring thread panicked"))?
}

/// A random tag, so endpoints (and so token requests) never repeat across runs.
pub(crate) fn tag() -> anyhow::Result<String> {
    let mut tag = [0u8; 4];
    getrandom::fill(&mut tag).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(sigil_core::hash::to_hex(&tag))
}

/// Runs `sigil-bench validate`.
///
/// # Errors
/// Bad arguments, a refused token (a bug), servers that cannot be started,
/// or one that stops during the run.
pub(crate) fn run(args: &ValidateArgs) -> anyhow::Result<()> {
    ensure!(args.tokens > 0, "--tokens must be positive");
    let (server_cpus, load_cpus) = if args.http && args.pin.pin {
        (
            Some(args.pin.server_cpus.clone()),
            Some(args.pin.load_cpus.clone()),
        )
    } else {
        (None, None)
    };
    if args.http {
        check_load_args(args)?;
    }
    let cpus = args.cpus.clone().or_else(|| server_cpus.clone());
    for list in [&cpus, &server_cpus, &load_cpus].into_iter().flatten() {
        pin::parse_cpu_list(list)?;
    }

    let machine = Machine::announce(args.json);
    eprintln!(
        "issuing {} tokens and measuring in process{}…",
        args.tokens,
        cpus.as_deref()
            .map_or_else(String::new, |c| format!(" on CPU {c}"))
    );
    let (count, plan, components, prefix) =
        (args.tokens, args.batch.plan(), !args.no_components, tag()?);
    let figures = on_cpus(cpus.clone(), move || {
        let set = TokenSet::new(CEILING_ISSUER, &prefix, count)?;
        validation::measure_validation(&set, plan, components)
    })?;
    if !args.json {
        print!("{}", figures_table(&figures));
    }
    let http = if args.http {
        Some(run_http(
            args,
            &figures,
            &machine,
            server_cpus,
            load_cpus,
            cpus.clone(),
        )?)
    } else {
        None
    };
    if args.json {
        let report = ValidateReport {
            machine,
            pinned_to: cpus,
            target_ratio: TARGET_RATIO,
            in_process_met: figures.ratio >= TARGET_RATIO,
            in_process: figures,
            http,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if http.is_some() {
        println!("{LEGEND}");
    }
    Ok(())
}

fn check_load_args(args: &ValidateArgs) -> anyhow::Result<()> {
    let load = &args.load;
    ensure!(load.duration > 0.0, "--duration must be positive");
    ensure!(load.warmup >= 0.0, "--warmup must not be negative");
    ensure!(
        load.concurrency.iter().all(|&c| c > 0),
        "--concurrency must be positive"
    );
    ensure!(
        load.requests.is_none(),
        "--requests does not apply to validate: the --tokens tokens are sent over and over"
    );
    let total = (load.warmup + load.duration) * load.concurrency.len() as f64;
    ensure!(
        total < TOKEN_BUDGET_S,
        "the phases last {total} s together: the tokens (1800 s) would expire; keep it under {TOKEN_BUDGET_S} s"
    );
    Ok(())
}

/// The in-process table.
fn figures_table(f: &ValidationFigures) -> String {
    let mut out = format!(
        "in process, one thread: {} distinct tokens ({:.0} bytes on average), fixed keys and clock; median of {} calibrated batches\n",
        f.tokens, f.mean_token_bytes, f.verify.batches
    );
    let _ = writeln!(
        out,
        "  {:<52} {:>9} {:>10} {:>9} {:>7}",
        "", "µs/token", "per s/core", "wall µs", "waited"
    );
    let mut row = |name: &str, t: &Timing| {
        let _ = writeln!(
            out,
            "  {name:<52} {:>9.2} {:>10.0} {:>9.2} {:>7}",
            t.ns_per_op / 1000.0,
            t.per_second(),
            t.wall_ns_per_op / 1000.0,
            t.waited_share
                .map_or_else(|| "?".into(), |s| format!("{:.1}%", s * 100.0)),
        );
    };
    row(
        "ceiling: one ES256 verify (aws-lc-rs, key parsed once)",
        &f.verify,
    );
    row(
        "Validator::validate_token (tokio current-thread)",
        &f.validator,
    );
    let _ = writeln!(
        out,
        "  ratio validations/s ÷ verifies/s = {:.3}{} (target ≥ {TARGET_RATIO}: {})",
        f.ratio,
        f.round_ratios.map_or_else(String::new, |(lo, hi)| format!(
            "; per round of batches {lo:.3}–{hi:.3}"
        )),
        if f.ratio >= TARGET_RATIO {
            "met"
        } else {
            "NOT met"
        }
    );
    if !f.components.is_empty() {
        let _ = writeln!(out, "  breakdown (µs per token):");
        let _ = writeln!(
            out,
            "    {:>9.2}  ES256 verify alone (the ceiling)",
            f.verify.ns_per_op / 1000.0
        );
        for part in &f.components {
            let _ = writeln!(
                out,
                "    {:>9.2}  {}",
                part.timing.ns_per_op / 1000.0,
                part.name
            );
        }
        let _ = writeln!(
            out,
            "    {:>9.2}  Validator::validate_token",
            f.validator.ns_per_op / 1000.0
        );
        let named = |prefix: &str| {
            f.components
                .iter()
                .find(|c| c.name.starts_with(prefix))
                .map(|c| c.timing.ns_per_op / 1000.0)
        };
        if let Some(validate) = named("jwt::validate") {
            let _ = writeln!(
                out,
                "    above the verify: {:.2} µs in jwt::validate (JSON, base64url, claims), {:.2} µs in the Validator (key snapshot, clock, runtime, error mapping)",
                validate - f.verify.ns_per_op / 1000.0,
                f.validator.ns_per_op / 1000.0 - validate
            );
        }
    }
    out
}

/// The `--http` part: issuer, tokens, resource server, one phase per
/// concurrency, the ceiling again.
fn run_http(
    args: &ValidateArgs,
    figures: &ValidationFigures,
    machine: &Machine,
    server_cpus: Option<String>,
    load_cpus: Option<String>,
    ceiling_cpus: Option<String>,
) -> anyhow::Result<HttpReport> {
    let load = &args.load;
    let mut issuer = Server::spawn(&SpawnOptions {
        bin: args
            .issuer_bin
            .clone()
            .unwrap_or_else(server::default_server_bin),
        store: None,
        redis: None,
        issuer: None,
        cpus: load_cpus.clone(),
        log_level: None,
        log: None,
        env: Vec::new(),
    })?;
    eprintln!(
        "issuer {} (pid {}): signing {} token requests…",
        issuer.issuer(),
        issuer.pid().unwrap_or_default(),
        args.tokens
    );
    let spec = RequestSpec {
        scheme: SchemeArg::Bsm,
        form: FormArg::Compat,
        issuer: issuer.issuer().to_owned(),
        endpoint_prefix: format!("{AUDIENCE}/{}", tag()?),
        timestamp_ms: crate::ceiling::now_ms(),
        spacing_ns: 0,
    };
    let keys = requests::random_keys(args.tokens)?;
    let bodies = requests::generate(&spec, &keys, args.tokens, machine.cpus)?;
    let tokens = issuer::fetch_tokens(
        issuer.addr(),
        issuer.host(),
        Arc::new(bodies),
        FETCH_CONNECTIONS,
    )?;
    let mut server = Server::spawn_resource_server(&ResourceServerOptions {
        bin: args
            .resource_server_bin
            .clone()
            .unwrap_or_else(|| server::sibling_bin("resource-server")),
        issuer: issuer.issuer().to_owned(),
        audience: AUDIENCE.to_owned(),
        cpus: server_cpus.clone(),
        extra_args: Vec::new(),
    })?;
    let items = Arc::new(requests::Bodies::from_items(
        tokens.iter().map(|t| format!("Bearer {t}")),
    ));
    if let Some(first) = items.get(0) {
        let (status, body) = issuer::probe(server.addr(), server.host(), PROTECTED_PATH, first)?;
        if status != 200 {
            bail!(
                "the resource server refused a fresh token: HTTP {status} {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    let server_cores = server
        .pid()
        .and_then(procfs::process_cpus_allowed)
        .or_else(|| server_cpus.clone())
        .and_then(|list| pin::parse_cpu_list(&list).ok())
        .map_or(machine.cpus, |cpus| cpus.len().min(machine.cpus).max(1));
    if !args.json {
        println!(
            "resource server: http://{} pid {} | issuer {} | server CPUs {} | load CPUs {} | {} tokens cycled | ratio divides by {server_cores} core(s)",
            server.host(),
            server.pid().map_or_else(|| "?".into(), |p| p.to_string()),
            issuer.issuer(),
            server_cpus.as_deref().unwrap_or("any (unpinned)"),
            load_cpus.as_deref().unwrap_or("any (unpinned)"),
            tokens.len(),
        );
        println!("{}", phases_header());
    }
    let mut phases = Vec::new();
    for &concurrency in &load.concurrency {
        let loadavg_before = procfs::loadavg();
        eprintln!(
            "GET {PROTECTED_PATH} c={concurrency}: loading for {} + {} s (load average {})…",
            load.warmup,
            load.duration,
            loadavg_before.map_or_else(|| "?".into(), |l| format!("{:.2}", l[0]))
        );
        let plan = LoadPlan {
            targets: vec![Target {
                addr: server.addr(),
                host: server.host().to_owned(),
            }],
            method: Method::GET,
            path: PROTECTED_PATH.to_owned(),
            carry: Carry::Authorization,
            cycle: true,
            concurrency,
            warmup: Duration::from_secs_f64(load.warmup),
            duration: Duration::from_secs_f64(load.duration),
            server_pids: server.pid().into_iter().collect(),
            store_processes: Vec::new(),
            cpus: load_cpus.clone(),
        };
        let outcome = load::run(&plan, Arc::clone(&items))?;
        if !server.is_running() {
            bail!(
                "the resource server stopped during the run; its log:\n{}",
                server.log_tail()
            );
        }
        let phase = http_phase(
            outcome,
            concurrency,
            loadavg_before,
            figures.verify,
            server_cores,
        );
        if !args.json {
            println!("{}", phase_row(&phase));
        }
        phases.push(phase);
    }
    let report_base = (
        issuer.issuer().to_owned(),
        format!("http://{}", server.host()),
        server.pid(),
    );
    server.stop();
    issuer.stop();
    let (count, plan, prefix) = (args.tokens.min(64), args.batch.plan(), tag()?);
    let verify_after = on_cpus(ceiling_cpus, move || {
        let set = TokenSet::new(CEILING_ISSUER, &prefix, count)?;
        validation::measure_verify(&set, plan)
    })?;
    if !args.json {
        println!(
            "ceiling after the load: {:.2} µs/verify (before: {:.2}, {:+.1}%)",
            verify_after.ns_per_op / 1000.0,
            figures.verify.ns_per_op / 1000.0,
            (verify_after.ns_per_op / figures.verify.ns_per_op - 1.0) * 100.0
        );
    }
    Ok(HttpReport {
        issuer: report_base.0,
        resource_server: report_base.1,
        resource_server_pid: report_base.2,
        server_cpus,
        load_cpus,
        tokens: tokens.len(),
        warmup_s: load.warmup,
        duration_s: load.duration,
        phases,
        verify_after,
    })
}

fn http_phase(
    mut outcome: LoadOutcome,
    concurrency: usize,
    loadavg_before: Option<[f64; 3]>,
    ceiling: Timing,
    server_cores: usize,
) -> HttpPhase {
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
    let server_cpu_us = per_request(outcome.server_cpu);
    HttpPhase {
        concurrency,
        loadavg_before,
        sent: outcome.used,
        window_s,
        ok: outcome.ok,
        errors: std::mem::take(&mut outcome.errors),
        warmup_errors: outcome.warmup_errors,
        throughput,
        latency: Latency::from_nanos(&mut outcome.latencies_ns),
        ceiling_per_core: ceiling.per_second(),
        server_cores,
        ratio: validation::ratio(throughput, ceiling.per_second(), server_cores),
        server_cpu_us_per_request: server_cpu_us,
        server_cores_busy: outcome
            .server_cpu
            .filter(|_| window_s > 0.0)
            .map(|c| c.as_secs_f64() / window_s),
        cpu_efficiency: server_cpu_us.map(|us| ceiling.ns_per_op / 1000.0 / us),
        load_cpu_us_per_request: per_request(outcome.load_cpu),
        server_rss_mib: outcome.server_rss_kib.map(|k| k as f64 / 1024.0),
        server_hwm_mib: outcome.server_hwm_kib.map(|k| k as f64 / 1024.0),
    }
}

fn phases_header() -> String {
    format!(
        "{:>4} {:>9} {:>6} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>6} {:>8} {:>7}  {}",
        "conc",
        "valid/s",
        "ratio",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "srv µs/r",
        "srv eff",
        "cores",
        "load µs",
        "RSS MiB",
        "errors"
    )
}

fn phase_row(p: &HttpPhase) -> String {
    let ms = |f: fn(&Latency) -> f64| opt(p.latency.as_ref().map(|l| f(l) / 1000.0), 2);
    let errors = errors_text(&p.errors);
    let mut row = format!(
        "{:>4} {:>9.0} {:>6.3} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>6} {:>8} {:>7}  {}",
        p.concurrency,
        p.throughput,
        p.ratio,
        ms(|l| l.p50_us),
        ms(|l| l.p90_us),
        ms(|l| l.p99_us),
        ms(|l| l.max_us),
        opt(p.server_cpu_us_per_request, 1),
        opt(p.cpu_efficiency, 3),
        opt(p.server_cores_busy, 2),
        opt(p.load_cpu_us_per_request, 1),
        opt(p.server_rss_mib, 1),
        errors,
    );
    if p.warmup_errors > 0 {
        let _ = write!(row, "  ({} refusals during warm-up)", p.warmup_errors);
    }
    row
}

/// What the columns mean.
const LEGEND: &str = "\
valid/s: 200 answers of GET /api/protected per second in the window. ratio: valid/s ÷ (verify ceiling per core × server cores).
srv µs/r: resource server CPU (user+sys, all threads) per request. srv eff: ceiling µs ÷ srv µs/r.
cores: server CPU time ÷ window. load µs: this program's CPU per request. RSS: largest sampled VmRSS.";
