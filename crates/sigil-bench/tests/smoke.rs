//! The benchmark programs end to end, briefly: `sigil-bench token` against
//! a real `sigil serve` and `sigil-bench validate --http` against a real
//! issuer and `examples/resource-server`, each for half a second. They
//! assert that every prepared request is accepted and that every figure is
//! there, never how fast anything was (benchmarks are programs, not timed
//! tests).
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
    let output = Command::new(env!("CARGO_BIN_EXE_sigil-bench"))
        .args(args)
        .arg("--json")
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
