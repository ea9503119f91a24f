//! The HTTP/1.1 accept loop, bounded: a cap on open connections, a header
//! read timeout, an idle keep-alive timeout, and a graceful stop. (The body
//! read timeout is the guard's: it buffers every body.)
//!
//! `axum::serve` has none of these bounds, so the loop is hyper's own
//! connection builder with a timer, serving the axum router.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};

/// The bounds of the accept loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// Most connections open at once; more are answered `503` and closed.
    pub(crate) max_connections: usize,
    /// Most connections one peer address may hold open at once (0: no
    /// limit); more are answered `503` and closed.
    pub(crate) max_connections_per_peer: usize,
    /// Largest request head read (hyper answers `431` beyond; at least
    /// 8 KiB, hyper's own floor).
    pub(crate) max_head_bytes: usize,
    /// Longest wait for a request's whole header block.
    pub(crate) header_timeout: Duration,
    /// Longest silence (nothing read, nothing written, no request being
    /// served) before a connection is closed.
    pub(crate) idle_timeout: Duration,
    /// How long a stop waits for open connections to finish their request.
    pub(crate) stop_grace: Duration,
}

/// What a connection beyond the cap is told before it is closed. Sent with
/// one non-blocking write: a client that does not read never holds the loop.
static OVER_CAP: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    let body = r#"{"detail":"the server has as many connections open as it allows (--max-connections); retry"}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
});

/// What a connection beyond its peer's share is told before it is closed.
static OVER_PEER_CAP: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    let body = r#"{"detail":"your address has as many connections open as one address may (--max-connections-per-peer); reuse them, or retry"}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
});

/// The connections each peer address holds open. An entry lives while its
/// peer has a connection, so the map is bounded by `--max-connections`.
#[derive(Default)]
pub(crate) struct PeerConnections(std::sync::Mutex<std::collections::HashMap<IpAddr, usize>>);

/// One connection counted against its peer; uncounted when dropped.
pub(crate) struct PeerSlot {
    peers: Arc<PeerConnections>,
    ip: IpAddr,
}

impl PeerConnections {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<IpAddr, usize>> {
        match self.0.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Count a connection of `ip`, unless it holds `cap` already (`cap` 0:
    /// no limit).
    pub(crate) fn enter(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<PeerSlot> {
        let mut map = self.lock();
        let held = map.entry(ip).or_insert(0);
        if cap > 0 && *held >= cap {
            if *held == 0 {
                map.remove(&ip);
            }
            return None;
        }
        *held += 1;
        Some(PeerSlot {
            peers: self.clone(),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut map = self.peers.lock();
        if let Some(held) = map.get_mut(&self.ip) {
            *held -= 1;
            if *held == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// The peer address of a request, put in its extensions by the accept loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) SocketAddr);

/// Serve `app` on `listener` until `stop` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    bounds: Bounds,
    mut stop: watch::Receiver<bool>,
    refused: prometheus_client::metrics::counter::Counter,
) {
    let permits = Arc::new(Semaphore::new(bounds.max_connections));
    let peers = Arc::new(PeerConnections::default());
    let mut connections = JoinSet::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(bounds.header_timeout)
        // The head is read into a buffer of at most this; a larger one is
        // answered `431` by hyper, and so is one of too many headers.
        .max_buf_size(bounds.max_head_bytes.max(8 * 1024))
        .max_headers(import_core::fields::MAX_REQUEST_HEADERS)
        .keep_alive(true);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut stop) => break,
            // Reap finished connections as they end.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: wait a moment rather
                // than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            let _ = stream.try_write(&OVER_CAP);
            refused.inc();
            tracing::debug!("a connection over --max-connections was refused");
            continue;
        };
        let Some(slot) = peers.enter(peer.ip(), bounds.max_connections_per_peer) else {
            let _ = stream.try_write(&OVER_PEER_CAP);
            refused.inc();
            tracing::debug!("a connection over --max-connections-per-peer was refused");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let busy = Arc::new(AtomicUsize::new(0));
        let io = TokioIo::new(IdleIo::new(stream, bounds.idle_timeout, busy.clone()));
        let service = hyper::service::service_fn({
            let app = app.clone();
            move |mut req: hyper::Request<hyper::body::Incoming>| {
                let app = app.clone();
                req.extensions_mut().insert(Peer(peer));
                let busy = Busy::enter(busy.clone());
                async move {
                    let res = tower::ServiceExt::oneshot(app, req.map(axum::body::Body::new)).await;
                    drop(busy);
                    res
                }
            }
        });
        let conn = builder.serve_connection(io, service);
        let mut stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            let _slot = slot;
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                res = conn.as_mut() => {
                    if let Err(e) = res {
                        tracing::debug!(error = %e, "a connection ended with an error");
                    }
                }
                () = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    // The stop: each connection finishes the request it serves, within the grace.
    let _ = tokio::time::timeout(bounds.stop_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
}

/// Resolves when `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A request being served on a connection: the idle clock does not run.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn enter(count: Arc<AtomicUsize>) -> Busy {
        count.fetch_add(1, Ordering::SeqCst);
        Busy(count)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A stream that fails its reads with `TimedOut` after `idle` without a byte
/// read or written while no request is being served.
struct IdleIo {
    inner: TcpStream,
    idle: Duration,
    busy: Arc<AtomicUsize>,
    deadline: Pin<Box<Sleep>>,
}

impl IdleIo {
    fn new(inner: TcpStream, idle: Duration, busy: Arc<AtomicUsize>) -> IdleIo {
        IdleIo {
            inner,
            idle,
            busy,
            deadline: Box::pin(tokio::time::sleep(idle)),
        }
    }

    fn touch(&mut self) {
        let at = Instant::now() + self.idle;
        self.deadline.as_mut().reset(at);
    }
}

impl AsyncRead for IdleIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    self.touch();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if self.busy.load(Ordering::SeqCst) > 0 {
                    // Serving a request is not idleness.
                    self.touch();
                    return Poll::Pending;
                }
                match self.deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the connection was idle longer than --idle-timeout",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for IdleIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &res
            && *n > 0
        {
            self.touch();
        }
        res
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &res
            && *n > 0
        {
            self.touch();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod peer_tests {
    use super::*;

    #[test]
    fn a_peer_holds_at_most_its_share_and_a_closed_connection_frees_it() {
        let peers = Arc::new(PeerConnections::default());
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let held: Vec<PeerSlot> = (0..3).map(|_| peers.enter(a, 3).unwrap()).collect();
        assert!(peers.enter(a, 3).is_none(), "a fourth of one peer");
        assert!(peers.enter(b, 3).is_some(), "another peer is not held up");
        drop(held);
        assert!(peers.lock().is_empty(), "no entry outlives its connections");
        assert!(peers.enter(a, 3).is_some());
        // 0: no limit.
        let many: Vec<PeerSlot> = (0..100).map(|_| peers.enter(b, 0).unwrap()).collect();
        assert_eq!(many.len(), 100);
    }
}
