//! The integration tests of `import-core`, one binary (a module per suite): each
//! `tests/*.rs` file would be another binary linking the whole crate.

mod dependencies;
mod golden;
mod properties;
