//! Driving `vimport` child processes (keys, servers), shared by the crash and
//! replica tests and the benchmarks. The API calls are
//! [`import_testkit::api::ApiClient`]'s; fresh databases come from
//! [`import_testkit::postgres`].
#![allow(dead_code, unreachable_pub, unused_imports)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub use import_testkit::api::{ApiClient, is_terminal, s3_integration_body};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_vimport");

/// `vimport keys create ARGS...` for `user_1` of `org_1`; answers the key
/// (the last line).
pub fn keys_create(args: &[&str], envs: &[(&str, &str)]) -> String {
    create_key("user_1", "org_1", args, envs)
}

/// `vimport keys create --user USER --org ORG ARGS...`; answers the key.
fn create_key(user: &str, org: &str, args: &[&str], envs: &[(&str, &str)]) -> String {
    let out = Command::new(BIN)
        .args(["keys", "create", "--user", user, "--org", org])
        .args(args)
        .envs(envs.iter().copied())
        .env("VIMPORT_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned()
}

/// `vimport serve --listen 127.0.0.1:0 ARGS...`; answers the child and its base URL.
pub fn serve(args: &[&str], envs: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .envs(envs.iter().copied())
        .env("VIMPORT_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "unexpected first line: {line}"
    );
    (child, url)
}

/// The sealing key replicas share (64 hex digits), so each can open the
/// secrets another stored.
pub const REPLICA_SECRET_KEY: &str =
    "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// `vimport serve` replicas sharing one database and one `file://` media
/// folder, with a key created in that database. Dropping it kills the
/// replicas still running.
pub struct Replicas {
    /// The API key.
    pub key: String,
    /// The shared media folder.
    pub media: PathBuf,
    /// Each replica's process and base URL.
    pub servers: Vec<(Child, String)>,
    _root: tempfile::TempDir,
}

impl Replicas {
    /// Start `count` replicas on `database_url` that may read from `allow`,
    /// each with `args` too (`--workers N`, ...).
    pub fn start(count: usize, database_url: &str, allow: &str, args: &[&str]) -> Replicas {
        let root = tempfile::tempdir().unwrap();
        let media = root.path().join("media");
        std::fs::create_dir_all(&media).unwrap();
        let media_url = format!("file://{}", media.display());
        let env = [("VIMPORT_SECRET_KEY", REPLICA_SECRET_KEY)];
        let keys_dir = root.path().join("keys");
        let key = keys_create(
            &[
                "--database-url",
                database_url,
                "--data-dir",
                keys_dir.to_str().unwrap(),
            ],
            &env,
        );
        let servers = (0..count)
            .map(|i| {
                let data = root.path().join(format!("r{i}"));
                let shared = [
                    "--allow-endpoint",
                    allow,
                    "--database-url",
                    database_url,
                    "--data-dir",
                    data.to_str().unwrap(),
                    "--media-url",
                    &media_url,
                ];
                serve(&[args, &shared[..]].concat(), &env)
            })
            .collect();
        Replicas {
            key,
            media,
            servers,
            _root: root,
        }
    }
}

impl Drop for Replicas {
    fn drop(&mut self) {
        for (child, _) in self.servers.drain(..) {
            kill(child);
        }
    }
}

/// Stop a child with SIGKILL.
pub fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The stored videos of a local media folder, leaving out staging files (`NAME#N`).
pub fn stored_videos(media: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(media.join("videos"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.contains('#'))
        .collect()
}

/// `vimport keys create` for `user` of `org` on the store `store_args`
/// (`--data-dir D`, `--database-url U`); answers the key.
pub fn key_for(store_args: &[&str], user: &str, org: &str) -> String {
    create_key(
        user,
        org,
        store_args,
        &[("VIMPORT_SECRET_KEY", REPLICA_SECRET_KEY)],
    )
}

/// Objects of the fair-share scenario: `big/000.mp4`.. and `small/one.mp4`.
pub const FAIR_BIG: usize = 300;

/// A bucket `fleet` with [`FAIR_BIG`] objects under `big/` and one under
/// `small/`, 512 KiB each.
pub async fn fair_share_bucket() -> import_testkit::S3StandIn {
    use import_testkit::mp4::{Mp4Spec, sample_mp4};
    let s3 = import_testkit::S3StandIn::start("AKIDFAIR", "fair-secret")
        .await
        .unwrap();
    s3.create_bucket("fleet").unwrap();
    let bytes = sample_mp4(&Mp4Spec {
        mdat_bytes: 512 * 1024,
        ..Mp4Spec::default()
    });
    for i in 0..FAIR_BIG {
        s3.put("fleet", &format!("big/{i:03}.mp4"), &bytes).unwrap();
    }
    s3.put("fleet", "small/one.mp4", &bytes).unwrap();
    s3
}

/// The fair-share scenario: `big` (one organisation) queues the big job and
/// it gets going; `small` (another) then queues its one object, which must
/// be imported while fewer than half of the big job's rows are. Prints the
/// small object's wait; waits for the big job to finish.
pub async fn small_behind_big(s3: &import_testkit::S3StandIn, big: &ApiClient, small: &ApiClient) {
    use std::time::{Duration, Instant};
    let big_ci = big.s3_integration(&s3_integration_body(s3, "fleet")).await;
    let small_ci = small
        .s3_integration(&s3_integration_body(s3, "fleet"))
        .await;
    let keys: Vec<String> = (0..FAIR_BIG).map(|i| format!("big/{i:03}.mp4")).collect();
    let big_job = big.upload_s3_keys("fleet", &keys, &big_ci).await;
    big.poll_job(
        &big_job,
        Duration::from_millis(10),
        Duration::from_secs(60),
        |j| j["counts"]["uploaded"].as_u64().unwrap_or(0) >= 2,
    )
    .await;
    let asked = Instant::now();
    let small_job = small
        .upload_s3_keys("fleet", &["small/one.mp4".to_owned()], &small_ci)
        .await;
    let done = small
        .poll_job(
            &small_job,
            Duration::from_millis(10),
            Duration::from_secs(120),
            is_terminal,
        )
        .await;
    let waited = asked.elapsed();
    assert_eq!(done["counts"]["uploaded"], 1, "{done}");
    let big_now = big.job(&big_job).await;
    let big_done = big_now["counts"]["uploaded"].as_u64().unwrap();
    println!(
        "the small organisation's object was imported {waited:?} after it was queued, while the big job had {big_done} of {FAIR_BIG} imported"
    );
    assert!(
        big_done < FAIR_BIG as u64 / 2,
        "the small job waited behind the big one: {big_done} of {FAIR_BIG} were imported first"
    );
    let all = big
        .poll_job(
            &big_job,
            Duration::from_millis(50),
            Duration::from_secs(300),
            is_terminal,
        )
        .await;
    assert_eq!(all["counts"]["uploaded"], FAIR_BIG as u64, "{all}");
}
