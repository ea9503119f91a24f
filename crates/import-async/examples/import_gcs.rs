//! Import videos from a Google Cloud Storage bucket, with and without naming
//! the saved integration.
//!
//! GCS imports always take their credentials from a saved `gcs` integration
//! (see `add_integrations.rs`). With `GCS_INTEGRATION_ID` set, the first import
//! names it. The second names none: the client lists your saved `gcs`
//! integrations for the bucket and tries them in order until the API accepts
//! one (with none saved it stops before sending the import).
//!
//! ```text
//! VIMPORT_API_KEY=... VIMPORT_BASE_URL=http://127.0.0.1:8080 \
//!   GCS_BUCKET=drive-monitor-archive GCS_INTEGRATION_ID=ci_... \
//!   cargo run -p import-async --example import_gcs -- uploads/trip-042/front.mp4
//! ```
//!
//! Arguments are object names in the bucket (default: `uploads/trip-042/front.mp4`
//! and `uploads/trip-042/rear.mp4`); `GCS_BUCKET` defaults to `drive-monitor-archive`.

use import_async::{Client, Error, ImportRequest};

/// The variable's value, or `None` when it is unset or blank.
fn env_opt(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The variable's value, or `default`.
fn env_or(name: &str, default: &str) -> String {
    env_opt(name).unwrap_or_else(|| default.to_owned())
}

/// Object names from the command line, or the placeholders.
fn objects() -> Vec<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        vec![
            "uploads/trip-042/front.mp4".to_owned(),
            "uploads/trip-042/rear.mp4".to_owned(),
        ]
    } else {
        args
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let client = Client::from_env()?;
    let bucket = env_or("GCS_BUCKET", "drive-monitor-archive");
    let uris: Vec<String> = objects()
        .iter()
        .map(|object| format!("gs://{bucket}/{object}"))
        .collect();

    // With an explicit integration: it must be a `gcs` integration of this bucket.
    match env_opt("GCS_INTEGRATION_ID") {
        Some(id) => {
            let request = ImportRequest::builder()
                .uris(&uris)
                .integration_id(id.parse()?)
                .build()?;
            let started = client.upload(&request, None).await?;
            println!(
                "with integration {id}: import job {} ({})",
                started.import_job_id, started.status
            );
        }
        None => println!("GCS_INTEGRATION_ID is not set: skipping the import that names one"),
    }

    // Without one: the client tries your saved `gcs` integrations for the bucket.
    let request = ImportRequest::builder().uris(&uris).build()?;
    let started = client.upload(&request, None).await?;
    println!(
        "with a saved integration picked by the client: import job {} ({})",
        started.import_job_id, started.status
    );
    Ok(())
}
