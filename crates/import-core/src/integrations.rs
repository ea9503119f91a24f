//! Choosing saved integrations for a request.

use crate::uri::Provider;
use crate::wire::CloudIntegration;

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
}
