//! The binary driven as a user would: a real server and a real s3s-fs bucket,
//! `--json` output parsed, exit codes checked, bad input answered clearly.

use std::process::{Command, Output};

use import_server::{Server, ServerConfig};
use import_testkit::S3StandIn;
use import_testkit::mp4::{Mp4Spec, jpeg_bytes, sample_mp4};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_vimport");

struct Env {
    server: Server,
    s3: S3StandIn,
    key: String,
    /// An empty config file: keys and URLs come from the environment.
    config: tempfile::NamedTempFile,
    _dir: tempfile::TempDir,
}

async fn env(workers: usize) -> Env {
    let s3 = S3StandIn::start("AKIDCLI", "cli-secret").await.unwrap();
    s3.create_bucket("cli-bucket").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.allow_endpoints = vec![s3.addr().to_string()];
    config.max_in_flight = workers;
    let server = Server::start(config).await.unwrap();
    let key = server
        .create_api_key("cli_user", "cli_org", None)
        .await
        .unwrap();
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "{}").unwrap();
    Env {
        server,
        s3,
        key,
        config,
        _dir: dir,
    }
}

impl Env {
    /// `vimport integrations add s3 ... --json` for the stand-in bucket, then `extra`.
    async fn add_r2(&self, extra: &[&str]) -> Output {
        let endpoint = self.s3.endpoint();
        let mut args = vec![
            "integrations",
            "add",
            "s3",
            "--name",
            "cli r2",
            "--bucket",
            "cli-bucket",
            "--access-key-id",
            "AKIDCLI",
            "--secret-access-key",
            "cli-secret",
            "--endpoint-url",
            &endpoint,
            "--json",
        ];
        args.extend_from_slice(extra);
        self.vimport(&args).await
    }

    async fn vimport(&self, args: &[&str]) -> Output {
        self.vimport_env(args, &[]).await
    }

    async fn vimport_env(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let (key, base) = (self.key.clone(), self.server.base_url());
        let config = self.config.path().to_owned();
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            Command::new(BIN)
                .args(&args)
                .env("VIMPORT_API_KEY", key)
                .env("VIMPORT_BASE_URL", base)
                .env("VIMPORT_CONFIG", config)
                .env_remove("VIMPORT_LOG")
                .envs(vars)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_with_json_and_exit_codes() {
    let env = env(2).await;
    env.s3
        .put("cli-bucket", "day/a.mp4", &sample_mp4(&Mp4Spec::default()))
        .unwrap();
    env.s3
        .put("cli-bucket", "day/b.mp4", &sample_mp4(&Mp4Spec::default()))
        .unwrap();
    env.s3
        .put("cli-bucket", "day/c.mp4", &jpeg_bytes())
        .unwrap();
    // The config file given must exist; without it, flags and environment are enough.
    let out = env
        .vimport(&["verify", "--json", "--config", "/nonexistent/vimport.json"])
        .await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot read the config file"),
        "{}",
        stderr(&out)
    );
    let cfg = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(cfg.path(), "{}").unwrap();
    let cfgp = cfg.path().to_str().unwrap();

    let out = env.vimport(&["verify", "--json", "--config", cfgp]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["user_id"], "cli_user");

    let out = env.add_r2(&["--config", cfgp]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let integration = stdout_json(&out);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("cli-secret"));
    let ci = integration["id"].as_str().unwrap().to_owned();
    let out = env
        .vimport(&["integrations", "list", "--json", "--config", cfgp])
        .await;
    assert_eq!(stdout_json(&out).as_array().unwrap().len(), 1);

    let out = env
        .vimport(&[
            "upload",
            "s3://cli-bucket/day/a.mp4",
            "s3://cli-bucket/day/b.mp4",
            "s3://cli-bucket/day/c.mp4",
            "--integration",
            &ci,
            "--folder",
            "cli uploads",
            "--scope",
            "org",
            "--wait",
            "--json",
            "--config",
            cfgp,
        ])
        .await;
    assert_eq!(
        code(&out),
        3,
        "finished with a failed row: {}",
        stderr(&out)
    );
    let outcome = stdout_json(&out);
    assert_eq!(outcome["uploaded"].as_array().unwrap().len(), 2);
    assert!(
        outcome["failed"][0]["error"]
            .as_str()
            .unwrap()
            .contains("JPEG")
    );
    let job = outcome["import_job_id"].as_str().unwrap().to_owned();

    let out = env
        .vimport(&["job", &job, "--json", "--config", cfgp])
        .await;
    let j = stdout_json(&out);
    assert_eq!(
        (j["total"].as_u64(), j["folder_name"].as_str()),
        (Some(3), Some("cli uploads"))
    );
    let out = env.vimport(&["job", &job, "--config", cfgp]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("uploaded     2"));

    let out = env
        .vimport(&[
            "videos", &job, "--all", "--limit", "1", "--json", "--config", cfgp,
        ])
        .await;
    // The shape of one page, with every row.
    let all = stdout_json(&out);
    assert_eq!(all["videos"].as_array().unwrap().len(), 3, "{all}");
    assert_eq!(all["has_more"], false);
    let out = env
        .vimport(&["videos", &job, "--limit", "1", "--config", cfgp])
        .await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    assert!(
        stderr(&out).contains("more rows follow: --cursor vi_"),
        "{}",
        stderr(&out)
    );

    let out = env.vimport(&["wait", &job, "--config", cfgp]).await;
    assert_eq!(code(&out), 3);
    assert!(String::from_utf8_lossy(&out.stdout).contains("UPLOADING_FAILED"));
    let out = env
        .vimport(&["retry", &job, "--json", "--config", cfgp])
        .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["retried"], 1);

    let out = env
        .vimport(&["integrations", "remove", &ci, "--config", cfgp])
        .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_answered_with_exit_code_two() {
    let env = env(1).await;
    let cases: [(&[&str], &str); 6] = [
        (
            &["upload", "s3://cli-bucket/photo.jpg"],
            "only `.mp4` files",
        ),
        (
            &["upload", "s3://cli-bucket/a.mp4", "s3://other-bucket/b.mp4"],
            "`cli-bucket` and `other-bucket`",
        ),
        (
            &["upload", "--view", "left=s3://cli-bucket/l.mp4"],
            "needs a `front` URI",
        ),
        (&["upload", "--view", "front"], "must be ROLE=URI"),
        (&["upload"], "name at least one object URI"),
        (&["upload", "s3://cli-bucket/*.mp4"], "wildcards"),
    ];
    for (args, needle) in cases {
        let out = env.vimport(args).await;
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    let out = env.vimport(&["job", "ij_unknown"]).await;
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("not found (404)"), "{}", stderr(&out));
    let out = env.vimport(&["job", "a/b"]).await;
    assert_eq!(code(&out), 2);
    let out = env.vimport(&["verify", "--api-key", "vk_wrong"]).await;
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
    let out = env.vimport(&["frobnicate"]).await;
    assert_eq!(code(&out), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_timeout_is_exit_code_four() {
    let env = env(0).await;
    env.s3
        .put("cli-bucket", "a.mp4", &sample_mp4(&Mp4Spec::default()))
        .unwrap();
    let out = env
        .vimport(&["upload", "s3://cli-bucket/a.mp4", "--json"])
        .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let job = stdout_json(&out)["import_job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = env
        .vimport(&["wait", &job, "--timeout", "1", "--poll", "1"])
        .await;
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("was not ready after"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_report_feeds_an_upload_and_jobs_can_be_listed_and_cancelled() {
    let env = env(2).await;
    env.s3
        .put("cli-bucket", "r/a.mp4", &sample_mp4(&Mp4Spec::default()))
        .unwrap();
    env.s3.put("cli-bucket", "r/b.mp4", &jpeg_bytes()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.txt");
    std::fs::write(
        &list,
        "# two objects\n\n  s3://cli-bucket/r/a.mp4  \ns3://cli-bucket/r/b.mp4\n# done\n",
    )
    .unwrap();
    let list = list.to_str().unwrap();
    let out = env.add_r2(&[]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let ci = stdout_json(&out)["id"].as_str().unwrap().to_owned();
    // One good video, one JPEG named `.mp4`.
    let out = env
        .vimport(&[
            "upload",
            "--from-file",
            list,
            "--integration",
            &ci,
            "--wait",
            "--json",
        ])
        .await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let job = stdout_json(&out)["import_job_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The failed sources, one per line: a list `upload --from-file` takes back.
    let out = env.vimport(&["report", &job, "--failed"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        vec!["s3://cli-bucket/r/b.mp4"]
    );
    let again = dir.path().join("failed.txt");
    std::fs::write(&again, &text).unwrap();
    let out = env
        .vimport(&[
            "upload",
            "--from-file",
            again.to_str().unwrap(),
            "--integration",
            &ci,
            "--json",
        ])
        .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = env.vimport(&["report", &job, "--failed", "--json"]).await;
    let rows = stdout_json(&out);
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["error_code"], "not_mp4", "{rows}");
    assert!(rows[0]["error"].as_str().unwrap().contains("MP4"), "{rows}");
    let out = env.vimport(&["report", &job]).await;
    let summary = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(summary.contains("not_mp4"), "{summary}");
    assert!(summary.contains("    s3://cli-bucket/r/b.mp4"), "{summary}");

    // Both jobs, newest first.
    let out = env.vimport(&["jobs", "--json"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let page = stdout_json(&out);
    assert_eq!(page["jobs"].as_array().unwrap().len(), 2);
    assert_eq!(page["jobs"][1]["job_id"], job.as_str());
    let out = env.vimport(&["jobs", "--limit", "1", "--all"]).await;
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(table.starts_with("JOB"), "{table}");
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(table.contains(&job), "{table}");
    // Sources as the URIs users type.
    assert!(table.contains("s3://cli-bucket/"), "{table}");
    // `--all --json` is one page's shape with every job.
    let out = env
        .vimport(&["jobs", "--limit", "1", "--all", "--json"])
        .await;
    let all = stdout_json(&out);
    assert_eq!(all["jobs"].as_array().unwrap().len(), 2, "{all}");
    assert_eq!(all["has_more"], false);

    // Bad input: exit code 2, nothing sent.
    for args in [
        vec!["upload", "--from-file", "/nonexistent/list.txt"],
        vec!["jobs", "--limit", "0"],
        vec!["jobs", "--created-after", "yesterday"],
        vec!["cancel", "not/an/id"],
        vec!["serve", "--max-object-size", "5GB"],
        vec!["serve", "--min-source-rate", "fast"],
        vec!["serve", "--source-rate-window", "0"],
    ] {
        let out = env.vimport(&args).await;
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
    }
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "# nothing\n\n").unwrap();
    let out = env
        .vimport(&["upload", "--from-file", empty.to_str().unwrap()])
        .await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("names no object URI"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_job_that_has_not_run() {
    let env = env(0).await;
    let out = env
        .vimport(&[
            "upload",
            "s3://cli-bucket/c/a.mp4",
            "s3://cli-bucket/c/b.mp4",
            "--json",
        ])
        .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let job = stdout_json(&out)["import_job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = env.vimport(&["cancel", &job]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("is cancelled: 2 videos"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = env.vimport(&["cancel", &job, "--json"]).await;
    assert_eq!(stdout_json(&out)["status"], "cancelled");
    let out = env
        .vimport(&["jobs", "--status", "cancelled", "--json"])
        .await;
    assert_eq!(stdout_json(&out)["jobs"][0]["job_id"], job.as_str());
    let out = env.vimport(&["report", &job, "--json"]).await;
    assert_eq!(stdout_json(&out)[0]["code"], "cancelled");
    assert_eq!(stdout_json(&out)[0]["count"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_asks_the_probes_without_a_key() {
    let env = env(0).await;
    let out = env
        .vimport_env(&["health"], &[("VIMPORT_API_KEY", "")])
        .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "alive: ok; ready"
    );
    let out = env.vimport(&["health", "--json"]).await;
    let v = stdout_json(&out);
    assert_eq!(v["readiness"]["status"], "ready");
}

#[test]
fn the_demo_runs() {
    let out = Command::new(BIN).args(["demo", "--json"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!(v["as_expected"], true);
    assert_eq!(v["uploaded"].as_array().unwrap().len(), 6);
    assert!(v["failed"][0]["error"].as_str().unwrap().contains("JPEG"));
    let out = Command::new(BIN).arg("demo").output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("==> done"));
    // Each uploaded video with its source.
    let uploaded: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("UPLOADED  vi_"))
        .collect();
    assert_eq!(uploaded.len(), 6, "{text}");
    assert!(uploaded.iter().all(|l| l.contains("  s3://")), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_and_expand_read_the_bucket_first() {
    let env = env(2).await;
    for i in 0..5 {
        env.s3
            .put(
                "cli-bucket",
                &format!("day/cam-{i}.mp4"),
                &sample_mp4(&Mp4Spec::default()),
            )
            .unwrap();
    }
    env.s3
        .put("cli-bucket", "day/notes.txt", b"not a video")
        .unwrap();
    env.s3
        .put("cli-bucket", "day/photo.mp4", &jpeg_bytes())
        .unwrap();
    env.s3
        .put(
            "cli-bucket",
            "night/cam-9.mp4",
            &sample_mp4(&Mp4Spec::default()),
        )
        .unwrap();
    let addr = env.s3.addr().to_string();
    let endpoint = env.s3.endpoint();
    let creds = [
        ("AWS_ACCESS_KEY_ID", "AKIDCLI"),
        ("AWS_SECRET_ACCESS_KEY", "cli-secret"),
    ];
    let out = env
        .vimport(&[
            "integrations",
            "add",
            "s3",
            "--name",
            "r2",
            "--bucket",
            "cli-bucket",
            "--access-key-id",
            "AKIDCLI",
            "--secret-access-key",
            "cli-secret",
            "--endpoint-url",
            &endpoint,
            "--json",
        ])
        .await;
    let ci = stdout_json(&out)["id"].as_str().unwrap().to_owned();
    let bucket_flags = [
        "--endpoint-url",
        endpoint.as_str(),
        "--allow-endpoint",
        addr.as_str(),
    ];

    // Pre-flight stops on problems (exit 2) and names each one.
    let mut args = vec![
        "upload",
        "s3://cli-bucket/day/cam-0.mp4",
        "s3://cli-bucket/day/missing.mp4",
        "s3://cli-bucket/day/photo.mp4",
        "--integration",
        ci.as_str(),
        "--preflight",
    ];
    args.extend(bucket_flags);
    let out = env.vimport_env(&args, &creds).await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("missing.mp4") && err.contains("JPEG") && err.contains("--skip-bad"),
        "{err}"
    );
    // With --skip-bad only the good object is imported.
    args.extend(["--skip-bad", "--wait", "--json"]);
    let out = env.vimport_env(&args, &creds).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["uploaded"].as_array().unwrap().len(), 1);
    // A wrong secret is reported once, not per object.
    let out = env
        .vimport_env(
            &[
                "upload",
                "s3://cli-bucket/day/cam-0.mp4",
                "s3://cli-bucket/day/cam-1.mp4",
                "--preflight",
                "--endpoint-url",
                &endpoint,
                "--allow-endpoint",
                &addr,
            ],
            &[
                ("AWS_ACCESS_KEY_ID", "AKIDCLI"),
                ("AWS_SECRET_ACCESS_KEY", "wrong"),
            ],
        )
        .await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));

    // Expansion lists the prefix and keeps the `.mp4` names matching the glob.
    let mut args = vec![
        "upload",
        "--expand",
        "s3://cli-bucket/day/",
        "--glob",
        "cam-*.mp4",
        "--integration",
        ci.as_str(),
        "--wait",
        "--json",
    ];
    args.extend(bucket_flags);
    let out = env.vimport_env(&args, &creds).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["uploaded"].as_array().unwrap().len(), 5);
    // What it left out is counted and named, with why.
    let err = stderr(&out);
    assert!(err.contains("1 not .mp4"), "{err}");
    assert!(err.contains("left out: day/notes.txt (not .mp4)"), "{err}");
    assert!(err.contains("does not match the glob"), "{err}");
    let mut args = vec![
        "upload",
        "--expand",
        "s3://cli-bucket/day/",
        "--glob",
        "nothing-*.mp4",
    ];
    args.extend(bucket_flags);
    let out = env.vimport_env(&args, &creds).await;
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("matches"), "{}", stderr(&out));
}

/// `vimport keys list` shows every key without the key; `vimport keys
/// revoke` makes the running server refuse it from its next request;
/// `--expires-in` is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_listed_and_revoked_at_once() {
    let env = env(0).await;
    let data = env._dir.path().to_str().unwrap().to_owned();
    let out = env
        .vimport(&[
            "keys",
            "create",
            "--data-dir",
            &data,
            "--user",
            "bot",
            "--org",
            "cli_org",
            "--name",
            "CI bot",
            "--expires-in",
            "90d",
        ])
        .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let key = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    let verify = |key: String| {
        let url = format!("{}/api/keys/verify", env.server.base_url());
        async move {
            let res = reqwest::Client::new()
                .post(url)
                .header("X-API-Key", key)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.text().await.unwrap())
        }
    };
    assert_eq!(verify(key.clone()).await.0, 200);
    // The use is recorded off the request's path: wait for it.
    let mut listed = Value::Null;
    for _ in 0..50 {
        let out = env
            .vimport(&["keys", "list", "--data-dir", &data, "--json"])
            .await;
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        listed = stdout_json(&out);
        if listed
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["user"] == "bot" && k["last_used_at"].is_string())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let keys = listed.as_array().unwrap();
    assert_eq!(keys.len(), 2, "{listed}");
    let bot = keys.iter().find(|k| k["user"] == "bot").unwrap();
    let id = bot["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ak_") && id.len() == 19, "{bot}");
    assert_eq!(bot["org"], "cli_org");
    assert_eq!(bot["name"], "CI bot");
    for field in ["created_at", "last_used_at", "expires_at"] {
        assert!(
            bot[field].as_str().unwrap().ends_with('Z'),
            "{field}: {bot}"
        );
    }
    assert!(bot["revoked_at"].is_null());
    let text = listed.to_string();
    assert!(
        !text.contains(&key) && !text.contains(&key[3..15]),
        "a key leaked: {text}"
    );

    let out = env
        .vimport(&["keys", "revoke", "--data-dir", &data, &id])
        .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let revoked_at = std::time::Instant::now();
    let (status, body) = verify(key.clone()).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("was revoked"), "{body}");
    println!(
        "a revoked key was refused {:?} after `vimport keys revoke` returned",
        revoked_at.elapsed()
    );
    assert!(revoked_at.elapsed() < std::time::Duration::from_secs(1));
    // The other key still works.
    assert_eq!(verify(env.key.clone()).await.0, 200);

    let out = env
        .vimport(&["keys", "list", "--data-dir", &data, "--json"])
        .await;
    assert_eq!(stdout_json(&out).as_array().unwrap().len(), 1);
    let out = env
        .vimport(&["keys", "list", "--data-dir", &data, "--json", "--all"])
        .await;
    let all = stdout_json(&out);
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == id.as_str() && k["revoked_at"].is_string()),
        "{all}"
    );
    let out = env.vimport(&["keys", "list", "--data-dir", &data]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("cli_user"));
    let out = env
        .vimport(&["keys", "revoke", "--data-dir", &data, &id])
        .await;
    assert_eq!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already revoked"));
    let out = env
        .vimport(&["keys", "revoke", "--data-dir", &data, "ak_0000000000000000"])
        .await;
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no API key has the id"),
        "{}",
        stderr(&out)
    );
    let out = env
        .vimport(&[
            "keys",
            "create",
            "--data-dir",
            &data,
            "--user",
            "u",
            "--org",
            "o",
            "--expires-in",
            "soon",
        ])
        .await;
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("is not a duration"),
        "{}",
        stderr(&out)
    );
}

/// A reader that goes away early (`vimport jobs --all | head`) ends the
/// command quietly: exit code 0, no panic on standard error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pipe_ends_the_output_quietly() {
    use std::process::Stdio;
    let env = env(0).await;
    for i in 0..3 {
        env.vimport(&["upload", &format!("s3://cli-bucket/{i}.mp4"), "--json"])
            .await;
    }
    let (key, base) = (env.key.clone(), env.server.base_url());
    let config = env.config.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(BIN)
            .args(["jobs", "--all"])
            .env("VIMPORT_API_KEY", key)
            .env("VIMPORT_BASE_URL", base)
            .env("VIMPORT_CONFIG", config)
            .env_remove("VIMPORT_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before the command has its first page.
        drop(child.stdout.take());
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

/// A wrong key: nothing on standard output, and the hint said once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_prints_nothing_but_the_error_with_one_hint() {
    let env = env(0).await;
    let out = env
        .vimport_env(&["jobs"], &[("VIMPORT_API_KEY", "vk_wrong")])
        .await;
    assert_eq!(code(&out), 1);
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = stderr(&out);
    assert_eq!(err.matches("check the key").count(), 1, "{err}");
}

/// The server's log lines: `--log-format json` writes one JSON object a
/// line, and text written to a file (not a terminal) carries no colour.
#[test]
fn server_logs_are_json_or_plain_text_off_a_terminal() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    for format in ["json", "text"] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap().to_owned();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", &data])
            .args(["--log-format", format])
            .env_remove("VIMPORT_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        // Up to the line that says it listens (bounded: 50 lines).
        let mut seen = Vec::new();
        for line in lines.by_ref().take(50) {
            let line = line.unwrap();
            let listening = line.contains("listening");
            seen.push(line);
            if listening {
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(seen.iter().any(|l| l.contains("listening")), "{seen:?}");
        for line in &seen {
            assert!(!line.contains('\u{1b}'), "a colour code in {line:?}");
            if format == "json" {
                let parsed: Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                assert!(parsed["level"].is_string(), "{line}");
            }
        }
    }
}

/// A set whose front uploaded but whose `left` view is missing is no
/// success anywhere: `upload --wait` names the view (role, source, reason)
/// and exits 3, `job` and `report` count the set, `report --failed` lists
/// the view's source for `upload --from-file`, and `videos` shows every
/// view of the set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_with_a_failed_view_is_reported_as_it_is() {
    let env = env(2).await;
    env.s3
        .put(
            "cli-bucket",
            "trip-2/front.mp4",
            &sample_mp4(&Mp4Spec::default()),
        )
        .unwrap();
    let out = env.add_r2(&[]).await;
    let ci = stdout_json(&out)["id"].as_str().unwrap().to_owned();
    let left = "s3://cli-bucket/trip-2/left.mp4";
    let upload = |json: bool| {
        let mut args = vec![
            "upload".to_owned(),
            "--view".to_owned(),
            "front=s3://cli-bucket/trip-2/front.mp4".to_owned(),
            "--view".to_owned(),
            format!("left={left}"),
            "--integration".to_owned(),
            ci.clone(),
            "--wait".to_owned(),
        ];
        if json {
            args.push("--json".to_owned());
        }
        args
    };
    let args = upload(false);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = env.vimport(&args).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(code(&out), 3, "{text}\n{}", stderr(&out));
    assert!(text.contains("1 sets with a failed view"), "{text}");
    assert!(text.contains("INCOMPLETE_SET"), "{text}");
    let view_line = text
        .lines()
        .find(|l| l.contains(left))
        .unwrap_or_else(|| panic!("the failed view is not named: {text}"));
    assert!(
        view_line.contains("left") && view_line.contains("UPLOADING_FAILED"),
        "{view_line}"
    );
    let job = text
        .split_whitespace()
        .find(|w| w.starts_with("ij_"))
        .unwrap()
        .trim_end_matches(':')
        .to_owned();
    let out = env.vimport(&["job", &job]).await;
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        shown.contains("incomplete   1 sets with a failed view"),
        "{shown}"
    );
    let out = env.vimport(&["report", &job]).await;
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(report.contains("1 sets with a failed view"), "{report}");
    assert!(!report.contains("no video failed"), "{report}");
    let out = env.vimport(&["report", &job, "--failed"]).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), left);
    let out = env.vimport(&["report", &job, "--failed", "--json"]).await;
    let listed = stdout_json(&out);
    assert_eq!(listed[0]["role"], "left", "{listed}");
    assert_eq!(listed[0]["import_source_uri"], left);
    let out = env.vimport(&["videos", &job, "--all"]).await;
    let rows = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        rows.lines()
            .any(|l| l.trim_start().starts_with("left") && l.contains(left)),
        "{rows}"
    );
}

/// A server that is not there, and a base URL ending in `/api`, each get
/// an error that names the cause and the setting to check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_base_url_is_named_with_the_fix() {
    let env = env(0).await;
    // A port nothing listens on: bind one, then free it.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody = format!("http://{}", free.local_addr().unwrap());
    drop(free);
    let out = env
        .vimport_env(&["verify"], &[("VIMPORT_BASE_URL", &nobody)])
        .await;
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("the connection was refused"), "{err}");
    assert!(err.contains("VIMPORT_BASE_URL"), "{err}");
    let with_api = format!("{}/api", env.server.base_url());
    let out = env
        .vimport_env(&["jobs"], &[("VIMPORT_BASE_URL", &with_api)])
        .await;
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains("ends with `/api`"), "{err}");
}

/// A retry that names an id the job has no failed row of says so, naming
/// it, and exits 1 (it said "0 failed videos queued again" and exited 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_of_an_id_not_in_the_job_is_an_error_that_names_it() {
    let env = env(0).await;
    let out = env
        .vimport(&["upload", "s3://cli-bucket/x.mp4", "--json"])
        .await;
    let job = stdout_json(&out)["import_job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let nope = "vi_01M99ZZZZZZZZZZZZZZZZZZZZZ";
    let out = env.vimport(&["retry", &job, nope]).await;
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains(nope), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a failed row"),
        "{}",
        stderr(&out)
    );
}

/// `vimport folders create` and `get` give a folder's id by its name, and
/// `jobs --folder-id` with a name (not an id) is refused with that hint
/// instead of listing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_are_found_by_name_and_a_name_is_not_taken_for_an_id() {
    let env = env(0).await;
    let out = env
        .vimport(&[
            "folders",
            "create",
            "fleet_uploads",
            "--scope",
            "org",
            "--json",
        ])
        .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let made = stdout_json(&out);
    let id = made["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("fo_"), "{made}");
    let out = env
        .vimport(&["folders", "get", "fleet_uploads", "--scope", "org"])
        .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&id));
    let out = env.vimport(&["folders", "get", "fleet_uploads"]).await;
    assert_eq!(code(&out), 1, "a user folder of that name does not exist");
    let out = env.vimport(&["jobs", "--folder-id", "fleet_uploads"]).await;
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("vimport folders get fleet_uploads"),
        "{}",
        stderr(&out)
    );
    let out = env.vimport(&["jobs", "--folder-id", &id, "--json"]).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}
