//! Row mappers, by column name: one function per record, and the one decoder
//! of a page of videos ([`rows_from_json`]).

use import_core::wire::{VideoMetadata, VideoStatus};
use import_core::{ChecksumAlgorithm, FailureCode, Provider, Scope};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::StoreError;
use crate::store::{
    ApiKeyRecord, FolderRecord, IntegrationRecord, JobRecord, Principal, RowRecord, StoreResult,
};

pub(super) fn provider(s: &str) -> StoreResult<Provider> {
    Provider::from_wire_name(s).ok_or(StoreError::Corrupt { column: "kind" })
}

pub(super) fn scope(s: &str) -> StoreResult<Scope> {
    s.parse()
        .map_err(|_| StoreError::Corrupt { column: "scope" })
}

/// A typed value of a column this store wrote (an id, a role).
pub(super) fn typed<T: std::str::FromStr>(column: &'static str, value: String) -> StoreResult<T> {
    value.parse().map_err(|_| StoreError::Corrupt { column })
}

/// An optional typed value.
pub(super) fn typed_opt<T: std::str::FromStr>(
    column: &'static str,
    value: Option<String>,
) -> StoreResult<Option<T>> {
    value.map(|v| typed(column, v)).transpose()
}

pub(super) fn folder_from(row: &AnyRow) -> StoreResult<FolderRecord> {
    Ok(FolderRecord {
        id: typed("id", row.try_get("id")?)?,
        org_id: row.try_get("org_id")?,
        scope: scope(row.try_get("scope")?)?,
        owner_id: row.try_get("owner_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The columns [`api_key_from`] reads: never the hash.
pub(super) const API_KEY_COLUMNS: &str =
    "id, user_id, org_id, display_name, created_at, last_used_at, expires_at, revoked_at";

pub(super) fn api_key_from(row: &AnyRow) -> StoreResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        principal: Principal {
            user_id: row.try_get("user_id")?,
            org_id: row.try_get("org_id")?,
            display_name: row.try_get("display_name")?,
        },
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

pub(super) fn integration_from(row: &AnyRow) -> StoreResult<IntegrationRecord> {
    Ok(IntegrationRecord {
        id: typed("id", row.try_get("id")?)?,
        org_id: row.try_get("org_id")?,
        created_by: row.try_get("created_by")?,
        created_by_display_name: row.try_get("created_by_display_name")?,
        name: row.try_get("name")?,
        kind: provider(row.try_get("kind")?)?,
        bucket: row.try_get("bucket")?,
        prefix: row.try_get("prefix")?,
        region: row.try_get("region")?,
        endpoint_url: row.try_get("endpoint_url")?,
        // Absent when only the listed columns were read.
        sealed_secrets: match row.try_get("sealed_secrets") {
            Err(sqlx::Error::ColumnNotFound(_)) => Vec::new(),
            other => other?,
        },
        created_at: row.try_get("created_at")?,
        last_used: row.try_get("last_used")?,
    })
}

pub(super) fn job_from(row: &AnyRow) -> StoreResult<JobRecord> {
    Ok(JobRecord {
        id: typed("id", row.try_get("id")?)?,
        org_id: row.try_get("org_id")?,
        user_id: row.try_get("user_id")?,
        scope: scope(row.try_get("scope")?)?,
        source: provider(row.try_get("source")?)?,
        bucket: row.try_get("bucket")?,
        prefix: row.try_get("prefix")?,
        folder_id: typed_opt("folder_id", row.try_get("folder_id")?)?,
        folder_name: row.try_get("folder_name")?,
        collection: row.try_get("collection")?,
        integration_id: typed_opt("integration_id", row.try_get("integration_id")?)?,
        multi_view: row.try_get::<i64, _>("multi_view")? != 0,
        total: row.try_get("total")?,
        uploaded: row.try_get("uploaded")?,
        failed: row.try_get("failed")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        completed_at: row.try_get("completed_at")?,
        cancelled_at: row.try_get("cancelled_at")?,
    })
}

pub(super) const ROW_COLUMNS: &str = "id, job_id, set_id, role, object, source_uri, status, error, error_code, size_bytes, sha256, duration_s, width, height, codec, verified_checksum, xet_hash";

/// A PostgreSQL array literal of text values (`{"a","b\\"c",NULL}`), for a
/// `$N::text[]` parameter: every element quoted, `"` and `\` escaped with a
/// backslash, `None` as an unquoted `NULL`.
pub(super) fn text_array<'a>(values: impl Iterator<Item = Option<&'a str>>) -> String {
    let mut out = String::from("{");
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        match value {
            None => out.push_str("NULL"),
            Some(text) => {
                out.push('"');
                for c in text.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
        }
    }
    out.push('}');
    out
}

/// A list as the JSON text of a list parameter.
pub(super) fn json_text<T: serde::Serialize>(list: &T) -> StoreResult<String> {
    serde_json::to_string(list).map_err(StoreError::encoding)
}

/// One row of a page of videos: the columns of [`ROW_COLUMNS`], by name and
/// in that order (the page is a JSON array of arrays, [`Dialect::json_rows`],
/// which serde reads into these fields in order; a test holds the two
/// together).
///
/// [`Dialect::json_rows`]: super::Dialect
#[derive(serde::Deserialize)]
#[cfg_attr(test, derive(serde::Serialize, Default))]
struct JsonRow {
    id: String,
    job_id: String,
    set_id: Option<String>,
    role: Option<String>,
    object: String,
    source_uri: String,
    status: String,
    error: Option<String>,
    error_code: Option<String>,
    size_bytes: Option<i64>,
    sha256: Option<String>,
    /// As text with every digit ([`super::Dialect::exact_duration`]).
    duration_s: Option<String>,
    width: Option<i64>,
    height: Option<i64>,
    codec: Option<String>,
    verified_checksum: Option<String>,
    xet_hash: Option<String>,
}

/// The one row decoder: every read of rows selects [`ROW_COLUMNS`] into one
/// JSON array ([`Dialect::json_rows`]) and decodes it here.
pub(super) fn rows_from_json(json: &str) -> StoreResult<Vec<RowRecord>> {
    let rows: Vec<JsonRow> =
        serde_json::from_str(json).map_err(|_| StoreError::Corrupt { column: "videos" })?;
    rows.into_iter().map(JsonRow::into_record).collect()
}

impl JsonRow {
    fn into_record(self) -> StoreResult<RowRecord> {
        Ok(RowRecord {
            id: typed("id", self.id)?,
            job_id: typed("job_id", self.job_id)?,
            set_id: typed_opt("set_id", self.set_id)?,
            role: typed_opt("role", self.role)?,
            object: self.object,
            source_uri: self.source_uri,
            status: VideoStatus::from_wire(&self.status),
            error: self.error,
            error_code: self.error_code.map(|c| FailureCode::from_wire(&c)),
            metadata: VideoMetadata {
                size_bytes: self.size_bytes.map(|v| v as u64),
                sha256: self.sha256,
                duration_s: self
                    .duration_s
                    .map(|d| d.parse::<f64>())
                    .transpose()
                    .map_err(|_| StoreError::Corrupt {
                        column: "duration_s",
                    })?,
                width: self.width.map(|v| v as u32),
                height: self.height.map(|v| v as u32),
                codec: self.codec,
                verified_checksum: self
                    .verified_checksum
                    .map(|c| ChecksumAlgorithm::from_wire(&c)),
                xet_hash: self.xet_hash,
            },
        })
    }
}

/// Text from outside as a row keeps it: control characters escaped (a NUL,
/// which PostgreSQL refuses in `TEXT`, included) and at most
/// [`MAX_STORED_TEXT_BYTES`](import_core::quote::MAX_STORED_TEXT_BYTES).
pub(super) fn stored_text(text: &str) -> String {
    import_core::quote::outside(text, import_core::quote::MAX_STORED_TEXT_BYTES).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`ROW_COLUMNS`] and [`JsonRow`]'s fields are the same names in the
    /// same order: the page is decoded by position.
    #[test]
    fn the_row_columns_are_the_decoders_fields_in_order() {
        let shown = serde_json::to_string(&JsonRow::default()).unwrap();
        let fields: Vec<&str> = shown
            .split('"')
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[1].starts_with(':'))
            .map(|w| w[0])
            .collect();
        let columns: Vec<&str> = ROW_COLUMNS.split(',').map(str::trim).collect();
        assert_eq!(fields, columns);
    }

    #[test]
    fn a_page_decodes_by_position_and_refuses_what_this_store_never_writes() {
        let page = r#"[["vi_2","ij_1",null,null,"a.mp4","s3://b/a.mp4","UPLOADED",null,null,7,"ab","7007.0",320,240,"h264","md5",null]]"#;
        let rows = rows_from_json(page).unwrap();
        assert_eq!(rows[0].id.as_str(), "vi_2");
        assert_eq!(rows[0].status, VideoStatus::Uploaded);
        assert_eq!(rows[0].metadata.duration_s, Some(7007.0));
        assert_eq!(rows[0].metadata.width, Some(320));
        let bad = page.replace("\"7007.0\"", "\"seven\"");
        assert!(matches!(
            rows_from_json(&bad),
            Err(StoreError::Corrupt {
                column: "duration_s"
            })
        ));
        assert!(matches!(
            rows_from_json("[[1]]"),
            Err(StoreError::Corrupt { column: "videos" })
        ));
    }

    #[test]
    fn text_arrays_quote_and_escape_every_element() {
        let values = [Some("a"), None, Some(r#"b"c\d"#)];
        assert_eq!(text_array(values.into_iter()), r#"{"a",NULL,"b\"c\\d"}"#);
    }
}
