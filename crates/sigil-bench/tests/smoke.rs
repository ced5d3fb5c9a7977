//! The benchmark programs end to end, briefly: `sigil-bench token` against
//! a real `sigil serve` and `sigil-bench validate --http` against a real
//! issuer and `examples/resource-server`, each for half a second, and
//! `sigil-bench connections` against both with a few idle and slowloris
//! connections and timeouts of one and two seconds. They assert that every
//! prepared request is accepted, that every figure is there, and that the
//! servers closed the slow connections, never how fast anything was
//! (benchmarks are programs, not timed tests).
//!
//! `sigil-bench` starts the `sigil` and `resource-server` binaries found
//! next to its own executable (`target/debug/`): `cargo nextest run
//! --workspace` builds them; a run of this package alone needs `cargo build
//! -p sigil-cli -p resource-server` first.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::process::Command;

use serde_json::Value;

/// Runs `sigil-bench ARGS --json` and returns its JSON report.
fn bench(args: &[&str]) -> Value {
    bench_with_env(args, &[])
}

/// [`bench`] with more environment variables (the servers it starts
/// inherit them).
fn bench_with_env(args: &[&str], env: &[(&str, &str)]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_sigil-bench"))
        .args(args)
        .arg("--json")
        .envs(env.iter().copied())
        .output()
        .expect("run sigil-bench");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "sigil-bench {args:?} failed (are target/debug/sigil and resource-server built? \
         `cargo build -p sigil-cli -p resource-server`):\n{stderr}"
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("sigil-bench printed no JSON ({e}):\n{stderr}"))
}

/// The number at `pointer`, which must be there and positive.
fn positive(value: &Value, pointer: &str) -> f64 {
    let number = value
        .pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {value:#}"));
    assert!(number > 0.0, "{pointer} = {number} in {value:#}");
    number
}

/// Every scheme and form: the server accepts every request the program
/// signed (distinct, fresh, valid), and the report has its ceilings, its
/// throughput, its ratio and the server's CPU and memory.
#[test]
fn token_load_against_a_real_server_is_refused_nothing() {
    let report = bench(&[
        "token",
        "--scheme",
        "bsm",
        "brc77",
        "--form",
        "compat",
        "bound",
        "--concurrency",
        "4",
        "--requests",
        "3000",
        "--warmup",
        "0",
        "--duration",
        "0.5",
        "--keys",
        "50",
        "--batches",
        "1",
        "--batch-ms",
        "20",
    ]);
    let ceilings = report["ceilings"].as_array().expect("ceilings");
    assert_eq!(ceilings.len(), 4, "one ceiling per scheme and form");
    for index in 0..4 {
        positive(&report, &format!("/ceilings/{index}/request/ns_per_op"));
    }
    let phases = report["phases"].as_array().expect("phases");
    let mut seen = Vec::new();
    for phase in phases {
        let name = format!("{} {}", phase["scheme"], phase["form"]);
        assert_eq!(phase["errors"], serde_json::json!({}), "{name}: refusals");
        assert_eq!(phase["warmup_errors"], 0, "{name}");
        positive(phase, "/ok");
        positive(phase, "/throughput");
        positive(phase, "/ratio");
        positive(phase, "/server_cpu_us_per_request");
        positive(phase, "/server_hwm_mib");
        positive(phase, "/latency/p99_us");
        seen.push(name);
    }
    assert_eq!(
        seen,
        [
            "\"bsm\" \"compat\"",
            "\"bsm\" \"bound\"",
            "\"brc77\" \"compat\"",
            "\"brc77\" \"bound\""
        ]
    );
}

/// Two instances on one PostgreSQL schema with Redis beside it: the
/// connections are spread over both, every signed request is accepted
/// once, the replay records are in Redis, and the store processes' CPU is
/// reported beside the servers'.
#[test]
fn token_load_over_two_instances_on_postgres_and_redis_is_refused_nothing() {
    let schema = sigil_testkit::PostgresSchema::create("bench_instances");
    let redis = sigil_testkit::RedisPrefix::new("bench-instances");
    let store = schema.url();
    let report = bench_with_env(
        &[
            "token",
            "--instances",
            "2",
            "--store",
            &store,
            "--redis",
            redis.url(),
            "--concurrency",
            "4",
            "--requests",
            "2000",
            "--warmup",
            "0",
            "--duration",
            "0.5",
            "--keys",
            "50",
            "--batches",
            "1",
            "--batch-ms",
            "20",
        ],
        &[("SIGIL_REDIS_PREFIX", redis.prefix())],
    );
    assert_eq!(report["server"]["pids"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        report["server"]["targets"].as_array().map(Vec::len),
        Some(2)
    );
    let phase = &report["phases"][0];
    assert_eq!(phase["errors"], serde_json::json!({}), "refusals");
    assert_eq!(phase["instances"], 2);
    positive(phase, "/ok");
    positive(phase, "/server_cpu_us_per_request");
    positive(phase, "/store_cpu_us_per_request");
    assert!(
        !redis.keys().is_empty(),
        "the replay records of the run are in Redis under its prefix"
    );
}

/// `sigil-bench oauth`: a person signs in and consents over HTTP, then
/// every code is exchanged and every refresh token used once, and
/// token-for-endpoint runs on the same server, nothing refused.
#[test]
fn oauth_exchanges_and_refreshes_are_refused_nothing() {
    let report = bench(&[
        "oauth",
        "--concurrency",
        "2",
        "--requests",
        "400",
        "--prepare-seconds",
        "1",
        "--warmup",
        "0",
        "--duration",
        "0.5",
        "--batches",
        "1",
        "--batch-ms",
        "20",
    ]);
    positive(&report, "/exchange_ceiling/ns_per_op");
    positive(&report, "/endpoint_ceiling_us");
    let phases = report["phases"].as_array().expect("phases");
    let grants: Vec<&str> = phases.iter().filter_map(|p| p["grant"].as_str()).collect();
    assert_eq!(
        grants,
        ["authorization_code", "refresh_token", "token_for_endpoint"]
    );
    for phase in phases {
        assert_eq!(phase["errors"], serde_json::json!({}), "{}", phase["grant"]);
        positive(phase, "/ok");
        positive(phase, "/per_second");
        positive(phase, "/ratio");
        positive(phase, "/server_cpu_us_per_request");
    }
}

/// Token validation in process and over HTTP through the example resource
/// server: every real token is accepted.
#[test]
fn validation_against_the_example_resource_server_is_refused_nothing() {
    let report = bench(&[
        "validate",
        "--http",
        "--tokens",
        "50",
        "--concurrency",
        "2",
        "--warmup",
        "0",
        "--duration",
        "0.5",
        "--batches",
        "1",
        "--batch-ms",
        "20",
        "--no-components",
    ]);
    positive(&report, "/in_process/ratio");
    positive(&report, "/in_process/verify/ns_per_op");
    let phase = &report["http"]["phases"][0];
    assert_eq!(phase["errors"], serde_json::json!({}), "refusals");
    positive(phase, "/ok");
    positive(phase, "/ratio");
    positive(phase, "/server_cpu_us_per_request");
}

/// `sigil-bench connections --target TARGET` with 20 idle and 10 slowloris
/// connections: every timed request answered 200, every figure reported,
/// and every held connection closed by the server, none before its timeout.
fn connections_are_held_and_closed(target: &str) {
    let report = bench(&[
        "connections",
        "--target",
        target,
        "--idle",
        "20",
        "--slowloris",
        "10",
        "--requests",
        "5",
        "--header-read-timeout-ms",
        "1000",
        "--keep-alive-timeout-ms",
        "2000",
        "--trickle-ms",
        "200",
        "--grace-ms",
        "3000",
    ]);
    assert_eq!(report["opened"]["idle"], 20, "{report:#}");
    assert_eq!(report["opened"]["slowloris"], 10, "{report:#}");
    assert_eq!(report["opened"]["failures"], serde_json::json!({}));
    positive(&report, "/opened/slowest_connect_ms");
    assert!(report["opened"]["connects_over_1s"].is_u64());
    let series = report["timed"]["series"].as_array().expect("series");
    assert_eq!(series.len(), 4, "health and token, fresh and keep-alive");
    for (index, s) in series.iter().enumerate() {
        let name = format!("{} {}", s["request"], s["connection"]);
        assert_eq!(s["sent"], 5, "{name}");
        assert_eq!(s["ok"], 5, "{name}: {s:#}");
        assert_eq!(s["errors"], serde_json::json!({}), "{name}");
        for figure in ["min_ms", "p50_ms", "p99_ms", "max_ms"] {
            positive(&report, &format!("/timed/series/{index}/{figure}"));
        }
        assert!(s["under_target"].is_boolean(), "{name}");
    }
    assert!(report["timed"]["all_under_target"].is_boolean());
    for (kind, opened, timeout) in [("slowloris", 10, 1000.0), ("idle", 20, 2000.0)] {
        let closes = &report[kind];
        assert_eq!(closes["opened"], opened, "{kind}: {closes:#}");
        assert_eq!(
            closes["closed"], opened,
            "{kind}: not all closed by the server"
        );
        assert_eq!(closes["still_open"], 0, "{kind}");
        assert_eq!(closes["early"], 0, "{kind}: closed before the timeout");
        assert_eq!(closes["timeout_ms"], timeout as u64, "{kind}");
        let min = positive(&report, &format!("/{kind}/min_ms"));
        assert!(min >= timeout - 2.0, "{kind}: closed after {min} ms");
        positive(&report, &format!("/{kind}/max_ms"));
        assert!(closes["max_over_timeout_ms"].is_number(), "{kind}");
    }
    for figure in [
        "before_mib",
        "open_mib",
        "during_max_mib",
        "after_mib",
        "peak_mib",
    ] {
        positive(&report, &format!("/memory/{figure}"));
    }
    assert_eq!(report["health_after"][0], 200, "{report:#}");
}

#[test]
fn sigil_serve_closes_idle_and_slowloris_connections() {
    connections_are_held_and_closed("sigil");
}

#[test]
fn the_resource_server_closes_idle_and_slowloris_connections() {
    connections_are_held_and_closed("resource-server");
}
