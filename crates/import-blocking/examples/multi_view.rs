//! Import multi-camera trips as view sets (`front`, `left`, `right`), wait,
//! and read one row per set with the status of each view.
//!
//! Rules, checked before anything is sent: every set has a `front` view,
//! roles are lower-case (`front`, `rear`, `left`, `right`, `overhead_1`, ...),
//! all views of a request are in one GCS or S3 bucket (Hugging Face buckets
//! take single-view imports only). All sets of one request form one job.
//!
//! ```text
//! VIMPORT_API_KEY=... VIMPORT_BASE_URL=http://127.0.0.1:8080 \
//!   S3_BUCKET=drive-monitor-archive S3_INTEGRATION_ID=ci_... \
//!   cargo run -p import-blocking --example multi_view -- trip-042 trip-043
//! ```
//!
//! Each argument is a trip folder holding `front.mp4`, `left.mp4` and
//! `right.mp4` (default: `trip-042` and `trip-043`).

use std::time::Duration;

use import_blocking::{Client, Error, ImportRequest, Progress, VideoId, ViewSet, WaitOptions};

/// The variable's value, or `None` when it is unset or blank.
fn env_opt(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The variable's value, or `default`.
fn env_or(name: &str, default: &str) -> String {
    env_opt(name).unwrap_or_else(|| default.to_owned())
}

/// Trip folders from the command line, or the placeholders.
fn trips() -> Vec<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        vec!["trip-042".to_owned(), "trip-043".to_owned()]
    } else {
        args
    }
}

fn main() -> Result<(), Error> {
    let client = Client::from_env()?;
    let bucket = env_or("S3_BUCKET", "drive-monitor-archive");

    let mut sets = Vec::new();
    for trip in trips() {
        sets.push(ViewSet::from_pairs(
            ["front", "left", "right"]
                .map(|role| (role, format!("s3://{bucket}/{trip}/{role}.mp4"))),
        )?);
    }
    // A set without `front` never leaves the machine.
    if let Err(refused) = ViewSet::from_pairs([("left", format!("s3://{bucket}/x/left.mp4"))]) {
        println!("refused locally: {refused}");
    }

    let mut request = ImportRequest::builder().view_sets(sets);
    if let Some(id) = env_opt("S3_INTEGRATION_ID") {
        request = request.integration_id(id.parse()?);
    }
    let request = request.build()?;
    let started = client.upload(&request, None)?;
    println!(
        "import job {}: {} view set(s)",
        started.import_job_id,
        request.total()
    );

    let options = WaitOptions {
        timeout: Duration::from_secs(15 * 60),
        ..WaitOptions::default()
    };
    let mut last = None;
    let outcome = client.wait_for_import(&started.import_job_id, &options, |p: &Progress| {
        if last != Some(*p) {
            println!("  {p}");
            last = Some(*p);
        }
    })?;
    println!(
        "sets ready for analysis (front video ids): {:?}",
        outcome
            .uploaded
            .iter()
            .map(VideoId::as_str)
            .collect::<Vec<_>>()
    );
    for set in &outcome.incomplete_sets {
        println!("set {} uploaded, but some views failed:", set.video_id);
        for view in &set.failed_views {
            println!(
                "  {} ({}): {}",
                view.role,
                view.video_id,
                view.error.as_deref().unwrap_or("no reason given")
            );
        }
    }
    for set in &outcome.failed {
        println!(
            "set {} failed: {}",
            set.video_id,
            set.error.as_deref().unwrap_or("no reason given")
        );
    }

    // One row per set: the front video, with every view's status.
    for row in client.videos(&started.import_job_id, 100)? {
        let row = row?;
        println!("set {} front {}", row.video_id, row.status);
        for (role, view) in row.views.iter().flatten() {
            println!("  {role:<6} {} {}", view.video_id, view.status);
        }
    }
    Ok(())
}
