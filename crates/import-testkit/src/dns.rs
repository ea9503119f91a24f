//! A name server on 127.0.0.1 that never answers (UDP and TCP on one port):
//! it takes every question and says nothing, as a name server that is down
//! behind a firewall that drops packets does. The names it is asked can be
//! read back, in order.
//!
//! ```no_run
//! let silent = import_testkit::dns::SilentNameServer::start().unwrap();
//! // Point the resolver under test at `silent.addr()`, ask it a name...
//! let asked: Vec<String> = silent.asked();
//! # drop(asked);
//! ```

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

/// The silent name server; its threads end a minute after the last
/// question, or after 10,000 questions (or 1,000 TCP connections).
pub struct SilentNameServer {
    addr: SocketAddr,
    asked: Receiver<String>,
}

impl SilentNameServer {
    /// Listen on a free port of 127.0.0.1, UDP and TCP.
    pub fn start() -> io::Result<SilentNameServer> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_secs(60)))?;
        let addr = socket.local_addr()?;
        let tcp = TcpListener::bind(addr)?;
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in tcp.incoming().take(1_000) {
                held.push(conn);
            }
        });
        let (tx, asked) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            for _ in 0..10_000 {
                let Ok(n) = socket.recv(&mut buf) else { return };
                if tx.send(question_name(&buf[..n])).is_err() {
                    return;
                }
            }
        });
        Ok(SilentNameServer { addr, asked })
    }

    /// Where it listens (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The names asked since the last call (each question once, the
    /// resolver's repeats included).
    pub fn asked(&self) -> Vec<String> {
        self.asked.try_iter().collect()
    }

    /// The next name asked, waiting up to `wait`.
    pub fn next_asked(&self, wait: Duration) -> Option<String> {
        self.asked.recv_timeout(wait).ok()
    }
}

/// The first question's name of a DNS message (labels after the 12-byte
/// header), lossily decoded.
fn question_name(message: &[u8]) -> String {
    let mut labels = Vec::new();
    let mut at = 12;
    while let Some(&len) = message.get(at) {
        if len == 0 {
            break;
        }
        let end = (at + 1 + len as usize).min(message.len());
        labels.push(String::from_utf8_lossy(&message[at + 1..end]).into_owned());
        at = end;
    }
    labels.join(".")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_question_is_read_from_a_message() {
        let mut message = vec![0u8; 12];
        message.extend_from_slice(b"\x07cameras\x04test\x00\x00\x01\x00\x01");
        assert_eq!(super::question_name(&message), "cameras.test");
        assert_eq!(super::question_name(b"short"), "");
    }
}
