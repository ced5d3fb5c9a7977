//! [`TcpProxy`]: a TCP relay a test can cut, stall and restore, to put
//! between a store and its database (or Redis) and take the database away
//! mid-run.

use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Relays every connection made to [`addr`](Self::addr) to a target.
///
/// [`cut`](Self::cut) closes every relayed connection and closes new ones at
/// once (as a database that went away: connection refused or reset);
/// [`stall`](Self::stall) keeps every connection open but forwards nothing
/// (as a network that drops packets: the peer hears nothing, not even a
/// reset); [`restore`](Self::restore) relays again. Dropping the proxy cuts
/// it and stops its threads.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    state: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    cut: AtomicBool,
    stalled: AtomicBool,
    stopped: AtomicBool,
    /// Both ends of every relayed connection, to shut them down on a cut.
    streams: Mutex<Vec<TcpStream>>,
    /// Connections accepted while stalled, never relayed: closed on
    /// restore or cut.
    held: Mutex<Vec<TcpStream>>,
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
        self.close_held();
    }

    /// Forwards nothing, in either direction, on the open connections and
    /// on new ones (accepted, then left without an answer), until
    /// [`restore`](Self::restore) or [`cut`](Self::cut): a database behind
    /// a network that silently drops packets.
    pub fn stall(&self) {
        self.state.stalled.store(true, Ordering::SeqCst);
    }

    /// Relays again: new connections, and the data held back on the open
    /// ones while stalled. Connections accepted while stalled are closed.
    pub fn restore(&self) {
        self.state.cut.store(false, Ordering::SeqCst);
        self.state.stalled.store(false, Ordering::SeqCst);
        self.close_held();
    }

    fn close_held(&self) {
        let held = std::mem::take(&mut *self.state.held.lock().expect("proxy lock"));
        for stream in held {
            let _ = stream.shutdown(Shutdown::Both);
        }
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
        if state.stalled.load(Ordering::SeqCst) {
            state.held.lock().expect("proxy lock").push(client);
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
    let (up, down) = (state.clone(), state.clone());
    thread::spawn(move || pipe(client_read, server_write, &up));
    thread::spawn(move || pipe(server, client, &down));
    Ok(())
}

/// Copies `from` to `to`, holding each chunk back while the proxy is
/// stalled (and not cut).
fn pipe(mut from: TcpStream, mut to: TcpStream, state: &State) {
    let mut buffer = [0_u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        while state.stalled.load(Ordering::SeqCst) && !state.cut.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(5));
        }
        if to.write_all(&buffer[..read]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
