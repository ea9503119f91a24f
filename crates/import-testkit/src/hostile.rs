//! A hostile S3-compatible endpoint: a bucket server that lies or attacks,
//! for the tests of the server's copy path.
//!
//! [`HostileS3`] is **a test double** by design: no real S3 implementation
//! misbehaves on request. It answers path-style S3 requests
//! (`HEAD`/`GET /{bucket}/{key}`) over raw HTTP/1.1 written byte by byte, so
//! it can send what a well-behaved HTTP library would refuse to: a body that
//! runs past the size the `HEAD` declared, a body cut short of its
//! `Content-Length`, an error answer that never ends, a redirect, bytes that
//! do not match their MD5 `ETag`, a body dripped at a few bytes a second.
//! Signatures are not checked (an attacker's endpoint accepts anything).
//! Every answer closes its connection.
//!
//! Every stream it sends is bounded ([`MAX_SENT`] per answer), so a test
//! that regresses fails instead of filling the disk. It listens on
//! `127.0.0.1:0` and stops when dropped.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use import_testkit::hostile::{Behaviour, HostileS3};
//!
//! let s3 = HostileS3::start().await?;
//! s3.put("x.mp4", Behaviour::Drip { bytes: vec![0; 1000], bytes_per_sec: 10 });
//! let endpoint = s3.endpoint(); // http://127.0.0.1:PORT, allow it with --allow-endpoint
//! # let _ = endpoint; Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use md5::Digest as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Most bytes any one answer sends: "endless" bodies stop here.
pub const MAX_SENT: u64 = 1 << 30;
/// Most bytes of a request head read.
const MAX_HEAD: usize = 64 * 1024;
/// The `Last-Modified` of every object.
const LAST_MODIFIED: &str = "Wed, 02 Dec 2026 10:00:00 GMT";

/// How the endpoint answers for one key.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// An honest object: `HEAD` and `GET` with its size, its MD5 as `ETag`,
    /// `If-Match` honoured (`412` on another ETag).
    Honest(Vec<u8>),
    /// `HEAD` declares `declared` bytes; the `GET` body (chunked, no
    /// `Content-Length`) starts with `start` and then runs on.
    EndlessBody {
        /// The size the `HEAD` declares.
        declared: u64,
        /// The first bytes of the body (an MP4 signature, say).
        start: Vec<u8>,
    },
    /// `HEAD` declares 1,000 bytes; the `GET` answers `400` with a chunked
    /// body that runs on.
    EndlessErrorBody,
    /// Every request answers `307` to this URL.
    Redirect(String),
    /// `HEAD` and `GET` declare the whole `bytes`, the `GET` sends only the
    /// first `sent` of them and closes.
    ShortBody {
        /// The object.
        bytes: Vec<u8>,
        /// How many bytes are sent.
        sent: usize,
    },
    /// The `ETag` is the MD5 of `bytes`, but the body has byte `at` flipped.
    FlippedByte {
        /// The true object.
        bytes: Vec<u8>,
        /// The offset of the flipped byte.
        at: usize,
    },
    /// An object replaced between the `HEAD` and the `GET`: the `HEAD`
    /// describes `before`, the `GET` serves `after` and honours `If-Match`
    /// against `after`'s ETag (`412` for `before`'s), as S3 does.
    Replaced {
        /// The version the `HEAD` saw.
        before: Vec<u8>,
        /// The version the `GET` finds.
        after: Vec<u8>,
    },
    /// An honest object sent at `bytes_per_sec` (in ten slices a second).
    Drip {
        /// The object.
        bytes: Vec<u8>,
        /// The rate.
        bytes_per_sec: u64,
    },
}

#[derive(Debug, Default)]
struct Shared {
    objects: Mutex<HashMap<String, Behaviour>>,
    requests: Mutex<Vec<String>>,
    sent: AtomicU64,
}

/// A running hostile endpoint; dropping it stops it.
#[derive(Debug)]
pub struct HostileS3 {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for HostileS3 {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HostileS3 {
    /// Listen on a free port of `127.0.0.1` in the current runtime.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let serving = shared.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((socket, _)) = accepted else { continue };
                        connections.spawn(answer(socket, serving.clone()));
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok(HostileS3 { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT`, the `endpoint_url` of an integration.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address, for `--allow-endpoint`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve `key` (in any bucket) with `behaviour`.
    pub fn put(&self, key: &str, behaviour: Behaviour) {
        if let Ok(mut objects) = self.shared.objects.lock() {
            objects.insert(key.trim_start_matches('/').to_owned(), behaviour);
        }
    }

    /// Bytes of bodies sent so far, every answer together.
    pub fn bytes_sent(&self) -> u64 {
        self.shared.sent.load(Ordering::SeqCst)
    }

    /// The request lines received so far (`GET /bucket/key`).
    pub fn requests(&self) -> Vec<String> {
        self.shared
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}

/// The hex MD5 of `bytes`, as S3 puts it in the `ETag` of a single-part object.
pub fn md5_etag(bytes: &[u8]) -> String {
    let digest = md5::Md5::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

struct Request {
    method: String,
    key: String,
    if_match: Option<String>,
}

async fn read_request(socket: &mut TcpStream) -> Option<Request> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_HEAD {
            return None;
        }
        let n = tokio::time::timeout(Duration::from_secs(30), socket.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?;
    let path = target.split('?').next().unwrap_or_default();
    // Path style: /bucket/key...
    let key = path.trim_start_matches('/').split_once('/')?.1;
    let key = percent_decode(key);
    let if_match = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("if-match"))
        .map(|(_, v)| v.trim().to_owned());
    Some(Request {
        method,
        key,
        if_match,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn answer(mut socket: TcpStream, shared: Arc<Shared>) {
    let Some(req) = read_request(&mut socket).await else {
        return;
    };
    if let Ok(mut log) = shared.requests.lock() {
        log.push(format!("{} /{}", req.method, req.key));
    }
    let behaviour = shared
        .objects
        .lock()
        .ok()
        .and_then(|o| o.get(&req.key).cloned());
    let head = req.method == "HEAD";
    let _ = match behaviour {
        None => {
            let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
            send_whole(&mut socket, &shared, "404 Not Found", &[], body, head).await
        }
        Some(Behaviour::Honest(bytes)) => {
            let etag = md5_etag(&bytes);
            if req
                .if_match
                .as_ref()
                .is_some_and(|m| *m != etag && m != "*")
            {
                send_whole(
                    &mut socket,
                    &shared,
                    "412 Precondition Failed",
                    &[],
                    b"",
                    head,
                )
                .await
            } else {
                send_object(&mut socket, &shared, &bytes, &etag, head, None).await
            }
        }
        Some(Behaviour::EndlessBody { declared, start }) => {
            if head {
                send_head(
                    &mut socket,
                    declared,
                    "\"0123456789abcdef0123456789abcdef\"",
                )
                .await
            } else {
                send_endless(&mut socket, &shared, "200 OK", Some(declared), &start).await
            }
        }
        Some(Behaviour::EndlessErrorBody) => {
            if head {
                send_head(&mut socket, 1000, "\"0123456789abcdef0123456789abcdef\"").await
            } else {
                send_endless(&mut socket, &shared, "400 Bad Request", None, b"<Error>").await
            }
        }
        Some(Behaviour::Redirect(location)) => {
            send_whole(
                &mut socket,
                &shared,
                "307 Temporary Redirect",
                &[("Location", location.as_str())],
                b"",
                head,
            )
            .await
        }
        Some(Behaviour::ShortBody { bytes, sent }) => {
            let etag = md5_etag(&bytes);
            if head {
                send_head(&mut socket, bytes.len() as u64, &etag).await
            } else {
                let head_text = object_head(bytes.len() as u64, &etag);
                let sent = sent.min(bytes.len());
                write_counted(&mut socket, &shared, head_text.as_bytes(), &bytes[..sent]).await
            }
        }
        Some(Behaviour::FlippedByte { bytes, at }) => {
            let etag = md5_etag(&bytes);
            let mut body = bytes;
            if let Some(b) = body.get_mut(at) {
                *b ^= 0x01;
            }
            send_object(&mut socket, &shared, &body, &etag, head, None).await
        }
        Some(Behaviour::Replaced { before, after }) => {
            let etag = md5_etag(&after);
            if head {
                send_head(&mut socket, before.len() as u64, &md5_etag(&before)).await
            } else if req
                .if_match
                .as_ref()
                .is_some_and(|m| *m != etag && m != "*")
            {
                send_whole(
                    &mut socket,
                    &shared,
                    "412 Precondition Failed",
                    &[],
                    b"",
                    head,
                )
                .await
            } else {
                send_object(&mut socket, &shared, &after, &etag, head, None).await
            }
        }
        Some(Behaviour::Drip {
            bytes,
            bytes_per_sec,
        }) => {
            let etag = md5_etag(&bytes);
            send_object(
                &mut socket,
                &shared,
                &bytes,
                &etag,
                head,
                Some(bytes_per_sec),
            )
            .await
        }
    };
    let _ = socket.shutdown().await;
}

fn object_head(size: u64, etag: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nETag: {etag}\r\nLast-Modified: {LAST_MODIFIED}\r\nContent-Type: video/mp4\r\nConnection: close\r\n\r\n"
    )
}

async fn send_head(socket: &mut TcpStream, size: u64, etag: &str) -> std::io::Result<()> {
    socket.write_all(object_head(size, etag).as_bytes()).await
}

async fn write_counted(
    socket: &mut TcpStream,
    shared: &Shared,
    head: &[u8],
    body: &[u8],
) -> std::io::Result<()> {
    socket.write_all(head).await?;
    socket.write_all(body).await?;
    shared.sent.fetch_add(body.len() as u64, Ordering::SeqCst);
    Ok(())
}

async fn send_whole(
    socket: &mut TcpStream,
    shared: &Shared,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    head: bool,
) -> std::io::Result<()> {
    let mut text = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("Connection: close\r\n\r\n");
    let body = if head { &[][..] } else { body };
    write_counted(socket, shared, text.as_bytes(), body).await
}

async fn send_object(
    socket: &mut TcpStream,
    shared: &Shared,
    body: &[u8],
    etag: &str,
    head: bool,
    rate: Option<u64>,
) -> std::io::Result<()> {
    if head {
        return send_head(socket, body.len() as u64, etag).await;
    }
    socket
        .write_all(object_head(body.len() as u64, etag).as_bytes())
        .await?;
    match rate {
        None => {
            socket.write_all(body).await?;
            shared.sent.fetch_add(body.len() as u64, Ordering::SeqCst);
        }
        Some(per_sec) => {
            let slice = (per_sec / 10).max(1) as usize;
            for piece in body.chunks(slice) {
                socket.write_all(piece).await?;
                socket.flush().await?;
                shared.sent.fetch_add(piece.len() as u64, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    Ok(())
}

/// A chunked body: `start`, then 64 KiB chunks until [`MAX_SENT`] or the
/// client hangs up; with `declared`, the answer also carries that
/// `Content-Length` (which chunked encoding overrides, RFC 9112 6.3).
async fn send_endless(
    socket: &mut TcpStream,
    shared: &Shared,
    status: &str,
    declared: Option<u64>,
    start: &[u8],
) -> std::io::Result<()> {
    let length = declared
        .map(|n| format!("Content-Length: {n}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "HTTP/1.1 {status}\r\n{length}Transfer-Encoding: chunked\r\nETag: \"0123456789abcdef0123456789abcdef\"\r\nLast-Modified: {LAST_MODIFIED}\r\nConnection: close\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await?;
    let mut sent = 0u64;
    if !start.is_empty() {
        write_chunk(socket, start).await?;
        sent += start.len() as u64;
        shared.sent.fetch_add(start.len() as u64, Ordering::SeqCst);
    }
    let chunk = vec![b'x'; 64 * 1024];
    while sent < MAX_SENT {
        write_chunk(socket, &chunk).await?;
        sent += chunk.len() as u64;
        shared.sent.fetch_add(chunk.len() as u64, Ordering::SeqCst);
    }
    socket.write_all(b"0\r\n\r\n").await
}

async fn write_chunk(socket: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    socket
        .write_all(format!("{:x}\r\n", bytes.len()).as_bytes())
        .await?;
    socket.write_all(bytes).await?;
    socket.write_all(b"\r\n").await
}
