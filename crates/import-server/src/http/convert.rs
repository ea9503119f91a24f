//! Store records to wire answers: the one place a record becomes JSON.

use import_core::wire::{
    CloudIntegration, Counts, FailureSummary, Folder, ImportJob, JobStatus, VideoRow, VideoStatus,
};

use crate::clock::rfc3339;
use crate::store::{FolderRecord, IntegrationRecord, JobRecord, Principal, RowRecord};

/// Seconds a client should wait between polls of a running job.
const POLL_AFTER_SECONDS: u64 = 2;

/// A folder as the API shows it.
pub(crate) fn folder(f: FolderRecord) -> Folder {
    Folder {
        id: f.id,
        name: f.name,
        scope: f.scope,
        created_at: rfc3339(f.created_at),
    }
}

/// An integration as the API shows it to `who`: never its secrets.
pub(crate) fn integration(who: &Principal, r: IntegrationRecord) -> CloudIntegration {
    CloudIntegration {
        id: r.id,
        name: r.name,
        kind: r.kind,
        bucket: r.bucket,
        prefix: r.prefix,
        region: r.region,
        endpoint_url: r.endpoint_url,
        created_at: rfc3339(r.created_at),
        last_used: r.last_used.map(rfc3339),
        is_owner: r.created_by == who.user_id,
        created_by: r.created_by,
        created_by_display_name: r.created_by_display_name,
    }
}

/// A job with its counts, readiness and failure summary (the extension fields).
pub(crate) fn job(job: &JobRecord, failures: Vec<FailureSummary>) -> ImportJob {
    let counts = Counts::from_totals(job.total, job.uploaded, job.failed);
    let terminal = job.completed_at.is_some();
    let status = JobStatus::of_job(&counts, terminal, job.cancelled_at.is_some());
    ImportJob {
        job_id: job.id.clone(),
        source: job.source,
        bucket: job.bucket.clone(),
        prefix: job.prefix.clone(),
        folder_id: job.folder_id.clone(),
        folder_name: job.folder_name.clone(),
        total: job.total.max(0) as u64,
        created_at: rfc3339(job.created_at),
        updated_at: Some(rfc3339(job.updated_at)),
        completed_at: job.completed_at.map(rfc3339),
        status: Some(status),
        terminal: Some(terminal),
        counts: Some(counts),
        poll_after_seconds: Some(if terminal { 0 } else { POLL_AFTER_SECONDS }),
        failure_summary: Some(failures),
        multi_view: Some(job.multi_view),
    }
}

/// A listed row; its `error` only when it failed, and the last attempt's
/// reason (`last_error`) while it waits to be tried again.
pub(crate) fn row(row: &RowRecord) -> VideoRow {
    let failed = row.status == VideoStatus::UploadingFailed;
    let waiting = matches!(row.status, VideoStatus::Pending | VideoStatus::Uploading);
    VideoRow {
        video_id: row.id.clone(),
        error: failed.then(|| row.error.clone()).flatten(),
        error_code: failed.then(|| row.error_code.clone()).flatten(),
        status: row.status.clone(),
        import_source_uri: Some(row.source_uri.clone()),
        set_video_id: None,
        views: None,
        failed_views: None,
        last_error: waiting.then(|| row.error.clone()).flatten(),
    }
}
