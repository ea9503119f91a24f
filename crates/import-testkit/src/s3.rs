//! An S3 (and S3-compatible: R2, MinIO) stand-in: s3s-fs in the test process.
//!
//! [`S3StandIn`] is not a double: it is [s3s-fs], a real implementation of
//! the S3 protocol that serves a folder, behind s3s's SigV4 authentication
//! ([`s3s::auth::SimpleAuth`] with one key pair). A request signed with the
//! wrong secret gets `403 SignatureDoesNotMatch`, an unsigned one
//! `403 AccessDenied`, exactly what a client sees from the cloud. It listens
//! on `127.0.0.1:0` in the current tokio runtime and stops when dropped.
//!
//! Point a client at it with path-style requests, region `us-east-1` and
//! plain HTTP allowed, for example object_store's
//! `AmazonS3Builder::new().with_endpoint(s3.endpoint()).with_allow_http(true)
//! .with_virtual_hosted_style_request(false).with_region("us-east-1")`.
//!
//! # Layout and gotchas
//! - A bucket is a folder `root/<bucket>/`, created with
//!   [`S3StandIn::create_bucket`]; an object is the file
//!   `root/<bucket>/<key>`, which [`S3StandIn::put`] writes directly.
//! - Bucket names need 3 to 63 characters (`a-z`, `0-9`, `.`, `-`).
//! - A key must never collide with a folder: a `HEAD` on a key that is a
//!   folder on disk answers 500, and clients then retry with backoff. So
//!   `videos/a.mp4` and `videos/a.mp4/b.mp4` cannot both exist;
//!   [`S3StandIn::put`] refuses such keys.
//! - s3s-fs keeps its own metadata (content type, ETag) in hidden files at
//!   the root (`.bucket-*.json`). Objects written on disk with
//!   [`S3StandIn::put`] have none: they are served without a content type,
//!   and every `HEAD` or `GET` of one (ranged ones too) reads the whole file
//!   to compute its MD5 ETag, so a `HEAD` of a multi-GiB object costs a full
//!   read of it. Overwriting with [`S3StandIn::put`] an object first
//!   uploaded through S3 leaves its old ETag in place.
//! - Recursive listings of a whole bucket with an empty delimiter trip an
//!   s3s-fs quirk in some clients (rclone); object_store is fine.
//! - Build with `--release` for any throughput figure.
//!
//! [s3s-fs]: https://docs.rs/s3s-fs

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::serve::ServerTask;

/// s3s-fs serving a folder as S3 on `127.0.0.1:PORT`, with SigV4 checked.
///
/// Dropping it stops the server and, when it owns its folder, deletes it.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// let s3 = import_testkit::S3StandIn::start("AKIDTEST", "secret-test-key").await?;
/// s3.create_bucket("vids")?;
/// s3.put("vids", "2024-09-01/cam0.mp4", &import_testkit::mp4::sample_mp4(&Default::default()))?;
/// println!("S3 endpoint: {}", s3.endpoint());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct S3StandIn {
    server: ServerTask,
    operations: Operations,
    root: PathBuf,
    access_key: String,
    secret_key: String,
    // Kept last so the server stops before the folder goes.
    _owned_root: Option<TempDir>,
}

impl S3StandIn {
    /// Starts s3s-fs on a fresh temporary folder that it owns.
    ///
    /// Must be called inside a tokio runtime, which then runs the server.
    pub async fn start(access_key: &str, secret_key: &str) -> io::Result<Self> {
        let dir = tempfile::Builder::new().prefix("s3-standin-").tempdir()?;
        let root = dir.path().to_path_buf();
        Self::start_inner(root, Some(dir), access_key, secret_key).await
    }

    /// Starts s3s-fs serving an existing folder, which it leaves in place
    /// when dropped. Its sub-folders are the buckets.
    pub async fn start_in(
        root: impl Into<PathBuf>,
        access_key: &str,
        secret_key: &str,
    ) -> io::Result<Self> {
        Self::start_inner(root.into(), None, access_key, secret_key).await
    }

    async fn start_inner(
        root: PathBuf,
        owned: Option<TempDir>,
        access_key: &str,
        secret_key: &str,
    ) -> io::Result<Self> {
        if access_key.is_empty() || secret_key.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the S3 stand-in needs a non-empty access key and secret key",
            ));
        }
        let fs = s3s_fs::FileSystem::new(&root).map_err(|err| {
            io::Error::other(format!("s3s-fs cannot serve {}: {err:?}", root.display()))
        })?;
        let root = root.canonicalize()?;
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(access_key, secret_key));
        let operations = Operations::default();
        builder.set_access(operations.clone());
        let listener = ServerTask::bind_loopback().await?;
        let server = ServerTask::spawn(listener, builder.build())?;
        tracing::debug!(addr = %server.addr(), root = %root.display(), "S3 stand-in started");
        Ok(Self {
            server,
            operations,
            root,
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            _owned_root: owned,
        })
    }

    /// The endpoint URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// How many signed requests of the S3 operation `name` (`GetObject`,
    /// `HeadObject`, `PutObject`, `CreateMultipartUpload`, ...) the stand-in
    /// has received, answered or refused.
    pub fn operations(&self, name: &str) -> usize {
        self.operations.count(name)
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Multipart uploads created and neither completed nor aborted, in every
    /// bucket: s3s-fs keeps one `.upload-<id>.json` file per upload at its
    /// root until then.
    pub fn pending_multipart_uploads(&self) -> usize {
        std::fs::read_dir(&self.root)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| {
                        let name = e.file_name();
                        let name = name.to_string_lossy();
                        name.starts_with(".upload-") && name.ends_with(".json")
                    })
                    .count()
            })
            .unwrap_or(0)
    }

    /// The folder served; its sub-folders are the buckets.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The access key id that requests must be signed with.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The secret key that requests must be signed with.
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// Creates a bucket (a folder under the root). Creating an existing
    /// bucket is not an error.
    pub fn create_bucket(&self, name: &str) -> io::Result<()> {
        check_bucket_name(name)?;
        std::fs::create_dir_all(self.root.join(name))
    }

    /// Where the object `bucket/key` lives on disk, creating its parent
    /// folders; write a big object there yourself (for example with
    /// [`crate::mp4::streamed_mp4_to_file`]). Refuses keys that would
    /// collide with a folder, like [`S3StandIn::put`].
    pub fn object_path(&self, bucket: &str, key: &str) -> io::Result<PathBuf> {
        check_bucket_name(bucket)?;
        let bucket_dir = self.root.join(bucket);
        if !bucket_dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no bucket {bucket:?}: call create_bucket first"),
            ));
        }
        let mut path = bucket_dir;
        let segments: Vec<&str> = key.split('/').collect();
        for (i, segment) in segments.iter().enumerate() {
            if segment.is_empty() || *segment == "." || *segment == ".." {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("object key {key:?} has an empty, '.' or '..' segment"),
                ));
            }
            path.push(segment);
            let last = i + 1 == segments.len();
            if !last && path.is_file() {
                return Err(collision(key, &path));
            }
            if last && path.is_dir() {
                return Err(collision(key, &path));
            }
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        Ok(path)
    }

    /// Writes the object `bucket/key` directly on disk (creating its parent
    /// folders), replacing any previous content.
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) -> io::Result<()> {
        let path = self.object_path(bucket, key)?;
        std::fs::write(path, bytes)
    }
}

fn collision(key: &str, path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "object key {key:?} collides with {} (s3s-fs answers 500 when a key is a folder)",
            path.display()
        ),
    )
}

fn check_bucket_name(name: &str) -> io::Result<()> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !name.starts_with(['.', '-'])
        && !name.ends_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not an S3 bucket name (3-63 of a-z, 0-9, '.', '-')"),
        ))
    }
}

/// Counts the requests of each S3 operation, through s3s's access hook
/// (which sees every signed request, named by operation), and keeps
/// s3s's own rule: a request without credentials is refused.
#[derive(Clone, Debug, Default)]
struct Operations(std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, usize>>>);

impl Operations {
    fn count(&self, name: &str) -> usize {
        self.0
            .lock()
            .map_or(0, |counts| counts.get(name).copied().unwrap_or(0))
    }
}

#[async_trait::async_trait]
impl s3s::access::S3Access for Operations {
    async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> s3s::S3Result<()> {
        if let Ok(mut counts) = self.0.lock() {
            *counts.entry(cx.s3_op().name().to_owned()).or_default() += 1;
        }
        match cx.credentials() {
            Some(_) => Ok(()),
            None => Err(s3s::s3_error!(AccessDenied, "Signature is required")),
        }
    }
}
