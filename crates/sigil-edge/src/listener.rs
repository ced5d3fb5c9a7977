//! The accept loop every sigil HTTP process runs ([`serve`]): HTTP/1.1
//! connections with a deadline for each request head, a keep-alive idle
//! timeout, a cap on open connections, and limits on header size and count,
//! whose refusals carry docs/protocol.md §8's JSON body like every other answer.
//!
//! Why not `axum::serve`: it has none of these limits, and a client that
//! opens connections and never finishes a request keeps each one (and a
//! file descriptor) forever (docs/security.md B12; docs/decisions/0013).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use http::{Request, Version, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use sigil_core::api::{ConnectionFault, Fault};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tower::Service as _;
use tracing::{debug, info, warn};

use crate::refusal::{refusal, refusal_bytes};

/// The connection limits of [`serve`]; every field is a documented setting
/// of `sigil serve` and `resource-server`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request head must be complete this long after its first byte
    /// arrived (slowloris clients are closed after it).
    pub header_read_timeout: Duration,
    /// A connection with no request in flight and no byte received for this
    /// long is closed (it is also the longest wait for a first request).
    pub keep_alive_timeout: Duration,
    /// Most connections open at once. Beyond it a new connection is
    /// answered 503 at once and closed; the open ones keep working.
    pub max_connections: usize,
    /// Largest request head (request line and headers), bytes; larger is
    /// 431.
    pub max_header_bytes: usize,
    /// Most header fields in one request; more is 431.
    pub max_headers: usize,
    /// Longest a request may take from its complete head to its answer
    /// (reading the body included); then 408 and the connection closes.
    /// A slow body would otherwise hold a connection without any deadline.
    /// `None` for an app that times its requests itself (sigil serve's
    /// router does, with its request id and metrics), which saves a timer
    /// per request.
    pub request_timeout: Option<Duration>,
}

impl ConnectionLimits {
    /// Default [`header_read_timeout`](Self::header_read_timeout).
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default [`keep_alive_timeout`](Self::keep_alive_timeout).
    pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(60);
    /// Default [`max_connections`](Self::max_connections) (lowered to what
    /// the file limit allows, see [`raise_file_limit`]).
    pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
    /// Default [`max_header_bytes`](Self::max_header_bytes).
    pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
    /// Default [`max_headers`](Self::max_headers) (hyper's own, which it
    /// keeps on the stack: another value costs an allocation per request).
    pub const DEFAULT_MAX_HEADERS: usize = 100;
    /// Default [`request_timeout`](Self::request_timeout).
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            keep_alive_timeout: Self::DEFAULT_KEEP_ALIVE_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            max_header_bytes: Self::DEFAULT_MAX_HEADER_BYTES,
            max_headers: Self::DEFAULT_MAX_HEADERS,
            request_timeout: Some(Self::DEFAULT_REQUEST_TIMEOUT),
        }
    }
}

/// File descriptors kept free for everything but client connections (the
/// store's files, outgoing connections, logs).
const RESERVED_FILES: u64 = 64;
/// Connections refused at once (503) beyond the cap, at most this many
/// being answered at a time; more are closed without an answer.
const MAX_REFUSING: usize = 64;
/// How long a refused connection may take to receive its 503.
const REFUSAL_GRACE: Duration = Duration::from_millis(200);

/// Backlog of pending connections asked of the kernel (which caps it at
/// `net.core.somaxconn`): tokio's default of 1024 overflowed for a moment
/// when 1,200 clients connected at once, and the kernel then dropped SYNs
/// that the clients only retried a second later.
const LISTEN_BACKLOG: u32 = 4096;

/// Binds a listening socket on `addr` with a deep accept queue
/// ([`serve`] drains it as fast as it accepts).
///
/// # Errors
///
/// When the socket cannot be made or bound (address in use, no permission).
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Raises the soft limit of open files to the hard limit, and returns the
/// connection cap that limit allows (the soft limit less a reserve for the
/// process's other files), or `None` where limits cannot be read.
pub fn raise_file_limit() -> Option<usize> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let (Some(current), Some(hard)) = (limit.current, limit.maximum)
        && current < hard
    {
        let raised = rustix::process::Rlimit {
            current: Some(hard),
            maximum: Some(hard),
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                debug!(from = current, to = hard, "raised the open-files limit");
                limit.current = Some(hard);
            }
            Err(error) => warn!(%error, current, hard, "could not raise the open-files limit"),
        }
    }
    let soft = limit.current?;
    Some(usize::try_from(soft.saturating_sub(RESERVED_FILES).max(1)).unwrap_or(usize::MAX))
}

/// Serves `app` on `listener` with `limits` until `shutdown` resolves; then
/// stops accepting, lets the requests in flight finish, and returns once
/// every connection is closed.
///
/// The file limit is raised first ([`raise_file_limit`]) and the connection
/// cap lowered to what it allows. Each request carries the peer's
/// [`ConnectInfo<SocketAddr>`] in its extensions. HTTP/1.1 without a
/// `Host` header is refused with 400, as RFC 9112 §3.2 requires.
///
/// # Errors
///
/// None while serving (accept errors are logged and retried); the result is
/// for future use by callers that `?` it.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut limits = limits;
    if let Some(allowed) = raise_file_limit()
        && allowed < limits.max_connections
    {
        warn!(
            configured = limits.max_connections,
            allowed, "the open-files limit lowers the connection cap"
        );
        limits.max_connections = allowed;
    }
    info!(
        max_connections = limits.max_connections,
        header_read_timeout_ms = millis(limits.header_read_timeout),
        keep_alive_timeout_ms = millis(limits.keep_alive_timeout),
        "connection limits"
    );
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(true)
        .max_header_size(limits.max_header_bytes)
        // Whole answers in one buffer: one write per answer, and an
        // automatic refusal of hyper's arrives whole (see `Stream`).
        .writev(false);
    if limits.max_headers != ConnectionLimits::DEFAULT_MAX_HEADERS {
        http.max_headers(limits.max_headers);
    }
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let epoch = Instant::now();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(&error).await;
                    continue;
                }
            },
        };
        // Each answer is one small write; without TCP_NODELAY a client that
        // sends a request in two writes can wait for a delayed ACK.
        let _ = tcp.set_nodelay(true);
        while connections.try_join_next().is_some() {}
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            if let Ok(permit) = Arc::clone(&refusing).try_acquire_owned() {
                tokio::spawn(async move {
                    refuse_connection(tcp).await;
                    drop(permit);
                });
            }
            continue;
        };
        let activity = Arc::new(Activity::new(epoch));
        let connection = Connection {
            http: http.clone(),
            app: app.clone(),
            peer,
            limits,
            activity,
        };
        let stop = stop_rx.clone();
        connections.spawn(async move {
            connection.run(tcp, stop).await;
            drop(permit);
        });
    }
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// An accept error: out of file descriptors (the cap should prevent it),
/// or a connection that was reset before it was accepted. Waits a little so
/// a persistent error does not spin.
async fn accept_failed(error: &io::Error) {
    let wait = match error.raw_os_error() {
        // EMFILE, ENFILE, ENOBUFS, ENOMEM: resources; wait for some to free.
        Some(24 | 23 | 105 | 12) => {
            warn!(%error, "accept failed: out of resources");
            Duration::from_millis(20)
        }
        _ => {
            debug!(%error, "accept failed");
            Duration::from_millis(1)
        }
    };
    tokio::time::sleep(wait).await;
}

/// Answers a connection over the cap with 503 and closes it, giving the
/// client a moment to read the answer.
async fn refuse_connection(mut tcp: TcpStream) {
    let answer = refusal_bytes(&Fault::Connection(ConnectionFault::TooMany));
    let _ = tokio::time::timeout(REFUSAL_GRACE, async {
        tcp.write_all(&answer).await?;
        tcp.shutdown().await?;
        // Read what the client sent, so that closing does not reset the
        // connection before it read the answer.
        let mut sink = [0u8; 4096];
        while tcp.read(&mut sink).await? > 0 {}
        io::Result::Ok(())
    })
    .await;
}

/// One accepted connection.
struct Connection {
    http: hyper::server::conn::http1::Builder,
    app: Router,
    peer: SocketAddr,
    limits: ConnectionLimits,
    activity: Arc<Activity>,
}

impl Connection {
    async fn run(self, tcp: TcpStream, mut stop: watch::Receiver<bool>) {
        let Self {
            http,
            app,
            peer,
            limits,
            activity,
        } = self;
        let stream = Stream::new(tcp, Arc::clone(&activity));
        let service = {
            let activity = Arc::clone(&activity);
            hyper::service::service_fn(move |request: Request<Incoming>| {
                let busy = Busy::start(&activity);
                let mut app = app.clone();
                async move {
                    let mut request = request.map(Body::new);
                    if let Some(refused) = refuse_head(&request) {
                        return Ok::<_, Infallible>(refused);
                    }
                    request.extensions_mut().insert(ConnectInfo(peer));
                    let response = match limits.request_timeout {
                        Some(timeout) => {
                            match tokio::time::timeout(timeout, app.call(request)).await {
                                Ok(response) => response?,
                                Err(_) => timed_out(timeout),
                            }
                        }
                        None => app.call(request).await?,
                    };
                    drop(busy);
                    Ok(response)
                }
            })
        };
        let connection = http.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let sleep = tokio::time::sleep(limits.keep_alive_timeout);
        tokio::pin!(sleep);
        let mut armed = None;
        let mut stopping = false;
        loop {
            let watched = std::future::poll_fn(|cx| {
                if let Poll::Ready(result) = connection.as_mut().poll(cx) {
                    if let Err(error) = result {
                        debug!(%error, %peer, "connection ended with an error");
                    }
                    return Poll::Ready(());
                }
                // Re-armed only when the deadline moves: when a head starts
                // and when an answer was made, twice per request.
                let deadline = activity.deadline(&limits);
                if deadline != armed {
                    armed = deadline;
                    if let Some(at) = deadline {
                        sleep.as_mut().reset(at.into());
                    }
                }
                if armed.is_some() && sleep.as_mut().poll(cx).is_ready() {
                    debug!(%peer, "connection closed: idle, or a request head too slow");
                    return Poll::Ready(());
                }
                Poll::Pending
            });
            tokio::select! {
                () = watched => return,
                changed = stop.changed(), if !stopping => {
                    stopping = true;
                    if changed.is_ok() {
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

/// 408 for a request that did not complete within its timeout; the
/// connection is closed after it (its body may be half read).
fn timed_out(timeout: Duration) -> Response {
    let mut response = refusal(&Fault::RequestTimeout {
        timeout_ms: millis(timeout),
    });
    response
        .headers_mut()
        .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
    response
}

/// What hyper lets through but sigil refuses before routing: HTTP/1.1
/// without `Host` (RFC 9112 §3.2).
fn refuse_head(request: &Request<Body>) -> Option<Response> {
    let needs_host = request.version() >= Version::HTTP_11;
    (needs_host && !request.headers().contains_key(header::HOST))
        .then(|| refusal(&Fault::Connection(ConnectionFault::MissingHost)))
}

/// What a connection has been doing, for its deadline: milliseconds since
/// the listener's epoch, shared by the stream (reads), the service
/// (requests in flight) and the connection's task (the deadline).
#[derive(Debug)]
struct Activity {
    epoch: Instant,
    /// Requests being answered.
    in_flight: AtomicUsize,
    /// When the connection last became idle (opened, or an answer was
    /// made).
    idle_since: AtomicU64,
    /// When the first byte of the next request head arrived, or
    /// [`NO_HEAD`].
    head_started: AtomicU64,
}

const NO_HEAD: u64 = u64::MAX;

impl Activity {
    fn new(epoch: Instant) -> Self {
        let activity = Self {
            epoch,
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(NO_HEAD),
        };
        activity.idle_since.store(activity.now(), Ordering::Relaxed);
        activity
    }

    fn now(&self) -> u64 {
        millis(self.epoch.elapsed())
    }

    /// Bytes arrived: when no request is in flight they start a head.
    fn received(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0
            && self.head_started.load(Ordering::Relaxed) == NO_HEAD
        {
            self.head_started.store(self.now(), Ordering::Relaxed);
        }
    }

    /// When the connection must be closed unless something happens first;
    /// `None` while a request is in flight (its own timeout bounds it).
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let (since, allowed) = match self.head_started.load(Ordering::Relaxed) {
            NO_HEAD => (
                self.idle_since.load(Ordering::Relaxed),
                limits.keep_alive_timeout,
            ),
            started => (started, limits.header_read_timeout),
        };
        Some(self.epoch + Duration::from_millis(since) + allowed)
    }
}

/// A request in flight on a connection, from its complete head until its
/// answer is made (or the request is dropped).
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.head_started.store(NO_HEAD, Ordering::Relaxed);
        Self(Arc::clone(activity))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let activity = &self.0;
        activity.idle_since.store(activity.now(), Ordering::Relaxed);
        activity.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The TCP stream as hyper sees it: reads are noted in the connection's
/// [`Activity`], and hyper's own automatic refusals of a request it could
/// not parse (400, 414, 431 with an empty body) are rewritten into docs/protocol.md
/// §8's JSON body on the way out.
struct Stream {
    tcp: TcpStream,
    activity: Arc<Activity>,
    /// A rewritten refusal being written, and how much of it is out.
    rewrite: Option<(Vec<u8>, usize)>,
}

impl Stream {
    fn new(tcp: TcpStream, activity: Arc<Activity>) -> Self {
        Self {
            tcp,
            activity,
            rewrite: None,
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.received();
        }
        result
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.rewrite.is_none()
            && let Some(answer) = rewrite_automatic_refusal(buf)
        {
            this.rewrite = Some((answer, 0));
        }
        let Some((answer, written)) = &mut this.rewrite else {
            return Pin::new(&mut this.tcp).poll_write(cx, buf);
        };
        while *written < answer.len() {
            match Pin::new(&mut this.tcp).poll_write(cx, &answer[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => *written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        // hyper's refusal is replaced whole; the connection closes after it.
        this.rewrite = None;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

/// When `buf` is one of hyper's automatic refusals (a 400, 414 or 431 head
/// with `content-length: 0` and no `content-type`, which no sigil route
/// ever sends), the same refusal with docs/protocol.md §8's body.
fn rewrite_automatic_refusal(buf: &[u8]) -> Option<Vec<u8>> {
    let status_line = buf
        .strip_prefix(b"HTTP/1.1 ")
        .or(buf.strip_prefix(b"HTTP/1.0 "))?;
    let fault = match status_line.get(..4)? {
        b"400 " => ConnectionFault::Malformed,
        b"414 " => ConnectionFault::UriTooLong,
        b"431 " => ConnectionFault::HeadTooLarge,
        _ => return None,
    };
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = buf[..end].to_ascii_lowercase();
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    if has(b"\r\ncontent-type:") || !has(b"\r\ncontent-length: 0") || buf.len() != end + 4 {
        return None;
    }
    Some(refusal_bytes(&Fault::Connection(fault)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_automatic_refusals_are_rewritten() {
        let automatic =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let rewritten = String::from_utf8(rewrite_automatic_refusal(automatic).unwrap()).unwrap();
        assert!(rewritten.starts_with("HTTP/1.1 431 "), "{rewritten}");
        assert!(rewritten.contains("content-type: application/json"));
        assert!(
            rewritten.contains("\"error\":\"invalid_request\""),
            "{rewritten}"
        );
        assert!(rewritten.contains("connection: close"));
        let bad = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        assert!(rewrite_automatic_refusal(bad).is_some());
        for ours in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            b"{\"error\":\"HTTP/1.1 400 \"}",
        ] {
            assert!(rewrite_automatic_refusal(ours).is_none(), "{ours:?}");
        }
    }

    #[test]
    fn deadlines_follow_the_connection_state() {
        let limits = ConnectionLimits {
            header_read_timeout: Duration::from_secs(2),
            keep_alive_timeout: Duration::from_secs(30),
            ..ConnectionLimits::default()
        };
        let activity = Arc::new(Activity::new(Instant::now()));
        let idle = activity.deadline(&limits).unwrap();
        assert!(
            idle >= Instant::now() + Duration::from_secs(29),
            "idle: keep-alive"
        );
        activity.received();
        let head = activity.deadline(&limits).unwrap();
        assert!(
            head <= Instant::now() + Duration::from_secs(2),
            "a head started"
        );
        let busy = Busy::start(&activity);
        activity.received();
        assert_eq!(activity.deadline(&limits), None, "in flight: no deadline");
        drop(busy);
        let idle_again = activity.deadline(&limits).unwrap();
        assert!(
            idle_again >= Instant::now() + Duration::from_secs(29),
            "a body read while in flight is not a new head"
        );
    }
}
