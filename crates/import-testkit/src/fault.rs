//! A fault-injecting HTTP/1.1 proxy for the API clients' end-to-end tests.
//!
//! [`FaultProxy`] listens on `127.0.0.1` in front of an upstream server (our
//! API server) and forwards every request to it, unless a [`Rule`] matches:
//! then it answers by itself ([`Action::Respond`], e.g. a 503 with
//! `Retry-After`) or closes the connection without a byte of response,
//! before or after the upstream has acted ([`Action::DropBeforeForward`],
//! [`Action::DropAfterForward`]). Every request it receives is recorded as a
//! [`RecordedRequest`], so a test can check what the client really sent.
//!
//! It is deliberately small: one request per client connection (responses
//! carry `Connection: close`), a new upstream connection per request,
//! origin-form targets (`/path?query`) only, `Content-Length` request bodies
//! only (a chunked request body is answered with 501), the upstream response
//! read whole before it is relayed.
//!
//! ```no_run
//! # async fn demo(api: std::net::SocketAddr) -> std::io::Result<()> {
//! use import_testkit::fault::{Action, FaultProxy, Rule};
//!
//! let proxy = FaultProxy::start(api).await?;
//! proxy.push_rule(Rule {
//!     method: Some("POST"),
//!     path_prefix: "/v1/import-jobs".into(),
//!     times: 1,
//!     action: Action::Respond {
//!         status: 503,
//!         headers: vec![("Retry-After".into(), "1".into())],
//!         body: String::new(),
//!     },
//! });
//! // Point the client at `proxy.endpoint()`: its first POST gets the 503,
//! // the retry reaches the server.
//! assert_eq!(proxy.requests().len(), 0);
//! # Ok(()) }
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// How long one exchange (client request, upstream round trip, relay) may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest request head accepted (request line and header fields).
const MAX_HEAD: usize = 64 * 1024;
/// The largest request body accepted.
const MAX_BODY: u64 = 64 * 1024 * 1024;
/// Request header fields that concern one connection and are not forwarded.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "expect",
    "upgrade",
    "te",
];

/// What the proxy does with a request that a [`Rule`] matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Answer without forwarding. `Content-Length` is added unless given,
    /// and `Connection: close` always (a given `Connection` is replaced).
    Respond {
        /// The status code.
        status: u16,
        /// Header fields, in order.
        headers: Vec<(String, String)>,
        /// The body (not sent for `HEAD`, 204 and 304).
        body: String,
    },
    /// Forward the request, read the whole upstream response, then close the
    /// client connection without writing anything: the server acted, the
    /// client never learns how.
    DropAfterForward,
    /// Close the client connection without forwarding or writing anything.
    DropBeforeForward,
    /// Hold the request for a while, then forward it and relay the answer:
    /// a network that delivers late. The request reaches the upstream even
    /// if the client gave up waiting meanwhile (as a request already on the
    /// wire does).
    DelayForward(std::time::Duration),
}

/// A fault to inject into the next `times` requests it matches.
///
/// Rules are tried in the order they were pushed; the first one that matches
/// and has `times` left is used, counted down, and removed when spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The method to match (compared case-insensitively); `None` matches any.
    pub method: Option<&'static str>,
    /// The prefix the path (without the query) must start with; `""` matches
    /// any path.
    pub path_prefix: String,
    /// How many requests the rule applies to (`usize::MAX`: all of them).
    pub times: usize,
    /// What to do with a matching request.
    pub action: Action,
}

impl Rule {
    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.is_none_or(|m| m.eq_ignore_ascii_case(method))
            && path.starts_with(&self.path_prefix)
    }
}

/// A request as the proxy received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method, as sent.
    pub method: String,
    /// The path of the target, still percent-encoded, without the query.
    pub path: String,
    /// The query of the target (after `?`), if there was one.
    pub query: Option<String>,
    /// The header fields in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (empty when the request had none or was refused).
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first value of a header field (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct State {
    rules: Vec<Rule>,
    requests: Vec<RecordedRequest>,
}

/// A running proxy; dropping it stops accepting and ends open exchanges.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on `127.0.0.1` with a port the system picks, forwarding to
    /// `upstream`, in a task of the current tokio runtime.
    pub async fn start(upstream: SocketAddr) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let task = tokio::spawn(accept_loop(listener, upstream, Arc::clone(&state)));
        Ok(FaultProxy { addr, state, task })
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give a client, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a rule after the ones already pushed.
    pub fn push_rule(&self, rule: Rule) {
        self.lock().rules.push(rule);
    }

    /// Removes every rule, spent or not.
    pub fn clear_rules(&self) {
        self.lock().rules.clear();
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A test that panicked while holding the lock leaves usable data behind.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, state: Arc<Mutex<State>>) {
    // Exchanges live in a set owned by this task, so aborting it ends them.
    let mut exchanges = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let state = Arc::clone(&state);
                    exchanges.spawn(async move {
                        match tokio::time::timeout(EXCHANGE_TIMEOUT, exchange(stream, upstream, &state)).await {
                            Ok(Ok(())) => {}
                            Ok(Err(err)) => tracing::debug!(%err, "fault proxy exchange failed"),
                            Err(_) => tracing::debug!("fault proxy exchange timed out"),
                        }
                    });
                }
                Err(err) => {
                    tracing::warn!(%err, "fault proxy accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = exchanges.join_next(), if !exchanges.is_empty() => {}
        }
    }
}

/// A parsed request head; header names keep their case for forwarding.
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn record(&self, body: Vec<u8>) -> RecordedRequest {
        let (path, query) = match self.target.split_once('?') {
            Some((path, query)) => (path.to_owned(), Some(query.to_owned())),
            None => (self.target.clone(), None),
        };
        RecordedRequest {
            method: self.method.clone(),
            path,
            query,
            headers: (self.headers.iter())
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect(),
            body,
        }
    }
}

/// Serves the one request of a client connection.
async fn exchange(stream: TcpStream, upstream: SocketAddr, state: &Mutex<State>) -> io::Result<()> {
    let mut client = BufReader::new(stream);
    let head = match read_head(&mut client).await {
        Ok(Some(head)) => head,
        Ok(None) => return Ok(()),
        Err(err) if err.kind() == io::ErrorKind::InvalidData => {
            return reply(client.get_mut(), 400, &[], &err.to_string(), false).await;
        }
        Err(err) => return Err(err),
    };
    let head_only = head.method.eq_ignore_ascii_case("HEAD");
    if head.header("transfer-encoding").is_some() {
        lock(state).requests.push(head.record(Vec::new()));
        let text = "chunked request bodies are not supported";
        return reply(client.get_mut(), 501, &[], text, head_only).await;
    }
    let length = match head
        .header("content-length")
        .map(|v| v.trim().parse::<u64>())
    {
        None => 0,
        Some(Ok(length)) if length <= MAX_BODY => length,
        Some(Ok(_)) => return reply(client.get_mut(), 413, &[], "body too large", head_only).await,
        Some(Err(_)) => {
            return reply(client.get_mut(), 400, &[], "bad Content-Length", head_only).await;
        }
    };
    let expects_continue = head
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if expects_continue && length > 0 {
        client
            .get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await?;
    }
    let mut body = Vec::new();
    (&mut client).take(length).read_to_end(&mut body).await?;
    if body.len() as u64 != length {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "client closed inside the request body",
        ));
    }

    let record = head.record(body);
    let action = {
        let mut state = lock(state);
        let action = take_action(&mut state.rules, &record.method, &record.path);
        state.requests.push(record.clone());
        action
    };
    let client = client.get_mut();
    match action {
        Some(Action::Respond {
            status,
            headers,
            body,
        }) => reply(client, status, &headers, &body, head_only).await,
        Some(Action::DropBeforeForward) => Ok(()),
        Some(Action::DelayForward(delay)) => {
            tokio::time::sleep(delay).await;
            match forward(upstream, &head, &record.body).await {
                Ok(response) => relay(client, &response).await,
                Err(err) => {
                    let text = format!("upstream {upstream}: {err}");
                    reply(client, 502, &[], &text, head_only).await
                }
            }
        }
        Some(Action::DropAfterForward) => {
            if let Err(err) = forward(upstream, &head, &record.body).await {
                tracing::debug!(%err, "fault proxy upstream failed before a drop");
            }
            Ok(())
        }
        None => match forward(upstream, &head, &record.body).await {
            Ok(response) => relay(client, &response).await,
            Err(err) => {
                let text = format!("upstream {upstream}: {err}");
                reply(client, 502, &[], &text, head_only).await
            }
        },
    }
}

/// The action of the first live rule matching, counting it down.
fn take_action(rules: &mut Vec<Rule>, method: &str, path: &str) -> Option<Action> {
    let index = rules
        .iter()
        .position(|rule| rule.times > 0 && rule.matches(method, path))?;
    let rule = &mut rules[index];
    rule.times -= 1;
    let action = rule.action.clone();
    if rule.times == 0 {
        rules.remove(index);
    }
    Some(action)
}

/// Reads the request line and header fields; `None` when the client closed
/// without sending anything. Malformed heads are `InvalidData` errors.
async fn read_head(client: &mut BufReader<TcpStream>) -> io::Result<Option<Head>> {
    let mut budget = MAX_HEAD;
    let Some(request_line) = read_line(client, &mut budget).await? else {
        return Ok(None);
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(format!("bad request line {request_line:?}")));
    };
    if method.is_empty() || !target.starts_with('/') || !version.starts_with("HTTP/1.") {
        return Err(invalid(format!(
            "unsupported request line {request_line:?}"
        )));
    }
    let mut head = Head {
        method: method.to_owned(),
        target: target.to_owned(),
        headers: Vec::new(),
    };
    loop {
        let line = read_line(client, &mut budget)
            .await?
            .ok_or_else(|| invalid("client closed inside the request head".to_owned()))?;
        if line.is_empty() {
            return Ok(Some(head));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        head.headers
            .push((name.trim().to_owned(), value.trim().to_owned()));
    }
}

/// One line without its line ending; `None` at end of input.
async fn read_line(
    client: &mut BufReader<TcpStream>,
    budget: &mut usize,
) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let limit = *budget as u64 + 1;
    (&mut *client)
        .take(limit)
        .read_until(b'\n', &mut line)
        .await?;
    if line.is_empty() {
        return Ok(None);
    }
    if line.len() > *budget {
        return Err(invalid("request head too large".to_owned()));
    }
    *budget -= line.len();
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| invalid("request head is not UTF-8".to_owned()))
}

/// Sends the request on a new upstream connection and reads the response to
/// its end.
async fn forward(upstream: SocketAddr, head: &Head, body: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = format!("{} {} HTTP/1.1\r\n", head.method, head.target);
    for (name, value) in &head.headers {
        if !HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut stream = TcpStream::connect(upstream).await?;
    stream.write_all(out.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    Ok(response)
}

/// Relays an upstream response with its `Connection` fields replaced by
/// `Connection: close`; the body goes through byte for byte.
async fn relay(client: &mut TcpStream, response: &[u8]) -> io::Result<()> {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return reply(
            client,
            502,
            &[],
            "upstream response has no complete head",
            false,
        )
        .await;
    };
    let head = String::from_utf8_lossy(&response[..end]);
    let mut out = String::new();
    for (i, line) in head.split("\r\n").enumerate() {
        let name = line.split(':').next().unwrap_or_default().trim();
        if i > 0
            && (name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive"))
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    client.write_all(out.as_bytes()).await?;
    client.write_all(&response[end + 4..]).await?;
    client.shutdown().await
}

/// Writes a response made by the proxy itself.
async fn reply(
    client: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &str,
    head_only: bool,
) -> io::Result<()> {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    let mut has_length = false;
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("connection") {
            continue;
        }
        has_length |= name.eq_ignore_ascii_case("content-length");
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    let no_body = head_only || status == 204 || status == 304;
    if !has_length && status != 204 {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    if !no_body {
        out.push_str(body);
    }
    client.write_all(out.as_bytes()).await?;
    client.shutdown().await?;
    // A refused request may leave bytes unread; closing on them would reset
    // the connection and could discard the answer before the client reads
    // it. Read them away until the client closes (briefly, at most).
    let mut sink = [0u8; 8192];
    let drain = async {
        while client.read(&mut sink).await? > 0 {}
        Ok::<_, io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
    Ok(())
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}
