//! A tiny blocking HTTP/1.1 client for poking the stand-ins.
//!
//! One request per connection (`Connection: close`), no TLS, no redirects
//! followed, the whole body in memory. It exists so the test kit can seed
//! fake-gcs-server and its tests can check exact status codes and headers
//! without a client crate; use a real client for anything else.
//!
//! ```no_run
//! # fn demo(addr: std::net::SocketAddr) -> std::io::Result<()> {
//! let response = import_testkit::raw::request(addr, "GET", "/storage/v1/b", &[], b"")?;
//! assert_eq!(response.status, 200);
//! # Ok(()) }
//! ```

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a connection may stay silent before the request fails.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// A response read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The header fields in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked; empty for `HEAD`, 204 and 304.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of a header field (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request to `addr` and reads the whole response.
///
/// `target` is the request target as sent (`/path?query`, already
/// percent-encoded). `Host`, `Connection: close` and, when there is a body
/// or the method is `POST`/`PUT`, `Content-Length` are added.
pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<RawResponse> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut writer = &stream;
    writer.write_all(head.as_bytes())?;
    writer.write_all(body)?;
    writer.flush()?;

    let mut reader = BufReader::new(&stream);
    let status_line = read_line(&mut reader)?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let mut response_headers = Vec::new();
    loop {
        let line = read_line(&mut reader)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        response_headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut response = RawResponse {
        status,
        headers: response_headers,
        body: Vec::new(),
    };
    if method.eq_ignore_ascii_case("HEAD") || status == 204 || status == 304 || status < 200 {
        return Ok(response);
    }
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        response.body = read_chunked(&mut reader)?;
    } else if let Some(len) = response.header("content-length") {
        let len: u64 = len
            .parse()
            .map_err(|_| invalid(format!("bad Content-Length {len:?}")))?;
        let mut body = Vec::new();
        (&mut reader).take(len).read_to_end(&mut body)?;
        if body.len() as u64 != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the end of the body",
            ));
        }
        response.body = body;
    } else {
        reader.read_to_end(&mut response.body)?;
    }
    Ok(response)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed in the response head",
        ));
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| invalid("response head is not UTF-8".to_owned()))
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        let before = body.len();
        reader.by_ref().take(size).read_to_end(&mut body)?;
        if (body.len() - before) as u64 != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a chunk",
            ));
        }
        read_line(reader)?;
    }
}
