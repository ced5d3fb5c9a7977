//! The binary's command line: its flags, and start-up failures that exit 2
//! with one line naming the cause. (Being an integration test of this
//! package, it also makes the workspace's test build produce the
//! `resource-server` binary that the end-to-end tests in
//! `crates/sigil-cli/tests/server/resource.rs` run.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::process::Command;

fn resource_server(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_resource-server"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code().expect("exits normally"),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn help_lists_the_spec_flags() {
    let (code, stdout, _) = resource_server(&["--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--listen",
        "--issuer",
        "--audience",
        "--require-signed-requests",
        "--x-auth-token <off|path|url>",
        "--rate-limits <on|off>",
        "--rate-limit-per-minute",
        "--rate-limit-burst",
        "--replay-capacity",
        "--redis <URL>",
        "--redis-prefix",
        "--trusted-proxies",
        "revoking an account does not stop them",
    ] {
        assert!(stdout.contains(flag), "{flag} missing from:\n{stdout}");
    }
}

#[test]
fn an_unusable_issuer_fails_at_start_with_exit_2() {
    let cases: [(&[&str], &str); 3] = [
        // Plain http to a non-loopback host: refused before any I/O.
        (
            &[
                "--issuer",
                "http://auth.example.com",
                "--audience",
                "http://127.0.0.1:3000",
            ],
            "https",
        ),
        // Nothing listens there: the JWKS cannot be fetched at start-up.
        (
            &[
                "--issuer",
                "http://127.0.0.1:9",
                "--audience",
                "http://127.0.0.1:3000",
            ],
            "cannot use issuer http://127.0.0.1:9",
        ),
        // A required flag missing: clap's usage error.
        (&["--issuer", "http://127.0.0.1:9"], "--audience"),
    ];
    let bad_values: [(&[&str], &str); 7] = [
        (&["--x-auth-token", "sometimes"], "not off, path or url"),
        (&["--rate-limits", "maybe"], "possible values: on, off"),
        (
            &["--trusted-proxies", "10.0.0.0/8,nonsense"],
            "not an IP address",
        ),
        (
            &["--rate-limit-burst", "0"],
            "rate_limit: per_minute and burst must be positive",
        ),
        (
            &["--replay-capacity", "0"],
            "replay_capacity must be positive",
        ),
        // URL-form tokens need an audience that is a URL (before any I/O).
        (
            &["--x-auth-token", "url", "--audience", "api"],
            "x_auth_token = url needs an audience",
        ),
        (
            &["--require-signed-requests", "--audience", "api"],
            "implied by require_signed_requests",
        ),
    ];
    let mut all: Vec<(Vec<&str>, &str)> = cases.iter().map(|(a, p)| (a.to_vec(), *p)).collect();
    for (extra, phrase) in bad_values {
        let mut args = vec!["--issuer", "http://127.0.0.1:9"];
        if !extra.contains(&"--audience") {
            args.extend(["--audience", "http://127.0.0.1:3000"]);
        }
        args.extend(extra);
        all.push((args, phrase));
    }
    for (args, phrase) in all {
        let (code, _, stderr) = resource_server(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains(phrase),
            "{args:?}: {stderr:?} lacks {phrase:?}"
        );
    }
}

/// `--redis` takes `redis://` only: `rediss://` (no TLS stack in this
/// build) and another scheme exit 2 with one line, never echoing the
/// password; `--redis` and `--replay-capacity` exclude each other.
#[test]
fn a_redis_url_it_cannot_use_fails_at_start_with_exit_2() {
    for (url, phrase) in [
        ("rediss://:hunter2@cache:6380/0", "TLS"),
        ("http://:hunter2@cache", "redis://"),
    ] {
        let (code, _, stderr) = resource_server(&[
            "--issuer",
            "http://127.0.0.1:9",
            "--audience",
            "http://127.0.0.1:3000",
            "--redis",
            url,
        ]);
        assert_eq!(code, 2, "{url}: {stderr}");
        assert!(
            stderr.contains("--redis") && stderr.contains(phrase),
            "{url}: {stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{url} leaks: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
    let (code, _, stderr) = resource_server(&[
        "--issuer",
        "http://127.0.0.1:9",
        "--audience",
        "http://127.0.0.1:3000",
        "--redis",
        "redis://127.0.0.1:6379/0",
        "--replay-capacity",
        "10",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--replay-capacity"), "{stderr}");
}
