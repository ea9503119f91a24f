//! Import videos from a Hugging Face Storage Bucket.
//!
//! URIs are `hf://buckets/<namespace>/<name>/<path>.mp4`. `HF_INTEGRATION_ID`
//! optionally names a saved `hf_bucket` integration (see `add_integrations.rs`);
//! without it the server uses a saved integration for the bucket, else public
//! access. Hugging Face buckets take single-view imports only.
//!
//! ```text
//! VIMPORT_API_KEY=... VIMPORT_BASE_URL=http://127.0.0.1:8080 \
//!   HF_BUCKET=your-namespace/drive-footage HF_INTEGRATION_ID=ci_... \
//!   cargo run -p import-async --example import_hf_bucket -- day-1/front.mp4
//! ```
//!
//! Arguments are paths in the bucket (default: `day-1/front.mp4` and
//! `day-1/rear.mp4`).

use import_async::{Client, Error, ImportRequest};

/// The variable's value, or `None` when it is unset or blank.
fn env_opt(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The variable's value, or `default`.
fn env_or(name: &str, default: &str) -> String {
    env_opt(name).unwrap_or_else(|| default.to_owned())
}

/// Paths from the command line, or the placeholders.
fn objects() -> Vec<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        vec!["day-1/front.mp4".to_owned(), "day-1/rear.mp4".to_owned()]
    } else {
        args
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let client = Client::from_env()?;
    let bucket = env_or("HF_BUCKET", "your-namespace/drive-footage");

    let mut request = ImportRequest::builder().uris(
        objects()
            .iter()
            .map(|path| format!("hf://buckets/{bucket}/{path}")),
    );
    if let Some(id) = env_opt("HF_INTEGRATION_ID") {
        request = request.integration_id(id.parse()?);
    }
    let started = client.upload(&request.build()?, None).await?;
    println!(
        "import job {} ({}) from hf://buckets/{bucket}",
        started.import_job_id, started.status
    );
    Ok(())
}
