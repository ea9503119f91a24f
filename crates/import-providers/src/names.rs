//! Resolving the host names that users choose (an integration's endpoint,
//! a redirect's target): an async resolver of the crate's own, so a name
//! server that never answers holds no thread of the shared blocking pool,
//! at most [`MAX_CONCURRENT_LOOKUPS`] names at once and each for at most
//! [`RESOLVE_TIMEOUT`].

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{Resolver, TokioResolver};

/// How long a name may take to resolve, waiting for a place included.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Names resolved at once under one policy; one more waits for a place
/// (within [`RESOLVE_TIMEOUT`]). A constant: a lookup holds a socket and a
/// few KiB, and no real import resolves more distinct names at once.
pub const MAX_CONCURRENT_LOOKUPS: usize = 64;

/// How long a name whose name servers did not answer in time fails at once
/// (the copies of one unanswered host, and the storage client's own
/// retries, wait once, not each).
pub const UNANSWERED_FOR: Duration = Duration::from_secs(30);

/// Most unanswered names remembered (past it, the oldest are forgotten).
const MAX_UNANSWERED: usize = 1024;

/// Longest wait for one answer of a name server before the next attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// The resolver of a policy, shared by its clones: built on first use from
/// the system's configuration (`/etc/resolv.conf`, `/etc/hosts`) or from the
/// name servers the operator named.
#[derive(Clone)]
pub(crate) struct Names {
    /// `AssertUnwindSafe`: object_store's resolvers must be unwind safe, and
    /// the resolver's cache (behind its own locks) is not marked so; a
    /// lookup that panicked leaves at worst a cache entry unwritten.
    inner: Arc<std::panic::AssertUnwindSafe<Inner>>,
}

struct Inner {
    servers: Vec<SocketAddr>,
    /// Names that were not answered in time, and when.
    unanswered: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    resolver: OnceLock<Result<TokioResolver, String>>,
    places: tokio::sync::Semaphore,
}

impl Default for Names {
    fn default() -> Self {
        Names::with_servers(Vec::new())
    }
}

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Names")
            .field("servers", &self.inner.servers)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Names {
    fn eq(&self, other: &Names) -> bool {
        self.inner.servers == other.inner.servers
    }
}

impl Eq for Names {}

/// Why a name was not resolved; each says which host and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LookupError {
    /// Every place was taken for the whole timeout.
    Busy(String),
    /// No answer within the timeout.
    TimedOut(String),
    /// The name does not exist, or the resolver could not be set up.
    Failed(String, String),
}

impl std::error::Error for LookupError {}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupError::Busy(host) => write!(
                f,
                "the host `{host}` could not be resolved in time: {MAX_CONCURRENT_LOOKUPS} other names were being resolved; retry later"
            ),
            LookupError::TimedOut(host) => write!(
                f,
                "the host `{host}` could not be resolved in time ({} s): its name servers did not answer",
                RESOLVE_TIMEOUT.as_secs()
            ),
            LookupError::Failed(host, why) => {
                write!(f, "the host `{host}` could not be resolved ({why})")
            }
        }
    }
}

impl Names {
    /// A resolver that asks `servers` (UDP, then TCP), or the system's name
    /// servers when there are none.
    pub(crate) fn with_servers(servers: Vec<SocketAddr>) -> Names {
        Names {
            inner: Arc::new(std::panic::AssertUnwindSafe(Inner {
                servers,
                unanswered: std::sync::Mutex::default(),
                resolver: OnceLock::new(),
                places: tokio::sync::Semaphore::new(MAX_CONCURRENT_LOOKUPS),
            })),
        }
    }

    /// The name servers the operator named (empty: the system's).
    pub(crate) fn servers(&self) -> &[SocketAddr] {
        &self.inner.servers
    }

    fn resolver(&self) -> Result<&TokioResolver, String> {
        self.inner
            .resolver
            .get_or_init(|| build(&self.inner.servers))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The addresses of `host` (an IP literal is its own answer).
    pub(crate) async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, LookupError> {
        if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse() {
            return Ok(vec![ip]);
        }
        if self.lately_unanswered(host) {
            return Err(LookupError::TimedOut(host.to_owned()));
        }
        let deadline = tokio::time::Instant::now() + RESOLVE_TIMEOUT;
        let _place = tokio::time::timeout_at(deadline, self.inner.places.acquire())
            .await
            .map_err(|_| LookupError::Busy(host.to_owned()))?
            .map_err(|_| LookupError::Busy(host.to_owned()))?;
        let resolver = self
            .resolver()
            .map_err(|why| LookupError::Failed(host.to_owned(), why))?;
        let found = tokio::time::timeout_at(deadline, resolver.lookup_ip(host))
            .await
            .map_err(|_| LookupError::TimedOut(host.to_owned()))
            .and_then(|found| {
                found.map_err(|e| {
                    let timed_out = e.proto().is_some_and(|p| {
                        matches!(p.kind(), hickory_resolver::proto::ProtoErrorKind::Timeout)
                    });
                    if timed_out {
                        LookupError::TimedOut(host.to_owned())
                    } else if e.is_no_records_found() || e.is_nx_domain() {
                        LookupError::Failed(host.to_owned(), "no such name".to_owned())
                    } else {
                        LookupError::Failed(host.to_owned(), e.to_string())
                    }
                })
            });
        if let Err(LookupError::TimedOut(_)) = &found {
            self.remember_unanswered(host);
        }
        let found = found?;
        let ips: Vec<IpAddr> = found.iter().collect();
        if ips.is_empty() {
            return Err(LookupError::Failed(
                host.to_owned(),
                "no address".to_owned(),
            ));
        }
        Ok(ips)
    }
}

impl Names {
    fn lately_unanswered(&self, host: &str) -> bool {
        let Ok(unanswered) = self.inner.unanswered.lock() else {
            return false;
        };
        unanswered
            .get(host)
            .is_some_and(|at| at.elapsed() < UNANSWERED_FOR)
    }

    fn remember_unanswered(&self, host: &str) {
        let Ok(mut unanswered) = self.inner.unanswered.lock() else {
            return;
        };
        if unanswered.len() >= MAX_UNANSWERED {
            unanswered.retain(|_, at| at.elapsed() < UNANSWERED_FOR);
        }
        if unanswered.len() >= MAX_UNANSWERED {
            unanswered.clear();
        }
        unanswered.insert(host.to_owned(), std::time::Instant::now());
    }
}

fn build(servers: &[SocketAddr]) -> Result<TokioResolver, String> {
    let mut builder = if servers.is_empty() {
        TokioResolver::builder_tokio().map_err(|e| {
            format!(
                "the system's name servers could not be read: {e}; name them with --source-name-server"
            )
        })?
    } else {
        let mut config = ResolverConfig::new();
        for server in servers {
            config.add_name_server(NameServerConfig::new(*server, Protocol::Udp));
            config.add_name_server(NameServerConfig::new(*server, Protocol::Tcp));
        }
        Resolver::builder_with_config(config, TokioConnectionProvider::default())
    };
    let options = builder.options_mut();
    options.timeout = options.timeout.min(ATTEMPT_TIMEOUT);
    options.attempts = options.attempts.clamp(1, 2);
    Ok(builder.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_silent_name_server_costs_a_bounded_wait_and_a_bounded_number_of_places() {
        let silent = import_testkit::dns::SilentNameServer::start().unwrap();
        let names = Names::with_servers(vec![silent.addr()]);
        let started = std::time::Instant::now();
        let lookups: Vec<_> = (0..MAX_CONCURRENT_LOOKUPS + 16)
            .map(|i| {
                let names = names.clone();
                tokio::spawn(async move { names.lookup(&format!("stall-{i}.test")).await })
            })
            .collect();
        // While they wait, the name server was asked only the names that
        // have a place (each perhaps more than once).
        tokio::time::sleep(Duration::from_secs(1)).await;
        let seen: std::collections::BTreeSet<String> = silent.asked().into_iter().collect();
        assert_eq!(seen.len(), MAX_CONCURRENT_LOOKUPS, "{seen:?}");
        let mut outcomes = Vec::new();
        for lookup in lookups {
            outcomes.push(lookup.await.unwrap());
        }
        let took = started.elapsed();
        // Each failed in time, saying so.
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, Err(LookupError::TimedOut(_) | LookupError::Busy(_))))
        );
        assert!(took < RESOLVE_TIMEOUT + Duration::from_secs(3), "{took:?}");
        assert!(
            outcomes[0]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("stall-0.test")
        );
        // A name just unanswered fails at once, without asking again.
        let _before = silent.asked();
        let again = std::time::Instant::now();
        assert!(matches!(
            names.lookup("stall-0.test").await,
            Err(LookupError::TimedOut(_))
        ));
        assert!(again.elapsed() < Duration::from_millis(100));
        assert!(!silent.asked().iter().any(|n| n == "stall-0.test"));
    }

    #[test]
    fn the_unanswered_names_kept_are_bounded() {
        let names = Names::default();
        for i in 0..MAX_UNANSWERED + 10 {
            names.remember_unanswered(&format!("n{i}.test"));
        }
        let kept = names.inner.unanswered.lock().unwrap().len();
        assert!(kept <= MAX_UNANSWERED, "{kept}");
        assert!(names.lately_unanswered(&format!("n{}.test", MAX_UNANSWERED + 9)));
    }

    #[tokio::test]
    async fn literals_and_the_hosts_file_need_no_name_server() {
        let silent = import_testkit::dns::SilentNameServer::start().unwrap();
        let names = Names::with_servers(vec![silent.addr()]);
        assert_eq!(
            names.lookup("127.0.0.1").await.unwrap(),
            ["127.0.0.1".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(names.lookup("[::1]").await.unwrap().len(), 1);
        let local = names.lookup("localhost").await.unwrap();
        assert!(local.iter().all(IpAddr::is_loopback), "{local:?}");
        assert!(silent.asked().is_empty());
    }
}
