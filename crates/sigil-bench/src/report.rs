//! What is printed: the machine, the ceilings, one row per load phase;
//! as tables on standard output, or as one JSON object.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::ceiling::Ceiling;
use crate::procfs;
use crate::requests::{FormArg, SchemeArg};
use crate::stats::Latency;

/// The machine the numbers come from.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Machine {
    /// `model name` of `/proc/cpuinfo`.
    pub(crate) cpu_model: Option<String>,
    /// CPUs this process may use.
    pub(crate) cpus: usize,
    /// Kernel release.
    pub(crate) kernel: Option<String>,
    /// Load averages when the run started.
    pub(crate) loadavg: Option<[f64; 3]>,
    /// Share of all CPUs busy during the second before the run (other
    /// work: the figures are only clean when this is near 0).
    pub(crate) busy_before: Option<f64>,
}

impl Machine {
    /// Reads it from `/proc`.
    pub(crate) fn read() -> Self {
        Self {
            cpu_model: procfs::cpu_model(),
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            kernel: procfs::kernel(),
            loadavg: procfs::loadavg(),
            busy_before: procfs::busy_share(std::time::Duration::from_secs(1)),
        }
    }

    /// Reads it, prints its line unless the output is JSON, and warns on
    /// standard error when other work kept the CPUs busy just before.
    pub(crate) fn announce(json: bool) -> Self {
        let machine = Self::read();
        if !json {
            println!("{}", machine.line());
        }
        if let Some(busy) = machine.busy_before.filter(|&b| b > 0.1) {
            eprintln!(
                "warning: other work kept {:.0}% of the CPUs busy just before the run: expect noisy figures",
                busy * 100.0
            );
        }
        machine
    }

    /// One line.
    pub(crate) fn line(&self) -> String {
        let load = self
            .loadavg
            .map_or_else(|| "?".into(), |[a, b, c]| format!("{a:.2} {b:.2} {c:.2}"));
        let busy = self
            .busy_before
            .map_or_else(|| "?".into(), |b| format!("{:.0}%", b * 100.0));
        format!(
            "machine: {} × {} CPUs, Linux {}, load average {load}, CPUs busy {busy} in the second before the run",
            self.cpu_model.as_deref().unwrap_or("unknown CPU"),
            self.cpus,
            self.kernel.as_deref().unwrap_or("?"),
        )
    }
}

/// One load phase's figures.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Phase {
    /// Signature scheme.
    pub(crate) scheme: SchemeArg,
    /// Message form.
    pub(crate) form: FormArg,
    /// Connections.
    pub(crate) concurrency: usize,
    /// Server instances the connections were spread over.
    pub(crate) instances: usize,
    /// Load averages just before the phase.
    pub(crate) loadavg_before: Option<[f64; 3]>,
    /// Requests prepared.
    pub(crate) prepared: usize,
    /// Requests sent (warm-up included).
    pub(crate) used: usize,
    /// Seconds measured.
    pub(crate) window_s: f64,
    /// Tokens issued (200) in the window.
    pub(crate) ok: u64,
    /// Refusals in the window by code.
    pub(crate) errors: BTreeMap<String, u64>,
    /// Refusals during the warm-up.
    pub(crate) warmup_errors: u64,
    /// Tokens per second.
    pub(crate) throughput: f64,
    /// Answer latency (all answers in the window).
    pub(crate) latency: Option<Latency>,
    /// The ceiling of this scheme and form, requests per second per core.
    pub(crate) ceiling_per_core: f64,
    /// Cores the ratio divides by: the server's pinned CPUs, else every CPU.
    pub(crate) server_cores: usize,
    /// Throughput ÷ (ceiling per core × server cores).
    pub(crate) ratio: f64,
    /// Server CPU time per token, µs (when its process can be read).
    pub(crate) server_cpu_us_per_request: Option<f64>,
    /// Server CPU time ÷ window: cores kept busy.
    pub(crate) server_cores_busy: Option<f64>,
    /// Ceiling µs ÷ server CPU µs per token: the share of the server's CPU
    /// spent on the ceiling's work.
    pub(crate) cpu_efficiency: Option<f64>,
    /// This program's CPU time per token, µs.
    pub(crate) load_cpu_us_per_request: Option<f64>,
    /// The store processes' CPU time per token (PostgreSQL, Redis), µs;
    /// `None` for an embedded store (SQLite's work is the server's).
    pub(crate) store_cpu_us_per_request: Option<f64>,
    /// Largest server resident set sampled in the window, MiB.
    pub(crate) server_rss_mib: Option<f64>,
    /// Server peak resident set since start, MiB.
    pub(crate) server_hwm_mib: Option<f64>,
    /// Whether the prepared requests ran out before the window ended.
    pub(crate) exhausted: bool,
}

/// The ceilings table.
pub(crate) fn ceilings_table(ceilings: &[Ceiling]) -> String {
    let mut out = String::from(
        "ceiling (CPU per token request, no HTTP, no store; median of calibrated batches)\n",
    );
    let _ = writeln!(
        out,
        "  {:<6} {:<7} {:>10} {:>12} {:>11} {:>7}",
        "scheme", "form", "µs/request", "requests/s", "wall µs", "waited"
    );
    for c in ceilings {
        let _ = writeln!(
            out,
            "  {:<6} {:<7} {:>10.2} {:>12.0} {:>11.2} {:>7}",
            c.scheme.as_str(),
            c.form.as_str(),
            c.us_per_request(),
            c.per_core(),
            c.request.wall_ns_per_op / 1000.0,
            percent(c.request.waited_share),
        );
        for part in &c.components {
            let _ = writeln!(
                out,
                "      {:>9.2} µs  {}",
                part.timing.ns_per_op / 1000.0,
                part.name
            );
        }
    }
    out
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "?".into(), |s| format!("{:.1}%", s * 100.0))
}

/// `value` with `decimals` decimals, `-` when unknown.
pub(crate) fn opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.decimals$}"))
}

/// The header of the phases table.
pub(crate) fn phases_header() -> String {
    format!(
        "{:<6} {:<7} {:>4} {:>9} {:>6} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>6} {:>8} {:>8} {:>7}  {}",
        "scheme",
        "form",
        "conc",
        "tokens/s",
        "ratio",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "srv µs/r",
        "srv eff",
        "cores",
        "load µs",
        "store µs",
        "RSS MiB",
        "errors"
    )
}

/// Refusals by code, `code=n` separated by spaces; `0` when none.
pub(crate) fn errors_text(errors: &BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return "0".to_owned();
    }
    errors
        .iter()
        .map(|(code, n)| format!("{code}={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One row of the phases table.
pub(crate) fn phase_row(p: &Phase) -> String {
    let ms = |f: fn(&Latency) -> f64| opt(p.latency.as_ref().map(|l| f(l) / 1000.0), 2);
    let errors = errors_text(&p.errors);
    let mut row = format!(
        "{:<6} {:<7} {:>4} {:>9.0} {:>6.3} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>6} {:>8} {:>8} {:>7}  {}",
        p.scheme.as_str(),
        p.form.as_str(),
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
        opt(p.store_cpu_us_per_request, 1),
        opt(p.server_rss_mib, 1),
        errors,
    );
    if p.exhausted {
        row.push_str("  (requests ran out: window shortened)");
    }
    if p.warmup_errors > 0 {
        let _ = write!(row, "  ({} refusals during warm-up)", p.warmup_errors);
    }
    row
}

/// What the columns mean.
pub(crate) const LEGEND: &str = "\
tokens/s: 200 answers per second in the window. ratio: tokens/s ÷ (ceiling per core × server cores).
srv µs/r: server CPU (user+sys, all threads) per token. srv eff: ceiling µs ÷ srv µs/r.
cores: server CPU time ÷ window. load µs: this program's CPU per token.
store µs: CPU per token of the store's processes (postgres, redis-server; - for SQLite, whose work is the server's).
RSS: largest sampled VmRSS. With --instances N every server figure sums the N processes.";
