//! Dispatch: claim rows while there are free places among the copies in
//! flight, and run each copy as a task this dispatcher owns; at a stop the
//! copies get the stop's grace, then what is left is cancelled (and its rows
//! handed back by `Server::shutdown`).

use std::sync::Arc;
use std::time::Duration;

use import_core::outcome::{CopyEnd, RowVerdict};
use import_core::{FailureCode, ImportJobId, object_in_prefix};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::copy::{self, Copied};
use super::lane::SlowLane;
use super::lease::{self, Lease};
use super::recorder::{Recorder, outcome_policy, record};
use super::source::{self, SourceCache};
use super::{probe, sweep};
use crate::ids::new_worker_id;
use crate::metrics::CodeLabel;
use crate::state::AppState;
use crate::store::{ClaimedRow, JobRecord, LeaseOwner, RowOutcome};

/// How long the dispatcher waits for more free places before it claims,
/// when most places are taken: claims then come in batches instead of one
/// row per finished copy.
const CLAIM_GATHER: Duration = Duration::from_millis(5);

/// Claim rows while there are free places among the copies in flight, and
/// start a copy task for each. Claims come in batches (one statement for up
/// to [`crate::store::CLAIM_BATCH`] rows); every claim has a lease owner of its own, so a
/// copy whose row was taken over can never finish the row of a later claim.
pub(super) async fn dispatch(
    state: Arc<AppState>,
    max_in_flight: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut copies = JoinSet::new();
    claim_and_copy(&state, max_in_flight, &mut shutdown, &mut copies).await;
    // The stop's grace for the copies in flight; then the rest are cancelled
    // (dropped at their next await) and waited for.
    let grace = state.config.stop_grace;
    let drained =
        tokio::time::timeout(grace, async { while copies.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::info!(
            copies = copies.len(),
            "copies still running at the end of the stop's grace are cancelled"
        );
        copies.shutdown().await;
    }
}

async fn claim_and_copy(
    state: &Arc<AppState>,
    max_in_flight: usize,
    shutdown: &mut watch::Receiver<bool>,
    copies: &mut JoinSet<()>,
) {
    let places = Arc::new(tokio::sync::Semaphore::new(max_in_flight));
    let slow = Arc::new(tokio::sync::Semaphore::new(max_in_flight));
    let recorder = Arc::new(Recorder::new(
        state.store.clone(),
        state.config.clock.clone(),
    ));
    let cache = state.sources.clone();
    let batch = (crate::store::CLAIM_BATCH as usize).min(max_in_flight);
    loop {
        // Reap the copies that ended, so that the set holds only live ones.
        while copies.try_join_next().is_some() {}
        if *shutdown.borrow() {
            return;
        }
        let first = tokio::select! {
            place = places.clone().acquire_owned() => match place {
                Ok(place) => place,
                Err(_) => return,
            },
            _ = shutdown.changed() => return,
        };
        let mut taken = vec![first];
        // With most places busy, wait a moment for a few more to come free.
        let gather_until = tokio::time::Instant::now() + CLAIM_GATHER;
        while taken.len() < batch {
            if let Ok(place) = places.clone().try_acquire_owned() {
                taken.push(place);
                continue;
            }
            if places.available_permits() + taken.len() > max_in_flight / 2 {
                break;
            }
            match tokio::time::timeout_at(gather_until, places.clone().acquire_owned()).await {
                Ok(Ok(place)) => taken.push(place),
                _ => break,
            }
        }
        let now = state.now_ms();
        let lease = state.config.lease.as_millis() as i64;
        let worker = LeaseOwner::from(new_worker_id(now as u64));
        let claimed = state
            .store
            .queue()
            .claim_many(
                &worker,
                &state.instance.id,
                now,
                now + lease,
                u32::try_from(taken.len()).unwrap_or(u32::MAX),
            )
            .await;
        match claimed {
            Ok(rows) if rows.is_empty() => {
                drop(taken);
                tokio::select! {
                    _ = state.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => return,
                }
            }
            Ok(rows) => {
                state.metrics.claims.inc_by(rows.len() as u64);
                let jobs = jobs_of(state, &rows).await;
                for (row, place) in rows.into_iter().zip(taken.drain(..)) {
                    let job = jobs.get(&row.job_id).cloned();
                    let lane = SlowLane {
                        place: Some(place),
                        permits: slow.clone(),
                        permit: None,
                    };
                    // At a stop the copy has the stop's grace to finish;
                    // then its row is handed back (`Server::shutdown`).
                    copies.spawn({
                        let (state, cache, worker, recorder) = (
                            state.clone(),
                            cache.clone(),
                            worker.clone(),
                            recorder.clone(),
                        );
                        async move {
                            process(&state, &cache, &recorder, &worker, row, job, lane).await;
                        }
                    });
                }
            }
            Err(e) => {
                drop(taken);
                tracing::warn!(error = %e, "claiming rows failed");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}

/// The jobs of a batch of claimed rows, each read once (a batch is mostly
/// rows of one job). A job that cannot be read now is left out: its rows'
/// copies read it themselves.
async fn jobs_of(
    state: &AppState,
    rows: &[ClaimedRow],
) -> std::collections::HashMap<ImportJobId, Arc<JobRecord>> {
    let mut jobs = std::collections::HashMap::new();
    for row in rows {
        if jobs.contains_key(&row.job_id) {
            continue;
        }
        if let Ok(Some(job)) = state.store.jobs().job_by_id(&row.job_id).await {
            jobs.insert(row.job_id.clone(), Arc::new(job));
        }
    }
    jobs
}

async fn process(
    state: &AppState,
    cache: &SourceCache,
    recorder: &Recorder,
    worker: &LeaseOwner,
    row: ClaimedRow,
    job: Option<Arc<JobRecord>>,
    mut lane: SlowLane,
) {
    let started = std::time::Instant::now();
    let heartbeat = lease::keep_renewed(state, &row.id, worker);
    // The lease is kept until the outcome is written, its retries included.
    let work = async {
        let lease = Lease {
            state,
            id: &row.id,
            worker,
        };
        let copy = import(state, cache, &row, job, &lease, &mut lane).await;
        let outcome = outcome_of(state, &row, copy, started);
        record(state, recorder, &row, worker, outcome).await;
    };
    tokio::select! {
        () = work => {}
        () = heartbeat => {
            tracing::warn!(video = %row.id, "the row was taken from this worker while it copied (its job was cancelled, or its lease expired); the copy stops");
        }
    }
}

/// What a copy means for its row: failed for good once the row has used its
/// attempts, else retried after a backoff.
fn outcome_of(
    state: &AppState,
    row: &ClaimedRow,
    copy: CopyEnd,
    started: std::time::Instant,
) -> RowOutcome {
    match &copy {
        CopyEnd::Done(_) => state
            .metrics
            .copy_seconds
            .observe(started.elapsed().as_secs_f64()),
        CopyEnd::Fail(code, _) | CopyEnd::Retry(code, _) => {
            state
                .metrics
                .source_failures
                .get_or_create(&CodeLabel {
                    code: code.as_str().to_owned(),
                })
                .inc();
        }
    }
    let attempts = u32::try_from(row.attempts).unwrap_or(u32::MAX);
    let outcome = match outcome_policy(state).judge(copy, attempts) {
        RowVerdict::Uploaded(meta) => RowOutcome::Uploaded(*meta),
        RowVerdict::Failed(code, reason) => RowOutcome::Failed(code, reason),
        RowVerdict::RetryAfter { wait, reason } => RowOutcome::RetryLater {
            not_before: state.now_ms() + wait.as_millis() as i64,
            error: reason,
        },
    };
    let label = match &outcome {
        RowOutcome::Uploaded(_) => import_core::VideoStatus::Uploaded.as_str(),
        RowOutcome::Failed(..) => import_core::VideoStatus::UploadingFailed.as_str(),
        RowOutcome::RetryLater { .. } => "retry",
    };
    // The object's name comes from a user: quoted and bounded.
    let object =
        import_core::quote::outside(&row.object, import_core::quote::MAX_LOGGED_TEXT_BYTES);
    if let RowOutcome::Failed(_, reason) | RowOutcome::RetryLater { error: reason, .. } = &outcome {
        tracing::info!(video = %row.id, job = %row.job_id, object = %object, outcome = label, reason = %reason, "row finished");
    } else {
        tracing::info!(video = %row.id, job = %row.job_id, object = %object, outcome = label, elapsed_ms = started.elapsed().as_millis() as u64, "row finished");
    }
    outcome
}

/// Import one claimed row: open its source, check the object is inside the
/// integration's prefix and not empty, copy it, probe it.
async fn import(
    state: &AppState,
    cache: &SourceCache,
    row: &ClaimedRow,
    job: Option<Arc<JobRecord>>,
    lease: &Lease<'_>,
    lane: &mut SlowLane,
) -> CopyEnd {
    // This claim's own object: a worker that lost the row writes to its
    // claim's, never to this one.
    let dest = crate::media::video_path(&row.id, Some(row.claim));
    match copy_in(state, cache, row, job, &dest, lease, lane).await {
        Ok((copied, xet_hash)) => {
            let stored = probe::Stored {
                media: state.media.as_ref(),
                dest: &dest,
                memory: &state.copy_memory,
            };
            probe::probe_stored(&stored, copied, xet_hash, lease).await
        }
        Err(end) => end,
    }
}

/// Copy a claimed row's object into the media store: what was stored (and
/// the Hub's Xet hash, for an HF object), or how the copy ended before that.
async fn copy_in(
    state: &AppState,
    cache: &SourceCache,
    row: &ClaimedRow,
    job: Option<Arc<JobRecord>>,
    dest: &object_store::path::Path,
    lease: &Lease<'_>,
    lane: &mut SlowLane,
) -> Result<(Copied, Option<String>), CopyEnd> {
    let found = match job {
        Some(job) => Ok(Some(job)),
        None => state
            .store
            .jobs()
            .job_by_id(&row.job_id)
            .await
            .map(|j| j.map(Arc::new)),
    };
    let job = match found {
        Ok(Some(job)) => job,
        Ok(None) => {
            return Err(CopyEnd::Fail(
                FailureCode::SourceError,
                "the import job no longer exists".into(),
            ));
        }
        Err(e) => {
            return Err(CopyEnd::Retry(
                FailureCode::StorageUnavailable,
                e.to_string(),
            ));
        }
    };
    let source = source::open(
        state,
        cache,
        job.integration_id.as_ref(),
        job.source,
        &job.bucket,
    )
    .await?;
    if let Some(rec) = &source.integration
        && !object_in_prefix(&row.object, rec.prefix.as_deref())
    {
        return Err(CopyEnd::Fail(
            FailureCode::OutsidePrefix,
            format!(
                "`{}` is outside the integration's prefix `{}`; import objects under that prefix, or use an integration that covers this path",
                row.object,
                rec.prefix.as_deref().unwrap_or_default()
            ),
        ));
    }
    let path = import_providers::object_path(&row.object)
        .map_err(|e| CopyEnd::Fail(FailureCode::SourceError, e.to_string()))?;
    // One request per object: the GET's answer gives the size, the ETag
    // and the declared checksums; the body is read only once the size
    // passes the checks below (a refused object's body is dropped unread).
    let got = source
        .store
        .get_opts(&path, object_store::GetOptions::default())
        .await
        .map_err(|e| copy::source_failure(&e))?;
    let xet_hash = got
        .extensions
        .get::<import_providers::HubFileInfo>()
        .and_then(|info| info.xet_hash.clone());
    let head = got.meta.clone();
    if head.size > state.config.max_object_size {
        return Err(CopyEnd::Fail(
            FailureCode::TooLarge,
            format!(
                "the object is {} bytes, larger than this server's limit of {} bytes (--max-object-size); split the recording, or ask the operator to raise the limit",
                head.size, state.config.max_object_size
            ),
        ));
    }
    if head.size == 0 {
        return Err(CopyEnd::Fail(
            FailureCode::Empty,
            import_core::NotMp4::Empty.to_string(),
        ));
    }
    sweep::clear_row_staging(state, row).await;
    // An earlier owner of the row died copying it into the media bucket:
    // abort its upload (the bucket would keep, and bill, its parts), at
    // the object of the claim that started it.
    if let (Some(multipart), Some(old)) = (&state.media_multipart, &row.upload_id) {
        let old_dest = crate::media::video_path(&row.id, row.upload_claim);
        match multipart.abort_multipart(&old_dest, old).await {
            Ok(()) => {
                tracing::info!(video = %row.id, "aborted the media upload an interrupted copy left")
            }
            Err(e) => {
                tracing::debug!(video = %row.id, error = %e, "aborting an earlier media upload failed (it may be gone already)")
            }
        }
    }
    // What the copy holds while the bytes stream, released when it ends
    // whichever way (a large `moov` is read back after, within a
    // reservation of its own).
    let _memory = state
        .copy_memory
        .reserve(import_core::fields::copy_holds(head.size))
        .await;
    let copied = copy::copy_object(
        got,
        state.media.as_ref(),
        state.media_multipart.as_ref(),
        dest,
        &state.metrics.copied_bytes,
        copy::RateFloor {
            bytes_per_sec: state.config.min_source_rate,
            window: state.config.source_rate_window,
        },
        lease,
        lane,
    )
    .await?;
    Ok((copied, xet_hash))
}
