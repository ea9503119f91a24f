//! `cargo xtask test`: the whole test suite, as CI runs it.
//!
//! 1. Start what the ignored tests need (nothing yet, see below).
//! 2. Every unit, integration and property test, the `#[ignore]`d ones
//!    included: `cargo nextest run` when cargo-nextest is installed, else
//!    `cargo test`.
//! 3. The doctests, which nextest does not run.

use std::process::Stdio;

use crate::{cargo, run_command};

/// Run the suite; the first failing step stops it.
pub(crate) fn run() -> anyhow::Result<()> {
    // Services for the `#[ignore = "needs ...; run cargo xtask test"]` tests
    // start here. None exist yet: the issues that add them add a step before
    // the test run that installs what is missing and starts it, and stops it
    // afterwards: fake-gcs-server for GCS, a PostgreSQL server for the
    // server's shared store, the official Python SDK as a real client.

    if has_nextest() {
        run_command(cargo().args([
            "nextest",
            "run",
            "--workspace",
            "--all-features",
            "--run-ignored",
            "all",
        ]))?;
    } else {
        println!("cargo-nextest is not installed; using cargo test");
        // The same targets nextest runs; the doctests come next.
        run_command(cargo().args([
            "test",
            "--workspace",
            "--all-features",
            "--lib",
            "--bins",
            "--tests",
            "--",
            "--include-ignored",
        ]))?;
    }
    run_command(cargo().args(["test", "--workspace", "--doc", "--all-features"]))?;
    println!("xtask: the whole suite passed");
    Ok(())
}

fn has_nextest() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
