//! Import videos from an Amazon S3 bucket with a saved `s3` integration.
//!
//! `S3_INTEGRATION_ID` names the integration (save one with
//! `add_integrations.rs`). Without it the server resolves the credentials: a
//! saved `s3` integration of yours for the bucket, else its own default
//! credentials, else anonymous access (public buckets).
//!
//! ```text
//! VIMPORT_API_KEY=... VIMPORT_BASE_URL=http://127.0.0.1:8080 \
//!   S3_BUCKET=drive-monitor-archive S3_INTEGRATION_ID=ci_... \
//!   cargo run -p import-async --example import_s3 -- trip-042/front.mp4 trip-042/rear.mp4
//! ```
//!
//! Arguments are object keys (default: `trip-042/front.mp4` and
//! `trip-042/rear.mp4`); `S3_BUCKET` defaults to `drive-monitor-archive`.

use import_async::{Client, Error, ImportRequest};

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

#[tokio::main]
async fn main() -> Result<(), Error> {
    let client = Client::from_env()?;
    let bucket = env_or("S3_BUCKET", "drive-monitor-archive");
    let mut request =
        ImportRequest::builder().uris(objects().iter().map(|key| format!("s3://{bucket}/{key}")));
    match env_opt("S3_INTEGRATION_ID") {
        Some(id) => request = request.integration_id(id.parse()?),
        None => println!("S3_INTEGRATION_ID is not set: the server resolves the credentials"),
    }
    let request = request.build()?;

    let started = client.upload(&request, None).await?;
    println!(
        "import job {} ({}): {} object(s) from s3://{bucket}",
        started.import_job_id,
        started.status,
        request.total()
    );
    println!(
        "follow it with: cargo run -p import-async --example get_import_job -- {}",
        started.import_job_id
    );
    Ok(())
}
