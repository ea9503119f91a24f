//! The integration tests of `import-blocking`, one binary (a module per suite): each
//! `tests/*.rs` file would be another binary linking the whole crate.

mod buckets;
mod clients;
