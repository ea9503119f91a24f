//! A TCP proxy that puts a source farther away: every read from the client
//! (for an HTTP client, a request: GETs have no body) is held for a fixed
//! delay before it goes upstream, so each answer starts that much later, as
//! from a bucket a round trip of `delay` away. Answers flow back unchanged.
//! For throughput measurements (the "5 ms added per answer" of
//! `docs/performance.md`), and, with no delay, for counting the requests a
//! client sends over its real connections ([`LatencyProxy::request_lines`]);
//! not a fault injector (see [`crate::fault`]).
//!
//! ```no_run
//! # async fn demo(s3: std::net::SocketAddr) -> std::io::Result<()> {
//! let far = import_testkit::latency::LatencyProxy::start(s3, std::time::Duration::from_millis(5)).await?;
//! println!("the same bucket, 5 ms farther: http://{}", far.addr());
//! # Ok(()) }
//! ```

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The proxy; it stops when dropped.
#[derive(Debug)]
pub struct LatencyProxy {
    addr: SocketAddr,
    task: JoinHandle<()>,
    lines: Lines,
}

type Lines = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// The methods whose request lines are recorded.
const METHODS: [&str; 5] = ["GET ", "HEAD ", "PUT ", "POST ", "DELETE "];

impl LatencyProxy {
    /// Listen on a free port of `127.0.0.1`, forwarding to `upstream` with
    /// `delay` added before each read from the client goes on.
    pub async fn start(upstream: SocketAddr, delay: Duration) -> io::Result<LatencyProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Self::serve(listener, upstream, delay)
    }

    /// [`LatencyProxy::start`] on a listener of the caller's, bound earlier
    /// (when the upstream must know the proxy's address before it starts).
    pub fn serve(
        listener: TcpListener,
        upstream: SocketAddr,
        delay: Duration,
    ) -> io::Result<LatencyProxy> {
        let addr = listener.local_addr()?;
        let lines = Lines::default();
        let task = tokio::spawn({
            let lines = lines.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    tokio::spawn(relay(client, upstream, delay, lines.clone()));
                }
            }
        });
        Ok(LatencyProxy { addr, task, lines })
    }

    /// The request lines (`GET /path HTTP/1.1`) seen so far, in order: a
    /// read from the client that starts with a method is taken as a
    /// request. Exact for clients that send a request's head in one write
    /// and bodyless requests, as an object store's `GET` and `HEAD` are.
    pub fn request_lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Where the proxy listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://` and the address, as an S3 endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, delay: Duration, lines: Lines) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let requests = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from_client.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let head = &buf[..n];
            if METHODS.iter().any(|m| head.starts_with(m.as_bytes()))
                && let Some(end) = head.windows(2).position(|w| w == b"\r\n")
                && let Ok(mut seen) = lines.lock()
            {
                seen.push(String::from_utf8_lossy(&head[..end]).into_owned());
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if to_server.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = to_server.shutdown().await;
    };
    let answers = async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
        let _ = to_client.shutdown().await;
    };
    tokio::join!(requests, answers);
}
