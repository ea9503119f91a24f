//! Import videos from Cloudflare R2: save an `s3` integration with the R2
//! `endpoint_url`, then import with it.
//!
//! R2 (like MinIO and other S3-compatible stores) is an `s3` integration with
//! an endpoint; its region defaults to `auto`. Object URIs use `s3://`.
//!
//! ```text
//! VIMPORT_API_KEY=... VIMPORT_BASE_URL=http://127.0.0.1:8080 \
//!   R2_ACCOUNT_ID=... R2_ACCESS_KEY_ID=... R2_SECRET_ACCESS_KEY=... \
//!   R2_BUCKET=drive-monitor-archive \
//!   cargo run -p import-blocking --example import_r2 -- trip-042/front.mp4
//! ```
//!
//! `R2_ENDPOINT_URL` overrides the endpoint built from `R2_ACCOUNT_ID`
//! (`https://<account id>.r2.cloudflarestorage.com`). Arguments are object keys
//! (default: `trip-042/front.mp4` and `trip-042/rear.mp4`).

use import_blocking::{Client, Error, ImportRequest};
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

fn main() -> Result<(), Error> {
    let client = Client::from_env()?;
    let bucket = env_or("R2_BUCKET", "drive-monitor-archive");
    let endpoint = env_opt("R2_ENDPOINT_URL").unwrap_or_else(|| {
        let account = env_or("R2_ACCOUNT_ID", "your-account-id");
        format!("https://{account}.r2.cloudflarestorage.com")
    });
    // The credentials are a JSON object; `accessKeyId` and `access_key_id`
    // spellings are both accepted.
    let credentials = json!({
        "accessKeyId": env_or("R2_ACCESS_KEY_ID", "your-r2-access-key-id"),
        "secretAccessKey": env_or("R2_SECRET_ACCESS_KEY", "your-r2-secret-access-key"),
    });

    let integration = client.cloud_integrations().add_s3(
        "R2 archive",
        &bucket,
        &credentials,
        None,
        Some(&endpoint),
        None,
    )?;
    println!(
        "saved integration {} for bucket {} (endpoint {}, region {})",
        integration.id,
        integration.bucket,
        integration.endpoint_url.as_deref().unwrap_or("-"),
        integration.region.as_deref().unwrap_or("-"),
    );

    let request = ImportRequest::builder()
        .uris(objects().iter().map(|key| format!("s3://{bucket}/{key}")))
        .integration_id(integration.id.clone())
        .build()?;
    let started = client.upload(&request, None)?;
    println!("import job {} ({})", started.import_job_id, started.status);
    Ok(())
}
