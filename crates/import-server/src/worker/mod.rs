//! The import pipeline: workers claim rows, copy each object from its source into
//! the media store with bounded memory, check and probe it, and mark the row.

use std::sync::Arc;
use std::time::Duration;

use import_core::wire::VideoMetadata;
use import_core::{FailureCode, ImportJobId, RetryPolicy, VideoId, object_in_prefix};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::now_ms;
use crate::error::StoreError;
use crate::ids::new_worker_id;
use crate::metrics::CodeLabel;
use crate::state::AppState;
use crate::store::{ClaimedRow, FinishedRow, JobRecord, RowOutcome, StoreResult};

mod copy;
mod probe;
mod source;
mod sweep;

pub(crate) use sweep::sweep_staging;

pub(crate) use source::SourceCache;

/// Longest wait between two retries of a row.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Longest time between two renewals of a row's lease: a copy whose row was
/// taken away (its job cancelled) stops within this.
const MAX_HEARTBEAT: Duration = Duration::from_secs(2);

/// Retries of a failed write of a row's outcome (a busy or briefly
/// unreachable database) before the worker hands the row back.
const RECORD_RETRIES: u32 = 4;
/// The wait before the first of those retries; it doubles each time (0.1, 0.2,
/// 0.4, 0.8 s: 1.5 s in all, well inside any lease).
const RECORD_BACKOFF: Duration = Duration::from_millis(100);

/// How a copy ended, before it is written to the row.
pub(crate) enum Copy {
    /// Stored, with its metadata.
    Done(Box<VideoMetadata>),
    /// Permanent: the row fails with this code and reason.
    Fail(FailureCode, String),
    /// Transient: retry later; the code and reason stand if no attempt is left.
    Retry(FailureCode, String),
}

/// How long a copy runs before it is judged for the slow lane.
pub(crate) const SLOW_AFTER: Duration = Duration::from_secs(5);

/// The slow lane: a copy whose source has delivered less than the rate floor
/// (`--min-source-rate`) on average after [`SLOW_AFTER`] moves out of the
/// way, so that a few slow or stalled sources never keep the queue waiting.
/// It gives its place among the copies in flight back (another row is
/// claimed at once) while the slow copy goes on (until it ends, or the rate
/// floor stops it at the end of its window). The lane holds as many copies
/// as `--max-in-flight`; when it is full, a slow copy keeps its place.
pub(super) struct SlowLane {
    /// The copy's place among the copies in flight, given back when it
    /// moves to the slow lane.
    place: Option<tokio::sync::OwnedSemaphorePermit>,
    permits: Arc<tokio::sync::Semaphore>,
    /// Held while the copy is in the slow lane.
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl SlowLane {
    /// Whether the copy may still move to the slow lane.
    pub(super) fn open(&self) -> bool {
        self.place.is_some()
    }

    /// Move the copy to the slow lane if it has room: its place among the
    /// copies in flight goes to the next row.
    pub(super) fn enter(&mut self) -> bool {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            return false;
        };
        self.permit = Some(permit);
        self.place = None;
        true
    }
}

/// The bytes the copies in flight may buffer together (`--copy-memory`),
/// counted in KiB. A copy reserves what it can hold at once before it reads
/// its source: its object's size, at most
/// [`import_core::fields::COPY_BUFFER_PER_OBJECT`] (a part being filled and
/// two on their way to the media store). Many small copies run side by
/// side; big ones wait their turn for memory instead of growing the process.
pub(crate) struct CopyMemory {
    kib: Arc<tokio::sync::Semaphore>,
    total_kib: u32,
}

impl CopyMemory {
    /// A budget of `bytes` (at least 1 KiB).
    pub(crate) fn new(bytes: u64) -> CopyMemory {
        let most = tokio::sync::Semaphore::MAX_PERMITS.min(u32::MAX as usize) as u64;
        let total_kib = (bytes / 1024).clamp(1, most) as u32;
        CopyMemory {
            kib: Arc::new(tokio::sync::Semaphore::new(total_kib as usize)),
            total_kib,
        }
    }

    /// Reserve the buffer of a copy of `size` bytes; waits while the other
    /// copies hold the budget. A copy larger than the whole budget takes
    /// all of it.
    async fn reserve(&self, size: u64) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let need = size
            .min(import_core::fields::COPY_BUFFER_PER_OBJECT)
            .div_ceil(1024)
            .clamp(1, u64::from(self.total_kib)) as u32;
        self.kib.clone().acquire_many_owned(need).await.ok()
    }
}

/// How long the dispatcher waits for more free places before it claims,
/// when most places are taken: claims then come in batches instead of one
/// row per finished copy.
const CLAIM_GATHER: Duration = Duration::from_millis(5);

/// Start the dispatcher of up to `max_in_flight` copies (none when 0), the
/// heartbeat and the lease reaper; they stop when `shutdown` turns true.
pub(crate) fn spawn(
    state: Arc<AppState>,
    max_in_flight: usize,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let mut handles = Vec::new();
    if max_in_flight > 0 {
        handles.push(tokio::spawn(dispatch(
            state.clone(),
            max_in_flight,
            shutdown.clone(),
        )));
    }
    handles.push(tokio::spawn(beat(state.clone(), shutdown.clone())));
    handles.push(tokio::spawn(reap(state, shutdown)));
    handles
}

/// This process's heartbeat, and the release of dead processes' rows, every
/// [`crate::instance::beat_every`].
async fn beat(state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let every = crate::instance::beat_every(&state.config);
    loop {
        if let Err(e) = state.instance.beat(state.store.as_ref()).await {
            tracing::warn!(error = %e, "this process's heartbeat failed");
        }
        match state
            .instance
            .reap_dead(
                state.store.as_ref(),
                state.config.instance_timeout,
                state.config.max_attempts,
            )
            .await
        {
            Ok(0) => {}
            Ok(_) => state.wake.notify_waiters(),
            Err(e) => tracing::warn!(error = %e, "looking for dead server processes failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn reap(state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let every = (state.config.lease / 3).max(Duration::from_millis(200));
    let mut last_sweep: Option<std::time::Instant> = None;
    loop {
        let now = now_ms();
        match state
            .store
            .queue()
            .release_expired(now, state.config.max_attempts)
            .await
        {
            Ok(released) => {
                if released.requeued > 0 {
                    tracing::warn!(
                        rows = released.requeued,
                        "leases expired; rows queued again"
                    );
                    state.wake.notify_waiters();
                }
                if released.failed > 0 {
                    tracing::warn!(
                        rows = released.failed,
                        "leases expired on rows interrupted on every attempt; they failed as `interrupted`"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %e, "releasing expired leases failed"),
        }
        if let Err(e) = state
            .store
            .idempotency()
            .idem_prune(now - 24 * 3600 * 1000)
            .await
        {
            tracing::warn!(error = %e, "pruning idempotency keys failed");
        }
        if last_sweep.is_none_or(|at| at.elapsed() >= state.config.staging_sweep) {
            sweep::sweep_staging(&state).await;
            last_sweep = Some(std::time::Instant::now());
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Claim rows while there are free places among the copies in flight, and
/// start a copy task for each. Claims come in batches (one statement for up
/// to [`crate::store::CLAIM_BATCH`] rows); every claim has a lease owner of its own, so a
/// copy whose row was taken over can never finish the row of a later claim.
async fn dispatch(state: Arc<AppState>, max_in_flight: usize, mut shutdown: watch::Receiver<bool>) {
    let places = Arc::new(tokio::sync::Semaphore::new(max_in_flight));
    let slow = Arc::new(tokio::sync::Semaphore::new(max_in_flight));
    let recorder = Arc::new(Recorder::new(state.store.clone()));
    let cache = state.sources.clone();
    let batch = (crate::store::CLAIM_BATCH as usize).min(max_in_flight);
    loop {
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
        let now = now_ms();
        let lease = state.config.lease.as_millis() as i64;
        let worker = new_worker_id(now as u64);
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
                let jobs = jobs_of(&state, &rows).await;
                for (row, place) in rows.into_iter().zip(taken.drain(..)) {
                    let job = jobs.get(&row.job_id).cloned();
                    let lane = SlowLane {
                        place: Some(place),
                        permits: slow.clone(),
                        permit: None,
                    };
                    state
                        .in_flight
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    // At a stop the copy has the stop's grace to finish;
                    // then its row is handed back (`Server::shutdown`).
                    tokio::spawn({
                        let (state, cache, worker, recorder) = (
                            state.clone(),
                            cache.clone(),
                            worker.clone(),
                            recorder.clone(),
                        );
                        async move {
                            process(&state, &cache, &recorder, &worker, row, job, lane).await;
                            state
                                .in_flight
                                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
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

/// Rows' outcomes written together (a group commit): an outcome waits while
/// the write before it is in the database, and goes with every other that
/// gathered meanwhile, up to [`FINISH_BATCH`], in one transaction. One copy
/// alone is written at once; many copies share a transaction each time.
pub(super) struct Recorder {
    store: Arc<dyn crate::store::Store>,
    queue: std::sync::Mutex<Vec<Waiting>>,
    writing: tokio::sync::Mutex<()>,
}

/// Rows' outcomes written in one transaction, at most.
const FINISH_BATCH: usize = 64;

type Waiting = (FinishedRow, tokio::sync::oneshot::Sender<StoreResult<bool>>);

impl Recorder {
    fn new(store: Arc<dyn crate::store::Store>) -> Recorder {
        Recorder {
            store,
            queue: std::sync::Mutex::new(Vec::new()),
            writing: tokio::sync::Mutex::new(()),
        }
    }

    /// Write one row's outcome (with whatever others are waiting); whether
    /// the row was still its worker's.
    async fn finish(&self, row: FinishedRow) -> StoreResult<bool> {
        let (reply, mut answer) = tokio::sync::oneshot::channel();
        self.enqueue((row, reply));
        loop {
            let writing = self.writing.lock().await;
            match answer.try_recv() {
                Ok(done) => return done,
                Err(tokio::sync::oneshot::error::TryRecvError::Closed) => {
                    return Err(StoreError::Unavailable(sqlx::Error::WorkerCrashed));
                }
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
            }
            let batch = self.take();
            if batch.is_empty() {
                // Ours is in a write that a dropped copy started: wait for it.
                drop(writing);
                return answer
                    .await
                    .unwrap_or(Err(StoreError::Unavailable(sqlx::Error::WorkerCrashed)));
            }
            // In a task of its own: a copy dropped while it writes (its
            // lease lost) does not cut the others' transaction short.
            let store = self.store.clone();
            let _ = tokio::spawn(write_batch(store, batch)).await;
            drop(writing);
        }
    }

    fn enqueue(&self, waiting: Waiting) {
        match self.queue.lock() {
            Ok(mut queue) => queue.push(waiting),
            Err(poisoned) => poisoned.into_inner().push(waiting),
        }
    }

    fn take(&self) -> Vec<Waiting> {
        let mut queue = match self.queue.lock() {
            Ok(queue) => queue,
            Err(poisoned) => poisoned.into_inner(),
        };
        let n = queue.len().min(FINISH_BATCH);
        queue.drain(..n).collect()
    }
}

/// Write a batch of outcomes in one transaction; if that fails, each alone,
/// so that one row the database refuses never holds back the others.
async fn write_batch(store: Arc<dyn crate::store::Store>, batch: Vec<Waiting>) {
    let (rows, replies): (Vec<FinishedRow>, Vec<_>) = batch.into_iter().unzip();
    if rows.len() > 1
        && let Ok(done) = store.queue().finish_many(&rows, now_ms()).await
    {
        for (reply, done) in replies.into_iter().zip(done) {
            let _ = reply.send(Ok(done));
        }
        return;
    }
    for (row, reply) in rows.iter().zip(replies) {
        let done = store
            .queue()
            .finish_many(std::slice::from_ref(row), now_ms())
            .await
            .map(|done| done.first().copied().unwrap_or(false));
        let _ = reply.send(done);
    }
}

async fn process(
    state: &AppState,
    cache: &SourceCache,
    recorder: &Recorder,
    worker: &str,
    row: ClaimedRow,
    job: Option<Arc<JobRecord>>,
    mut lane: SlowLane,
) {
    let started = std::time::Instant::now();
    let heartbeat = async {
        let every = (state.config.lease / 3)
            .min(MAX_HEARTBEAT)
            .max(Duration::from_millis(100));
        loop {
            tokio::time::sleep(every).await;
            let until = now_ms() + state.config.lease.as_millis() as i64;
            match state
                .store
                .queue()
                .renew_lease(&row.id, worker, until)
                .await
            {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(error = %e, video = %row.id, "renewing a lease failed"),
            }
        }
    };
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
    copy: Copy,
    started: std::time::Instant,
) -> RowOutcome {
    match &copy {
        Copy::Done(_) => state
            .metrics
            .copy_seconds
            .observe(started.elapsed().as_secs_f64()),
        Copy::Fail(code, _) | Copy::Retry(code, _) => {
            state
                .metrics
                .source_failures
                .get_or_create(&CodeLabel {
                    code: code.as_str().to_owned(),
                })
                .inc();
        }
    }
    let outcome = match copy {
        Copy::Done(meta) => RowOutcome::Uploaded(*meta),
        Copy::Fail(code, reason) => RowOutcome::Failed(code, reason),
        Copy::Retry(code, reason) if row.attempts >= i64::from(state.config.max_attempts) => {
            RowOutcome::Failed(
                code,
                format!(
                    "the source kept failing after {} attempts: {reason}",
                    row.attempts
                ),
            )
        }
        Copy::Retry(_, reason) => {
            let retry = u32::try_from(row.attempts.saturating_sub(1)).unwrap_or(u32::MAX);
            let wait = RetryPolicy::default()
                .with_initial_backoff(state.config.retry_base)
                .with_max_backoff(MAX_BACKOFF)
                .backoff(retry);
            RowOutcome::RetryLater {
                not_before: now_ms() + wait.as_millis() as i64,
                error: reason,
            }
        }
    };
    let label = match &outcome {
        RowOutcome::Uploaded(_) => import_core::VideoStatus::Uploaded.as_str(),
        RowOutcome::Failed(..) => import_core::VideoStatus::UploadingFailed.as_str(),
        RowOutcome::RetryLater { .. } => "retry",
    };
    if let RowOutcome::Failed(_, reason) | RowOutcome::RetryLater { error: reason, .. } = &outcome {
        tracing::info!(video = %row.id, outcome = label, reason = %reason, "row finished");
    } else {
        tracing::info!(video = %row.id, outcome = label, elapsed_ms = started.elapsed().as_millis() as u64, "row finished");
    }
    outcome
}

/// Write a row's outcome. A failed write (the database busy or briefly
/// away) is tried again [`RECORD_RETRIES`] times with a short backoff; if it
/// still fails, the row goes back to the queue without spending the attempt
/// its claim counted, so the copy is redone at once instead of after the
/// lease. Only when that write fails too does the lease decide (and the
/// attempt counts, as for a crash).
async fn record(
    state: &AppState,
    recorder: &Recorder,
    row: &ClaimedRow,
    worker: &str,
    outcome: RowOutcome,
) {
    let backoff = RetryPolicy::default()
        .with_initial_backoff(RECORD_BACKOFF)
        .with_jitter(false);
    let mut last_error = None;
    for retry in 0..=RECORD_RETRIES {
        if retry > 0 {
            tokio::time::sleep(backoff.backoff(retry - 1)).await;
        }
        let finished = FinishedRow {
            id: row.id.clone(),
            worker: worker.to_owned(),
            outcome: outcome.clone(),
        };
        match recorder.finish(finished).await {
            Ok(true) => return,
            Ok(false) => {
                tracing::warn!(video = %row.id, "the row was taken from this worker before its outcome was written (its job was cancelled, or its lease expired)");
                return;
            }
            Err(e) => {
                tracing::debug!(video = %row.id, retry, error = %e, "recording a row's outcome failed; trying again");
                last_error = Some(e);
            }
        }
    }
    let error = last_error.map(|e| e.to_string()).unwrap_or_default();
    match state
        .store
        .queue()
        .hand_back(&row.id, worker, now_ms())
        .await
    {
        Ok(true) => {
            tracing::warn!(video = %row.id, tries = RECORD_RETRIES + 1, %error,
                "could not record the row's outcome; it is queued again without spending an attempt");
            state.wake.notify_waiters();
        }
        Ok(false) => {
            tracing::warn!(video = %row.id, "the row's lease was lost before it was marked; another worker will redo it")
        }
        Err(e) => {
            tracing::warn!(video = %row.id, %error, hand_back_error = %e,
                "could not record the row's outcome nor hand the row back; its lease will expire and it will be redone")
        }
    }
}

/// The lease of the row a worker copies, confirmed before the worker changes
/// the row's media file (completes its upload, or deletes what it stored).
pub(super) struct Lease<'a> {
    state: &'a AppState,
    id: &'a VideoId,
    worker: &'a str,
}

/// What a copy must hold before it changes its row's media file: the row's
/// lease ([`Lease`]), confirmed.
pub(super) trait Fence: Sync {
    /// Confirm the row is still this worker's, for at least
    /// [`Fence::safe_for`] from now; else the reason to stop.
    fn confirm(&self) -> futures::future::BoxFuture<'_, Result<(), Copy>>;
    /// How long a media write may take after a confirmation.
    fn safe_for(&self) -> Duration;
    /// Keep the media bucket's upload id with the row (while it is ours).
    fn record_upload<'a>(
        &'a self,
        upload_id: Option<&'a str>,
    ) -> futures::future::BoxFuture<'a, Result<(), Copy>>;
}

impl Fence for Lease<'_> {
    fn confirm(&self) -> futures::future::BoxFuture<'_, Result<(), Copy>> {
        Box::pin(self.renew())
    }

    /// Half a lease, so that the write is over before anyone else may
    /// claim the row.
    fn safe_for(&self) -> Duration {
        self.state.config.lease / 2
    }

    fn record_upload<'a>(
        &'a self,
        upload_id: Option<&'a str>,
    ) -> futures::future::BoxFuture<'a, Result<(), Copy>> {
        Box::pin(async move {
            match self
                .state
                .store
                .queue()
                .set_upload_id(self.id, self.worker, upload_id)
                .await
            {
                Ok(true) => Ok(()),
                Ok(false) => Err(Copy::Retry(
                    FailureCode::Interrupted,
                    "the row was taken from this worker before its copy started".into(),
                )),
                Err(e) => Err(Copy::Retry(
                    FailureCode::StorageUnavailable,
                    format!("the row's upload could not be recorded: {e}"),
                )),
            }
        })
    }
}

impl Lease<'_> {
    /// Renew the lease for a whole lease period, or fail: a worker that lost
    /// the row never touches the media file of the worker that took it over.
    async fn renew(&self) -> Result<(), Copy> {
        let until = now_ms() + self.state.config.lease.as_millis() as i64;
        match self.state.store.queue().renew_lease(self.id, self.worker, until).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(Copy::Retry(
                FailureCode::Interrupted,
                "the row was taken from this worker before its copy was stored (its lease expired or its job was cancelled); this copy was dropped".into(),
            )),
            Err(e) => Err(Copy::Retry(
                FailureCode::StorageUnavailable,
                format!("the row's lease could not be confirmed before storing its copy: {e}"),
            )),
        }
    }
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
) -> Copy {
    match try_import(state, cache, row, job, lease, lane).await {
        Ok(done) | Err(done) => done,
    }
}

async fn try_import(
    state: &AppState,
    cache: &SourceCache,
    row: &ClaimedRow,
    job: Option<Arc<JobRecord>>,
    lease: &Lease<'_>,
    lane: &mut SlowLane,
) -> Result<Copy, Copy> {
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
            return Err(Copy::Fail(
                FailureCode::SourceError,
                "the import job no longer exists".into(),
            ));
        }
        Err(e) => return Err(Copy::Retry(FailureCode::StorageUnavailable, e.to_string())),
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
        return Err(Copy::Fail(
            FailureCode::OutsidePrefix,
            format!(
                "`{}` is outside the integration's prefix `{}`; import objects under that prefix, or use an integration that covers this path",
                row.object,
                rec.prefix.as_deref().unwrap_or_default()
            ),
        ));
    }
    let path = import_providers::object_path(&row.object)
        .map_err(|e| Copy::Fail(FailureCode::SourceError, e.to_string()))?;
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
        return Err(Copy::Fail(
            FailureCode::TooLarge,
            format!(
                "the object is {} bytes, larger than this server's limit of {} bytes (--max-object-size); split the recording, or ask the operator to raise the limit",
                head.size, state.config.max_object_size
            ),
        ));
    }
    if head.size == 0 {
        return Err(Copy::Fail(
            FailureCode::Empty,
            import_core::NotMp4::Empty.to_string(),
        ));
    }
    let dest = crate::media::video_path(&row.id);
    sweep::clear_row_staging(state, &row.id).await;
    // An earlier owner of the row died copying it into the media bucket:
    // abort its upload (the bucket would keep, and bill, its parts).
    if let (Some(multipart), Some(old)) = (&state.media_multipart, &row.upload_id) {
        match multipart.abort_multipart(&dest, old).await {
            Ok(()) => {
                tracing::info!(video = %row.id, "aborted the media upload an interrupted copy left")
            }
            Err(e) => {
                tracing::debug!(video = %row.id, error = %e, "aborting an earlier media upload failed (it may be gone already)")
            }
        }
    }
    // Released when the copy ends, whichever way.
    let _memory = state.copy_memory.reserve(head.size).await;
    let copied = copy::copy_object(
        got,
        state.media.as_ref(),
        state.media_multipart.as_ref(),
        &dest,
        &state.metrics.copied_bytes,
        copy::RateFloor {
            bytes_per_sec: state.config.min_source_rate,
            window: state.config.source_rate_window,
        },
        lease,
        lane,
    )
    .await?;
    Ok(probe::probe_stored(state.media.as_ref(), &dest, copied, xet_hash, lease).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[tokio::test]
    async fn the_copy_memory_budget_makes_big_copies_wait_and_small_ones_fit() {
        let budget = CopyMemory::new(48 * MIB);
        // Two big copies take 24 MiB each: the budget is spent.
        let a = budget.reserve(2048 * MIB).await.unwrap();
        let b = budget.reserve(100 * MIB).await.unwrap();
        let third = budget.reserve(MIB);
        tokio::pin!(third);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut third)
                .await
                .is_err(),
            "a third copy waits while the budget is spent"
        );
        drop(a);
        let small = tokio::time::timeout(Duration::from_secs(1), third)
            .await
            .expect("a copy goes on once memory is given back")
            .unwrap();
        assert_eq!(small.num_permits(), 1024, "a 1 MiB object reserves 1 MiB");
        drop((b, small));
        // 256 KiB objects: 96 fit side by side in 24 MiB.
        let budget = CopyMemory::new(24 * MIB);
        let mut held = Vec::new();
        for _ in 0..96 {
            held.push(budget.reserve(256 * 1024).await.unwrap());
        }
        assert_eq!(budget.kib.available_permits(), 0);
        // An object larger than the whole budget takes all of it, once free.
        drop(held);
        let tiny = CopyMemory::new(MIB);
        let all = tiny.reserve(2048 * MIB).await.unwrap();
        assert_eq!(all.num_permits(), 1024);
    }
}
