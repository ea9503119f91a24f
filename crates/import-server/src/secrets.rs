//! Integration secrets: sealed at rest, opened only to build a source.

use import_core::Provider;
use import_providers::{GcsServiceAccount, S3Credentials, Secret, SourceConfig};
use serde::{Deserialize, Serialize};

use crate::crypto::SecretBox;
use crate::store::IntegrationRecord;

/// The secrets of one integration, as sealed into the database.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Secrets {
    /// S3 keys.
    S3 {
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
    },
    /// A GCS service-account key.
    Gcs { service_account: serde_json::Value },
    /// A Hugging Face token.
    Hf { token: Option<String> },
}

/// The mark that starts secrets sealed to their row. Blobs without it were
/// sealed by earlier versions with no associated data; the start reseals them
/// ([`reseal_legacy`]) and nothing else opens them.
const BOUND_MARK: &[u8] = b"v2:";

/// The associated data of an integration's secrets: its id and organisation.
/// A blob copied into another row (or another organisation) does not open.
fn binding(id: &str, org_id: &str) -> Vec<u8> {
    let mut aad = b"vimport integration secrets v2\0".to_vec();
    aad.extend_from_slice(id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(org_id.as_bytes());
    aad
}

impl Secrets {
    /// Seal for storage in the integration `id` of `org_id`.
    pub(crate) fn seal(&self, secrets: &SecretBox, id: &str, org_id: &str) -> Vec<u8> {
        // Serialising this enum of strings and JSON values cannot fail.
        let plain = serde_json::to_vec(self).unwrap_or_default();
        let mut sealed = BOUND_MARK.to_vec();
        sealed.extend_from_slice(&secrets.seal(&plain, &binding(id, org_id)));
        sealed
    }

    /// Open the sealed secrets of an integration; `None` if the key changed,
    /// the blob was altered or belongs to another row, or it was sealed by an
    /// earlier version and not yet resealed.
    pub(crate) fn open(secrets: &SecretBox, rec: &IntegrationRecord) -> Option<Secrets> {
        let bound = rec.sealed_secrets.strip_prefix(BOUND_MARK)?;
        let plain = secrets.open(bound, &binding(rec.id.as_str(), &rec.org_id))?;
        serde_json::from_slice(&plain).ok()
    }
}

/// The secrets of an integration sealed by an earlier version (no associated
/// data), sealed again to their row; `None` when they are already bound, or
/// cannot be opened with this key (they stay as they are, and the
/// integration must be saved again).
pub(crate) fn reseal_legacy(secrets: &SecretBox, rec: &IntegrationRecord) -> Option<Vec<u8>> {
    if rec.sealed_secrets.starts_with(BOUND_MARK) && Secrets::open(secrets, rec).is_some() {
        return None;
    }
    let plain = secrets.open(&rec.sealed_secrets, b"")?;
    let opened: Secrets = serde_json::from_slice(&plain).ok()?;
    Some(opened.seal(secrets, rec.id.as_str(), &rec.org_id))
}

/// Why a source could not be built from a saved integration.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceError {
    #[error(
        "the integration's secrets cannot be opened with this server's secret key; the key changed since it was saved: save the integration again"
    )]
    Sealed,
    #[error("{0}")]
    Invalid(#[from] import_providers::ProviderError),
}

/// How to read a bucket: from a saved integration, or anonymously (public buckets).
pub(crate) fn source_config(
    kind: Provider,
    bucket: &str,
    integration: Option<&IntegrationRecord>,
    secrets: &SecretBox,
) -> Result<SourceConfig, SourceError> {
    let Some(rec) = integration else {
        return Ok(match kind {
            Provider::S3 => SourceConfig::S3 {
                bucket: bucket.to_owned(),
                region: Some("us-east-1".to_owned()),
                endpoint_url: None,
                credentials: None,
            },
            Provider::HfBucket => SourceConfig::Hf {
                bucket: bucket.to_owned(),
                token: None,
            },
            // GCS imports always name an integration; the route checks it.
            Provider::Gcs => {
                return Err(SourceError::Invalid(
                    import_providers::ProviderError::InvalidConfig {
                        what: "a GCS import without an integration".into(),
                        fix: "save a gcs integration and pass its id".into(),
                    },
                ));
            }
        });
    };
    let opened = Secrets::open(secrets, rec).ok_or(SourceError::Sealed)?;
    Ok(match opened {
        Secrets::S3 {
            access_key_id,
            secret_access_key,
            session_token,
        } => {
            let mut creds = S3Credentials::new(access_key_id, Secret::new(secret_access_key));
            if let Some(token) = session_token {
                creds = creds.with_session_token(Secret::new(token));
            }
            SourceConfig::S3 {
                bucket: rec.bucket.clone(),
                region: rec.region.clone(),
                endpoint_url: rec.endpoint_url.clone(),
                credentials: Some(creds),
            }
        }
        Secrets::Gcs { service_account } => SourceConfig::Gcs {
            bucket: rec.bucket.clone(),
            service_account: GcsServiceAccount::from_value(service_account)?,
        },
        Secrets::Hf { token } => SourceConfig::Hf {
            bucket: rec.bucket.clone(),
            token: token.map(Secret::new),
        },
    })
}

/// Secrets sealed by an earlier version (no associated data) are sealed
/// again, bound to their row's id and organisation; a blob that this key
/// cannot open is left as it is (its integration must be saved again) and
/// counted in the log.
pub(crate) async fn reseal_legacy_secrets(
    store: &dyn crate::store::Store,
    secrets: &crate::crypto::SecretBox,
) -> Result<(), crate::error::StartupError> {
    const PAGE: u32 = 500;
    let (mut resealed, mut unopened) = (0u64, 0u64);
    let mut after: Option<import_core::IntegrationId> = None;
    loop {
        let page = store
            .integrations()
            .integrations_page(after.as_ref(), PAGE)
            .await
            .map_err(|e| crate::error::StartupError::Database(e.to_string()))?;
        for rec in &page {
            match reseal_legacy(secrets, rec) {
                Some(new) => {
                    let done = store
                        .integrations()
                        .reseal_integration(&rec.id, &rec.sealed_secrets, &new)
                        .await
                        .map_err(|e| crate::error::StartupError::Database(e.to_string()))?;
                    resealed += u64::from(done);
                }
                None if Secrets::open(secrets, rec).is_none() => unopened += 1,
                None => {}
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = Some(last.id.clone()),
            _ => break,
        }
    }
    if resealed > 0 {
        tracing::info!(
            integrations = resealed,
            "integration secrets were sealed again, bound to their rows"
        );
    }
    if unopened > 0 {
        tracing::warn!(
            integrations = unopened,
            "integration secrets that this server's key cannot open were left as they are; save those integrations again"
        );
    }
    Ok(())
}
