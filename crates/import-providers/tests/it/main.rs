//! The integration tests of `import-providers`, one binary (a module per suite): each
//! `tests/*.rs` file would be another binary linking the whole crate.

mod preflight;
mod probe;
mod read;
