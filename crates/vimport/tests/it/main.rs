//! The integration tests of `vimport`, one binary (a module per suite): each
//! `tests/*.rs` file would be another binary linking the whole crate.

mod cli;
mod common;
mod crash;
mod features;
mod proxy;
mod replicas;
mod secrets;
mod soak;
mod tenants;
