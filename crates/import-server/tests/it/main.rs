//! The integration tests of `import-server`, one binary (a module per suite): each
//! `tests/*.rs` file would be another binary linking the whole crate.

mod abuse;
mod answers;
mod api;
mod common;
mod gcs;
mod hostile;
mod import;
mod instances;
mod jobs;
mod media;
mod names;
mod operations;
mod record;
mod scenario;
mod sdk;
mod secrets;
mod store;
