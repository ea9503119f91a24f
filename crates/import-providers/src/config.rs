//! How to open a source bucket: provider, bucket, where it lives and which
//! credentials to use.

use std::fmt;

use import_core::Provider;
use import_core::fields::{is_s3_region, non_blank, s3_region};
use serde_json::{Map, Value};

use crate::error::ProviderError;

/// A secret string (secret key, session token, Hub token, private key).
///
/// `Debug` and `Display` print `<redacted>`; the only way to read the value
/// is [`Secret::expose`], so a secret cannot reach a log line by accident.
///
/// ```
/// use import_providers::Secret;
///
/// let token = Secret::new("hf_abcdef");
/// assert_eq!(format!("{token:?} {token}"), "<redacted> <redacted>");
/// assert_eq!(token.expose(), "hf_abcdef");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself; only to hand it to the provider's client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty or only white space.
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Static S3 credentials: an access key pair and, for temporary
/// credentials, a session token. `Debug` shows the access key id only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Credentials {
    /// The access key id (not secret).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token of temporary credentials.
    pub session_token: Option<Secret>,
}

impl S3Credentials {
    /// Long-lived credentials: an access key id and its secret.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<Secret>) -> Self {
        S3Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }

    /// Add the session token of temporary credentials.
    #[must_use]
    pub fn with_session_token(mut self, token: impl Into<Secret>) -> Self {
        self.session_token = Some(token.into());
        self
    }
}

/// The names of the URL-valued fields a service-account key may carry, in
/// the order [`GcsServiceAccount::address_fields`] lists them.
pub const GCS_ADDRESS_FIELDS: [&str; 5] = [
    "gcs_base_url",
    "token_uri",
    "auth_uri",
    "auth_provider_x509_cert_url",
    "client_x509_cert_url",
];

/// A Google Cloud service-account JSON key, validated.
///
/// It must look like a service-account key (`"type": "service_account"`,
/// `client_email`, `private_key`, `private_key_id`), unless it sets
/// `"disable_oauth": true` as the local GCS emulator recipe does (then
/// requests carry no token and the identity fields may be absent). The key
/// may also carry `gcs_base_url`, the address of the storage API.
///
/// `Debug` shows the identity and the address fields, never the private key.
///
/// ```
/// use import_providers::GcsServiceAccount;
///
/// let key = GcsServiceAccount::from_json(r#"{
///     "gcs_base_url": "http://127.0.0.1:4443", "disable_oauth": true
/// }"#)?;
/// assert_eq!(key.gcs_base_url(), Some("http://127.0.0.1:4443"));
/// let err = GcsServiceAccount::from_json(r#"{"type": "authorized_user"}"#).unwrap_err();
/// assert!(err.to_string().contains("not a service-account key"));
/// # Ok::<(), import_providers::ProviderError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct GcsServiceAccount {
    /// The key as handed to `object_store`, with the identity fields it
    /// requires filled in when `disable_oauth` lets them be absent.
    json: Secret,
    /// The PEM private key alone (empty when absent), to scrub messages with.
    private_key: Secret,
    client_email: Option<String>,
    project_id: Option<String>,
    universe_domain: Option<String>,
    disable_oauth: bool,
    /// `(field, url)` for every address field present, in [`GCS_ADDRESS_FIELDS`] order.
    addresses: Vec<(&'static str, String)>,
}

const GCS_KEY_FIX: &str = "paste the whole JSON key file of a service account (Google Cloud console: IAM & Admin → Service accounts → Keys → Add key → JSON)";

impl GcsServiceAccount {
    /// Parse and validate a JSON key.
    pub fn from_json(json: &str) -> Result<Self, ProviderError> {
        // serde_json's messages name a line and column, never the content.
        let value: Value = serde_json::from_str(json).map_err(|e| {
            ProviderError::invalid(
                format!("the GCS service-account key is not valid JSON ({e})"),
                GCS_KEY_FIX,
            )
        })?;
        Self::from_value(value)
    }

    /// Validate a key already parsed as JSON.
    pub fn from_value(value: Value) -> Result<Self, ProviderError> {
        let Value::Object(mut map) = value else {
            return Err(ProviderError::invalid(
                "the GCS service-account key is not a JSON object",
                GCS_KEY_FIX,
            ));
        };
        let disable_oauth = match map.get("disable_oauth") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(ProviderError::invalid(
                    "`disable_oauth` in the GCS service-account key is not true or false",
                    "write `\"disable_oauth\": true` (local emulators only) or remove the field",
                ));
            }
        };
        let client_email = optional_string(&map, "client_email")?;
        let project_id = optional_string(&map, "project_id")?;
        let universe_domain = optional_string(&map, "universe_domain")?;
        let mut addresses = Vec::new();
        for field in GCS_ADDRESS_FIELDS {
            if let Some(url) = optional_string(&map, field)? {
                if url::Url::parse(&url).is_err() {
                    return Err(ProviderError::invalid(
                        format!("`{field}` in the GCS service-account key is not a URL"),
                        format!("write an absolute https URL in `{field}` or remove the field"),
                    ));
                }
                addresses.push((field, url));
            }
        }

        if !disable_oauth {
            match map.get("type").and_then(Value::as_str) {
                Some("service_account") => {}
                Some(other) => {
                    return Err(ProviderError::invalid(
                        format!(
                            "the GCS key is of type `{}`, not a service-account key",
                            other.chars().take(40).collect::<String>()
                        ),
                        GCS_KEY_FIX,
                    ));
                }
                None => {
                    return Err(ProviderError::invalid(
                        "the GCS key has no `\"type\": \"service_account\"`, so it is not a service-account key",
                        GCS_KEY_FIX,
                    ));
                }
            }
            for field in ["client_email", "private_key_id", "private_key"] {
                let present = map
                    .get(field)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.trim().is_empty());
                if !present {
                    return Err(ProviderError::invalid(
                        format!("the GCS service-account key has no `{field}`"),
                        GCS_KEY_FIX,
                    ));
                }
            }
            let pem = map
                .get("private_key")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !(pem.contains("-----BEGIN") && pem.contains("PRIVATE KEY-----")) {
                return Err(ProviderError::invalid(
                    "`private_key` in the GCS service-account key is not a PEM private key",
                    GCS_KEY_FIX,
                ));
            }
        } else {
            // object_store requires these fields even when it will not use them.
            for field in ["client_email", "private_key_id", "private_key"] {
                map.entry(field)
                    .or_insert_with(|| Value::String(String::new()));
            }
        }

        let private_key = Secret(
            map.get("private_key")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        );
        let json = Secret(Value::Object(map).to_string());
        Ok(GcsServiceAccount {
            json,
            private_key,
            client_email,
            project_id,
            universe_domain,
            disable_oauth,
            addresses,
        })
    }

    /// The key as JSON, private key included; only to hand it to the GCS client.
    pub fn expose_json(&self) -> &str {
        self.json.expose()
    }

    /// The service account's e-mail address.
    pub fn client_email(&self) -> Option<&str> {
        self.client_email.as_deref()
    }

    /// The Google Cloud project of the key.
    pub fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }

    /// `universe_domain` (a domain name such as `googleapis.com`, not a URL).
    pub fn universe_domain(&self) -> Option<&str> {
        self.universe_domain.as_deref()
    }

    /// Whether the key disables OAuth (local emulators only).
    pub fn disable_oauth(&self) -> bool {
        self.disable_oauth
    }

    /// `gcs_base_url`: where the storage API is (default: Google's).
    pub fn gcs_base_url(&self) -> Option<&str> {
        self.address("gcs_base_url")
    }

    /// `token_uri`: where OAuth tokens are obtained.
    pub fn token_uri(&self) -> Option<&str> {
        self.address("token_uri")
    }

    /// `auth_uri`.
    pub fn auth_uri(&self) -> Option<&str> {
        self.address("auth_uri")
    }

    /// `auth_provider_x509_cert_url`.
    pub fn auth_provider_x509_cert_url(&self) -> Option<&str> {
        self.address("auth_provider_x509_cert_url")
    }

    /// `client_x509_cert_url`.
    pub fn client_x509_cert_url(&self) -> Option<&str> {
        self.address("client_x509_cert_url")
    }

    /// Every URL-valued field present in the key, as `(field name, url)`.
    pub fn address_fields(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.addresses
            .iter()
            .map(|(field, url)| (*field, url.as_str()))
    }

    /// The base64 lines of the PEM private key, to scrub messages with.
    fn private_key_lines(&self) -> impl Iterator<Item = &str> {
        self.private_key
            .expose()
            .lines()
            .map(str::trim)
            .filter(|line| line.len() >= 16 && !line.starts_with("-----"))
    }

    fn address(&self, field: &str) -> Option<&str> {
        self.addresses
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, url)| url.as_str())
    }
}

fn optional_string(map: &Map<String, Value>, field: &str) -> Result<Option<String>, ProviderError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(ProviderError::invalid(
            format!("`{field}` in the GCS service-account key is not a string"),
            GCS_KEY_FIX,
        )),
    }
}

impl fmt::Debug for GcsServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("GcsServiceAccount");
        d.field("client_email", &self.client_email)
            .field("project_id", &self.project_id)
            .field("disable_oauth", &self.disable_oauth);
        for (field, url) in &self.addresses {
            d.field(field, url);
        }
        d.field("private_key", &"<redacted>").finish()
    }
}

/// How to open one source bucket.
///
/// Build the variants directly; [`SourceConfig::validate`] (called by
/// [`open_source`](crate::open_source)) checks them.
///
/// ```
/// use import_providers::{S3Credentials, SourceConfig};
///
/// // Cloudflare R2 (or MinIO...): an endpoint and no region means region "auto".
/// let r2 = SourceConfig::S3 {
///     bucket: "drive-archive".into(),
///     region: None,
///     endpoint_url: Some("https://account.r2.cloudflarestorage.com".into()),
///     credentials: Some(S3Credentials::new("AKID", "secret")),
/// };
/// assert_eq!(r2.s3_region()?.as_deref(), Some("auto"));
/// assert!(!format!("{r2:?}").contains("secret\""));
///
/// // A public AWS bucket: no credentials, region required.
/// let public = SourceConfig::S3 {
///     bucket: "open-drives".into(),
///     region: None,
///     endpoint_url: None,
///     credentials: None,
/// };
/// assert!(public.validate().unwrap_err().to_string().contains("region"));
/// # Ok::<(), import_providers::ProviderError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceConfig {
    /// Amazon S3 or an S3-compatible store (Cloudflare R2, MinIO, ...).
    S3 {
        /// The bucket name.
        bucket: String,
        /// The region; required unless `endpoint_url` is given (then `"auto"`).
        region: Option<String>,
        /// The endpoint of an S3-compatible store; `None` for Amazon S3.
        endpoint_url: Option<String>,
        /// Static credentials; `None` reads a public bucket without signing.
        credentials: Option<S3Credentials>,
    },
    /// Google Cloud Storage.
    Gcs {
        /// The bucket name.
        bucket: String,
        /// The service-account key that grants access.
        service_account: GcsServiceAccount,
    },
    /// A Hugging Face Storage Bucket.
    Hf {
        /// `namespace/name`.
        bucket: String,
        /// A Hub token; `None` reads a public bucket.
        token: Option<Secret>,
    },
}

impl SourceConfig {
    /// Which provider this source is on.
    pub fn provider(&self) -> Provider {
        match self {
            SourceConfig::S3 { .. } => Provider::S3,
            SourceConfig::Gcs { .. } => Provider::Gcs,
            SourceConfig::Hf { .. } => Provider::HfBucket,
        }
    }

    /// The bucket (for Hugging Face, `namespace/name`).
    pub fn bucket(&self) -> &str {
        match self {
            SourceConfig::S3 { bucket, .. }
            | SourceConfig::Gcs { bucket, .. }
            | SourceConfig::Hf { bucket, .. } => bucket,
        }
    }

    /// Check that this source is the bucket of some objects: the same
    /// provider and bucket name. A clear [`ProviderError::InvalidConfig`]
    /// otherwise, so that no object is looked for in the wrong bucket.
    ///
    /// ```
    /// use import_core::Provider;
    /// use import_providers::SourceConfig;
    ///
    /// let source = SourceConfig::Hf { bucket: "acme/fleet".into(), token: None };
    /// source.check_serves(Provider::HfBucket, "acme/fleet")?;
    /// let err = source.check_serves(Provider::S3, "fleet").unwrap_err();
    /// assert!(err.to_string().contains("`hf://buckets/acme/fleet/`, but the objects are in `s3://fleet/`"));
    /// # Ok::<(), import_providers::ProviderError>(())
    /// ```
    pub fn check_serves(&self, provider: Provider, bucket: &str) -> Result<(), ProviderError> {
        if self.provider() == provider && self.bucket() == bucket {
            return Ok(());
        }
        Err(ProviderError::invalid(
            format!(
                "the source is `{}{}/`, but the objects are in `{}{bucket}/`",
                self.provider().uri_prefix(),
                self.bucket(),
                provider.uri_prefix()
            ),
            "give the source configuration of the objects' bucket",
        ))
    }

    /// The S3 endpoint URL, when one is set (blank counts as none).
    pub fn s3_endpoint_url(&self) -> Option<&str> {
        match self {
            SourceConfig::S3 { endpoint_url, .. } => non_blank(endpoint_url.as_deref()),
            _ => None,
        }
    }

    /// The region to sign S3 requests for: the given one, or `"auto"` when an
    /// endpoint is given without one. `Ok(None)` for other providers.
    pub fn s3_region(&self) -> Result<Option<String>, ProviderError> {
        let SourceConfig::S3 { region, .. } = self else {
            return Ok(None);
        };
        match s3_region(region.as_deref(), self.s3_endpoint_url()) {
            Some(region) => {
                check_region(region)?;
                Ok(Some(region.to_owned()))
            }
            None => Err(ProviderError::invalid(
                "an S3 source needs a region when no endpoint URL is given",
                "set the integration's region to the bucket's region (for example `us-east-1`), or give the endpoint URL of an S3-compatible store",
            )),
        }
    }

    /// Check everything that can be checked without the network: bucket
    /// names, region, URL syntax, credentials present.
    pub fn validate(&self) -> Result<(), ProviderError> {
        if let Err(problem) = self.provider().check_bucket(self.bucket()) {
            return Err(ProviderError::invalid(
                problem.to_string(),
                "correct the bucket name",
            ));
        }
        match self {
            SourceConfig::S3 { credentials, .. } => {
                self.s3_region()?;
                if let Some(endpoint) = self.s3_endpoint_url() {
                    crate::endpoint::parse_endpoint(endpoint)?;
                }
                if let Some(creds) = credentials {
                    if creds.access_key_id.trim().is_empty() {
                        return Err(ProviderError::invalid(
                            "the S3 access key id is empty",
                            "give both the access key id and the secret access key, or neither for a public bucket",
                        ));
                    }
                    if creds.secret_access_key.is_blank() {
                        return Err(ProviderError::invalid(
                            "the S3 secret access key is empty",
                            "give both the access key id and the secret access key, or neither for a public bucket",
                        ));
                    }
                }
                Ok(())
            }
            SourceConfig::Gcs { .. } => Ok(()),
            SourceConfig::Hf { token, .. } => match token {
                Some(token) if token.is_blank() => Err(ProviderError::invalid(
                    "the Hugging Face token is empty",
                    "give a Hub access token with read access to the bucket, or none for a public bucket",
                )),
                _ => Ok(()),
            },
        }
    }

    /// Every secret of this configuration, to scrub messages with.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        match self {
            SourceConfig::S3 {
                credentials: Some(c),
                ..
            } => {
                let mut out = vec![c.secret_access_key.expose()];
                if let Some(token) = &c.session_token {
                    out.push(token.expose());
                }
                out
            }
            SourceConfig::S3 { .. } => Vec::new(),
            SourceConfig::Gcs {
                service_account, ..
            } => service_account.private_key_lines().collect(),
            SourceConfig::Hf { token, .. } => token.iter().map(Secret::expose).collect(),
        }
    }
}

/// A region is a short token such as `us-east-1` or `auto`
/// ([`is_s3_region`]); it becomes part of a host name.
fn check_region(region: &str) -> Result<(), ProviderError> {
    if is_s3_region(region) {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            format!(
                "`{}` is not an S3 region",
                region.chars().take(40).collect::<String>()
            ),
            "write a region such as `us-east-1` or `eu-west-3` (lower-case letters, digits and `-`), or `auto` for Cloudflare R2",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nAAAABBBBCCCCDDDDEEEEFFFF\n-----END PRIVATE KEY-----\n";

    fn real_key() -> Value {
        serde_json::json!({
            "type": "service_account",
            "project_id": "fleet",
            "private_key_id": "abc123",
            "private_key": PEM,
            "client_email": "importer@fleet.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/importer",
            "universe_domain": "googleapis.com"
        })
    }

    #[test]
    fn real_key_is_accepted_and_redacted() {
        let key = GcsServiceAccount::from_value(real_key()).unwrap();
        assert_eq!(
            key.client_email(),
            Some("importer@fleet.iam.gserviceaccount.com")
        );
        assert_eq!(key.token_uri(), Some("https://oauth2.googleapis.com/token"));
        assert_eq!(key.universe_domain(), Some("googleapis.com"));
        assert_eq!(key.address_fields().count(), 4);
        let debug = format!("{key:?}");
        assert!(!debug.contains("MIIEvQ"), "{debug}");
        assert!(debug.contains("<redacted>"));
        let config = SourceConfig::Gcs {
            bucket: "fleet-videos".into(),
            service_account: key,
        };
        let secrets = config.secrets();
        assert!(
            secrets.iter().any(|s| s.starts_with("MIIEvQ")),
            "{secrets:?}"
        );
        assert!(!format!("{config:?}").contains("MIIEvQ"));
    }

    #[test]
    fn key_problems_name_the_fix() {
        let cases = [
            (serde_json::json!([1]), "not a JSON object"),
            (
                serde_json::json!({"type": "authorized_user"}),
                "not a service-account key",
            ),
            (serde_json::json!({}), "no `\"type\""),
            (
                serde_json::json!({"type": "service_account", "private_key": PEM, "private_key_id": "x"}),
                "no `client_email`",
            ),
            (
                serde_json::json!({"type": "service_account", "client_email": "a@b", "private_key_id": "x", "private_key": "nope"}),
                "not a PEM private key",
            ),
            (
                serde_json::json!({"disable_oauth": "yes"}),
                "`disable_oauth`",
            ),
            (
                serde_json::json!({"disable_oauth": true, "gcs_base_url": "not a url"}),
                "`gcs_base_url`",
            ),
        ];
        for (value, expected) in cases {
            let err = GcsServiceAccount::from_value(value.clone()).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(expected), "{value}: {text}");
            assert!(
                text.contains("service account")
                    || text.contains("remove the field")
                    || text.contains("URL"),
                "{text}"
            );
        }
        let err = GcsServiceAccount::from_json("{not json").unwrap_err();
        assert!(err.to_string().contains("not valid JSON"));
    }

    #[test]
    fn emulator_key_gets_placeholder_identity() {
        let key = GcsServiceAccount::from_json(
            r#"{"gcs_base_url": "http://127.0.0.1:4443", "disable_oauth": true}"#,
        )
        .unwrap();
        assert!(key.disable_oauth());
        let json: Value = serde_json::from_str(key.expose_json()).unwrap();
        assert_eq!(json["client_email"], "");
        assert_eq!(json["private_key_id"], "");
        assert_eq!(json["gcs_base_url"], "http://127.0.0.1:4443");
    }

    #[test]
    fn regions() {
        let s3 = |region: Option<&str>, endpoint: Option<&str>| SourceConfig::S3 {
            bucket: "vids".into(),
            region: region.map(Into::into),
            endpoint_url: endpoint.map(Into::into),
            credentials: None,
        };
        assert_eq!(
            s3(None, Some("https://x.example")).s3_region().unwrap(),
            Some("auto".into())
        );
        assert_eq!(
            s3(Some("eu-west-3"), None).s3_region().unwrap(),
            Some("eu-west-3".into())
        );
        assert_eq!(
            s3(Some("  "), Some("https://x.example"))
                .s3_region()
                .unwrap(),
            Some("auto".into())
        );
        let err = s3(None, Some("  ")).s3_region().unwrap_err().to_string();
        assert!(err.contains("set the integration's region"), "{err}");
        let err = s3(Some("x.evil.example/"), None).validate().unwrap_err();
        assert!(err.to_string().contains("not an S3 region"));
    }

    #[test]
    fn validation() {
        let bad_bucket = SourceConfig::Hf {
            bucket: "no-slash".into(),
            token: None,
        };
        assert!(
            bad_bucket
                .validate()
                .unwrap_err()
                .to_string()
                .contains("correct the bucket name")
        );
        let empty_secret = SourceConfig::S3 {
            bucket: "vids".into(),
            region: Some("us-east-1".into()),
            endpoint_url: None,
            credentials: Some(S3Credentials::new("AK", "")),
        };
        assert!(
            empty_secret
                .validate()
                .unwrap_err()
                .to_string()
                .contains("secret access key is empty")
        );
        let creds =
            S3Credentials::new("AKIDTEST", "s3cr3t-value").with_session_token("tok3n-value");
        let debug = format!("{creds:?}");
        assert!(debug.contains("AKIDTEST"));
        assert!(
            !debug.contains("s3cr3t") && !debug.contains("tok3n"),
            "{debug}"
        );
    }
}
