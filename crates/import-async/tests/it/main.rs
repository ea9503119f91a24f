//! The integration tests of `import-async`, one binary (a module per suite): each
//! `tests/*.rs` file would be another binary linking the whole crate.

mod clients;
