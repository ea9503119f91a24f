//! The accept loop shared by the in-process stand-ins.
//!
//! Each connection is served by hyper-util's auto (HTTP/1.1 or HTTP/2)
//! builder in a task of a [`JoinSet`] owned by the accept task, so aborting
//! the accept task (what [`ServerTask`]'s `Drop` does) also ends every open
//! connection: nothing keeps serving after the stand-in is dropped.

use std::error::Error as StdError;
use std::net::SocketAddr;

use hyper::body::{Body, Incoming};
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

/// A running accept loop; dropping it stops the server.
#[derive(Debug)]
pub(crate) struct ServerTask {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ServerTask {
    /// Serves `svc` on a bound listener, in a task of the current runtime.
    pub(crate) fn spawn<S, B>(listener: TcpListener, svc: S) -> std::io::Result<Self>
    where
        S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let addr = listener.local_addr()?;
        let task = tokio::spawn(accept_loop(listener, svc));
        Ok(Self { addr, task })
    }

    /// Binds a listener on `127.0.0.1` with a port the system picks.
    pub(crate) async fn bind_loopback() -> std::io::Result<TcpListener> {
        TcpListener::bind(("127.0.0.1", 0)).await
    }

    /// The address the server listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop<S, B>(listener: TcpListener, svc: S)
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    let builder = Builder::new(TokioExecutor::new());
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    // Small answers (a HEAD, a 64-byte range) must not wait for
                    // Nagle's algorithm: real object stores answer at once.
                    let _ = stream.set_nodelay(true);
                    let conn = builder
                        .serve_connection(TokioIo::new(stream), svc.clone())
                        .into_owned();
                    connections.spawn(async move {
                        if let Err(err) = conn.await {
                            tracing::debug!(%err, "stand-in connection ended with an error");
                        }
                    });
                }
                Err(err) => {
                    // Out of file descriptors and the like: back off a little
                    // instead of spinning, then keep serving.
                    tracing::warn!(%err, "stand-in accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            // Reap finished connections so the set does not grow forever.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
