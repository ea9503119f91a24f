//! Import videos into a named folder shared with your organisation
//! (`scope` `org`).
//!
//! The client resolves the folder by name first (create-or-get, in the
//! request's scope), then starts the import with its id. The job then reports
//! the folder's id and name.
//!
//! ```text
//! VIMPORT_API_KEY=... VIMPORT_BASE_URL=http://127.0.0.1:8080 \
//!   S3_BUCKET=drive-monitor-archive FOLDER_NAME=fleet_uploads \
//!   cargo run -p import-async --example import_to_folder -- trip-042/front.mp4
//! ```
//!
//! Arguments are object keys (default: `trip-042/front.mp4` and
//! `trip-042/rear.mp4`); `S3_INTEGRATION_ID` optionally names the integration.

use import_async::{Client, Error, ImportRequest, Scope};

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
    let folder = env_or("FOLDER_NAME", "fleet_uploads");

    let mut request = ImportRequest::builder()
        .uris(objects().iter().map(|key| format!("s3://{bucket}/{key}")))
        .scope(Scope::Org);
    if let Some(id) = env_opt("S3_INTEGRATION_ID") {
        request = request.integration_id(id.parse()?);
    }
    let started = client.upload(&request.build()?, Some(&folder)).await?;
    println!("import job {} ({})", started.import_job_id, started.status);

    let job = client.get_import_job(&started.import_job_id).await?;
    println!(
        "the job imports into folder {} ({})",
        job.folder_name.as_deref().unwrap_or("-"),
        job.folder_id.as_ref().map_or("-", |id| id.as_str()),
    );
    let shared = client.get_folder(&folder, Scope::Org).await?;
    println!(
        "folder {} is {} in scope {}, created {}",
        shared.name, shared.id, shared.scope, shared.created_at
    );
    Ok(())
}
