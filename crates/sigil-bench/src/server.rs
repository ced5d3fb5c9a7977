//! The server under load: a `sigil serve` this program starts (and stops),
//! or one already running at a URL; for `validate --http`, also the
//! example `resource-server` in front of such an issuer.

use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sigil_core::api::paths;

use crate::ceiling::now_ms;

/// How to start a server.
#[derive(Debug, Clone)]
pub(crate) struct SpawnOptions {
    /// The `sigil` binary.
    pub(crate) bin: PathBuf,
    /// `--database URL`; `None`: an SQLite file in a fresh temporary directory.
    pub(crate) store: Option<String>,
    /// `--redis URL` beside the database; `None`: none.
    pub(crate) redis: Option<String>,
    /// `--issuer URL`; `None`: `http://` and the address it listens on.
    /// Instances acting as one service share one issuer.
    pub(crate) issuer: Option<String>,
    /// `taskset -c LIST` for the server; `None`: not pinned.
    pub(crate) cpus: Option<String>,
    /// `RUST_LOG` for the server; `None`: inherited (the server's default is `info`).
    pub(crate) log_level: Option<String>,
    /// Where the server's log goes; `None`: `server.log` in the temporary directory.
    pub(crate) log: Option<PathBuf>,
    /// More environment variables for the server (`SIGIL_*` settings).
    pub(crate) env: Vec<(String, String)>,
}

/// How to start the example resource server (`resource-server --listen
/// … --issuer … --audience …`).
#[derive(Debug, Clone)]
pub(crate) struct ResourceServerOptions {
    /// The `resource-server` binary.
    pub(crate) bin: PathBuf,
    /// The issuer whose tokens it accepts (its JWKS is discovered there).
    pub(crate) issuer: String,
    /// Its audience.
    pub(crate) audience: String,
    /// `taskset -c LIST` for it; `None`: not pinned.
    pub(crate) cpus: Option<String>,
    /// More flags after `--audience` (`--header-read-timeout-ms`, …).
    pub(crate) extra_args: Vec<String>,
}

/// One process to start: binary, arguments, where it listens.
struct Launch<'a> {
    bin: &'a Path,
    args: Vec<String>,
    cpus: Option<&'a str>,
    log_level: Option<&'a str>,
    log: Option<PathBuf>,
    env: &'a [(String, String)],
    dir: PathBuf,
    addr: SocketAddr,
    issuer: String,
    store: String,
}

/// A server to send requests to.
#[derive(Debug)]
pub(crate) struct Server {
    child: Option<Child>,
    pid: Option<u32>,
    addr: SocketAddr,
    host: String,
    issuer: String,
    store: String,
    dir: Option<PathBuf>,
    log: Option<PathBuf>,
}

/// A temporary directory for one run, removed when the server stops.
fn temp_dir() -> anyhow::Result<PathBuf> {
    static RUN: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "sigil-bench-{}-{}-{}",
        std::process::id(),
        now_ms(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// A port nobody listens on now (the kernel's choice; a small race with
/// other programs binding before the server does).
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot bind a local port")?;
    Ok(listener.local_addr()?.port())
}

impl Server {
    /// Starts `sigil serve` on a free local port with rate limits off and
    /// waits until `/health` answers.
    ///
    /// # Errors
    /// When the binary cannot be started or does not become healthy in 30 s.
    pub(crate) fn spawn(options: &SpawnOptions) -> anyhow::Result<Self> {
        if !options.bin.is_file() {
            bail!(
                "no server binary at {} (build it with `cargo build --release -p sigil-cli`, or pass --server-bin PATH or --target URL)",
                options.bin.display()
            );
        }
        let dir = temp_dir()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let host = addr.to_string();
        let issuer = options
            .issuer
            .clone()
            .unwrap_or_else(|| format!("http://{host}"));
        let store = options
            .store
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
        let mut args: Vec<String> = ["serve", "--listen", &host, "--issuer", &issuer]
            .into_iter()
            .chain(["--database", &store, "--rate-limits", "off"])
            .map(str::to_owned)
            .collect();
        if let Some(redis) = &options.redis {
            args.extend(["--redis".to_owned(), redis.clone()]);
        }
        let store = match &options.redis {
            Some(redis) => format!("{store} + {redis}"),
            None => store,
        };
        Self::launch(Launch {
            bin: &options.bin,
            args,
            cpus: options.cpus.as_deref(),
            log_level: options.log_level.as_deref(),
            log: options.log.clone(),
            env: &options.env,
            dir,
            addr,
            issuer,
            store,
        })
    }

    /// Starts `resource-server` on a free local port and waits until its
    /// `/health` answers (it has fetched the issuer's JWKS by then).
    ///
    /// # Errors
    /// When the binary cannot be started or does not become healthy in 30 s.
    pub(crate) fn spawn_resource_server(options: &ResourceServerOptions) -> anyhow::Result<Self> {
        if !options.bin.is_file() {
            bail!(
                "no resource server binary at {} (build it with `cargo build --release -p resource-server`, or pass --resource-server-bin PATH)",
                options.bin.display()
            );
        }
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let args = [
            "--listen",
            &addr.to_string(),
            "--issuer",
            &options.issuer,
            "--audience",
            &options.audience,
        ]
        .map(str::to_owned)
        .into_iter()
        .chain(options.extra_args.iter().cloned())
        .collect();
        Self::launch(Launch {
            bin: &options.bin,
            args,
            cpus: options.cpus.as_deref(),
            log_level: None,
            log: None,
            env: &[],
            dir: temp_dir()?,
            addr,
            issuer: options.issuer.clone(),
            store: "(none)".into(),
        })
    }

    /// Starts `launch.bin` (under `taskset` when pinned) in its temporary
    /// directory, output to the log, and waits until it is healthy.
    fn launch(launch: Launch<'_>) -> anyhow::Result<Self> {
        let log = launch
            .log
            .clone()
            .unwrap_or_else(|| launch.dir.join("server.log"));
        let log_file =
            File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
        let mut command = match launch.cpus {
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.args(["-c", cpus]).arg(launch.bin);
                c
            }
            None => Command::new(launch.bin),
        };
        command
            .args(&launch.args)
            // No sigil.toml of the caller's directory is read.
            .current_dir(&launch.dir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        if let Some(level) = launch.log_level {
            command.env("RUST_LOG", level);
        }
        command.envs(launch.env.iter().map(|(k, v)| (k, v)));
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", launch.bin.display()))?;
        let mut server = Self {
            pid: Some(child.id()),
            child: Some(child),
            addr: launch.addr,
            host: launch.addr.to_string(),
            issuer: launch.issuer,
            store: launch.store,
            dir: Some(launch.dir),
            log: Some(log),
        };
        server.wait_healthy(Duration::from_secs(30))?;
        Ok(server)
    }

    /// A server already running at `url` (`http://host:port`); `pid` lets
    /// its CPU time and memory be read; `issuer` overrides the one its
    /// discovery document names.
    ///
    /// # Errors
    /// For a URL that is not plain `http://host:port`, a host that does not
    /// resolve, or a server whose discovery document cannot be read.
    pub(crate) fn target(
        url: &str,
        pid: Option<u32>,
        issuer: Option<&str>,
    ) -> anyhow::Result<Self> {
        let host = parse_target(url)?;
        let addr = host
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {host}"))?
            .next()
            .with_context(|| format!("{host} resolves to no address"))?;
        let issuer = match issuer {
            Some(issuer) => issuer.to_owned(),
            None => {
                let (status, body) = http_get(
                    addr,
                    &host,
                    paths::OPENID_CONFIGURATION,
                    Duration::from_secs(5),
                )
                .with_context(|| format!("cannot read {url}{}", paths::OPENID_CONFIGURATION))?;
                anyhow::ensure!(status == 200, "discovery document: HTTP {status}");
                let doc: serde_json::Value = serde_json::from_slice(&body)?;
                doc.get("issuer")
                    .and_then(serde_json::Value::as_str)
                    .context("the discovery document names no issuer")?
                    .to_owned()
            }
        };
        Ok(Self {
            child: None,
            pid,
            addr,
            host,
            issuer,
            store: "(external server)".into(),
            dir: None,
            log: None,
        })
    }

    fn wait_healthy(&mut self, limit: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(child) = &mut self.child
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "the server exited ({status}) before it was healthy; its log:\n{}",
                    self.log_tail()
                );
            }
            if let Ok((200, _)) =
                http_get(self.addr, &self.host, paths::HEALTH, Duration::from_secs(1))
            {
                return Ok(());
            }
            if started.elapsed() > limit {
                bail!(
                    "the server did not answer {} within {limit:?}; its log:\n{}",
                    paths::HEALTH,
                    self.log_tail()
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last lines of the server's log, if this program started it.
    pub(crate) fn log_tail(&self) -> String {
        let Some(text) = self.log.as_deref().and_then(|p| fs::read_to_string(p).ok()) else {
            return "(no log)".into();
        };
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The socket address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `Host` header value.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The issuer (the bound form names it).
    pub(crate) fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The store URL given to the server.
    pub(crate) fn store(&self) -> &str {
        &self.store
    }

    /// The process id, when known.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Whether the server this program started is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => true,
        }
    }

    /// Stops a server this program started: SIGTERM (graceful), then
    /// SIGKILL after 5 s; removes the temporary directory.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = self.dir.take() {
            let _ = fs::remove_dir_all(&dir);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `host:port` of a plain-HTTP base URL.
///
/// # Errors
/// For another scheme, a path, or no port.
pub(crate) fn parse_target(url: &str) -> anyhow::Result<String> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("--target must be http://host:port (TLS is not supported), got {url:?}");
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty() || host.contains('/') || !host.contains(':') {
        bail!("--target must be http://host:port with no path, got {url:?}");
    }
    Ok(host.to_owned())
}

/// A blocking `GET` with `Connection: close`: status and body.
///
/// # Errors
/// I/O errors, and `InvalidData` for an answer that is not HTTP/1.x.
pub(crate) fn http_get(
    addr: SocketAddr,
    host: &str,
    path: &str,
    timeout: Duration,
) -> io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    )?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes)?;
    parse_response(&bytes)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP/1.x answer"))
}

/// Status and body of a complete HTTP/1.x response (`Content-Length`,
/// chunked, or read to the end).
pub(crate) fn parse_response(bytes: &[u8]) -> Option<(u16, Vec<u8>)> {
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..split]).ok()?;
    let body = &bytes[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    if !status_line.starts_with("HTTP/1.") {
        return None;
    }
    let status = status_line.split(' ').nth(1)?.parse().ok()?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().ok()?);
        }
    }
    let body = if chunked {
        dechunk(body)?
    } else if let Some(length) = length {
        body.get(..length)?.to_vec()
    } else {
        body.to_vec()
    };
    Some((status, body))
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size_text = size_text.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

/// The default server binary: `sigil` next to this program's executable
/// (`target/release/sigil` when run by `cargo run --release -p sigil-bench`).
pub(crate) fn default_server_bin() -> PathBuf {
    sibling_bin("sigil")
}

/// The binary `name` next to this program's executable (`name` alone, to
/// be looked up in `PATH`, when that directory is unknown).
pub(crate) fn sibling_bin(name: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .as_deref()
        .and_then(Path::parent)
        .map_or_else(|| PathBuf::from(name), |dir| dir.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses() {
        let fixed = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}extra";
        assert_eq!(parse_response(fixed), Some((200, b"{}".to_vec())));
        let chunked = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Some((503, b"abcdefg".to_vec())));
        let to_end = b"HTTP/1.0 404 Not Found\r\n\r\nnope";
        assert_eq!(parse_response(to_end), Some((404, b"nope".to_vec())));
        assert_eq!(parse_response(b"SSH-2.0\r\n\r\n"), None);
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\n"), None);
        let short = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc";
        assert_eq!(parse_response(short), None);
    }

    #[test]
    fn targets() {
        assert_eq!(
            parse_target("http://127.0.0.1:1911").unwrap(),
            "127.0.0.1:1911"
        );
        assert_eq!(
            parse_target("http://localhost:80/").unwrap(),
            "localhost:80"
        );
        for bad in [
            "https://a:1",
            "127.0.0.1:1911",
            "http://a",
            "http://a:1/x",
            "http://",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }
}
