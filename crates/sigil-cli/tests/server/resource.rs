//! End to end (issue 4): a real `sigil serve`, the example resource server
//! (`examples/resource-server`, the binary next to `sigil`) and three kinds
//! of client: `sigil-client`, the real `bitcoin-auth` npm library, and the
//! seed's `signRequest` (@bsv/sdk), through `tests/interop/resource_client.mjs`.
//! Also the CLI's `token`, `call` and `inspect` against them.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use sigil_client::reqwest::{self, Method};
use sigil_client::{Client, Scheme};
use sigil_core::auth_token::{self, NewAuthToken};
use sigil_core::signed_request;

use crate::support::*;

const PROTECTED: &str = "/api/protected";

/// The example resource server, a child process.
struct ResourceServer {
    child: Option<Child>,
    base: String,
    stderr_path: PathBuf,
}

impl ResourceServer {
    fn binary() -> PathBuf {
        let path = PathBuf::from(env!("CARGO_BIN_EXE_sigil")).with_file_name("resource-server");
        assert!(
            path.is_file(),
            "{} is missing: build it first (`cargo build --workspace`); a workspace test \
             run builds it for resource-server's own integration test (tests/cli.rs)",
            path.display()
        );
        path
    }

    /// Starts it for `issuer` with the audience `http://127.0.0.1:PORT`, and
    /// waits for `/health`.
    fn start(scratch: &Scratch, issuer: &Server, extra: &[&str]) -> Self {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let stderr_path = scratch.fresh_path("resource-server");
        let child = Command::new(Self::binary())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--issuer", &issuer.base, "--audience", &base])
            .args(extra)
            .current_dir(&scratch.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr_path).unwrap())
            .spawn()
            .expect("the resource-server binary starts");
        let mut server = Self {
            child: Some(child),
            base,
            stderr_path,
        };
        let ready = poll(READY_TIMEOUT, || {
            let ok = http(port, "GET", "/health", &[], None).is_ok_and(|r| r.status == 200);
            ok.then_some(())
        });
        if ready.is_none() {
            let _ = server.child.as_mut().unwrap().kill();
            panic!("resource-server not ready:\n{}", server.stderr());
        }
        server
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for ResourceServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An answer, read whole.
struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Self { status, body }
    }

    /// 200 with docs/protocol.md §15's body for `key` and `auth`.
    fn assert_ok(&self, key: &Key, auth: &str) {
        assert_eq!(self.status, 200, "{}", self.body);
        assert_eq!(self.body["sub"], key.pubkey, "{}", self.body);
        assert_eq!(self.body["auth"], auth, "{}", self.body);
    }

    /// docs/protocol.md §8's body with this status, code and phrase.
    fn assert_refused(&self, status: u16, code: &str, phrase: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.body["error"], code, "{}", self.body);
        let description = self.body["error_description"].as_str().unwrap_or_default();
        assert!(
            description.contains(phrase),
            "{code}: {description:?} lacks {phrase:?}"
        );
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn client(server: &Server, key: &Key) -> Client {
    Client::new(&server.base, key.private.clone()).unwrap()
}

/// A signed request made by hand (docs/protocol.md §6), so that a test can change
/// what is sent after signing.
fn signed_headers(
    key: &sigil_core::PrivateKey,
    method: &str,
    target: &str,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    let timestamp = now_ms();
    let hash = signed_request::body_hash(body);
    let statement = signed_request::statement(method, target, &hash, timestamp);
    let signature = STANDARD.encode(sigil_core::bsm::sign(statement.as_bytes(), key).to_bytes());
    vec![
        ("x-timestamp", timestamp.to_string()),
        ("x-body-hash", hash),
        ("x-signature", signature),
    ]
}

async fn send(method: Method, url: &str, headers: &[(&str, String)], body: Option<&str>) -> Answer {
    let mut request = reqwest::Client::new().request(method, url);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    Answer::read(request.send().await.unwrap()).await
}

#[test]
fn sigil_client_bearer_signed_and_x_auth_token_are_accepted() {
    let scratch = Scratch::new("rs-client");
    let key = keygen(&scratch);
    let server = Server::start(&scratch, &Options::default());
    let rs = ResourceServer::start(&scratch, &server, &[]);
    let url = rs.url(PROTECTED);
    runtime().block_on(async {
        for scheme in [Scheme::Bsm, Scheme::Brc77] {
            let sigil = client(&server, &key).scheme(scheme);
            let bearer = Answer::read(sigil.get(&url).send().await.unwrap()).await;
            bearer.assert_ok(&key, "bearer");
            let signed = sigil.post(&url).json(&json!({"n": 1})).signed().send();
            Answer::read(signed.await.unwrap())
                .await
                .assert_ok(&key, "signed");
            let signed_get = sigil.get(format!("{url}?page=2")).signed().send();
            Answer::read(signed_get.await.unwrap())
                .await
                .assert_ok(&key, "signed");
            for body in [None, Some(r#"{"item":"é"}"#)] {
                let token = sigil
                    .x_auth_token(PROTECTED, body.map(str::as_bytes))
                    .unwrap();
                let method = if body.is_some() {
                    Method::POST
                } else {
                    Method::GET
                };
                let headers = [("x-auth-token", token)];
                let first = send(method.clone(), &url, &headers, body).await;
                first.assert_ok(&key, "x-auth-token");
                // The same X-Auth-Token again is a replay.
                send(method, &url, &headers, body).await.assert_refused(
                    401,
                    "replay_detected",
                    "already used",
                );
            }
        }
    });
    drop(rs);
}

#[test]
fn tampering_wrong_audience_replays_and_forged_senders_are_refused() {
    let scratch = Scratch::new("rs-refusals");
    let key = keygen(&scratch);
    let other = keygen(&scratch);
    let server = Server::start(&scratch, &Options::default());
    let rs = ResourceServer::start(&scratch, &server, &[]);
    let url = rs.url(PROTECTED);
    runtime().block_on(async {
        let sigil = client(&server, &key);
        let token = sigil.token(&url).await.unwrap();
        let bearer = ("authorization", format!("Bearer {}", token.as_str()));

        // Body changed after signing.
        let mut headers = signed_headers(&key.private, "POST", PROTECTED, br#"{"amount":1}"#);
        headers.push(bearer.clone());
        send(Method::POST, &url, &headers, Some(r#"{"amount":1000}"#))
            .await
            .assert_refused(401, "invalid_signature", "signature verification failed");

        // The same signed request twice: the second is a replay.
        let mut headers = signed_headers(&key.private, "POST", PROTECTED, br#"{"amount":1}"#);
        headers.push(bearer.clone());
        send(Method::POST, &url, &headers, Some(r#"{"amount":1}"#))
            .await
            .assert_ok(&key, "signed");
        send(Method::POST, &url, &headers, Some(r#"{"amount":1}"#))
            .await
            .assert_refused(401, "replay_detected", "already used");

        // Signed by another key than the token's sub.
        let mut headers = signed_headers(&other.private, "GET", PROTECTED, b"");
        headers.push(bearer.clone());
        send(Method::GET, &url, &headers, None)
            .await
            .assert_refused(401, "invalid_signature", "signature verification failed");

        // A token for another audience (substitution, T15).
        let elsewhere = sigil.token("https://api.other.example/data").await.unwrap();
        let headers = [("authorization", format!("Bearer {}", elsewhere.as_str()))];
        send(Method::GET, &url, &headers, None)
            .await
            .assert_refused(401, "invalid_token", "aud");

        // A BRC-77 X-Auth-Token signed by `other` claiming `key`.
        let forged = auth_token::build(
            &other.private,
            &NewAuthToken {
                request_path: PROTECTED,
                body: None,
                timestamp_ms: now_ms(),
                scheme: Scheme::Brc77,
                key_id: [7; 32],
            },
        )
        .unwrap();
        let forged = forged.replacen(&other.pubkey, &key.pubkey, 1);
        assert!(forged.starts_with(&key.pubkey));
        send(Method::GET, &url, &[("x-auth-token", forged)], None)
            .await
            .assert_refused(401, "invalid_signature", "signature verification failed");

        // No credentials at all.
        send(Method::GET, &url, &[], None)
            .await
            .assert_refused(401, "invalid_token", "");
    });
    assert!(!rs.stderr().contains("panicked"), "{}", rs.stderr());
}

/// `resource-server --redis` (docs/protocol.md §15): two processes on one
/// Redis and prefix are one replay memory. A signed request (its statement
/// names the path, not the server) and a path-form X-Auth-Token accepted
/// by one are replays at the other, each with its own bearer token; a
/// third process on another prefix keeps its own records.
#[test]
fn two_resource_servers_on_one_redis_accept_a_statement_once() {
    let scratch = Scratch::new("rs-redis");
    let key = keygen(&scratch);
    let space = sigil_testkit::RedisPrefix::new("resource-server");
    let other = sigil_testkit::RedisPrefix::new("resource-server-other");
    let server = Server::start(&scratch, &Options::default());
    let redis = |space: &sigil_testkit::RedisPrefix| {
        [
            "--redis".to_owned(),
            space.url().to_owned(),
            "--redis-prefix".to_owned(),
            space.prefix().to_owned(),
        ]
    };
    let flags = redis(&space);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let one = ResourceServer::start(&scratch, &server, &flags);
    let two = ResourceServer::start(&scratch, &server, &flags);
    let apart = redis(&other);
    let apart: Vec<&str> = apart.iter().map(String::as_str).collect();
    let three = ResourceServer::start(&scratch, &server, &apart);
    runtime().block_on(async {
        let sigil = client(&server, &key);
        let bearer = |url: String| {
            let sigil = &sigil;
            async move {
                let token = sigil.token(&url).await.unwrap();
                ("authorization", format!("Bearer {}", token.as_str()))
            }
        };
        let mut headers = signed_headers(&key.private, "POST", PROTECTED, br#"{"n":1}"#);
        let signed = headers.clone();
        headers.push(bearer(one.url(PROTECTED)).await);
        send(
            Method::POST,
            &one.url(PROTECTED),
            &headers,
            Some(r#"{"n":1}"#),
        )
        .await
        .assert_ok(&key, "signed");
        for (rs, shares_redis) in [(&two, true), (&three, false)] {
            let mut headers = signed.clone();
            headers.push(bearer(rs.url(PROTECTED)).await);
            let answer = send(
                Method::POST,
                &rs.url(PROTECTED),
                &headers,
                Some(r#"{"n":1}"#),
            )
            .await;
            if shares_redis {
                answer.assert_refused(401, "replay_detected", "already used");
            } else {
                answer.assert_ok(&key, "signed");
            }
        }

        let token = sigil.x_auth_token(PROTECTED, None).unwrap();
        let headers = [("x-auth-token", token)];
        send(Method::GET, &two.url(PROTECTED), &headers, None)
            .await
            .assert_ok(&key, "x-auth-token");
        send(Method::GET, &one.url(PROTECTED), &headers, None)
            .await
            .assert_refused(401, "replay_detected", "already used");
    });
    assert_eq!(space.keys().len(), 2, "{:?}", space.keys());
    assert!(
        one.stderr().contains("replay records in Redis"),
        "{}",
        one.stderr()
    );
}

#[test]
fn bitcoin_auth_npm_tokens_are_accepted_in_both_schemes_with_and_without_body() {
    let scratch = Scratch::new("rs-bitcoin-auth");
    let key = keygen(&scratch);
    let server = Server::start(&scratch, &Options::default());
    let rs = ResourceServer::start(&scratch, &server, &[]);
    for scheme in ["bsm", "brc77"] {
        for body in [None, Some(r#"{"hello":"wörld"}"#)] {
            let mut args = vec!["x-auth", rs.base.as_str(), PROTECTED, scheme];
            args.extend(body);
            let out = resource_client(&scratch, &key, &args);
            let context = format!("{out:#}\nresource-server:\n{}", rs.stderr());
            assert_eq!(out["status"], 200, "{context}");
            assert_eq!(out["body"]["auth"], "x-auth-token", "{context}");
            assert_eq!(out["body"]["sub"], key.pubkey, "{context}");
            let sent = out["sent"]["X-Auth-Token"].as_str().unwrap();
            assert!(sent.contains(&format!("|{scheme}|")), "{context}");
        }
    }
}

#[test]
fn seed_sign_request_is_accepted_and_required_mode_refuses_bare_tokens() {
    let scratch = Scratch::new("rs-seed");
    let key = keygen(&scratch);
    let server = Server::start(&scratch, &Options::default());
    let rs = ResourceServer::start(&scratch, &server, &["--require-signed-requests"]);
    let url = rs.url(PROTECTED);
    let token = runtime().block_on(async {
        let sigil = client(&server, &key);
        // A bare bearer token is not enough here (sigil-client surfaces the
        // refusal, after its one retry with a fresh token).
        let refused = sigil.get(&url).send().await.unwrap_err();
        assert_eq!(refused.code(), Some(sigil_client::ErrorCode::InvalidToken));
        assert!(
            refused.to_string().contains("signed request required"),
            "{refused}"
        );
        // sigil-client's signed requests are.
        Answer::read(sigil.get(&url).signed().send().await.unwrap())
            .await
            .assert_ok(&key, "signed");
        sigil.token(&url).await.unwrap().as_str().to_owned()
    });
    for (method, body) in [("GET", None), ("POST", Some(r#"{"data":[1,2,3]}"#))] {
        let mut args = vec![
            "signed-request",
            rs.base.as_str(),
            PROTECTED,
            method,
            &token,
        ];
        args.extend(body);
        let out = resource_client(&scratch, &key, &args);
        let context = format!("{out:#}\nresource-server:\n{}", rs.stderr());
        // The seed's X-Signature: @bsv/sdk's number[] as fetch prints it.
        let signature = out["sent"]["X-Signature"].as_str().unwrap();
        assert!(
            signature.split(',').all(|b| b.parse::<u8>().is_ok()) && signature.len() > 100,
            "{context}"
        );
        assert_eq!(out["status"], 200, "{context}");
        assert_eq!(out["body"]["auth"], "signed", "{context}");
        assert_eq!(out["body"]["sub"], key.pubkey, "{context}");
    }
}

#[test]
fn key_rotation_on_the_server_is_followed_without_restart() {
    let scratch = Scratch::new("rs-rotation");
    let key = keygen(&scratch);
    let server = Server::start(
        &scratch,
        &Options {
            env: &[("SIGIL_RELOAD_INTERVAL_MS", RELOAD_MS)],
            ..Options::default()
        },
    );
    let rs = ResourceServer::start(&scratch, &server, &["--jwks-refetch-cooldown-s", "1"]);
    let url = rs.url(PROTECTED);
    let rt = runtime();
    let old_token = rt.block_on(async {
        let sigil = client(&server, &key);
        Answer::read(sigil.get(&url).send().await.unwrap())
            .await
            .assert_ok(&key, "bearer");
        sigil.token(&url).await.unwrap().as_str().to_owned()
    });
    let old_kid = jwt_part(&old_token, 0)["kid"].as_str().unwrap().to_owned();
    sigil(
        &scratch,
        &["keys", "rotate", "--database", &scratch.database()],
    )
    .assert_code(0, "keys rotate");
    poll(Duration::from_secs(10), || {
        (server.jwks_kids().len() == 2).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "the server did not publish the new key:\n{}",
            server.stderr()
        )
    });

    // A new token (new kid) is accepted once the cool-down since the
    // resource server's last fetch has passed; the old one keeps working.
    let accepted = poll(Duration::from_secs(10), || {
        rt.block_on(async {
            let sigil = client(&server, &key); // a fresh cache: a new token
            let token = sigil.token(&url).await.unwrap();
            let kid = jwt_part(token.as_str(), 0)["kid"]
                .as_str()
                .unwrap()
                .to_owned();
            assert_ne!(kid, old_kid, "tokens after the rotation use the new key");
            let headers = [("authorization", format!("Bearer {}", token.as_str()))];
            let answer = send(Method::GET, &url, &headers, None).await;
            (answer.status == 200).then_some(answer)
        })
    });
    accepted
        .unwrap_or_else(|| panic!("new-key token refused:\n{}", rs.stderr()))
        .assert_ok(&key, "bearer");
    rt.block_on(async {
        let headers = [("authorization", format!("Bearer {old_token}"))];
        send(Method::GET, &url, &headers, None)
            .await
            .assert_ok(&key, "bearer");
    });
}

#[test]
fn cli_token_call_and_inspect_against_the_servers() {
    let scratch = Scratch::new("rs-cli");
    let key = keygen(&scratch);
    let server = Server::start(&scratch, &Options::default());
    let rs = ResourceServer::start(&scratch, &server, &[]);
    let url = rs.url(PROTECTED);
    let with_key = |args: &[&str]| {
        let mut command = sigil_command(&scratch.dir);
        command
            .args(args)
            .env("SIGIL_WIF", &key.wif)
            .env("SIGIL_SERVER", &server.base);
        run(&scratch, command, &args.join(" "))
    };

    let token = with_key(&["token", "--endpoint", &url]);
    token.assert_code(0, "sigil token");
    let token = token.stdout.trim().to_owned();
    assert_eq!(jwt_part(&token, 1)["aud"], url);
    assert_eq!(jwt_part(&token, 1)["sub"], key.pubkey);

    let inspected = with_key(&["--json", "inspect", &token]);
    let report = inspected.assert_code(0, "sigil inspect").json();
    assert_eq!(report["valid"], true);
    assert_eq!(report["header"]["typ"], "at+jwt");
    assert_eq!(report["claims"]["sub"], key.pubkey);
    // A flipped signature character: decoded, printed, refused with exit 1.
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let refused = with_key(&["--json", "inspect", &forged]);
    let report = refused.assert_code(1, "inspect of a forged token").json();
    assert_eq!(report["valid"], false);
    assert_eq!(report["claims"]["sub"], key.pubkey);
    // Another audience than the token's.
    with_key(&["inspect", &token, "--audience", "https://elsewhere.example"])
        .assert_code(1, "inspect for another audience");

    let called = with_key(&["call", &url]);
    let body: Value =
        serde_json::from_str(called.assert_code(0, "sigil call").stdout.trim()).unwrap();
    assert_eq!(body["auth"], "bearer");
    let called = with_key(&["call", &url, "-d", r#"{"x":1}"#, "--sign-request"]);
    let body: Value =
        serde_json::from_str(called.assert_code(0, "sigil call -d").stdout.trim()).unwrap();
    assert_eq!(body["auth"], "signed");
    let called = with_key(&["--json", "call", &url, "-X", "put"]);
    let report = called.assert_code(1, "sigil call -X PUT").json();
    assert_eq!(report["status"], 405);
    assert_eq!(report["body"]["error"], "method_not_allowed");
    // An endpoint that is no http(s) URL: input error, exit 2, named.
    let refused = with_key(&["token", "--endpoint", "ftp://nope.example"]);
    refused.assert_code(2, "token for a bad endpoint");
    assert!(
        refused.stderr.contains("ftp://nope.example"),
        "{}",
        refused.stderr
    );
    drop(rs);
}

/// `node resource_client.mjs args…` with the key's WIF.
fn resource_client(scratch: &Scratch, key: &Key, args: &[&str]) -> Value {
    let mut command = sigil_testkit::node("resource_client.mjs", &["@bsv/sdk", "bitcoin-auth"]);
    command.args(args).env("SERVICE_ACCOUNT_WIF", &key.wif);
    let out = run(scratch, command, "node resource_client.mjs");
    out.assert_code(0, "node resource_client.mjs");
    out.json()
}

/// Issue 13 for `resource-server`: its connection flags are in force — a
/// trickling request head is closed after `--header-read-timeout-ms`, an
/// idle connection after `--keep-alive-timeout-ms`, connections beyond
/// `--max-connections` get 503 while the open ones keep working, and an
/// oversized head is 431 with docs/protocol.md §8's body.
#[test]
fn resource_server_closes_slow_and_idle_connections_and_caps_them() {
    use std::io::{ErrorKind, Read as _, Write as _};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    let scratch = Scratch::new("rs-connections");
    let server = Server::start(&scratch, &Options::default());
    let rs = ResourceServer::start(
        &scratch,
        &server,
        &[
            "--header-read-timeout-ms",
            "300",
            "--keep-alive-timeout-ms",
            "1000",
            "--max-connections",
            "4",
            "--request-timeout-ms",
            "600",
        ],
    );
    let addr = rs.base.trim_start_matches("http://").to_owned();
    let bound = Duration::from_secs(5);
    // Reads until closed; `trickle` is written before each read.
    let closed_after =
        |tcp: &mut TcpStream, trickle: Option<&[u8]>| -> (Option<Duration>, String) {
            let started = Instant::now();
            tcp.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let mut seen = Vec::new();
            let mut chunk = [0u8; 4096];
            while started.elapsed() < bound {
                if let Some(bytes) = trickle
                    && tcp.write_all(bytes).is_err()
                {
                    return (
                        Some(started.elapsed()),
                        String::from_utf8_lossy(&seen).into(),
                    );
                }
                match tcp.read(&mut chunk) {
                    Ok(0) => {
                        return (
                            Some(started.elapsed()),
                            String::from_utf8_lossy(&seen).into(),
                        );
                    }
                    Ok(n) => seen.extend_from_slice(&chunk[..n]),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(_) => {
                        return (
                            Some(started.elapsed()),
                            String::from_utf8_lossy(&seen).into(),
                        );
                    }
                }
            }
            (None, String::from_utf8_lossy(&seen).into())
        };
    let health = |tcp: &mut TcpStream| -> String {
        tcp.write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        tcp.set_read_timeout(Some(bound)).unwrap();
        let mut chunk = [0u8; 4096];
        let n = tcp.read(&mut chunk).unwrap();
        String::from_utf8_lossy(&chunk[..n]).into()
    };

    // Slowloris: a header byte every 100 ms, never a whole head.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\n").unwrap();
    let (closed, _) = closed_after(&mut slow, Some(b"X"));
    let closed = closed.expect("a trickling head is closed");
    assert!(
        closed >= Duration::from_millis(250) && closed < Duration::from_millis(1000),
        "{closed:?}"
    );
    drop(slow);

    // Idle: nothing sent.
    let mut idle = TcpStream::connect(&addr).unwrap();
    let (closed, _) = closed_after(&mut idle, None);
    assert!(closed.expect("an idle connection is closed") >= Duration::from_millis(900));
    drop(idle);

    // A body that never arrives (the validator buffers it to check an
    // X-Auth-Token): 408 once the request timeout passes.
    let mut slow_body = TcpStream::connect(&addr).unwrap();
    slow_body
        .write_all(b"POST /api/protected HTTP/1.1\r\nHost: t\r\nX-Auth-Token: a|b|c|d|e\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    let (closed, answer) = closed_after(&mut slow_body, None);
    assert!(closed.expect("closed after the request timeout") >= Duration::from_millis(550));
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
    assert!(answer.contains("timed out"), "{answer}");
    drop(slow_body);

    // The cap: four open (each answered once), the fifth refused.
    let mut open: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut tcp = TcpStream::connect(&addr).unwrap();
            assert!(health(&mut tcp).starts_with("HTTP/1.1 200"));
            tcp
        })
        .collect();
    let mut extra = TcpStream::connect(&addr).unwrap();
    extra
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let (closed, answer) = closed_after(&mut extra, None);
    assert!(closed.is_some(), "over the cap: closed");
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer:?}");
    assert!(
        answer.contains("\"error\":\"temporarily_unavailable\""),
        "{answer}"
    );
    for tcp in &mut open {
        assert!(health(tcp).starts_with("HTTP/1.1 200"));
    }
    drop(open);

    // An oversized head: 431 with the error body (once the places free up).
    let big = format!(
        "GET /health HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let answer = poll(bound, || {
        let mut tcp = TcpStream::connect(&addr).ok()?;
        tcp.write_all(big.as_bytes()).ok()?;
        let (_, answer) = closed_after(&mut tcp, None);
        (!answer.starts_with("HTTP/1.1 503")).then_some(answer)
    })
    .expect("a place frees up");
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:?}");
    assert!(answer.contains("\"error\":\"invalid_request\""), "{answer}");
    drop(rs);
}
