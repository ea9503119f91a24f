//! `--expand` and `--preflight`: reading the bucket from this machine with the
//! caller's own credentials, through `import-providers`.

use std::sync::Arc;

use import_core::{ImportRequest, PrefixUri, Provider, glob::Glob};
use import_providers::{
    EndpointPolicy, GcsServiceAccount, PreflightOptions, PreflightReport, S3Credentials, Secret,
    SourceConfig, open_source,
};

/// A bucket opened for reading.
type DynStore = Arc<dyn object_store::ObjectStore>;

use crate::cli::UploadArgs;
use crate::commands::progress_bar;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// How to read a bucket from this machine: the standard variables of each cloud.
fn source(
    provider: Provider,
    bucket: &str,
    endpoint: Option<&str>,
) -> Result<SourceConfig, String> {
    Ok(match provider {
        Provider::S3 => {
            let credentials = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
                (Some(ak), Some(sk)) => {
                    let mut c = S3Credentials::new(ak, Secret::new(sk));
                    if let Some(token) = env("AWS_SESSION_TOKEN") {
                        c = c.with_session_token(Secret::new(token));
                    }
                    Some(c)
                }
                _ => None,
            };
            SourceConfig::S3 {
                bucket: bucket.to_owned(),
                region: env("AWS_REGION")
                    .or_else(|| env("AWS_DEFAULT_REGION"))
                    .or_else(|| endpoint.is_none().then(|| "us-east-1".to_owned())),
                endpoint_url: endpoint.map(str::to_owned),
                credentials,
            }
        }
        Provider::Gcs => {
            let Some(path) = env("GOOGLE_APPLICATION_CREDENTIALS") else {
                return Err("reading a GCS bucket from this machine needs GOOGLE_APPLICATION_CREDENTIALS set to a service-account key file".into());
            };
            let json = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read GOOGLE_APPLICATION_CREDENTIALS ({path}): {e}"))?;
            SourceConfig::Gcs {
                bucket: bucket.to_owned(),
                service_account: GcsServiceAccount::from_json(&json).map_err(|e| e.to_string())?,
            }
        }
        Provider::HfBucket => SourceConfig::Hf {
            bucket: bucket.to_owned(),
            token: env("HF_TOKEN").map(Secret::new),
        },
    })
}

async fn open(a: &UploadArgs, provider: Provider, bucket: &str) -> Result<DynStore, String> {
    let (config, policy, hf) = opening(a, provider, bucket)?;
    open_source(&config, &policy, &hf)
        .await
        .map_err(|e| e.to_string())
}

/// What opening a bucket takes: its configuration, the endpoint policy, the Hub.
fn opening(
    a: &UploadArgs,
    provider: Provider,
    bucket: &str,
) -> Result<(import_providers::SourceConfig, EndpointPolicy, String), String> {
    let config = source(provider, bucket, a.endpoint_url.as_deref())?;
    // On the user's own machine the environment's proxy is honoured.
    let policy = EndpointPolicy::from_allowed(a.allow_endpoints.iter())
        .map_err(|e| e.to_string())?
        .with_system_proxy();
    let hf = env("HF_ENDPOINT").unwrap_or_else(|| import_providers::DEFAULT_HF_ENDPOINT.to_owned());
    Ok((config, policy, hf))
}

/// The URIs under `--expand PREFIX` that match `--glob`, and what was left out.
pub(crate) async fn expand(
    a: &UploadArgs,
    prefix: &str,
) -> Result<import_providers::Expansion, String> {
    let parsed = PrefixUri::parse(prefix).map_err(|e| e.to_string())?;
    let glob = a
        .glob
        .as_deref()
        .map(Glob::parse)
        .transpose()
        .map_err(|e| e.to_string())?;
    let store = open(a, parsed.provider(), parsed.bucket()).await?;
    let bar = progress_bar();
    bar.set_message(format!("listing {prefix}"));
    let found = import_providers::expand_report(store, prefix, glob.as_ref()).await;
    bar.finish_and_clear();
    found.map_err(|e| e.to_string())
}

/// Check every object of a request; the report says which are ready.
/// `prefix` is the integration's, when the import names one.
pub(crate) async fn preflight(
    a: &UploadArgs,
    request: &ImportRequest,
    prefix: Option<&str>,
) -> Result<PreflightReport, String> {
    let (config, policy, hf) = opening(a, request.provider(), request.bucket())?;
    let store = import_providers::PreflightStore::open(&config, &policy, &hf)
        .await
        .map_err(|e| e.to_string())?;
    let bar = Arc::new(progress_bar());
    bar.set_length(request.object_count() as u64);
    bar.set_message("pre-flight checks");
    let options = PreflightOptions::default().with_concurrency(a.concurrency.max(1));
    let tick = bar.clone();
    let report =
        import_providers::preflight(request, store, prefix, &options, move |done, _total| {
            tick.set_position(done as u64);
        })
        .await;
    bar.finish_and_clear();
    Ok(report)
}
