//! The integration tests of `import-testkit`, one binary (a module per suite): each
//! `tests/*.rs` file would be another binary linking the whole crate.

mod fault;
mod gcs;
mod hf;
mod hub_client;
mod mp4;
mod s3;
