//! The server-side request forgery guard: which endpoints a user-supplied
//! configuration may make the server talk to.
//!
//! Users save integrations with an S3 `endpoint_url` or a GCS key whose
//! address fields (`gcs_base_url`, `token_uri`, ...) they choose. Without a
//! guard, a user could point the server at `http://169.254.169.254/` (the
//! cloud metadata service) or at a database on the server's private network
//! and read the answers back through import errors. [`EndpointPolicy`]
//! refuses every such address unless the operator allowed it by `host:port`.
//!
//! Checking a URL once is not enough when a host name can resolve to another
//! address at connect time (DNS rebinding), so the stores opened by this crate
//! also resolve names through a guarded resolver that applies the same rule
//! to every connection, and the Hugging Face reader checks every redirect.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use url::{Host, Url};

use crate::config::SourceConfig;
use crate::error::ProviderError;
use crate::names::Names;

/// Host names that reach a cloud metadata service, refused by name.
const METADATA_NAMES: [&str; 5] = [
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
];

/// Which endpoints user configuration may point the server at.
///
/// The default policy ([`EndpointPolicy::new`]) accepts `https` endpoints
/// whose host resolves only to public addresses. The operator can allow
/// specific `host:port` pairs (`--allow-endpoint HOST:PORT`), for example a
/// MinIO server on the private network; those are accepted over `http` too
/// and whatever they resolve to.
///
/// ```
/// use import_providers::EndpointPolicy;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let strict = EndpointPolicy::new();
/// let err = strict.check("https://169.254.169.254/latest/").await.unwrap_err();
/// assert!(err.to_string().contains("cloud metadata"));
/// assert!(strict.check("http://127.0.0.1:9000").await.is_err());
///
/// let policy = EndpointPolicy::from_allowed(["127.0.0.1:9000"])?;
/// policy.check("http://127.0.0.1:9000").await?;
/// assert!(policy.check("http://127.0.0.1:9001").await.is_err());
/// # Ok::<(), import_providers::ProviderError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EndpointPolicy {
    allowed: HashSet<(String, u16)>,
    /// The operator's proxy for sources, if any; without one the clients
    /// ignore `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and the rest, which
    /// would carry requests past the connect-time check.
    proxy: Option<Url>,
    /// Whether the environment's proxy variables are honoured (a command
    /// line tool on a person's own machine; never the server).
    system_proxy: bool,
    /// Where host names are resolved (the system's name servers, or the
    /// operator's), shared by the policy's clones.
    names: Names,
}

impl fmt::Debug for EndpointPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut allowed: Vec<String> = self
            .allowed
            .iter()
            .map(|(host, port)| host_port(host, *port))
            .collect();
        allowed.sort();
        // A proxy's user and password are not shown.
        let proxy = self.proxy.as_ref().map(|p| {
            format!(
                "{}://{}",
                p.scheme(),
                host_port(
                    p.host_str().unwrap_or_default(),
                    p.port_or_known_default().unwrap_or(0)
                )
            )
        });
        f.debug_struct("EndpointPolicy")
            .field("allowed", &allowed)
            .field("proxy", &proxy)
            .field("name_servers", &self.names.servers())
            .finish()
    }
}

impl EndpointPolicy {
    /// The strict policy: public `https` endpoints only, nothing allowed.
    pub fn new() -> Self {
        EndpointPolicy::default()
    }

    /// A policy that also allows each `HOST:PORT` given (IPv6 as `[::1]:9000`).
    pub fn from_allowed<I, S>(entries: I) -> Result<Self, ProviderError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut policy = EndpointPolicy::new();
        for entry in entries {
            policy.allow(entry.as_ref())?;
        }
        Ok(policy)
    }

    /// Allow one `HOST:PORT` (the operator's `--allow-endpoint`).
    pub fn allow(&mut self, entry: &str) -> Result<(), ProviderError> {
        let (host, port) = parse_allow_entry(entry)?;
        self.allowed.insert((host, port));
        Ok(())
    }

    /// Send every request to a source through the operator's proxy `url`
    /// (`http://HOST:PORT` or `https://...`, optionally with a user and
    /// password), the `--source-proxy` of the server.
    ///
    /// What the guard then checks: endpoints are still checked when an
    /// integration is saved and when it is used (their names resolved, and
    /// refused when private or not allowed), but at connect time the server
    /// reaches only the proxy (which must itself pass the guard: a proxy on
    /// a private address needs `--allow-endpoint`); the proxy resolves the
    /// target's name, so DNS rebinding past the proxy is the proxy's to stop.
    /// Without this call, proxy variables of the environment are ignored.
    ///
    /// ```
    /// use import_providers::EndpointPolicy;
    ///
    /// let policy = EndpointPolicy::new().with_proxy("http://user:pw@proxy.internal:3128")?;
    /// assert_eq!(policy.proxy().map(|p| p.port()), Some(Some(3128)));
    /// assert!(!format!("{policy:?}").contains("pw"));
    /// assert!(EndpointPolicy::new().with_proxy("socks5://x:1").is_err());
    /// # Ok::<(), import_providers::ProviderError>(())
    /// ```
    pub fn with_proxy(mut self, url: &str) -> Result<Self, ProviderError> {
        let fix = "give the proxy as http://HOST:PORT or https://HOST:PORT";
        let parsed = Url::parse(url.trim())
            .map_err(|_| ProviderError::invalid("the source proxy is not a URL", fix))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(ProviderError::invalid(
                "the source proxy must be an http or https URL with a host",
                fix,
            ));
        }
        self.proxy = Some(parsed);
        Ok(self)
    }

    /// Honour the environment's proxy variables (`HTTPS_PROXY`, `NO_PROXY`,
    /// ...), as a command-line tool on a person's own machine should; the
    /// server never does, since a proxy would carry its requests past the
    /// connect-time check.
    pub fn with_system_proxy(mut self) -> Self {
        self.system_proxy = true;
        self
    }

    /// Resolve the host names of sources with `servers` (UDP, then TCP)
    /// instead of the system's name servers (`--source-name-server`).
    /// Either way names are resolved by an async resolver of this crate's
    /// own, at most [`MAX_CONCURRENT_LOOKUPS`](crate::MAX_CONCURRENT_LOOKUPS)
    /// at once and each within [`RESOLVE_TIMEOUT`](crate::RESOLVE_TIMEOUT),
    /// so a name server that never answers holds no thread.
    ///
    /// ```
    /// use import_providers::EndpointPolicy;
    ///
    /// let policy = EndpointPolicy::new().with_name_servers(["127.0.0.1:5353".parse()?]);
    /// assert!(format!("{policy:?}").contains("127.0.0.1:5353"));
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn with_name_servers(mut self, servers: impl IntoIterator<Item = SocketAddr>) -> Self {
        self.names = Names::with_servers(servers.into_iter().collect());
        self
    }

    /// The operator's source proxy, if one was given.
    pub fn proxy(&self) -> Option<&Url> {
        self.proxy.as_ref()
    }

    /// `builder` with this policy's proxy, or with every proxy of the
    /// environment turned off: the one rule for every HTTP client of a source.
    pub(crate) fn proxied(
        &self,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, reqwest::Error> {
        Ok(match &self.proxy {
            Some(url) => builder.proxy(reqwest::Proxy::all(url.as_str())?),
            None if self.system_proxy => builder,
            None => builder.no_proxy(),
        })
    }

    /// Whether `host:port` was allowed by the operator.
    pub fn is_allowed(&self, host: &str, port: u16) -> bool {
        self.allowed.contains(&(normalize_host_text(host), port))
    }

    /// The allowed `HOST:PORT` entries, sorted.
    pub fn allowed(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .allowed
            .iter()
            .map(|(host, port)| host_port(host, *port))
            .collect();
        out.sort();
        out
    }

    /// Check one endpoint URL.
    ///
    /// Allowed `host:port` pairs pass (over `http` or `https`). Any other
    /// endpoint must use `https`, and its host must not be (or resolve to) a
    /// loopback, private, link-local, carrier-grade NAT, unspecified,
    /// broadcast, multicast, documentation or other reserved address, an
    /// IPv4-mapped form of one, or a cloud metadata service. Literal
    /// addresses are checked without DNS; a name that cannot be resolved is
    /// an error.
    pub async fn check(&self, url: &str) -> Result<(), ProviderError> {
        let parsed = parse_endpoint(url)?;
        let shown = display_url(&parsed);
        let (host, port) = host_and_port(&parsed)?;
        if self.allowed.contains(&(host.clone(), port)) {
            return Ok(());
        }
        if parsed.scheme() != "https" {
            return Err(ProviderError::ForbiddenEndpoint {
                url: shown,
                reason: "plain http is accepted only for endpoints the operator allowed".to_owned(),
            });
        }
        match parsed.host() {
            Some(Host::Ipv4(ip)) => check_literal(IpAddr::V4(ip), &shown),
            Some(Host::Ipv6(ip)) => check_literal(IpAddr::V6(ip), &shown),
            _ => {
                if let Some(reason) = forbidden_name(&host) {
                    return Err(ProviderError::ForbiddenEndpoint {
                        url: shown,
                        reason: reason.to_owned(),
                    });
                }
                let addrs = self.resolve(&host, port).await?;
                for addr in addrs {
                    if let Some(reason) = forbidden_reason(addr.ip()) {
                        return Err(ProviderError::ForbiddenEndpoint {
                            url: shown,
                            reason: format!("`{host}` resolves to {}, {reason}", addr.ip()),
                        });
                    }
                }
                Ok(())
            }
        }
    }

    /// The guarded resolver for the HTTP clients opened under this policy;
    /// `extra_hosts` are trusted too (the operator's Hub endpoint).
    pub(crate) fn resolver(&self, extra_hosts: &[String]) -> Arc<GuardedResolver> {
        let mut trusted: HashSet<String> = self.allowed.iter().map(|(h, _)| h.clone()).collect();
        trusted.extend(extra_hosts.iter().map(|h| normalize_host_text(h)));
        Arc::new(GuardedResolver {
            trusted,
            names: self.names.clone(),
        })
    }

    /// Whether a redirect target may be followed: allowed `host:port`, or
    /// `https` to a host that is not a forbidden literal address or name
    /// (names are checked again by the guarded resolver at connect time).
    pub(crate) fn check_redirect(&self, url: &Url) -> Result<(), String> {
        let Ok((host, port)) = host_and_port(url) else {
            return Err("the redirect names no host".to_owned());
        };
        if self.allowed.contains(&(host.clone(), port)) {
            return Ok(());
        }
        // An allowed host is trusted by the resolver (its names may resolve
        // inward): only on the port it was allowed with.
        if self.allowed.iter().any(|(h, _)| *h == host) {
            return Err(format!(
                "a redirect to `{}` is refused: `{host}` is allowed only as `{}`",
                display_url(url),
                self.allowed()
                    .into_iter()
                    .filter(|e| e.starts_with(&host) || e.starts_with(&format!("[{host}]")))
                    .collect::<Vec<_>>()
                    .join("`, `")
            ));
        }
        if url.scheme() != "https" {
            return Err(format!(
                "a redirect to `{}` is refused: plain http",
                display_url(url)
            ));
        }
        let reason = match url.host() {
            Some(Host::Ipv4(ip)) => forbidden_reason(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => forbidden_reason(IpAddr::V6(ip)),
            _ => forbidden_name(&host),
        };
        match reason {
            Some(reason) => Err(format!(
                "a redirect to `{}` is refused: {reason}",
                display_url(url)
            )),
            None => Ok(()),
        }
    }
}

/// Check the endpoints of a source configuration: the S3 endpoint URL, or
/// every address field of a GCS key. Validates the configuration first.
/// Hugging Face sources have no user-chosen endpoint (the Hub is operator
/// configuration).
///
/// ```no_run
/// use import_providers::{check_source, EndpointPolicy, SourceConfig};
///
/// # async fn run() -> Result<(), import_providers::ProviderError> {
/// let config = SourceConfig::S3 {
///     bucket: "vids".into(),
///     region: None,
///     endpoint_url: Some("http://10.0.0.8:9000".into()),
///     credentials: None,
/// };
/// assert!(check_source(&config, &EndpointPolicy::new()).await.is_err());
/// check_source(&config, &EndpointPolicy::from_allowed(["10.0.0.8:9000"])?).await?;
/// # Ok(()) }
/// ```
pub async fn check_source(
    config: &SourceConfig,
    policy: &EndpointPolicy,
) -> Result<(), ProviderError> {
    config.validate()?;
    match config {
        SourceConfig::S3 { .. } => {
            if let Some(endpoint) = config.s3_endpoint_url() {
                policy.check(endpoint).await?;
            }
            Ok(())
        }
        SourceConfig::Gcs {
            service_account, ..
        } => {
            for (_field, url) in service_account.address_fields() {
                policy.check(url).await?;
            }
            Ok(())
        }
        SourceConfig::Hf { .. } => Ok(()),
    }
}

/// Parse an endpoint URL: `http` or `https`, a host, no user information.
pub(crate) fn parse_endpoint(url: &str) -> Result<Url, ProviderError> {
    const FIX: &str = "write the endpoint as `https://host[:port]`";
    let parsed = Url::parse(url.trim()).map_err(|e| {
        ProviderError::invalid(format!("the endpoint URL is not a valid URL ({e})"), FIX)
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ProviderError::invalid(
            format!(
                "the endpoint URL has scheme `{}`; only `https` (and `http` for allowed endpoints) are supported",
                parsed.scheme()
            ),
            FIX,
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ProviderError::invalid(
            "the endpoint URL carries user information (`user:password@`)",
            "remove it from the URL and give the credentials in their own fields",
        ));
    }
    if parsed.host().is_none() {
        return Err(ProviderError::invalid(
            "the endpoint URL names no host",
            FIX,
        ));
    }
    Ok(parsed)
}

/// The URL as shown in messages: scheme, host, port and path only.
pub(crate) fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

fn host_and_port(url: &Url) -> Result<(String, u16), ProviderError> {
    let host = match url.host() {
        Some(Host::Domain(d)) => normalize_host_text(d),
        Some(Host::Ipv4(ip)) => ip.to_string(),
        Some(Host::Ipv6(ip)) => ip.to_string(),
        None => {
            return Err(ProviderError::invalid(
                "the endpoint URL names no host",
                "write the endpoint as `https://host[:port]`",
            ));
        }
    };
    let port = url.port_or_known_default().ok_or_else(|| {
        ProviderError::invalid(
            "the endpoint URL has no port and its scheme has no default one",
            "write the endpoint as `https://host[:port]`",
        )
    })?;
    Ok((host, port))
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Lower-case, no trailing dot, IPv6 without brackets in canonical form.
fn normalize_host_text(host: &str) -> String {
    let host = host.trim().trim_end_matches('.');
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return ip.to_string();
    }
    host.to_ascii_lowercase()
}

fn parse_allow_entry(entry: &str) -> Result<(String, u16), ProviderError> {
    let entry = entry.trim();
    let fix = "write `--allow-endpoint HOST:PORT`, for example `minio.internal:9000`, `10.0.0.8:9000` or `[fd00::8]:9000`";
    let bad = |what: String| ProviderError::invalid(what, fix);
    if entry.contains("://") || entry.contains('/') {
        return Err(bad(format!(
            "allowed endpoint `{entry}` is a URL, not HOST:PORT"
        )));
    }
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let Some((host, port)) = rest.split_once("]:") else {
            return Err(bad(format!("allowed endpoint `{entry}` has no port")));
        };
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(bad(format!(
                "allowed endpoint `{entry}` has an invalid IPv6 address"
            )));
        }
        (host, port)
    } else {
        let Some((host, port)) = entry.rsplit_once(':') else {
            return Err(bad(format!("allowed endpoint `{entry}` has no port")));
        };
        if host.contains(':') {
            return Err(bad(format!(
                "allowed endpoint `{entry}`: write IPv6 addresses in brackets"
            )));
        }
        (host, port)
    };
    let port: u16 = match port.parse() {
        Ok(p) if p > 0 => p,
        _ => {
            return Err(bad(format!(
                "allowed endpoint `{entry}` has an invalid port `{port}` (1-65535)"
            )));
        }
    };
    let host = normalize_host_text(host);
    let valid_name = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !valid_name {
        return Err(bad(format!(
            "allowed endpoint `{entry}` has an invalid host"
        )));
    }
    Ok((host, port))
}

fn check_literal(ip: IpAddr, shown: &str) -> Result<(), ProviderError> {
    match forbidden_reason(ip) {
        Some(reason) => Err(ProviderError::ForbiddenEndpoint {
            url: shown.to_owned(),
            reason: format!("{ip} is {reason}"),
        }),
        None => Ok(()),
    }
}

fn forbidden_name(host: &str) -> Option<&'static str> {
    if METADATA_NAMES.contains(&host) {
        return Some("it names a cloud metadata service");
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return Some("it names the server itself (localhost)");
    }
    None
}

impl EndpointPolicy {
    /// The addresses of `host` on `port`, by this policy's resolver.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ProviderError> {
        let ips = self
            .names
            .lookup(host)
            .await
            .map_err(|_| ProviderError::Unresolvable {
                host: host.to_owned(),
            })?;
        Ok(ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect())
    }
}

/// Why an address must not be reached from user configuration, or `None`
/// when it is a public unicast address.
///
/// ```
/// use import_providers::forbidden_reason;
///
/// assert_eq!(forbidden_reason("10.1.2.3".parse()?), Some("a private address"));
/// assert_eq!(forbidden_reason("::ffff:127.0.0.1".parse()?), Some("a loopback address"));
/// assert_eq!(forbidden_reason("93.184.216.34".parse()?), None);
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    let in_net = |net: [u8; 4], bits: u32| {
        let mask = if bits == 0 {
            0
        } else {
            u32::MAX << (32 - bits)
        };
        (u32::from(ip) & mask) == (u32::from_be_bytes(net) & mask)
    };
    Some(
        if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(169, 254, 170, 2) {
            "a cloud metadata address"
        } else if ip.is_unspecified() || o[0] == 0 {
            "an unspecified address"
        } else if ip.is_loopback() {
            "a loopback address"
        } else if in_net([10, 0, 0, 0], 8)
            || in_net([172, 16, 0, 0], 12)
            || in_net([192, 168, 0, 0], 16)
        {
            "a private address"
        } else if in_net([169, 254, 0, 0], 16) {
            "a link-local address"
        } else if in_net([100, 64, 0, 0], 10) {
            "a carrier-grade NAT address"
        } else if ip.is_broadcast() {
            "the broadcast address"
        } else if in_net([224, 0, 0, 0], 4) {
            "a multicast address"
        } else if in_net([240, 0, 0, 0], 4) {
            "a reserved address"
        } else if in_net([192, 0, 2, 0], 24)
            || in_net([198, 51, 100, 0], 24)
            || in_net([203, 0, 113, 0], 24)
        {
            "a documentation address"
        } else if in_net([198, 18, 0, 0], 15) {
            "a benchmarking address"
        } else if in_net([192, 0, 0, 0], 24) {
            "an IETF protocol address"
        } else {
            return None;
        },
    )
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let metadata: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);
    if ip == metadata {
        return Some("a cloud metadata address");
    }
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // IPv4 embedded in IPv6: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d),
    // NAT64 (64:ff9b::/96) and 6to4 (2002:AABB:CCDD::/48).
    if s[..5] == [0; 5] && s[5] == 0xffff {
        return forbidden_v4(embedded_v4(s[6], s[7]));
    }
    if s[..6] == [0; 6] {
        // Deprecated IPv4-compatible addresses: never a legitimate endpoint.
        return forbidden_v4(embedded_v4(s[6], s[7])).or(Some("a reserved address"));
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return forbidden_v4(embedded_v4(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return forbidden_v4(embedded_v4(s[1], s[2]));
    }
    Some(if (s[0] & 0xfe00) == 0xfc00 {
        "a private (unique local) address"
    } else if (s[0] & 0xffc0) == 0xfe80 {
        "a link-local address"
    } else if (s[0] & 0xffc0) == 0xfec0 {
        "a site-local address"
    } else if (s[0] & 0xff00) == 0xff00 {
        "a multicast address"
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        "a documentation address"
    } else if s[0] == 0x2001 && s[1] == 0 {
        "a Teredo tunnel address"
    } else if s[0] == 0x0100 && s[1..4] == [0; 3] {
        "a discard-only address"
    } else {
        return None;
    })
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
}

/// The error of a connection or redirect refused by the guard.
#[derive(Debug)]
pub(crate) struct GuardRefusal(pub(crate) String);

impl fmt::Display for GuardRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GuardRefusal {}

/// A DNS resolver that refuses names resolving to forbidden addresses
/// (unless the name is trusted), used for every connection the stores make.
#[derive(Debug)]
pub(crate) struct GuardedResolver {
    trusted: HashSet<String>,
    names: Names,
}

impl GuardedResolver {
    async fn lookup(
        names: Names,
        trusted: bool,
        host: String,
    ) -> Result<Vec<IpAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let addrs = names.lookup(&host).await?;
        if !trusted {
            if let Some(reason) = forbidden_name(&host) {
                return Err(Box::new(GuardRefusal(format!(
                    "connection to `{host}` refused: {reason}"
                ))));
            }
            for ip in &addrs {
                if let Some(reason) = forbidden_reason(*ip) {
                    return Err(Box::new(GuardRefusal(format!(
                        "connection to `{host}` refused: it resolves to {ip}, {reason}"
                    ))));
                }
            }
        }
        Ok(addrs)
    }
}

impl object_store::client::DnsResolver for GuardedResolver {
    fn resolve(&self, host: &str) -> object_store::client::DnsFuture {
        let host = normalize_host_text(host);
        let trusted = self.trusted.contains(&host);
        Box::pin(Self::lookup(self.names.clone(), trusted, host))
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = normalize_host_text(name.as_str());
        let trusted = self.trusted.contains(&host);
        let names = self.names.clone();
        Box::pin(async move {
            let ips = Self::lookup(names, trusted, host).await?;
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_range_is_refused() {
        let cases = [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "cloud metadata"),
            ("169.254.170.2", "cloud metadata"),
            ("169.254.1.1", "link-local"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.255", "carrier-grade NAT"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("255.255.255.255", "broadcast"),
            ("224.0.0.1", "multicast"),
            ("239.1.1.1", "multicast"),
            ("240.0.0.1", "reserved"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.1", "documentation"),
            ("203.0.113.1", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fc00::1", "unique local"),
            ("fd12:3456::1", "unique local"),
            ("fd00:ec2::254", "cloud metadata"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "cloud metadata"),
            ("::127.0.0.1", "loopback"),
            ("64:ff9b::a00:1", "private"),
            ("2002:a00:1::1", "private"),
            ("2001:0:4136:e378::1", "Teredo"),
        ];
        for (addr, expected) in cases {
            let reason = forbidden_reason(ip(addr)).unwrap_or_else(|| panic!("{addr} allowed"));
            assert!(reason.contains(expected), "{addr}: {reason}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for addr in [
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "172.15.255.255",
            "100.63.255.255",
            "100.128.0.1",
            "192.169.0.1",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(forbidden_reason(ip(addr)), None, "{addr}");
        }
    }

    #[tokio::test]
    async fn literal_urls_are_checked_without_dns() {
        let policy = EndpointPolicy::new();
        for url in [
            "https://127.0.0.1/",
            "https://10.1.2.3:9000",
            "https://[::1]:443",
            "https://[::ffff:192.168.0.1]/",
            "https://169.254.169.254/latest/meta-data",
            "https://[fd00:ec2::254]/",
            "https://0.0.0.0/",
            "https://2130706433/", // 127.0.0.1 written as a number
            "https://0x7f.1/",
        ] {
            let err = policy.check(url).await.unwrap_err();
            assert!(
                matches!(err, ProviderError::ForbiddenEndpoint { .. }),
                "{url}: {err}"
            );
            assert!(err.to_string().contains("--allow-endpoint"), "{err}");
        }
        policy.check("https://93.184.216.34/").await.unwrap();
        policy
            .check("https://[2606:4700::1111]:8443/")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn names_refused_without_dns() {
        let policy = EndpointPolicy::new();
        for url in [
            "https://metadata.google.internal/computeMetadata/v1/",
            "https://METADATA.google.internal./",
            "https://localhost:9000",
            "https://minio.localhost/",
        ] {
            let err = policy.check(url).await.unwrap_err();
            assert!(
                matches!(err, ProviderError::ForbiddenEndpoint { .. }),
                "{url}: {err}"
            );
        }
        let err = policy
            .check("https://metadata.google.internal/")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("cloud metadata"));
    }

    #[tokio::test]
    async fn http_needs_the_allow_list() {
        let policy = EndpointPolicy::new();
        let err = policy.check("http://93.184.216.34/").await.unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");

        let policy =
            EndpointPolicy::from_allowed(["127.0.0.1:9000", "LocalHost:4443", "[::1]:8080"])
                .unwrap();
        policy.check("http://127.0.0.1:9000").await.unwrap();
        policy.check("https://127.0.0.1:9000/path").await.unwrap();
        policy.check("http://localhost:4443/").await.unwrap();
        policy.check("http://[::1]:8080").await.unwrap();
        assert!(policy.check("http://127.0.0.1:9001").await.is_err());
        assert!(policy.check("http://127.0.0.1").await.is_err());
        assert!(policy.check("https://localhost/").await.is_err());
        assert!(policy.is_allowed("localhost", 4443));
        assert_eq!(
            policy.allowed(),
            ["127.0.0.1:9000", "[::1]:8080", "localhost:4443"]
        );
    }

    #[tokio::test]
    async fn localhost_resolves_to_loopback_and_is_refused() {
        // A name not refused by name: resolve it through /etc/hosts only.
        let policy = EndpointPolicy::new();
        let addrs = policy.resolve("localhost", 443).await.unwrap();
        assert!(addrs.iter().all(|a| forbidden_reason(a.ip()).is_some()));
        assert!(policy.check("https://localhost/").await.is_err());
    }

    #[tokio::test]
    async fn bad_urls_are_config_errors() {
        let policy = EndpointPolicy::new();
        for (url, expected) in [
            ("not a url", "not a valid URL"),
            ("ftp://example.com/", "scheme `ftp`"),
            ("https://user:pw@example.com/", "user information"),
        ] {
            let err = policy.check(url).await.unwrap_err();
            assert!(matches!(err, ProviderError::InvalidConfig { .. }), "{url}");
            assert!(err.to_string().contains(expected), "{err}");
            assert!(!err.to_string().contains("pw@"), "{err}");
        }
    }

    #[test]
    fn an_allowed_host_is_trusted_on_its_port_only() {
        let policy =
            EndpointPolicy::from_allowed(["minio.internal:9000", "10.0.0.8:9000"]).unwrap();
        let ok = Url::parse("http://minio.internal:9000/b/x").unwrap();
        assert!(policy.check_redirect(&ok).is_ok());
        for other in [
            "https://minio.internal:9001/b/x",
            "https://minio.internal/b/x",
            "http://10.0.0.8:22/",
            "https://10.0.0.8/",
        ] {
            let err = policy
                .check_redirect(&Url::parse(other).unwrap())
                .expect_err(other);
            assert!(err.contains("refused"), "{err}");
        }
    }

    #[test]
    fn allow_entries_are_validated() {
        for (entry, expected) in [
            ("127.0.0.1", "no port"),
            ("http://127.0.0.1:9000", "is a URL"),
            ("host:0", "invalid port"),
            ("host:70000", "invalid port"),
            ("::1:9000", "brackets"),
            ("[zz]:9000", "invalid IPv6"),
            (":9000", "invalid host"),
            ("bad host:9000", "invalid host"),
        ] {
            let err = EndpointPolicy::from_allowed([entry])
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{entry}: {err}");
            assert!(err.contains("--allow-endpoint HOST:PORT"), "{err}");
        }
        let policy = EndpointPolicy::from_allowed(["[0:0::1]:1", "MinIO.internal.:9000"]).unwrap();
        assert!(policy.is_allowed("::1", 1));
        assert!(policy.is_allowed("minio.internal", 9000));
        assert_eq!(
            format!("{policy:?}"),
            r#"EndpointPolicy { allowed: ["[::1]:1", "minio.internal:9000"], proxy: None, name_servers: [] }"#
        );
    }

    #[test]
    fn redirects() {
        let policy = EndpointPolicy::from_allowed(["127.0.0.1:8080"]).unwrap();
        let ok = |s: &str| policy.check_redirect(&Url::parse(s).unwrap());
        assert!(ok("https://cdn.example.com/x").is_ok());
        assert!(ok("http://127.0.0.1:8080/x").is_ok());
        assert!(
            ok("http://cdn.example.com/x")
                .unwrap_err()
                .contains("plain http")
        );
        assert!(
            ok("https://169.254.169.254/")
                .unwrap_err()
                .contains("metadata")
        );
        assert!(ok("https://localhost/").is_err());
    }

    #[tokio::test]
    async fn guarded_resolver_refuses_loopback_names_unless_trusted() {
        let policy = EndpointPolicy::new();
        let strict = policy.resolver(&[]);
        let err = GuardedResolver::lookup(Names::default(), false, "localhost".into())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("refused"), "{err}");
        assert!(!strict.trusted.contains("localhost"));
        let trusted = policy.resolver(&["LOCALHOST".to_owned()]);
        assert!(trusted.trusted.contains("localhost"));
        assert!(
            GuardedResolver::lookup(Names::default(), true, "localhost".into())
                .await
                .is_ok()
        );
    }
}
