//! `sigil_edge::serve` over real TCP on 127.0.0.1: slow request heads and
//! idle connections are closed after their timeouts, the connection cap
//! answers 503 while the open connections keep working, each request sees
//! its peer address, and shutdown lets a request in flight finish.
//!
//! The timeouts here are a few hundred ms; each test checks that a
//! connection was closed after its timeout and well before a generous
//! bound (a behaviour, not a speed).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use sigil_edge::ConnectionLimits;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

const HEADER_TIMEOUT: Duration = Duration::from_millis(400);
const IDLE_TIMEOUT: Duration = Duration::from_millis(900);
const REQUEST_TIMEOUT: Duration = Duration::from_millis(600);
/// Far longer than any timeout here: a connection still open then was
/// never going to be closed.
const BOUND: Duration = Duration::from_secs(5);

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(max_connections: usize) -> Running {
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
        )
        .route(
            "/echo",
            axum::routing::post(|body: axum::body::Bytes| async move { body }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        );
    let limits = ConnectionLimits {
        header_read_timeout: HEADER_TIMEOUT,
        keep_alive_timeout: IDLE_TIMEOUT,
        max_connections,
        request_timeout: Some(REQUEST_TIMEOUT),
        ..ConnectionLimits::default()
    };
    let listener = sigil_testkit::local_tokio_listener().await;
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(sigil_edge::serve(listener, app, limits, async move {
        let _ = rx.await;
    }));
    Running {
        addr,
        stop: Some(tx),
        task,
    }
}

/// Reads until the peer closes the connection (EOF or reset) or `BOUND`
/// passes; returns how long after `since` it was closed, and what was read.
async fn until_closed(tcp: &mut TcpStream, since: Instant) -> (Option<Duration>, String) {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((since + BOUND).into(), tcp.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => {
                return (Some(since.elapsed()), String::from_utf8_lossy(&seen).into());
            }
            Ok(Ok(n)) => seen.extend_from_slice(&chunk[..n]),
            Err(_) => return (None, String::from_utf8_lossy(&seen).into()),
        }
    }
}

async fn get_once(tcp: &mut TcpStream, path: &str) -> String {
    tcp.write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") || !ends_body(&answer) {
        let n = tokio::time::timeout(BOUND, tcp.read(&mut chunk))
            .await
            .expect("an answer")
            .unwrap();
        assert!(n > 0, "closed before answering: {answer:?}");
        answer.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&answer).into()
}

fn ends_body(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer).to_ascii_lowercase();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .is_some_and(|n| body.len() >= n)
}

#[tokio::test]
async fn a_request_head_that_trickles_in_is_closed_after_the_header_timeout() {
    let server = start(100).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    tcp.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    // One header byte every 100 ms: activity, but never a whole head.
    let (mut read, mut write) = tcp.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..40 {
            if write.write_all(b"X").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut chunk = [0u8; 256];
    let closed = loop {
        match tokio::time::timeout_at((started + BOUND).into(), read.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => break Some(started.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => break None,
        }
    };
    trickle.abort();
    let closed = closed.expect("a slowloris connection is closed");
    assert!(closed >= HEADER_TIMEOUT, "closed too early: {closed:?}");
    assert!(
        closed < IDLE_TIMEOUT,
        "the header timeout, not the idle one, closed it: {closed:?}"
    );
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_keep_alive_timeout() {
    let server = start(100).await;
    // Never sent anything.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let (closed, _) = until_closed(&mut silent, Instant::now()).await;
    let closed = closed.expect("an idle connection is closed");
    assert!(closed >= IDLE_TIMEOUT, "{closed:?}");
    // Idle after an answer.
    let mut kept = TcpStream::connect(server.addr).await.unwrap();
    assert!(
        get_once(&mut kept, "/health")
            .await
            .starts_with("HTTP/1.1 200")
    );
    let answered = Instant::now();
    // Still usable within the timeout...
    tokio::time::sleep(IDLE_TIMEOUT / 3).await;
    assert!(
        get_once(&mut kept, "/health")
            .await
            .starts_with("HTTP/1.1 200")
    );
    let (closed, _) = until_closed(&mut kept, answered).await;
    assert!(
        closed.expect("closed once idle") >= IDLE_TIMEOUT + IDLE_TIMEOUT / 3,
        "the second request restarted the idle clock"
    );
}

#[tokio::test]
async fn beyond_the_cap_new_connections_get_503_and_open_ones_keep_working() {
    let server = start(3).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        // A request on each, so each is surely accepted and counted.
        assert!(
            get_once(&mut tcp, "/health")
                .await
                .starts_with("HTTP/1.1 200")
        );
        open.push(tcp);
    }
    let mut extra = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    extra
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let (closed, answer) = until_closed(&mut extra, started).await;
    assert!(closed.is_some(), "the connection over the cap is closed");
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer:?}");
    assert!(
        answer.contains("\"error\":\"temporarily_unavailable\""),
        "{answer}"
    );
    assert!(answer.contains("retry-after: 1"), "{answer}");
    // The open ones are unaffected.
    for tcp in &mut open {
        assert!(get_once(tcp, "/health").await.starts_with("HTTP/1.1 200"));
    }
    // Closing one frees its place.
    drop(open.pop());
    let mut again = None;
    for _ in 0..50 {
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        if get_once_or_refused(&mut tcp).await {
            again = Some(tcp);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "a freed place is used again");
}

async fn get_once_or_refused(tcp: &mut TcpStream) -> bool {
    if tcp
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut chunk = [0u8; 4096];
    matches!(
        tokio::time::timeout(BOUND, tcp.read(&mut chunk)).await,
        Ok(Ok(n)) if n > 0 && chunk.starts_with(b"HTTP/1.1 200")
    )
}

#[tokio::test]
async fn a_body_that_never_arrives_is_408_and_the_connection_closes() {
    let server = start(10).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    tcp.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nfirst bytes")
        .await
        .unwrap();
    let (closed, answer) = until_closed(&mut tcp, started).await;
    let closed = closed.expect("closed after the request timeout");
    assert!(closed >= REQUEST_TIMEOUT, "{closed:?}");
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
    assert!(answer.contains("\"error\":\"invalid_request\""), "{answer}");
    assert!(answer.contains("timed out"), "{answer}");
}

#[tokio::test]
async fn requests_see_their_peer_address() {
    let server = start(10).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.7:0".parse().unwrap()).unwrap();
    let mut tcp = socket.connect(server.addr).await.unwrap();
    let answer = get_once(&mut tcp, "/peer").await;
    assert!(answer.ends_with("127.0.0.7"), "{answer}");
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish() {
    let mut server = start(10).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = server.stop.take().unwrap().send(());
    let (closed, answer) = until_closed(&mut tcp, Instant::now()).await;
    assert!(closed.is_some());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(answer.ends_with("done"), "{answer:?}");
    tokio::time::timeout(BOUND, server.task)
        .await
        .expect("serve returns once its connections closed")
        .unwrap()
        .unwrap();
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "no longer accepting"
    );
}
