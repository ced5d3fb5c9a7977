//! The binary's X-Auth-Token and flood flags, end to end: a std-only
//! issuer (discovery + JWKS) and the binary, both on 127.0.0.1:0 (the
//! binary's address read from its start-up line), driven with plain
//! HTTP/1.1 over loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sigil_core::auth_token::{NewAuthToken, build};
use sigil_core::es256::generate_pkcs8;
use sigil_core::jwks::Jwks;
use sigil_core::{Es256SigningKey, Network, PrivateKey, Scheme};

/// Serves the discovery document and a one-key JWKS, one answer per
/// connection; returns the issuer URL.
fn issuer() -> String {
    let listener = sigil_testkit::local_listener();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let key = Es256SigningKey::from_pkcs8(&generate_pkcs8(&[9; 32]).unwrap()).unwrap();
    let jwks = serde_json::to_string(&Jwks {
        keys: vec![key.public_jwk()],
    })
    .unwrap();
    let discovery = json!({
        "issuer": base,
        "jwks_uri": format!("{base}/jwks.json"),
        "access_token_signing_alg_values_supported": ["ES256"],
    })
    .to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
            }
            let body = if request_line.contains("/.well-known/") {
                &discovery
            } else {
                &jwks
            };
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).unwrap();
        }
    });
    base
}

/// The running binary; killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(extra: &[&str]) -> Self {
        let issuer = issuer();
        let mut child = Command::new(env!("CARGO_BIN_EXE_resource-server"))
            .args(["--listen", "127.0.0.1:0", "--issuer", &issuer])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let addr = line
            .split("listening on http://")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .unwrap_or_else(|| panic!("no start-up line: {line:?}"))
            .to_owned();
        Self { child, addr }
    }

    /// `GET path` with an `X-Auth-Token`: status, headers (lower case) and
    /// the JSON body.
    fn get(&self, path: &str, token: &str) -> (u16, String, Value) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nhost: {}\r\nx-auth-token: {token}\r\nconnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let body = serde_json::from_str(body).unwrap_or(Value::Null);
        (status, head.to_ascii_lowercase(), body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh BSM token of key `n` for `request_path`, signed now.
fn token(n: u8, request_path: &str) -> String {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    build(
        &PrivateKey::from_bytes([n; 32], Network::Mainnet, true).unwrap(),
        &NewAuthToken {
            request_path,
            body: None,
            timestamp_ms: u64::try_from(now_ms).unwrap(),
            scheme: Scheme::Bsm,
            key_id: [0; 32],
        },
    )
    .unwrap()
}

const PATH: &str = "/api/protected";

#[track_caller]
fn assert_refused(answer: &(u16, String, Value), status: u16, code: &str, phrase: &str) {
    let (got, _, body) = answer;
    assert_eq!(*got, status, "{answer:?}");
    assert_eq!(body["error"], code, "{answer:?}");
    assert_eq!(body.as_object().unwrap().len(), 2, "{answer:?}");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains(phrase), "{answer:?} lacks {phrase:?}");
}

/// `--x-auth-token url` takes only the absolute URL on the audience's
/// origin; `--rate-limit-*` set the per-address bucket (counted before
/// verification, refused tokens included).
#[test]
fn url_mode_and_the_rate_limit_flags() {
    let server = Server::start(&[
        "--audience",
        "https://api.example.com",
        "--x-auth-token",
        "url",
        "--rate-limit-per-minute",
        "1",
        "--rate-limit-burst",
        "2",
    ]);
    let path_form = server.get(PATH, &token(1, PATH));
    assert_refused(
        &path_form,
        401,
        "invalid_signature",
        "only the absolute URL form",
    );
    let url = format!("https://api.example.com{PATH}");
    let (status, _, body) = server.get(PATH, &token(2, &url));
    assert_eq!((status, &body["auth"]), (200, &json!("x-auth-token")));
    let limited = server.get(PATH, &token(3, &url));
    assert_refused(&limited, 429, "rate_limit_exceeded", "rate limit");
    assert!(limited.1.contains("\r\nretry-after: "), "{limited:?}");
    assert!(
        limited.1.contains("\r\nx-ratelimit-limit: 1\r\n"),
        "{limited:?}"
    );
}

/// `--rate-limits off --replay-capacity 1`: nothing is counted by the
/// limit, and a memory of one record refuses the client holding it (429,
/// not 503); the default mode takes the path form.
#[test]
fn limits_off_and_a_tiny_replay_memory() {
    let server = Server::start(&[
        "--audience",
        "https://api.example.com",
        "--rate-limits",
        "off",
        "--replay-capacity",
        "1",
    ]);
    let (status, head, _) = server.get(PATH, &token(1, PATH));
    assert_eq!(status, 200, "{head}");
    assert!(!head.contains("x-ratelimit-limit"), "{head}");
    let full = server.get(PATH, &token(2, PATH));
    assert_refused(
        &full,
        429,
        "rate_limit_exceeded",
        "share of the full replay memory",
    );
}

/// `--x-auth-token off`: the header is no credential.
#[test]
fn x_auth_tokens_off() {
    let server = Server::start(&[
        "--audience",
        "https://api.example.com",
        "--x-auth-token",
        "off",
    ]);
    let answer = server.get(PATH, &token(1, PATH));
    assert_refused(&answer, 401, "invalid_token", "bearer token");
}
