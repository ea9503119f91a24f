//! The recorder: rows' outcomes group-committed, a failed write tried again
//! as the outcome policy says, then the row handed back.

use std::sync::Arc;

use import_core::outcome::{OutcomePolicy, Unrecorded, WriteNext};

use crate::error::StoreError;
use crate::state::AppState;
use crate::store::{ClaimedRow, FinishedRow, LeaseOwner, RowOutcome, StoreResult};

/// Rows' outcomes written together (a group commit): an outcome waits while
/// the write before it is in the database, and goes with every other that
/// gathered meanwhile, up to [`FINISH_BATCH`], in one transaction. One copy
/// alone is written at once; many copies share a transaction each time.
pub(super) struct Recorder {
    store: Arc<dyn crate::store::Store>,
    clock: crate::Clock,
    queue: std::sync::Mutex<Vec<Waiting>>,
    writing: tokio::sync::Mutex<()>,
}

/// Rows' outcomes written in one transaction, at most.
const FINISH_BATCH: usize = 64;

type Waiting = (FinishedRow, tokio::sync::oneshot::Sender<StoreResult<bool>>);

impl Recorder {
    pub(super) fn new(store: Arc<dyn crate::store::Store>, clock: crate::Clock) -> Recorder {
        Recorder {
            store,
            clock,
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
                    return Err(StoreError::unavailable(
                        "the write of this outcome was dropped",
                    ));
                }
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
            }
            let batch = self.take();
            if batch.is_empty() {
                // Ours is in a write that a dropped copy started: wait for it.
                drop(writing);
                return answer.await.unwrap_or(Err(StoreError::unavailable(
                    "the write of this outcome was dropped",
                )));
            }
            // In a task of its own: a copy dropped while it writes (its
            // lease lost) does not cut the others' transaction short.
            let store = self.store.clone();
            let _ = tokio::spawn(write_batch(store, self.clock.clone(), batch)).await;
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
async fn write_batch(
    store: Arc<dyn crate::store::Store>,
    clock: crate::Clock,
    batch: Vec<Waiting>,
) {
    let (rows, replies): (Vec<FinishedRow>, Vec<_>) = batch.into_iter().unzip();
    if rows.len() > 1
        && let Ok(done) = store.queue().finish_many(&rows, clock.now_ms()).await
    {
        for (reply, done) in replies.into_iter().zip(done) {
            let _ = reply.send(Ok(done));
        }
        return;
    }
    for (row, reply) in rows.iter().zip(replies) {
        let done = store
            .queue()
            .finish_many(std::slice::from_ref(row), clock.now_ms())
            .await
            .map(|done| done.first().copied().unwrap_or(false));
        let _ = reply.send(done);
    }
}

/// Write a row's outcome. A failed write (the database busy or briefly
/// away) is tried again as the outcome policy says
/// ([`OutcomePolicy::after_failed_write`]: a few times, with a short
/// backoff). If it still fails, [`OutcomePolicy::after_unrecorded`] decides:
/// a value the database refused fails the row with `record_refused` (a
/// reason without outside text, which cannot be refused in turn); otherwise
/// the row goes back to the queue, its attempt given back the first
/// [`MAX_FREE_HAND_BACKS`](import_core::outcome::MAX_FREE_HAND_BACKS) times
/// only, and once its attempts are spent it fails as `interrupted`. When
/// that write fails too, the lease decides (and the attempt counts, as for a
/// crash).
pub(super) async fn record(
    state: &AppState,
    recorder: &Recorder,
    row: &ClaimedRow,
    worker: &LeaseOwner,
    outcome: RowOutcome,
) {
    let policy = outcome_policy(state);
    let uploaded = matches!(outcome, RowOutcome::Uploaded(_));
    let error = match write(recorder, row, worker, outcome, &policy).await {
        Ok(written) => {
            if uploaded {
                tidy_media(state, row, written).await;
            }
            return;
        }
        Err(error) => error,
    };
    let refused = matches!(error, StoreError::Refused(_));
    let attempts = u32::try_from(row.attempts).unwrap_or(u32::MAX);
    let error = error.to_string();
    let error = import_core::quote::outside(&error, import_core::quote::MAX_LOGGED_TEXT_BYTES);
    match policy.after_unrecorded(refused, row.hand_backs, attempts) {
        Unrecorded::Fail(code, reason) => {
            tracing::error!(video = %row.id, job = %row.job_id, %error, code = code.as_str(),
                "could not record the row's outcome; failing the row");
            let failed = RowOutcome::Failed(code, reason);
            if let Err(e) = write(recorder, row, worker, failed, &policy)
                .await
                .map(drop)
            {
                // Not handed back (it would be claimed again at once): its
                // lease expires, and the attempt cap fails it then.
                tracing::warn!(video = %row.id, error = %e,
                    "could not fail the row either; its lease will expire and the attempt cap decide");
            }
        }
        Unrecorded::HandBack { free } => hand_back(state, row, worker, free, &error).await,
    }
}

/// What became of an outcome that was written, or not for good reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    /// The row has this claim's outcome.
    Recorded,
    /// The row was no longer this claim's; `surely` unless an earlier try
    /// of the same write failed without an answer (it may have committed).
    Lost { surely: bool },
}

/// How many earlier claims' media objects a recorded copy removes.
const EARLIER_CLAIMS_TIDIED: u32 = 16;

/// The media objects a copy that was stored leaves behind: once its row is
/// recorded with it, the objects of the row's earlier claims (copies of
/// workers that lost the row, whose writes may have landed late); when the
/// row surely went to another claim, this claim's own. A claim never
/// touches the object of another live claim: each writes its own.
async fn tidy_media(state: &AppState, row: &ClaimedRow, written: Written) {
    let doomed: Vec<u32> = match written {
        Written::Recorded => (row.claim.saturating_sub(EARLIER_CLAIMS_TIDIED)..row.claim)
            .filter(|c| *c >= 1)
            .collect(),
        Written::Lost { surely: true } => vec![row.claim],
        Written::Lost { surely: false } => Vec::new(),
    };
    for claim in doomed {
        let path = crate::media::video_path(&row.id, Some(claim));
        match object_store::ObjectStoreExt::delete(state.media.as_ref(), &path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => {
                tracing::debug!(video = %row.id, claim, error = %e, "removing the media object of another claim failed")
            }
        }
    }
}

/// Write `outcome` with the write's retries: what became of it, or the
/// last error.
async fn write(
    recorder: &Recorder,
    row: &ClaimedRow,
    worker: &LeaseOwner,
    outcome: RowOutcome,
    policy: &OutcomePolicy,
) -> Result<Written, StoreError> {
    let mut failed = 0;
    loop {
        let finished = FinishedRow {
            id: row.id.clone(),
            worker: worker.clone(),
            outcome: outcome.clone(),
        };
        match recorder.finish(finished).await {
            Ok(true) => return Ok(Written::Recorded),
            Ok(false) => {
                tracing::warn!(video = %row.id, "the row was taken from this worker before its outcome was written (its job was cancelled, or its lease expired)");
                return Ok(Written::Lost {
                    surely: failed == 0,
                });
            }
            Err(e) => {
                failed += 1;
                tracing::debug!(video = %row.id, failed, error = %e, "recording a row's outcome failed");
                match policy.after_failed_write(failed) {
                    WriteNext::Retry(wait) => tokio::time::sleep(wait).await,
                    WriteNext::HandBack => return Err(e),
                }
            }
        }
    }
}

/// Hand a row whose outcome could not be written back to the queue.
async fn hand_back(
    state: &AppState,
    row: &ClaimedRow,
    worker: &LeaseOwner,
    free: bool,
    error: &str,
) {
    match state
        .store
        .queue()
        .hand_back(&row.id, worker, state.now_ms(), free)
        .await
    {
        Ok(true) => {
            tracing::warn!(video = %row.id, job = %row.job_id, free, hand_backs = row.hand_backs + 1, %error,
                "could not record the row's outcome; it is queued again");
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

/// The outcome policy of this server's configuration.
pub(super) fn outcome_policy(state: &AppState) -> OutcomePolicy {
    OutcomePolicy::new(state.config.max_attempts, state.config.retry_base)
}
