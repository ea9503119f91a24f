//! The bodies that save an integration, checked by the core's validated
//! types ([`S3Integration`](crate::S3Integration), ...) exactly as the
//! server checks them.

use serde_json::Value;

use crate::error::Error;
use crate::uri::Provider;
use crate::wire::{AddGcsIntegration, AddS3Integration, CloudIntegration};

use super::S3Keys;

/// The body that saves an S3 integration; `region` defaults to `auto` when an
/// endpoint is given, and is required otherwise. Checked by
/// [`S3Integration`](crate::S3Integration), as the server checks it.
pub fn s3_integration(
    name: &str,
    bucket: &str,
    keys: S3Keys,
    region: Option<&str>,
    endpoint_url: Option<&str>,
    prefix: Option<&str>,
) -> Result<AddS3Integration, Error> {
    let body = AddS3Integration {
        name: name.to_owned(),
        kind: Provider::S3,
        access_key_id: keys.access_key_id,
        secret_access_key: keys.secret_access_key,
        session_token: keys.session_token,
        region: region.map(str::to_owned),
        endpoint_url: endpoint_url.map(str::to_owned),
        bucket: bucket.to_owned(),
        prefix: prefix.map(str::to_owned),
    };
    crate::S3Integration::try_from(body).map(AddS3Integration::from)
}

/// The body that saves a GCS integration from the service-account key's bytes
/// (the JSON file as downloaded).
pub fn gcs_integration(
    name: &str,
    bucket: &str,
    key_json: &[u8],
    prefix: Option<&str>,
) -> Result<AddGcsIntegration, Error> {
    let value: Value = serde_json::from_slice(key_json).map_err(|e| Error::InvalidField {
        field: "service_account",
        problem: format!(
            "is not valid JSON ({e}); pass the service-account key file as downloaded"
        ),
    })?;
    gcs_integration_value(name, bucket, value, prefix)
}

/// The body that saves a GCS integration from the service-account key as
/// JSON. Checked by [`GcsIntegration`](crate::GcsIntegration), as the server
/// checks it.
pub fn gcs_integration_value(
    name: &str,
    bucket: &str,
    key: Value,
    prefix: Option<&str>,
) -> Result<AddGcsIntegration, Error> {
    let body = AddGcsIntegration {
        name: name.to_owned(),
        kind: Provider::Gcs,
        service_account: key,
        bucket: bucket.to_owned(),
        prefix: prefix.map(str::to_owned),
    };
    crate::GcsIntegration::try_from(body).map(AddGcsIntegration::from)
}

/// The body that saves a Hugging Face bucket integration. Checked by
/// [`HfIntegration`](crate::HfIntegration), as the server checks it.
pub fn hf_integration(
    name: &str,
    bucket: &str,
    token: &str,
    prefix: Option<&str>,
) -> Result<crate::wire::AddHfIntegration, Error> {
    let body = crate::wire::AddHfIntegration {
        name: name.to_owned(),
        kind: Provider::HfBucket,
        token: token.to_owned(),
        bucket: bucket.to_owned(),
        prefix: prefix.map(str::to_owned),
    };
    crate::HfIntegration::try_from(body).map(crate::wire::AddHfIntegration::from)
}

/// The saved integrations of one provider, in the order the API listed them.
pub fn filter_integrations(
    list: Vec<CloudIntegration>,
    kind: Option<Provider>,
) -> Vec<CloudIntegration> {
    list.into_iter()
        .filter(|i| kind.is_none_or(|k| i.kind == k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_keys_and_bodies() {
        for v in [
            serde_json::json!({"access_key_id": "A", "secret_access_key": "S"}),
            serde_json::json!({"AccessKeyId": "A", "Secret-Access-Key": "S"}),
            serde_json::json!({"accessKeyId": "A", "secretAccessKey": "S", "sessionToken": ""}),
        ] {
            let k = S3Keys::from_json(&v).unwrap();
            assert_eq!(
                (
                    k.access_key_id.as_str(),
                    k.secret_access_key.as_str(),
                    k.session_token
                ),
                ("A", "S", None)
            );
        }
        let err = S3Keys::from_json(&serde_json::json!({"accessKeyId": "A"})).unwrap_err();
        assert!(err.to_string().contains("secret_access_key"), "{err}");
        let keys =
            S3Keys::from_json(&serde_json::json!({"accessKeyId": "A", "secretAccessKey": "S"}))
                .unwrap();
        assert!(!format!("{keys:?}").contains("\"S\""));
        let body = s3_integration(
            "r2",
            "bkt",
            keys.clone(),
            None,
            Some("https://x.r2.example"),
            None,
        )
        .unwrap();
        assert_eq!(body.region.as_deref(), Some("auto"));
        assert!(
            s3_integration("r2", "bkt", keys, None, None, None)
                .unwrap_err()
                .to_string()
                .contains("`region`")
        );
        assert!(
            gcs_integration("g", "bkt", b"{not json", None)
                .unwrap_err()
                .to_string()
                .contains("not valid JSON")
        );
        assert!(hf_integration("h", "nonamespace", "hf_x", None).is_err());
        assert_eq!(
            hf_integration("h", " ns/name ", "hf_x", None)
                .unwrap()
                .bucket,
            "ns/name"
        );
    }
}
