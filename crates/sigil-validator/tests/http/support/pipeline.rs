//! A bare HTTP/1.1 client for floods: one keep-alive connection from a
//! chosen local address, requests written back to back (pipelined) while
//! the answers are read, each answer parsed just enough to check it (status
//! line, headers, `Content-Length` body). reqwest costs more per request
//! than the server under test does; this keeps a flood test about the
//! server.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, BufWriter};
use tokio::net::TcpSocket;

/// One answer as received.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Opens a connection to `server` from `local` (port chosen by the
/// system), writes every request `next` yields (`None` ends), and calls
/// `answer` for each answer in order. Returns how many answers came.
pub async fn pipelined(
    local: IpAddr,
    server: SocketAddr,
    mut next: impl FnMut() -> Option<Vec<u8>> + Send + 'static,
    mut answer: impl FnMut(RawAnswer),
) -> usize {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(local, 0)).unwrap();
    let stream = socket.connect(server).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut reader, writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        let mut writer = BufWriter::with_capacity(64 * 1024, writer);
        let mut sent = 0usize;
        while let Some(request) = next() {
            writer.write_all(&request).await.unwrap();
            sent += 1;
            if sent.is_multiple_of(64) {
                writer.flush().await.unwrap();
            }
        }
        writer.flush().await.unwrap();
        // Keep the write half open until the reader is done: a shutdown
        // here could end the connection before the last answers.
        (sent, writer)
    });
    let mut writing = writing;
    let mut sent: Option<usize> = None;
    let mut write_half = None;
    let mut buffer: Vec<u8> = Vec::with_capacity(256 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut received = 0;
    loop {
        let mut start = 0;
        while let Some((parsed, used)) = parse(&buffer[start..]) {
            start += used;
            received += 1;
            answer(parsed);
        }
        buffer.drain(..start);
        if sent == Some(received) {
            drop(write_half);
            return received;
        }
        tokio::select! {
            done = &mut writing, if sent.is_none() => {
                let (count, half) = done.unwrap();
                sent = Some(count);
                write_half = Some(half);
            }
            read = reader.read(&mut chunk) => {
                let n = read.unwrap();
                assert!(n > 0, "connection closed after {received} answers");
                buffer.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

/// One complete answer at the start of `bytes`, and its length.
fn parse(bytes: &[u8]) -> Option<(RawAnswer, usize)> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let total = end + 4 + length;
    if bytes.len() < total {
        return None;
    }
    let body = bytes[end + 4..total].to_vec();
    Some((
        RawAnswer {
            status,
            headers,
            body,
        },
        total,
    ))
}

/// `GET path` with these extra headers, as bytes.
pub fn get(host: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\n");
    for (name, value) in headers {
        request.push_str(name);
        request.push_str(": ");
        request.push_str(value);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.into_bytes()
}
