#![doc = include_str!("../README.md")]
#![allow(clippy::expect_used)] // test helpers: a failed expectation is a failed test

use std::hash::BuildHasher as _;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

mod postgres;
mod proxy;
mod redis_prefix;

pub use postgres::{DEFAULT_POSTGRES_URL, PostgresSchema, with_search_path};
pub use proxy::TcpProxy;
pub use redis_prefix::{DEFAULT_TEST_REDIS_URL, RedisPrefix};

/// The repository's root directory.
#[must_use]
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The repository's copy of the public vectors, `tests/vectors/`.
#[must_use]
pub fn vectors_dir() -> PathBuf {
    repo_root().join("tests/vectors")
}

/// Parses the vector file `file` of `tests/vectors/`.
///
/// # Panics
///
/// When the file cannot be read or is not JSON, naming it.
#[must_use]
pub fn vector_file(file: &str) -> Value {
    let path = vectors_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The Node half of the interop tests, `tests/interop/`.
#[must_use]
pub fn interop_dir() -> PathBuf {
    repo_root().join("tests/interop")
}

/// `node SCRIPT` in `tests/interop/`, once the npm `packages` it imports
/// are installed there; add arguments and environment to it.
///
/// # Panics
///
/// When one of `packages` is missing from `tests/interop/node_modules`,
/// saying how to install them.
#[must_use]
pub fn node(script: &str, packages: &[&str]) -> Command {
    let dir = interop_dir();
    for package in packages {
        assert!(
            dir.join("node_modules").join(package).is_dir(),
            "tests/interop/node_modules/{package} is missing: run `npm ci --ignore-scripts` in tests/interop (scripts/test does)"
        );
    }
    let mut command = Command::new("node");
    command.arg(script).current_dir(dir);
    command
}

/// Runs `command` with `stdin` (JSON) on its standard input and returns the
/// one JSON value it prints.
///
/// # Panics
///
/// When it cannot start, exits unsuccessfully (its standard error is in
/// the message) or prints something else than JSON.
#[must_use]
pub fn run_json(mut command: Command, stdin: Option<&Value>) -> Value {
    let what = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start ({e}); is node on PATH?"));
    {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        if let Some(input) = stdin {
            pipe.write_all(input.to_string().as_bytes())
                .unwrap_or_else(|e| panic!("{what}: writing stdin: {e}"));
        }
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The system clock, in milliseconds since the epoch.
///
/// # Panics
///
/// When the clock is before 1970.
#[must_use]
pub fn now_ms() -> u64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    u64::try_from(elapsed.as_millis()).expect("milliseconds fit in u64")
}

/// A new, empty directory under the system temp dir, distinct for every
/// call in every process: `sigil-<name>-<pid>-<nanos>-<n>`.
///
/// # Panics
///
/// When it cannot be created.
#[must_use]
pub fn fresh_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "sigil-{name}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("{}: cannot create: {e}", dir.display()));
    dir
}

/// A port of 127.0.0.1 nobody listens on right now, for a server started
/// in another process. Chosen at random below the kernel's ephemeral
/// range, so that no other test's `bind(":0")` can take it before the
/// server binds it; a race with another caller of this function remains,
/// and the caller must detect it (the server fails to bind) and retry.
///
/// # Panics
///
/// When not even an ephemeral port can be bound.
#[must_use]
pub fn free_port() -> u16 {
    const FLOOR: u16 = 10_000;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    if ephemeral_low > FLOOR + 1_000 {
        let random = std::collections::hash_map::RandomState::new();
        let span = u64::from(ephemeral_low - FLOOR);
        for attempt in 0..100_u32 {
            let offset = u16::try_from(random.hash_one(attempt) % span).expect("below the span");
            let port = FLOOR + offset;
            if TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return port;
            }
        }
    }
    local_listener()
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// A listener on 127.0.0.1:0 (a port the kernel chose), blocking.
///
/// # Panics
///
/// When it cannot be bound.
#[must_use]
pub fn local_listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").expect("127.0.0.1:0 can be bound")
}

/// A tokio listener on 127.0.0.1:0, for a server in this process.
///
/// # Panics
///
/// When it cannot be bound.
pub async fn local_tokio_listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("127.0.0.1:0 can be bound")
}

/// The permission bits of `path` in octal, e.g. `"600"`. Tests may run as
/// root, who reads any file: the bits are checked, not a refused read.
///
/// # Panics
///
/// When `path` cannot be read (a failed test).
#[cfg(unix)]
#[must_use]
pub fn file_mode(path: &std::path::Path) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode();
    format!("{:o}", mode & 0o777)
}

/// The URL of a service the tests need (PostgreSQL, Redis): `$var` or
/// `default`, after checking that something listens at its host and port.
///
/// # Panics
///
/// When nothing answers there, with a line naming the service and the
/// variable: a missing service fails the suite, it never skips it.
#[must_use]
pub fn require_service(service: &str, var: &str, default: &str) -> String {
    let url = std::env::var(var).unwrap_or_else(|_| default.to_owned());
    let authority = url
        .split_once("://")
        .map_or("", |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    if host_port.is_empty() {
        return url; // a socket URL: nothing to probe here
    }
    let default_port = if url.starts_with("redis") { 6379 } else { 5432 };
    let address = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:{default_port}")
    };
    let reachable = std::net::ToSocketAddrs::to_socket_addrs(address.as_str())
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| {
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).is_ok()
        });
    assert!(
        reachable,
        "{service} is unreachable at {address} ({var}); start it or point {var} at one (scripts/test sets it)"
    );
    url
}
