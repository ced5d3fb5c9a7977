//! Helpers of the `sigil serve` tests: scratch directories, a minimal
//! HTTP/1.1 client, the server process, the Node scripts.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
pub(crate) use std::time::{Duration, Instant};

pub(crate) use base64::Engine as _;
pub(crate) use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
pub(crate) use serde_json::{Value, json};
pub(crate) use sigil_core::timestamp::parse_iso_ms;
use sigil_core::{PrivateKey, bsm};

/// The endpoint the tokens are requested for (their `aud`).
/// True when `bytes` hold an unencrypted PKCS#8 EC key: its version 0
/// followed by the id-ecPublicKey algorithm (OID 1.2.840.10045.2.1). The
/// OID alone is not enough: every stored `x5c` certificate carries it in
/// its public key, which is public.
pub(crate) fn holds_plain_pkcs8(bytes: &[u8]) -> bool {
    const PKCS8_EC: [u8; 14] = [
        0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
    ];
    bytes.windows(PKCS8_EC.len()).any(|w| w == PKCS8_EC)
}

pub(crate) const ENDPOINT: &str = "https://api.example.com/data";
/// How long a server may take to answer `/health` after it was spawned.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long any child process (a `sigil` command, a node script) may run.
pub(crate) const CHILD_TIMEOUT: Duration = Duration::from_secs(15);
/// Pause between two polls.
pub(crate) const POLL: Duration = Duration::from_millis(50);
/// The servers' key and account reload interval (SIGIL_RELOAD_INTERVAL_MS).
pub(crate) const RELOAD_MS: &str = "200";

// ---------------------------------------------------------------- scratch --

/// A fresh directory under the system temp dir, removed on drop: the
/// servers' working directory (so no stray `sigil.toml` is read), their
/// database and their logs.
pub(crate) struct Scratch {
    pub(crate) dir: PathBuf,
    pub(crate) files: AtomicU32,
}

impl Scratch {
    pub(crate) fn new(test: &str) -> Self {
        let dir = sigil_testkit::fresh_dir(&format!("server-test-{test}"));
        Self {
            dir,
            files: AtomicU32::new(0),
        }
    }

    /// `sqlite://<dir>/sigil.db`, the same file for every server and
    /// command of one test.
    pub(crate) fn database(&self) -> String {
        format!("sqlite://{}", self.dir.join("sigil.db").display())
    }

    /// Creates the scratch database (as a first `sigil serve` would), for a
    /// test that runs admin commands before any server: they refuse a
    /// database that does not exist.
    pub(crate) fn create_database(&self) {
        let database = self.database();
        tokio::runtime::Runtime::new()
            .expect("a runtime")
            .block_on(async {
                let store = sigil_store::Store::open(&database)
                    .await
                    .expect("the database is created");
                store.close().await.expect("closed");
            });
    }

    /// A new file name in the scratch dir, for a child's output.
    pub(crate) fn fresh_path(&self, stem: &str) -> PathBuf {
        let n = self.files.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("{stem}-{n}.log"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ----------------------------------------------------------- child runs --

/// A `sigil` command in `dir`, with every inherited `SIGIL_*` variable
/// removed (the caller sets what it needs) and plain, uncoloured logs.
pub(crate) fn sigil_command(dir: &Path) -> Command {
    sigil_command_on(dir, None)
}

/// `sigil_command`, run by `taskset -c CPUS` when `cpus` is given.
pub(crate) fn sigil_command_on(dir: &Path, cpus: Option<&str>) -> Command {
    let mut command = match cpus {
        Some(cpus) => {
            let mut taskset = Command::new("taskset");
            taskset.args(["-c", cpus, env!("CARGO_BIN_EXE_sigil")]);
            taskset
        }
        None => Command::new(env!("CARGO_BIN_EXE_sigil")),
    };
    command
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SIGIL_") {
            command.env_remove(name);
        }
    }
    command
}

/// One finished child process.
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn describe(&self) -> String {
        format!(
            "exit {:?}\nstdout: {}\nstderr: {}",
            self.code, self.stdout, self.stderr
        )
    }

    pub(crate) fn assert_code(&self, want: i32, what: &str) -> &Self {
        assert_eq!(self.code, Some(want), "{what}: {}", self.describe());
        self
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}): {}", self.describe()))
    }
}

/// Runs `command` to completion with its output in files of `scratch` (no
/// pipe can fill up), killing it after [`CHILD_TIMEOUT`].
pub(crate) fn run(scratch: &Scratch, mut command: Command, what: &str) -> Run {
    let out_path = scratch.fresh_path("stdout");
    let err_path = scratch.fresh_path("stderr");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let status = wait_bounded(&mut child, CHILD_TIMEOUT);
    let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
    let result = Run {
        code: status.and_then(|s| s.code()),
        stdout: read(&out_path),
        stderr: read(&err_path),
    };
    assert!(
        status.is_some(),
        "{what}: still running after {CHILD_TIMEOUT:?} (killed): {}",
        result.describe()
    );
    result
}

/// Waits at most `limit` for `child`; kills it and returns `None` when it
/// did not exit in time.
pub(crate) fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        sleep(POLL);
    }
}

/// `sigil args…` in the scratch dir, on its database.
pub(crate) fn sigil(scratch: &Scratch, args: &[&str]) -> Run {
    let mut command = sigil_command(&scratch.dir);
    command.args(args);
    run(scratch, command, &format!("sigil {}", args.join(" ")))
}

/// A fresh key from `sigil keygen --json`.
pub(crate) struct Key {
    pub(crate) wif: String,
    pub(crate) pubkey: String,
    pub(crate) address: String,
    pub(crate) private: PrivateKey,
}

pub(crate) fn keygen(scratch: &Scratch) -> Key {
    let generated = sigil(scratch, &["keygen", "--json"])
        .assert_code(0, "keygen")
        .json();
    let field = |name: &str| generated[name].as_str().expect(name).to_owned();
    let wif = field("wif");
    let private = PrivateKey::from_wif(&wif).unwrap();
    assert_eq!(private.public_key().to_hex(), field("pubkey"));
    Key {
        private,
        pubkey: field("pubkey"),
        address: field("address"),
        wif,
    }
}

// ------------------------------------------------------------------ http --

/// One HTTP answer.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {}: body is not JSON ({e}): {}",
                self.status,
                self.text()
            )
        })
    }

    /// Asserts a docs/protocol.md §8 refusal: `status`, exactly the members
    /// `error` (= `code`) and `error_description` (containing `phrase`).
    pub(crate) fn assert_error(&self, status: u16, code: &str, phrase: &str) {
        let body = self.json();
        assert_eq!(self.status, status, "{body}");
        assert_eq!(body["error"], code, "{body}");
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(phrase), "{phrase:?} not in {body}");
        assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
    }
}

/// One HTTP/1.1 request on a new connection (`Connection: close`).
pub(crate) fn http(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(CHILD_TIMEOUT))?;
    stream.set_write_timeout(Some(CHILD_TIMEOUT))?;
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body.unwrap_or_default());
    stream.write_all(&bytes)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    Ok(parse_response(&raw))
}

pub(crate) fn parse_response(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..split]).expect("ASCII headers");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

pub(crate) fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size_text = std::str::from_utf8(&data[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .expect("hex chunk size");
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

// ---------------------------------------------------------------- server --

/// A running `sigil serve`, killed on drop.
pub(crate) struct Server {
    pub(crate) child: Option<Child>,
    pub(crate) port: u16,
    pub(crate) base: String,
    /// Its store URL.
    pub(crate) database: String,
    pub(crate) stderr_path: PathBuf,
}

/// How to start a server beyond the common flags.
#[derive(Default)]
pub(crate) struct Options<'a> {
    /// Reuse this port (a restart keeps its issuer URL); otherwise a free one.
    pub(crate) port: Option<u16>,
    pub(crate) rate_limits_off: bool,
    pub(crate) env: &'a [(&'a str, &'a str)],
    /// Run the server by `taskset -c` on these CPUs.
    pub(crate) cpus: Option<&'a str>,
    /// This store URL instead of the scratch SQLite file.
    pub(crate) database: Option<&'a str>,
    /// This issuer instead of `http://127.0.0.1:PORT` (several instances
    /// behind one name).
    pub(crate) issuer: Option<&'a str>,
    /// More `sigil serve` arguments.
    pub(crate) args: &'a [&'a str],
}

/// A port nobody listens on right now (`sigil_testkit::free_port`); the
/// race with another test of this file is caught by [`Server::is_ours`]
/// and retried.
pub(crate) use sigil_testkit::free_port;

impl Server {
    /// Starts `sigil serve` on the scratch database with issuer
    /// `http://127.0.0.1:PORT`, and waits until `/health` answers 200.
    pub(crate) fn start(scratch: &Scratch, options: &Options<'_>) -> Self {
        let attempts = if options.port.is_some() { 1 } else { 3 };
        let mut failures = Vec::new();
        for _ in 0..attempts {
            let port = options.port.unwrap_or_else(free_port);
            match Self::try_start(scratch, options, port) {
                Ok(server) => return server,
                Err(stderr) => failures.push(stderr),
            }
        }
        panic!(
            "sigil serve did not become ready:\n{}",
            failures.join("\n---- next attempt ----\n")
        );
    }

    pub(crate) fn try_start(
        scratch: &Scratch,
        options: &Options<'_>,
        port: u16,
    ) -> Result<Self, String> {
        let base = format!("http://127.0.0.1:{port}");
        let database = options
            .database
            .map_or_else(|| scratch.database(), str::to_owned);
        let stderr_path = scratch.fresh_path("server");
        let mut command = sigil_command_on(&scratch.dir, options.cpus);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--issuer", options.issuer.unwrap_or(&base)])
            .args(["--database", &database])
            .args(options.args);
        if options.rate_limits_off {
            command.args(["--rate-limits", "off"]);
        }
        for (name, value) in options.env {
            command.env(name, value);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr_path).unwrap())
            .spawn()
            .expect("the sigil binary starts");
        let mut server = Self {
            child: Some(child),
            port,
            base,
            database,
            stderr_path,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(r) = http(port, "GET", "/health", &[], None)
                && r.status == 200
                && server.is_ours(scratch)
            {
                return Ok(server);
            }
            let exited = server.child.as_mut().unwrap().try_wait().unwrap();
            if let Some(status) = exited {
                server.child = None;
                return Err(format!("exited with {status}:\n{}", server.stderr()));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no 200 from /health within {READY_TIMEOUT:?}:\n{}",
                    server.stderr()
                ));
            }
            sleep(POLL);
        }
    }

    /// Whether the server answering on the port is this child (and not
    /// another process that holds the port, while this child fails to bind
    /// it): the JWKS lists only keys of its database.
    pub(crate) fn is_ours(&self, scratch: &Scratch) -> bool {
        let Ok(response) = http(self.port, "GET", "/.well-known/jwks.json", &[], None) else {
            return false;
        };
        let Ok(jwks) = serde_json::from_slice::<Value>(&response.body) else {
            return false;
        };
        let published: Vec<&str> = jwks["keys"]
            .as_array()
            .map(|keys| keys.iter().filter_map(|k| k["kid"].as_str()).collect())
            .unwrap_or_default();
        let ours = sigil(
            scratch,
            &["keys", "list", "--database", &self.database, "--json"],
        );
        let ours = if ours.code == Some(0) {
            ours.json()
        } else {
            Value::Null
        };
        let ours: Vec<&str> = ours
            .as_array()
            .map(|keys| keys.iter().filter_map(|k| k["kid"].as_str()).collect())
            .unwrap_or_default();
        !published.is_empty() && published.iter().all(|kid| ours.contains(kid))
    }

    /// What the server has logged so far.
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub(crate) fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        http(self.port, method, target, headers, body)
            .unwrap_or_else(|e| panic!("{method} {target}: {e}\nserver stderr:\n{}", self.stderr()))
    }

    pub(crate) fn get(&self, target: &str) -> Response {
        self.request("GET", target, &[], None)
    }

    pub(crate) fn get_bearer(&self, target: &str, token: &str) -> Response {
        let authorization = format!("Bearer {token}");
        self.request("GET", target, &[("Authorization", &authorization)], None)
    }

    pub(crate) fn post_json(&self, target: &str, body: &str) -> Response {
        self.request(
            "POST",
            target,
            &[("Content-Type", "application/json")],
            Some(body.as_bytes()),
        )
    }

    /// The kids the JWKS lists now.
    pub(crate) fn jwks_kids(&self) -> Vec<String> {
        let response = self.get("/.well-known/jwks.json");
        assert_eq!(response.status, 200, "JWKS: {}", response.text());
        response.json()["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k["kid"].as_str().expect("kid").to_owned())
            .collect()
    }

    /// POSTs a token request body; the answer.
    pub(crate) fn token_response(&self, body: &str) -> Response {
        self.post_json("/api/auth/token-for-endpoint", body)
    }

    /// A token for `endpoint`, signed now by `key`; asserts the 200.
    pub(crate) fn token(&self, key: &Key, endpoint: &str) -> String {
        let response = self.token_response(&token_request(key, endpoint));
        self.token_from(&response)
    }

    pub(crate) fn token_from(&self, response: &Response) -> String {
        assert_eq!(
            response.status,
            200,
            "token request: {}\nserver stderr:\n{}",
            response.text(),
            self.stderr()
        );
        assert_eq!(response.header("cache-control"), Some("no-store"));
        let body = response.json();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 1800);
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// SIGTERM, then waits (bounded) for a clean exit.
    pub(crate) fn terminate(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("the server runs");
        let killed = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(killed.success(), "kill -TERM failed");
        let status = wait_bounded(child, Duration::from_secs(10));
        self.child = None;
        status.unwrap_or_else(|| {
            panic!(
                "the server did not exit within 10 s of SIGTERM:\n{}",
                self.stderr()
            )
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------- tokens --

pub(crate) use sigil_testkit::now_ms;

/// The seed's request body (compat message `endpoint:timestamp`), signed
/// now with BSM.
pub(crate) fn token_request(key: &Key, endpoint: &str) -> String {
    let timestamp = now_ms();
    let message = format!("{endpoint}:{timestamp}");
    let signature = STANDARD.encode(bsm::sign(message.as_bytes(), &key.private).to_bytes());
    json!({
        "endpoint": endpoint,
        "timestamp": timestamp,
        "message": message,
        "pubkey": key.pubkey,
        "signature": signature,
    })
    .to_string()
}

/// Part `index` (0 header, 1 claims) of a compact JWS, decoded.
pub(crate) fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

// ------------------------------------------------------------------ node --

/// `node token_service.mjs args…` (with `SERVICE_ACCOUNT_WIF` when given):
/// its JSON output. Asserts exit 0.
pub(crate) fn token_service(
    scratch: &Scratch,
    server: &Server,
    args: &[&str],
    wif: Option<&str>,
) -> Value {
    let mut command = sigil_testkit::node("token_service.mjs", &["jose", "jsonwebtoken"]);
    command.args(args).env_remove("SERVICE_ACCOUNT_WIF");
    if let Some(wif) = wif {
        command.env("SERVICE_ACCOUNT_WIF", wif);
    }
    let result = run(scratch, command, "node token_service.mjs");
    assert_eq!(
        result.code,
        Some(0),
        "node token_service.mjs {}: {}\nserver stderr:\n{}",
        args.join(" "),
        result.describe(),
        server.stderr()
    );
    result.json()
}

/// Node's jose and jsonwebtoken validations of `token` for `audience`
/// against `server`'s JWKS: asserts both accept it; returns jose's kid.
pub(crate) fn assert_node_accepts(
    scratch: &Scratch,
    server: &Server,
    token: &str,
    audience: &str,
) -> String {
    let out = token_service(
        scratch,
        server,
        &[&server.base, "verify", token, audience],
        None,
    );
    assert_eq!(
        out["jose"]["ok"],
        true,
        "jose refused the token: {out}\nserver stderr:\n{}",
        server.stderr()
    );
    assert_eq!(
        out["jsonwebtoken"]["ok"],
        true,
        "jsonwebtoken refused the token: {out}\nserver stderr:\n{}",
        server.stderr()
    );
    out["jose"]["kid"].as_str().expect("kid").to_owned()
}

/// Polls `check` every [`POLL`] until it returns `Some`, for at most `limit`.
pub(crate) fn poll<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        sleep(POLL);
    }
}

// ----------------------------------------------------------------- tests --
