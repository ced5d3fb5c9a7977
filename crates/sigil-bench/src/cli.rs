//! The command-line surface (clap derive types). Each subcommand measures
//! one thing against its own ceiling; the shared flags ([`BatchArgs`],
//! [`LoadArgs`], [`PinArgs`]) are shared by `token` and `validate`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::measure::BatchPlan;
use crate::requests::{FormArg, SchemeArg};

/// sigil's benchmark program: per-core crypto ceilings, and a closed-loop
/// keep-alive load against `sigil serve` compared with them.
#[derive(Debug, Parser)]
#[command(name = "sigil-bench", version)]
pub(crate) struct Cli {
    /// What to measure.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Measure only the per-core ceilings: the CPU cost of what the server
    /// computes for one token request (crypto, hashing, JSON), without HTTP
    /// or store, for each scheme and message form, with a breakdown.
    Ceiling(CeilingArgs),
    /// Measure the ceilings, then drive POST /api/auth/token-for-endpoint
    /// of a `sigil serve` (started here, or --target) with a closed-loop
    /// keep-alive load, and compare throughput with the ceiling.
    Token(Box<TokenArgs>),
    /// Measure token validation in sigil-validator against its ceiling, one
    /// ES256 verify: in process (Validator::validate_token over distinct
    /// valid tokens, with a breakdown), and with --http through the example
    /// resource server under a closed-loop keep-alive load.
    Validate(Box<ValidateArgs>),
    /// Open idle and slowloris connections to `sigil serve` (or the example
    /// resource server) started with short connection timeouts, time
    /// `/health` and token requests while they are open, and record when
    /// the server closes them and its resident memory before, during and
    /// after.
    Connections(Box<ConnectionsArgs>),
    /// Measure the OAuth provider's token endpoint: authorization-code
    /// exchanges and refreshes per second (a person signed in and
    /// consented over HTTP beforehand), beside token-for-endpoint on the
    /// same server, each against its in-process ceiling.
    Oauth(Box<OAuthArgs>),
}

/// How the ceilings are measured (crates/sigil-bench/README.md).
#[derive(Debug, Clone, Args)]
pub(crate) struct BatchArgs {
    /// Target length of one calibrated batch, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 150)]
    pub(crate) batch_ms: u64,
    /// Batches per measurement; the median is reported.
    #[arg(long, value_name = "N", default_value_t = 11)]
    pub(crate) batches: usize,
}

impl BatchArgs {
    /// As a [`BatchPlan`].
    pub(crate) fn plan(&self) -> BatchPlan {
        BatchPlan {
            batch: Duration::from_millis(self.batch_ms.max(1)),
            batches: self.batches.max(1),
        }
    }
}

/// `sigil-bench ceiling`.
#[derive(Debug, Args)]
pub(crate) struct CeilingArgs {
    /// Signature schemes.
    #[arg(long, value_enum, num_args = 1.., default_values_t = [SchemeArg::Bsm, SchemeArg::Brc77])]
    pub(crate) scheme: Vec<SchemeArg>,
    /// Message forms.
    #[arg(long, value_enum, num_args = 1.., default_values_t = [FormArg::Compat, FormArg::Bound])]
    pub(crate) form: Vec<FormArg>,
    /// Pin the measuring thread to these CPUs (`taskset -c` list).
    #[arg(long, value_name = "LIST")]
    pub(crate) cpus: Option<String>,
    /// Only the whole-request figure, without the step-by-step breakdown.
    #[arg(long)]
    pub(crate) no_components: bool,
    /// Calibration.
    #[command(flatten)]
    pub(crate) batch: BatchArgs,
    /// One JSON object on standard output instead of tables.
    #[arg(long)]
    pub(crate) json: bool,
}

/// The closed-loop load, common to every endpoint.
#[derive(Debug, Clone, Args)]
pub(crate) struct LoadArgs {
    /// Connections, each with one request in flight; several values run
    /// one phase each.
    #[arg(long, value_name = "N", num_args = 1.., default_values_t = [16])]
    pub(crate) concurrency: Vec<usize>,
    /// Measured seconds per phase.
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    pub(crate) duration: f64,
    /// Seconds of load before measuring, per phase.
    #[arg(long, value_name = "S", default_value_t = 2.0)]
    pub(crate) warmup: f64,
    /// Requests prepared per phase [default: enough for the ceiling's rate
    /// on the server's cores for warm-up + duration, plus 25 %].
    #[arg(long, value_name = "N")]
    pub(crate) requests: Option<usize>,
}

/// Server and load on separate CPUs.
#[derive(Debug, Clone, Args)]
pub(crate) struct PinArgs {
    /// Pin the server (`taskset -c`) and this program's load thread to
    /// separate CPUs, so a one-core server ratio compares across machines.
    #[arg(long)]
    pub(crate) pin: bool,
    /// The server's CPUs with --pin (`taskset -c` list). With --target, the
    /// CPUs that server was started on (`taskset -c LIST sigil serve …`):
    /// the ceiling is measured there.
    #[arg(long, value_name = "LIST", default_value = "0")]
    pub(crate) server_cpus: String,
    /// The load generator's CPUs with --pin.
    #[arg(long, value_name = "LIST", default_value = "1")]
    pub(crate) load_cpus: String,
}

/// Which server: one started here, or one already running.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServerArgs {
    /// The `sigil` binary to start [default: `sigil` next to this
    /// program, i.e. target/release/sigil].
    #[arg(long, value_name = "PATH", conflicts_with = "target")]
    pub(crate) server_bin: Option<PathBuf>,
    /// A running server (`http://host:port`) instead of starting one.
    #[arg(long, value_name = "URL")]
    pub(crate) target: Option<String>,
    /// With --target: the server's process id, to read its CPU time and memory.
    #[arg(long, value_name = "PID", requires = "target")]
    pub(crate) server_pid: Option<u32>,
    /// With --target: the issuer for the bound form [default: from its
    /// discovery document].
    #[arg(long, value_name = "URL", requires = "target")]
    pub(crate) issuer: Option<String>,
    /// The server's store (`--database`) [default: an SQLite file in a
    /// fresh temporary directory].
    #[arg(long, value_name = "URL", conflicts_with = "target")]
    pub(crate) store: Option<String>,
    /// The server's Redis (`--redis`) for replay records and rate limits
    /// beside the store [default: none].
    #[arg(long, value_name = "URL", conflicts_with = "target")]
    pub(crate) redis: Option<String>,
    /// `RUST_LOG` for the server [default: inherited; the server logs
    /// `info`, one access line per request].
    #[arg(long, value_name = "FILTER", conflicts_with = "target")]
    pub(crate) server_log_level: Option<String>,
    /// Where the server's log goes [default: a file in the temporary directory].
    #[arg(long, value_name = "PATH", conflicts_with = "target")]
    pub(crate) server_log: Option<PathBuf>,
}

/// `sigil-bench token`.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// The server.
    #[command(flatten)]
    pub(crate) server: ServerArgs,
    /// Signature schemes; several values run one phase each.
    #[arg(long, value_enum, num_args = 1.., default_values_t = [SchemeArg::Bsm])]
    pub(crate) scheme: Vec<SchemeArg>,
    /// Message forms; several values run one phase each.
    #[arg(long, value_enum, num_args = 1.., default_values_t = [FormArg::Compat])]
    pub(crate) form: Vec<FormArg>,
    /// Distinct signing keys the requests rotate through.
    #[arg(long, value_name = "K", default_value_t = 1000)]
    pub(crate) keys: usize,
    /// `sigil serve` processes sharing the store (--store must then be a
    /// PostgreSQL URL), acting as one service under one issuer; the
    /// connections are spread over them in turn.
    #[arg(long, value_name = "N", default_value_t = 1, conflicts_with = "target")]
    pub(crate) instances: usize,
    /// The load.
    #[command(flatten)]
    pub(crate) load: LoadArgs,
    /// Pinning.
    #[command(flatten)]
    pub(crate) pin: PinArgs,
    /// Also print the ceiling's step-by-step breakdown.
    #[arg(long)]
    pub(crate) components: bool,
    /// Calibration of the ceilings.
    #[command(flatten)]
    pub(crate) batch: BatchArgs,
    /// One JSON object on standard output instead of tables.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `sigil-bench oauth`.
#[derive(Debug, Args)]
pub(crate) struct OAuthArgs {
    /// The server (started here; --target is not supported).
    #[command(flatten)]
    pub(crate) server: ServerArgs,
    /// The load; --requests caps the codes made per phase [default: 300000].
    #[command(flatten)]
    pub(crate) load: LoadArgs,
    /// Seconds spent making codes before each phase (codes live 60 s).
    #[arg(long, value_name = "S", default_value_t = 20.0)]
    pub(crate) prepare_seconds: f64,
    /// Calibration of the ceilings.
    #[command(flatten)]
    pub(crate) batch: BatchArgs,
    /// One JSON object on standard output instead of tables.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `sigil-bench validate`.
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Distinct access tokens, each for its own subject, checked in turn
    /// (with --http: fetched from the issuer beforehand, then sent over and
    /// over; sigil-validator caches no checked token).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub(crate) tokens: usize,
    /// Pin the in-process measurements to these CPUs (`taskset -c` list)
    /// [default with --http --pin: the server's CPUs].
    #[arg(long, value_name = "LIST")]
    pub(crate) cpus: Option<String>,
    /// Only the ceiling and the validator figure, without the breakdown.
    #[arg(long)]
    pub(crate) no_components: bool,
    /// Calibration of the in-process figures.
    #[command(flatten)]
    pub(crate) batch: BatchArgs,
    /// Also start `sigil serve` (the issuer) and the example
    /// `resource-server` in front of it, fetch --tokens real tokens, and
    /// drive GET /api/protected with `Authorization: Bearer` (one phase per
    /// --concurrency).
    #[arg(long)]
    pub(crate) http: bool,
    /// With --http: the `resource-server` binary [default: next to this
    /// program, i.e. target/release/resource-server].
    #[arg(long, value_name = "PATH", requires = "http")]
    pub(crate) resource_server_bin: Option<PathBuf>,
    /// With --http: the `sigil` binary that issues the tokens [default:
    /// next to this program].
    #[arg(long, value_name = "PATH", requires = "http")]
    pub(crate) issuer_bin: Option<PathBuf>,
    /// With --http: the load (--requests does not apply: the tokens are
    /// cycled).
    #[command(flatten)]
    pub(crate) load: LoadArgs,
    /// With --http: pinning (the resource server gets --server-cpus; the
    /// load generator and the issuer --load-cpus).
    #[command(flatten)]
    pub(crate) pin: PinArgs,
    /// One JSON object on standard output instead of tables.
    #[arg(long)]
    pub(crate) json: bool,
}

/// The server `connections` holds connections to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ConnectionsTarget {
    /// `sigil serve`: `GET /health` and `POST /api/auth/token-for-endpoint`
    /// with freshly signed requests.
    Sigil,
    /// The example `resource-server` (a `sigil serve` issuer is started
    /// beside it, not loaded): `GET /health` and `GET /api/protected` with a
    /// bearer token fetched from that issuer.
    ResourceServer,
}

impl ConnectionsTarget {
    /// The name used in tables.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Sigil => "sigil serve",
            Self::ResourceServer => "resource-server",
        }
    }
}

/// `sigil-bench connections`.
#[derive(Debug, Args)]
pub(crate) struct ConnectionsArgs {
    /// The server to start and hold connections to.
    #[arg(long, value_enum, default_value_t = ConnectionsTarget::Sigil)]
    pub(crate) target: ConnectionsTarget,
    /// Idle connections: connected, nothing sent.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub(crate) idle: usize,
    /// Slowloris connections: a request line, then one header byte every
    /// --trickle-ms, the head never finished.
    #[arg(long, value_name = "M", default_value_t = 200)]
    pub(crate) slowloris: usize,
    /// Timed requests per series (four series: `/health` and the token
    /// request, each on fresh connections and on one keep-alive
    /// connection).
    #[arg(long, value_name = "K", default_value_t = 50)]
    pub(crate) requests: usize,
    /// Pause between two rounds of the four timed requests, so that they
    /// spread over the slowloris connections' trickling (50 rounds: about
    /// half a second) instead of one burst.
    #[arg(long, value_name = "MS", default_value_t = 10)]
    pub(crate) interval_ms: u64,
    /// The server's header read timeout for the run
    /// (`SIGIL_HEADER_READ_TIMEOUT_MS`, `--header-read-timeout-ms`).
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub(crate) header_read_timeout_ms: u64,
    /// The server's keep-alive timeout for the run
    /// (`SIGIL_KEEP_ALIVE_TIMEOUT_MS`, `--keep-alive-timeout-ms`): idle
    /// connections are closed after it.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub(crate) keep_alive_timeout_ms: u64,
    /// Milliseconds between two header bytes of a slowloris connection.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub(crate) trickle_ms: u64,
    /// How long past its timeout a connection may stay open before this
    /// program counts it as still open and closes it itself.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub(crate) grace_ms: u64,
    /// The latency each timed request should stay under (reported, never
    /// enforced: the exit status does not depend on it).
    #[arg(long, value_name = "MS", default_value_t = 100)]
    pub(crate) latency_target_ms: u64,
    /// The `sigil` binary (the server, or the issuer beside the resource
    /// server) [default: next to this program, i.e. target/release/sigil].
    #[arg(long, value_name = "PATH")]
    pub(crate) server_bin: Option<PathBuf>,
    /// The `resource-server` binary [default: next to this program].
    #[arg(long, value_name = "PATH")]
    pub(crate) resource_server_bin: Option<PathBuf>,
    /// Pinning: the server under test gets --server-cpus; this program (and
    /// the issuer of the resource server) --load-cpus.
    #[command(flatten)]
    pub(crate) pin: PinArgs,
    /// One JSON object on standard output instead of tables.
    #[arg(long)]
    pub(crate) json: bool,
}
