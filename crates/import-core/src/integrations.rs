//! Saved integrations: the validated bodies that save one
//! ([`S3Integration`], [`GcsIntegration`], [`HfIntegration`]), and which
//! saved integrations a request may use.

use std::fmt;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::fields::{
    MAX_CREDENTIAL_BYTES, MAX_NAME_CHARS, MAX_PREFIX_BYTES, MAX_SERVICE_ACCOUNT_KEY_BYTES, Measure,
    endpoint_url, optional_text, region, s3_region, text_field,
};
use crate::uri::Provider;
use crate::wire::{AddGcsIntegration, AddHfIntegration, AddS3Integration, CloudIntegration};

const REDACTED: &str = "<redacted>";

/// What every integration body has: a name, a bucket of the provider and an
/// optional prefix; checked in the server's order (type, bucket, name).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    name: String,
    bucket: String,
    prefix: Option<String>,
}

/// The accessors every checked integration body has: what it names.
macro_rules! target_accessors {
    ($($ty:ty),+) => {$(
        impl $ty {
            /// The display name.
            pub fn name(&self) -> &str {
                &self.target.name
            }
            /// The bucket (`namespace/name` for Hugging Face).
            pub fn bucket(&self) -> &str {
                &self.target.bucket
            }
            /// The prefix, without leading `/`.
            pub fn prefix(&self) -> Option<&str> {
                self.target.prefix.as_deref()
            }
        }
    )+};
}

target_accessors!(S3Integration, GcsIntegration, HfIntegration);

impl Target {
    fn new(provider: Provider, name: &str, bucket: &str, prefix: Option<&str>) -> Result<Target> {
        let bucket = text_field("bucket", bucket, MAX_NAME_CHARS, Measure::Bytes)?;
        provider
            .check_bucket(bucket)
            .map_err(|problem| Error::InvalidBucket { problem })?;
        Ok(Target {
            name: text_field("name", name, MAX_NAME_CHARS, Measure::Chars)?.to_owned(),
            bucket: bucket.to_owned(),
            prefix: integration_prefix(prefix)?,
        })
    }
}

/// `type` must be the provider of the route that saves the body.
fn check_kind(route: Provider, kind: Provider) -> Result<()> {
    if kind == route {
        return Ok(());
    }
    Err(Error::InvalidField {
        field: "type",
        problem: format!(
            "is `{}` but this route saves `{}` integrations",
            kind.wire_name(),
            route.wire_name()
        ),
    })
}

/// An integration's prefix as saved: trimmed, without leading `/`, at most
/// [`MAX_PREFIX_BYTES`], no control character; `None` when nothing is left.
///
/// ```
/// assert_eq!(import_core::integration_prefix(Some(" /raw/2024/ "))?.as_deref(), Some("raw/2024/"));
/// assert_eq!(import_core::integration_prefix(Some(" / "))?, None);
/// assert!(import_core::integration_prefix(Some("raw\0/")).is_err());
/// # Ok::<(), import_core::Error>(())
/// ```
pub fn integration_prefix(prefix: Option<&str>) -> Result<Option<String>> {
    Ok(
        optional_text("prefix", prefix, MAX_PREFIX_BYTES, Measure::Bytes)?
            .map(|p| p.trim_start_matches('/').to_owned())
            .filter(|p| !p.is_empty()),
    )
}

/// A credential field: required, at most [`MAX_CREDENTIAL_BYTES`], no
/// control character.
fn credential(field: &'static str, value: &str) -> Result<String> {
    Ok(text_field(field, value, MAX_CREDENTIAL_BYTES, Measure::Bytes)?.to_owned())
}

/// A checked body of `POST /api/cloud-integrations/s3`: type `s3`, a valid
/// S3 bucket name, a name, a region (`auto` when only an endpoint is given),
/// both keys. Values are trimmed; the endpoint loses its trailing `/`.
///
/// ```
/// use import_core::wire::AddS3Integration;
/// use import_core::{Provider, S3Integration};
///
/// let body = AddS3Integration {
///     name: "r2".into(),
///     kind: Provider::S3,
///     access_key_id: "AKID".into(),
///     secret_access_key: "secret".into(),
///     session_token: None,
///     region: None,
///     endpoint_url: Some("https://account.r2.cloudflarestorage.com/".into()),
///     bucket: "drive-archive".into(),
///     prefix: Some("/raw/".into()),
/// };
/// let checked = S3Integration::try_from(body)?;
/// assert_eq!(checked.region(), "auto");
/// assert_eq!(checked.endpoint_url(), Some("https://account.r2.cloudflarestorage.com"));
/// assert_eq!(checked.prefix(), Some("raw/"));
/// assert!(!format!("{checked:?}").contains("secret\""));
/// # Ok::<(), import_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct S3Integration {
    target: Target,
    region: String,
    endpoint_url: Option<String>,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

impl TryFrom<AddS3Integration> for S3Integration {
    type Error = Error;
    fn try_from(body: AddS3Integration) -> Result<Self> {
        check_kind(Provider::S3, body.kind)?;
        let target = Target::new(
            Provider::S3,
            &body.name,
            &body.bucket,
            body.prefix.as_deref(),
        )?;
        let endpoint = match body.endpoint_url.as_deref().map(str::trim) {
            Some(e) if !e.is_empty() => Some(endpoint_url(e)?),
            _ => None,
        };
        let given_region = match body.region.as_deref().map(str::trim) {
            Some(r) if !r.is_empty() => Some(region("region", r)?),
            _ => None,
        };
        let Some(region) = s3_region(given_region, endpoint.as_deref()) else {
            return Err(Error::InvalidField {
                field: "region",
                problem: "is required for Amazon S3 (for example `us-east-1`); for R2, MinIO and other S3-compatible stores give `endpoint_url`".to_owned(),
            });
        };
        Ok(S3Integration {
            region: region.to_owned(),
            endpoint_url: endpoint,
            access_key_id: credential("access_key_id", &body.access_key_id)?,
            secret_access_key: credential("secret_access_key", &body.secret_access_key)?,
            session_token: optional_text(
                "session_token",
                body.session_token.as_deref(),
                MAX_CREDENTIAL_BYTES,
                Measure::Bytes,
            )?
            .map(str::to_owned),
            target,
        })
    }
}

impl S3Integration {
    /// The region to sign for (`auto` for an endpoint given without one).
    pub fn region(&self) -> &str {
        &self.region
    }
    /// The endpoint of an S3-compatible store, without trailing `/`.
    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
    }
    /// The access key id.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
    /// The secret access key (secret).
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }
    /// The session token of temporary credentials (secret).
    pub fn session_token(&self) -> Option<&str> {
        self.session_token.as_deref()
    }
}

impl From<S3Integration> for AddS3Integration {
    fn from(c: S3Integration) -> Self {
        AddS3Integration {
            name: c.target.name,
            kind: Provider::S3,
            access_key_id: c.access_key_id,
            secret_access_key: c.secret_access_key,
            session_token: c.session_token,
            region: Some(c.region),
            endpoint_url: c.endpoint_url,
            bucket: c.target.bucket,
            prefix: c.target.prefix,
        }
    }
}

impl fmt::Debug for S3Integration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Integration")
            .field("target", &self.target)
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &REDACTED)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| REDACTED),
            )
            .finish()
    }
}

/// A checked body of `POST /api/cloud-integrations/gcs`: type `gcs`, the
/// service-account key as a JSON object, a valid GCS bucket name, a name.
///
/// ```
/// use import_core::wire::AddGcsIntegration;
/// use import_core::{GcsIntegration, Provider};
///
/// let body = |key: serde_json::Value| AddGcsIntegration {
///     name: "g".into(),
///     kind: Provider::Gcs,
///     service_account: key,
///     bucket: "fleet_videos".into(),
///     prefix: None,
/// };
/// let checked = GcsIntegration::try_from(body(serde_json::json!({"type": "service_account"})))?;
/// assert_eq!(checked.bucket(), "fleet_videos");
/// let err = GcsIntegration::try_from(body(serde_json::json!("key"))).unwrap_err();
/// assert!(err.to_string().starts_with("`service_account` must be the service-account JSON key object"));
/// # Ok::<(), import_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct GcsIntegration {
    target: Target,
    service_account: Value,
}

impl TryFrom<AddGcsIntegration> for GcsIntegration {
    type Error = Error;
    fn try_from(body: AddGcsIntegration) -> Result<Self> {
        check_kind(Provider::Gcs, body.kind)?;
        if !body.service_account.is_object() {
            return Err(Error::InvalidField {
                field: "service_account",
                problem: "must be the service-account JSON key object (the file downloaded from the cloud console)".to_owned(),
            });
        }
        let size = body.service_account.to_string().len();
        if size > MAX_SERVICE_ACCOUNT_KEY_BYTES {
            return Err(Error::InvalidField {
                field: "service_account",
                problem: format!(
                    "is {size} bytes of JSON; a service-account key is about 2.3 KiB, use at most {MAX_SERVICE_ACCOUNT_KEY_BYTES}"
                ),
            });
        }
        Ok(GcsIntegration {
            target: Target::new(
                Provider::Gcs,
                &body.name,
                &body.bucket,
                body.prefix.as_deref(),
            )?,
            service_account: body.service_account,
        })
    }
}

impl GcsIntegration {
    /// The service-account key, a JSON object (secret).
    pub fn service_account(&self) -> &Value {
        &self.service_account
    }
}

impl From<GcsIntegration> for AddGcsIntegration {
    fn from(c: GcsIntegration) -> Self {
        AddGcsIntegration {
            name: c.target.name,
            kind: Provider::Gcs,
            service_account: c.service_account,
            bucket: c.target.bucket,
            prefix: c.target.prefix,
        }
    }
}

impl fmt::Debug for GcsIntegration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcsIntegration")
            .field("target", &self.target)
            .field("service_account", &REDACTED)
            .finish()
    }
}

/// A checked body of `POST /api/cloud-integrations/hf-bucket`: type
/// `hf_bucket`, a `namespace/name` bucket, a name, a token.
///
/// ```
/// use import_core::wire::AddHfIntegration;
/// use import_core::{HfIntegration, Provider};
///
/// let body = AddHfIntegration {
///     name: "hf".into(),
///     kind: Provider::HfBucket,
///     token: " hf_x ".into(),
///     bucket: " acme/fleet ".into(),
///     prefix: None,
/// };
/// let checked = HfIntegration::try_from(body)?;
/// assert_eq!((checked.bucket(), checked.token()), ("acme/fleet", "hf_x"));
/// # Ok::<(), import_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct HfIntegration {
    target: Target,
    token: String,
}

impl TryFrom<AddHfIntegration> for HfIntegration {
    type Error = Error;
    fn try_from(body: AddHfIntegration) -> Result<Self> {
        check_kind(Provider::HfBucket, body.kind)?;
        Ok(HfIntegration {
            target: Target::new(
                Provider::HfBucket,
                &body.name,
                &body.bucket,
                body.prefix.as_deref(),
            )?,
            token: credential("token", &body.token)?,
        })
    }
}

impl HfIntegration {
    /// The Hub token (secret).
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl From<HfIntegration> for AddHfIntegration {
    fn from(c: HfIntegration) -> Self {
        AddHfIntegration {
            name: c.target.name,
            kind: Provider::HfBucket,
            token: c.token,
            bucket: c.target.bucket,
            prefix: c.target.prefix,
        }
    }
}

impl fmt::Debug for HfIntegration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HfIntegration")
            .field("target", &self.target)
            .field("token", &REDACTED)
            .finish()
    }
}

/// The caller's saved `gcs` integrations that may serve `bucket`, in the order the
/// API listed them: a GCS import without an explicit integration tries each in
/// turn until one is accepted.
///
/// Buckets are compared after trimming spaces, a `gs://` prefix and a trailing `/`,
/// as people type them into integration forms.
///
/// ```
/// use import_core::{gcs_integration_candidates, CloudIntegration};
///
/// let saved: Vec<CloudIntegration> = serde_json::from_str(r#"[
///   {"id":"ci_1","name":"a","type":"s3","bucket":"fleet","created_at":"t","created_by":"u","is_owner":true},
///   {"id":"ci_2","name":"b","type":"gcs","bucket":"fleet","created_at":"t","created_by":"u","is_owner":true},
///   {"id":"ci_3","name":"c","type":"gcs","bucket":"other","created_at":"t","created_by":"u","is_owner":true},
///   {"id":"ci_4","name":"d","type":"gcs","bucket":"gs://fleet/","created_at":"t","created_by":"u","is_owner":false}
/// ]"#)?;
/// let ids: Vec<&str> = gcs_integration_candidates(&saved, "fleet").map(|i| i.id.as_str()).collect();
/// assert_eq!(ids, ["ci_2", "ci_4"]);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn gcs_integration_candidates<'a>(
    integrations: &'a [CloudIntegration],
    bucket: &'a str,
) -> impl Iterator<Item = &'a CloudIntegration> + 'a {
    let want = normalize_bucket(bucket);
    integrations
        .iter()
        .filter(move |i| i.kind == Provider::Gcs && normalize_bucket(&i.bucket) == want)
}

fn normalize_bucket(bucket: &str) -> &str {
    let b = bucket.trim();
    let b = b
        .strip_prefix("gs://")
        .or_else(|| b.strip_prefix("GS://"))
        .unwrap_or(b);
    b.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integration(id: &str, kind: Provider, bucket: &str) -> CloudIntegration {
        CloudIntegration {
            id: id.parse().unwrap(),
            name: id.into(),
            kind,
            bucket: bucket.into(),
            prefix: None,
            region: None,
            endpoint_url: None,
            created_at: "t".into(),
            last_used: None,
            created_by: "u".into(),
            created_by_display_name: None,
            is_owner: true,
        }
    }

    #[test]
    fn keeps_order_and_filters_provider_and_bucket() {
        let all = [
            integration("ci_3", Provider::Gcs, "fleet"),
            integration("ci_1", Provider::S3, "fleet"),
            integration("ci_2", Provider::Gcs, " gs://fleet/ "),
            integration("ci_4", Provider::Gcs, "fleet-2"),
            integration("ci_5", Provider::HfBucket, "fleet"),
        ];
        let ids: Vec<&str> = gcs_integration_candidates(&all, "fleet")
            .map(|i| i.id.as_str())
            .collect();
        assert_eq!(ids, ["ci_3", "ci_2"]);
        assert_eq!(gcs_integration_candidates(&all, "nothing").count(), 0);
    }

    fn s3_body() -> AddS3Integration {
        AddS3Integration {
            name: " keys ".into(),
            kind: Provider::S3,
            access_key_id: " AKID ".into(),
            secret_access_key: "sk".into(),
            session_token: Some(" ".into()),
            region: Some(" ".into()),
            endpoint_url: Some(" https://minio.example:9000/ ".into()),
            bucket: " vids ".into(),
            prefix: Some(" /raw/ ".into()),
        }
    }

    fn problem(result: Result<impl fmt::Debug>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn s3_bodies_follow_the_server_rules() {
        let c = S3Integration::try_from(s3_body()).unwrap();
        assert_eq!(
            (c.name(), c.bucket(), c.prefix()),
            ("keys", "vids", Some("raw/"))
        );
        assert_eq!(c.region(), "auto");
        assert_eq!(c.endpoint_url(), Some("https://minio.example:9000"));
        assert_eq!((c.access_key_id(), c.session_token()), ("AKID", None));
        let wire = AddS3Integration::from(c);
        assert_eq!(wire.region.as_deref(), Some("auto"));

        let with = |f: fn(&mut AddS3Integration)| {
            let mut b = s3_body();
            f(&mut b);
            problem(S3Integration::try_from(b))
        };
        assert_eq!(
            with(|b| b.kind = Provider::Gcs),
            "`type` is `gcs` but this route saves `s3` integrations"
        );
        assert_eq!(
            with(|b| b.bucket = " ".into()),
            "`bucket` must not be empty"
        );
        assert!(
            with(|b| b.bucket = "my_bucket".into())
                .starts_with("invalid `bucket`: bucket name `my_bucket` is not valid for S3")
        );
        assert_eq!(with(|b| b.name = String::new()), "`name` must not be empty");
        assert_eq!(
            with(|b| b.endpoint_url = None),
            "`region` is required for Amazon S3 (for example `us-east-1`); for R2, MinIO and other S3-compatible stores give `endpoint_url`"
        );
        assert_eq!(
            with(|b| b.access_key_id = " ".into()),
            "`access_key_id` must not be empty"
        );
        assert_eq!(
            with(|b| b.secret_access_key = String::new()),
            "`secret_access_key` must not be empty"
        );
        // The type is checked first, then the bucket, then the name.
        assert!(
            with(|b| {
                b.kind = Provider::HfBucket;
                b.bucket = String::new();
            })
            .starts_with("`type`")
        );
        assert!(
            with(|b| {
                b.bucket = String::new();
                b.name = String::new();
            })
            .starts_with("`bucket`")
        );
    }

    #[test]
    fn gcs_and_hf_bodies() {
        let gcs = |key: Value, bucket: &str| AddGcsIntegration {
            name: "g".into(),
            kind: Provider::Gcs,
            service_account: key,
            bucket: bucket.into(),
            prefix: Some("/".into()),
        };
        let c = GcsIntegration::try_from(gcs(serde_json::json!({}), "a_b")).unwrap();
        assert_eq!((c.bucket(), c.prefix()), ("a_b", None));
        assert!(!format!("{c:?}").contains("{}"));
        // The key is checked before the bucket.
        assert!(
            problem(GcsIntegration::try_from(gcs(Value::Null, "")))
                .starts_with("`service_account`")
        );
        let hf = |bucket: &str, token: &str| AddHfIntegration {
            name: "h".into(),
            kind: Provider::HfBucket,
            token: token.into(),
            bucket: bucket.into(),
            prefix: None,
        };
        assert!(
            problem(HfIntegration::try_from(hf("nonamespace", "t")))
                .contains("not valid for Hugging Face")
        );
        assert_eq!(
            problem(HfIntegration::try_from(hf("a/b", " "))),
            "`token` must not be empty"
        );
        assert_eq!(
            AddHfIntegration::from(HfIntegration::try_from(hf(" a/b ", "t")).unwrap()).bucket,
            "a/b"
        );
    }
}
