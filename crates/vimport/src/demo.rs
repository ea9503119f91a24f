//! `vimport demo`: the whole system on this machine, with nothing configured
//! and no network. A reference server (temporary SQLite file and media
//! folder), an in-process S3-compatible bucket (s3s-fs, checking SigV4) holding
//! generated MP4 files and one bad file, an R2-style integration with an
//! `endpoint_url`, an import into a folder with `scope=org`, a progress bar,
//! and the outcome.

use import_async::{Client, ImportRequest, Scope, WaitOptions};
use import_server::{Server, ServerConfig};
use import_testkit::S3StandIn;
use import_testkit::mp4::{Mp4Spec, jpeg_bytes, sample_mp4};
use serde_json::json;

use crate::cli::DemoArgs;
use crate::commands::wait_and_report;
use crate::output::{Exit, fail, json};

const BUCKET: &str = "demo-fleet";

fn step(json_out: bool, text: &str) {
    if !json_out {
        say!("==> {text}");
    }
}

/// Run the demo; exit code 0 when everything behaved as expected.
pub(crate) async fn run(args: DemoArgs) -> Exit {
    match demo(&args).await {
        Ok(exit) => exit,
        Err(message) => {
            eprintln!("error: the demo failed: {message}");
            Exit::Error
        }
    }
}

async fn demo(args: &DemoArgs) -> Result<Exit, String> {
    let j = args.json;
    let dir = tempfile::tempdir().map_err(|e| format!("creating a temporary folder: {e}"))?;
    step(
        j,
        "starting a local S3-compatible bucket (s3s-fs with SigV4) on 127.0.0.1",
    );
    let secret = format!("demo-secret-{}", std::process::id());
    let s3 = S3StandIn::start("AKIDDEMO", &secret)
        .await
        .map_err(|e| format!("starting the bucket: {e}"))?;
    s3.create_bucket(BUCKET).map_err(|e| e.to_string())?;
    let mut keys = Vec::new();
    for i in 0..args.videos {
        let (width, height) = if i % 2 == 0 {
            (1920, 1080)
        } else {
            (1280, 720)
        };
        let video = sample_mp4(&Mp4Spec {
            width,
            height,
            duration_ms: 5_000 + 1_000 * i as u32,
            mdat_bytes: 256 * 1024 * (i + 1),
            ..Mp4Spec::default()
        });
        let key = format!("2026-11-28/truck-07/cam-{i}.mp4");
        s3.put(BUCKET, &key, &video).map_err(|e| e.to_string())?;
        keys.push(key);
    }
    let bad = "2026-11-28/truck-07/dashboard-photo.mp4".to_owned();
    s3.put(BUCKET, &bad, &jpeg_bytes())
        .map_err(|e| e.to_string())?;
    keys.push(bad);
    step(
        j,
        &format!(
            "bucket s3://{BUCKET} holds {} sample MP4 files and one JPEG named .mp4",
            args.videos
        ),
    );

    step(
        j,
        "starting the reference server (temporary SQLite database and media folder)",
    );
    let mut config = ServerConfig::new(dir.path().join("server"));
    config.listen = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    config.allow_endpoints = vec![s3.addr().to_string()];
    let server = Server::start(config).await.map_err(|e| e.to_string())?;
    let key = server
        .create_api_key("demo-user", "demo-org", Some("Demo User"))
        .await
        .map_err(|e| e.to_string())?;
    step(j, &format!("server listening on {}", server.base_url()));

    let client = Client::builder()
        .api_key(key)
        .base_url(server.base_url())
        .build()
        .map_err(|e| e.to_string())?;
    let outcome = async {
        step(
            j,
            &format!(
                "saving an R2-style S3 integration with endpoint_url {}",
                s3.endpoint()
            ),
        );
        let integration = client
            .cloud_integrations()
            .add_s3(
                "demo R2 bucket",
                BUCKET,
                &json!({"accessKeyId": "AKIDDEMO", "secretAccessKey": secret}),
                None,
                Some(&s3.endpoint()),
                None,
            )
            .await?;
        let request = ImportRequest::builder()
            .uris(keys.iter().map(|k| format!("s3://{BUCKET}/{k}")))
            .integration_id(integration.id.clone())
            .scope(Scope::Org)
            .build()?;
        step(
            j,
            &format!(
                "importing {} objects into folder `demo fleet uploads` with scope org",
                keys.len()
            ),
        );
        let started = client.upload(&request, Some("demo fleet uploads")).await?;
        step(
            j,
            &format!("import job {} started; waiting", started.import_job_id),
        );
        Ok::<_, import_async::Error>(started.import_job_id)
    }
    .await;
    let job = match outcome {
        Ok(job) => job,
        Err(e) => {
            server.shutdown().await;
            return Ok(fail(&e));
        }
    };
    let options = WaitOptions {
        poll_interval: std::time::Duration::from_millis(300),
        ..WaitOptions::default()
    };
    let result = wait_and_report(&client, &job, &options, j, !j).await;
    server.shutdown().await;
    let outcome = match result {
        Ok(o) => o,
        Err(exit) => return Ok(exit),
    };
    let expected = outcome.uploaded.len() == args.videos && outcome.failed.len() == 1;
    if j {
        json(
            &json!({"import_job_id": job, "uploaded": outcome.uploaded, "failed": outcome.failed, "as_expected": expected}),
        );
    } else if expected {
        say!(
            "==> done: {} videos imported and the bad file refused with its reason; everything was stopped and removed",
            args.videos
        );
    }
    if expected {
        Ok(Exit::Ok)
    } else {
        Err(format!(
            "expected {} uploaded and 1 failed, got {} and {}",
            args.videos,
            outcome.uploaded.len(),
            outcome.failed.len()
        ))
    }
}
