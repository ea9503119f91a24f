//! The end-to-end example: save an R2 integration, import into a folder shared
//! with the organisation, wait with progress, print the uploaded ids and the
//! failed rows with their reasons, and retry the failed rows once.
//!
//! When the wait runs out of time the tracker is saved as JSON; run again with
//! `RESUME_TRACKER=<file>` to resume that wait without starting a new import.
//!
//! ```text
//! VIMPORT_API_KEY=... VIMPORT_BASE_URL=http://127.0.0.1:8080 \
//!   R2_ACCOUNT_ID=... R2_ACCESS_KEY_ID=... R2_SECRET_ACCESS_KEY=... \
//!   R2_BUCKET=drive-monitor-archive \
//!   cargo run -p import-async --example end_to_end -- trip-042/front.mp4 trip-042/rear.mp4
//! ```
//!
//! `R2_ENDPOINT_URL` overrides the endpoint built from `R2_ACCOUNT_ID`;
//! `FOLDER_NAME` (default `fleet_uploads`) names the folder; `WAIT_TIMEOUT_SECS`
//! (default 900) bounds each wait. Arguments are object keys (default:
//! `trip-042/front.mp4` and `trip-042/rear.mp4`).

use std::time::Duration;

use import_async::{
    Client, Error, ImportJobId, ImportOutcome, ImportRequest, Progress, ReadinessTracker, Scope,
    VideoId, WaitOptions,
};
use serde_json::json;

/// The variable's value, or `None` when it is unset or blank.
fn env_opt(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The variable's value, or `default`.
fn env_or(name: &str, default: &str) -> String {
    env_opt(name).unwrap_or_else(|| default.to_owned())
}

/// Object keys from the command line, or the placeholders.
fn objects() -> Vec<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        vec![
            "trip-042/front.mp4".to_owned(),
            "trip-042/rear.mp4".to_owned(),
        ]
    } else {
        args
    }
}

/// How `wait_for_import` polls: the server's suggested interval (else 5 s),
/// for at most `WAIT_TIMEOUT_SECS`.
fn wait_options() -> WaitOptions {
    let secs = env_or("WAIT_TIMEOUT_SECS", "900");
    let secs = secs.trim().parse().unwrap_or_else(|_| {
        eprintln!("WAIT_TIMEOUT_SECS={secs} is not a number of seconds; using 900");
        900
    });
    WaitOptions {
        poll_interval: Duration::from_secs(5),
        timeout: Duration::from_secs(secs),
        ..WaitOptions::default()
    }
}

/// A progress callback that prints each new state once.
fn progress_printer() -> impl FnMut(&Progress) + Send {
    let mut last = None;
    move |p: &Progress| {
        if last != Some(*p) {
            println!("  {p}");
            last = Some(*p);
        }
    }
}

/// Save a timed-out wait's tracker so a later run can resume it.
async fn save_tracker(job: &ImportJobId, tracker: &ReadinessTracker) {
    let path = format!("{job}.tracker.json");
    match serde_json::to_string_pretty(tracker) {
        Ok(text) => match tokio::fs::write(&path, &text).await {
            Ok(()) => {
                println!("saved the wait to {path}; to resume it, run this example again with");
                println!("RESUME_TRACKER={path}");
            }
            Err(e) => {
                eprintln!("cannot write {path} ({e}); the tracker follows");
                println!("{text}");
            }
        },
        Err(e) => eprintln!("cannot encode the tracker: {e}"),
    }
}

/// A saved tracker, read back.
async fn load_tracker(path: &str) -> Result<ReadinessTracker, Error> {
    let invalid = |problem: String| {
        Error::InvalidInput(import_core::Error::InvalidField {
            field: "RESUME_TRACKER",
            problem,
        })
    };
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|e| invalid(format!("cannot read {path}: {e}")))?;
    serde_json::from_str(&text).map_err(|e| invalid(format!("{path} is not a saved tracker: {e}")))
}

/// Wait for a job (or resume a saved wait); on timeout save the tracker.
async fn wait(
    client: &Client,
    job: &ImportJobId,
    resume: Option<ReadinessTracker>,
) -> Result<ImportOutcome, Error> {
    let options = wait_options();
    let waited = match resume {
        Some(tracker) => {
            client
                .wait_with_tracker(tracker, &options, progress_printer())
                .await
        }
        None => {
            client
                .wait_for_import(job, &options, progress_printer())
                .await
        }
    };
    if let Err(Error::WaitTimedOut {
        job_id, tracker, ..
    }) = &waited
    {
        save_tracker(job_id, tracker).await;
    }
    waited
}

/// Print what came out of a ready job.
fn report(outcome: &ImportOutcome) {
    println!(
        "ready for analysis: {} video(s) {:?}",
        outcome.uploaded.len(),
        outcome
            .uploaded
            .iter()
            .map(VideoId::as_str)
            .collect::<Vec<_>>()
    );
    for row in &outcome.failed {
        println!(
            "failed: {} {} ({})",
            row.video_id,
            row.import_source_uri.as_deref().unwrap_or("-"),
            row.error.as_deref().unwrap_or("no reason given")
        );
    }
}

/// Save the R2 integration and start the import into the folder.
async fn start_import(client: &Client) -> Result<ImportJobId, Error> {
    // 1. Save the R2 credentials as an `s3` integration with an endpoint.
    let bucket = env_or("R2_BUCKET", "drive-monitor-archive");
    let endpoint = env_opt("R2_ENDPOINT_URL").unwrap_or_else(|| {
        let account = env_or("R2_ACCOUNT_ID", "your-account-id");
        format!("https://{account}.r2.cloudflarestorage.com")
    });
    let credentials = json!({
        "accessKeyId": env_or("R2_ACCESS_KEY_ID", "your-r2-access-key-id"),
        "secretAccessKey": env_or("R2_SECRET_ACCESS_KEY", "your-r2-secret-access-key"),
    });
    let integration = client
        .cloud_integrations()
        .add_s3(
            "R2 archive",
            &bucket,
            &credentials,
            None,
            Some(&endpoint),
            None,
        )
        .await?;
    println!("saved integration {} ({endpoint})", integration.id);

    // 2. Import into a folder shared with the organisation.
    let request = ImportRequest::builder()
        .uris(objects().iter().map(|key| format!("s3://{bucket}/{key}")))
        .integration_id(integration.id)
        .scope(Scope::Org)
        .build()?;
    let folder = env_or("FOLDER_NAME", "fleet_uploads");
    let started = client.upload(&request, Some(&folder)).await?;
    println!(
        "import job {} into folder {folder}: {} object(s)",
        started.import_job_id,
        request.total()
    );
    Ok(started.import_job_id)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let client = Client::from_env()?;
    let me = client.verify_auth().await?;
    println!("signed in as {} of {}", me.user_id, me.org_id);

    let (job, resume) = match env_opt("RESUME_TRACKER") {
        Some(path) => {
            let tracker = load_tracker(&path).await?;
            println!("resuming the wait for {}", tracker.job_id());
            (tracker.job_id().clone(), Some(tracker))
        }
        None => (start_import(&client).await?, None),
    };

    // 3. Wait until every row is UPLOADED or UPLOADING_FAILED.
    let outcome = wait(&client, &job, resume).await?;
    report(&outcome);

    // 4. Retry the failed rows once, and wait again.
    if !outcome.failed.is_empty() {
        let ids: Vec<VideoId> = outcome.failed.iter().map(|f| f.video_id.clone()).collect();
        let retried = client.retry_import_job(&job, Some(&ids)).await?;
        println!("retrying {} failed row(s)", retried.retried);
        report(&wait(&client, &job, None).await?);
    }
    Ok(())
}
