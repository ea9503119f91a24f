//! Save cloud integrations (GCS, S3, R2, Hugging Face), list them, and delete
//! the ones this run saved.
//!
//! - GCS from the service-account key file at `GCS_KEY_FILE` (skipped when the
//!   file does not exist), and from the key as a JSON value;
//! - S3 with a region;
//! - R2 with an `endpoint_url`, credentials spelled `accessKeyId`/`secretAccessKey`;
//! - a Hugging Face bucket with a token.
//!
//! Secrets are write-only: the answers never contain them. Set
//! `KEEP_INTEGRATIONS=1` to keep what was saved.
//!
//! ```text
//! VIMPORT_API_KEY=... VIMPORT_BASE_URL=http://127.0.0.1:8080 \
//!   GCS_BUCKET=drive-archive GCS_KEY_FILE=service-account.json \
//!   AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... S3_BUCKET=drive-monitor-archive \
//!   R2_ACCOUNT_ID=... R2_ACCESS_KEY_ID=... R2_SECRET_ACCESS_KEY=... \
//!   HF_BUCKET=your-namespace/drive-footage HF_TOKEN=hf_... \
//!   cargo run -p import-async --example add_integrations
//! ```
//!
//! Every variable has a placeholder default, so the example runs as is against
//! a local reference server.

use std::path::Path;

use import_async::{Client, CloudIntegration, Error, Provider};
use serde_json::json;

/// The variable's value, or `None` when it is unset or blank.
fn env_opt(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The variable's value, or `default`.
fn env_or(name: &str, default: &str) -> String {
    env_opt(name).unwrap_or_else(|| default.to_owned())
}

/// One line per integration.
fn show(what: &str, i: &CloudIntegration) {
    println!(
        "{what}: {} {:<9} {:?} bucket={} prefix={} region={} endpoint={} owner={}",
        i.id,
        i.kind.wire_name(),
        i.name,
        i.bucket,
        i.prefix.as_deref().unwrap_or("-"),
        i.region.as_deref().unwrap_or("-"),
        i.endpoint_url.as_deref().unwrap_or("-"),
        i.is_owner,
    );
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let client = Client::from_env()?;
    let integrations = client.cloud_integrations();
    let mut saved = Vec::new();

    // GCS from the key file as downloaded from the cloud console.
    let gcs_bucket = env_or("GCS_BUCKET", "drive-archive");
    let key_file = env_or("GCS_KEY_FILE", "service-account.json");
    if Path::new(&key_file).exists() {
        let gcs = integrations
            .add_gcs(
                "GCS archive (key file)",
                &gcs_bucket,
                Path::new(&key_file),
                Some("raw/"),
            )
            .await?;
        show("added", &gcs);
        saved.push(gcs);
    } else {
        println!("{key_file} does not exist: skipping the GCS integration from a key file");
    }

    // GCS from the key as a JSON value (for example read from a secret manager).
    let key = json!({
        "type": "service_account",
        "project_id": env_or("GCP_PROJECT_ID", "your-project"),
        "private_key_id": env_or("GCP_PRIVATE_KEY_ID", "your-private-key-id"),
        "private_key": env_or(
            "GCP_PRIVATE_KEY",
            "-----BEGIN PRIVATE KEY-----\nyour-private-key\n-----END PRIVATE KEY-----\n",
        ),
        "client_email": env_or(
            "GCP_CLIENT_EMAIL",
            "importer@your-project.iam.gserviceaccount.com",
        ),
    });
    let gcs = integrations
        .add_gcs("GCS archive (JSON value)", &gcs_bucket, key, None)
        .await?;
    show("added", &gcs);
    saved.push(gcs);

    // Amazon S3: the region is required.
    let s3 = integrations
        .add_s3(
            "AWS archive",
            &env_or("S3_BUCKET", "drive-monitor-archive"),
            &json!({
                "access_key_id": env_or("AWS_ACCESS_KEY_ID", "your-aws-access-key-id"),
                "secret_access_key": env_or("AWS_SECRET_ACCESS_KEY", "your-aws-secret-access-key"),
            }),
            Some(&env_or("AWS_REGION", "us-east-1")),
            None,
            Some("raw/"),
        )
        .await?;
    show("added", &s3);
    saved.push(s3);

    // Cloudflare R2: an S3 integration with an endpoint; the region becomes `auto`.
    let endpoint = env_opt("R2_ENDPOINT_URL").unwrap_or_else(|| {
        let account = env_or("R2_ACCOUNT_ID", "your-account-id");
        format!("https://{account}.r2.cloudflarestorage.com")
    });
    let r2 = integrations
        .add_s3(
            "R2 archive",
            &env_or("R2_BUCKET", "drive-monitor-archive"),
            &json!({
                "accessKeyId": env_or("R2_ACCESS_KEY_ID", "your-r2-access-key-id"),
                "secretAccessKey": env_or("R2_SECRET_ACCESS_KEY", "your-r2-secret-access-key"),
            }),
            None,
            Some(&endpoint),
            None,
        )
        .await?;
    show("added", &r2);
    saved.push(r2);

    // A Hugging Face Storage Bucket (`namespace/name`) with an access token.
    let hf = integrations
        .add_hf_bucket(
            "HF footage",
            &env_or("HF_BUCKET", "your-namespace/drive-footage"),
            &env_or("HF_TOKEN", "hf_your_token"),
            None,
        )
        .await?;
    show("added", &hf);
    saved.push(hf);

    // Everything visible to you (yours and your organisation's), then one provider.
    for i in integrations.list(None).await? {
        show("listed", &i);
    }
    let gcs_only = integrations.list(Some(Provider::Gcs)).await?;
    println!("{} gcs integration(s)", gcs_only.len());

    if env_opt("KEEP_INTEGRATIONS").is_some() {
        println!(
            "KEEP_INTEGRATIONS is set: keeping {} integration(s)",
            saved.len()
        );
        return Ok(());
    }
    for i in &saved {
        integrations.delete(&i.id).await?;
        println!("deleted {}", i.id);
    }
    Ok(())
}
