//! The reference server of the cloud video import API.
//!
//! It answers every route of the contract (see `docs/api/openapi.json`), keeps
//! its state in one SQLite file by default, and imports in the background: the
//! job's rows are the queue, workers claim them with a lease, stream each object
//! from its bucket into the media store with bounded memory, check the MP4
//! signature and size, record SHA-256, duration, size and codec, and mark the
//! row. A crash loses nothing: expired leases go back to `PENDING`, and media
//! writes are keyed by video id.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use import_server::{ServerConfig, Server};
//!
//! let mut config = ServerConfig::new("/var/lib/vimport");
//! config.listen = "127.0.0.1:0".parse()?;
//! let server = Server::start(config).await?;
//! let key = server.create_api_key("user_1", "org_1", Some("Ada")).await?;
//! println!("listening on http://{} with key {key}", server.addr());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

#![deny(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod app;
mod budget;
mod clock;
mod config;
mod crypto;
mod error;
mod http;
mod ids;
mod instance;
mod media;
mod metrics;
mod secrets;
mod state;
pub mod store;
mod worker;

pub use admin::{Revoked, create_api_key, create_api_key_expiring, list_api_keys, revoke_api_key};
pub use app::Server;
pub use clock::Clock;
pub use config::ServerConfig;
pub use crypto::SecretBox;
pub use error::{ApiError, DatabaseFailure, StartupError, StoreError};
pub use import_core::api::REPLAYED_HEADER;
