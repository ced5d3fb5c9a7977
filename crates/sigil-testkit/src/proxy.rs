//! [`TcpProxy`]: a TCP relay a test can cut and restore, to put between a
//! store and its database (or Redis) and take the database away mid-run.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// Relays every connection made to [`addr`](Self::addr) to a target.
///
/// [`cut`](Self::cut) closes every relayed connection and closes new ones at
/// once (as a database that went away: connection refused or reset);
/// [`restore`](Self::restore) relays again. Dropping the proxy cuts it and
/// stops its threads.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    cut: AtomicBool,
    stopped: AtomicBool,
    /// Both ends of every relayed connection, to shut them down on a cut.
    streams: Mutex<Vec<TcpStream>>,
}

impl TcpProxy {
    /// A proxy on 127.0.0.1 (a free port) relaying to `target`.
    ///
    /// # Panics
    ///
    /// When no local port can be bound.
    #[must_use]
    pub fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy on 127.0.0.1:0");
        let addr = listener.local_addr().expect("the proxy's address");
        let state = Arc::new(State::default());
        let accepting = state.clone();
        thread::Builder::new()
            .name("testkit-proxy".into())
            .spawn(move || accept(&listener, target, &accepting))
            .expect("start the proxy thread");
        Self { addr, state }
    }

    /// Where to connect instead of the target.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every relayed connection, and every new one at once, until
    /// [`restore`](Self::restore).
    pub fn cut(&self) {
        self.state.cut.store(true, Ordering::SeqCst);
        let streams = std::mem::take(&mut *self.state.streams.lock().expect("proxy lock"));
        for stream in streams {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Relays new connections again.
    pub fn restore(&self) {
        self.state.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.state.stopped.store(true, Ordering::SeqCst);
        self.cut();
        // Wake the accept loop so that it sees `stopped`.
        let _ = TcpStream::connect(self.addr);
    }
}

fn accept(listener: &TcpListener, target: SocketAddr, state: &Arc<State>) {
    for client in listener.incoming() {
        if state.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        if state.cut.load(Ordering::SeqCst) {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let Ok(server) = TcpStream::connect(target) else {
            continue;
        };
        let _ = relay(client, server, state);
    }
}

fn relay(client: TcpStream, server: TcpStream, state: &Arc<State>) -> io::Result<()> {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    {
        let mut streams = state.streams.lock().expect("proxy lock");
        streams.push(client.try_clone()?);
        streams.push(server.try_clone()?);
    }
    let (client_read, server_write) = (client.try_clone()?, server.try_clone()?);
    thread::spawn(move || pipe(client_read, server_write));
    thread::spawn(move || pipe(server, client));
    Ok(())
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
