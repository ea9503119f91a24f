//! A worker whose write of a row's outcome fails: it writes again at once
//! (a few times, with a short backoff), and if the database still refuses,
//! hands the row back without spending its attempt instead of waiting for the
//! lease to expire, a bounded number of times; a value the database refuses
//! fails the row with `record_refused` instead.
//!
//! The failing database is a wrapper around the real store (SQLite, or
//! PostgreSQL with `VIMPORT_TEST_STORE=postgres`) that refuses the first `n`
//! `finish` calls as a busy database does (`StoreError::Unavailable`) or as
//! one refusing a value does (`StoreError::Refused`); a mock only of the
//! failure, every other call and every successful one runs on the real
//! database. The NUL bytes that PostgreSQL really refuses are in
//! `hostile.rs`, against the real database.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
use async_trait::async_trait;
use import_core::VideoId;
use import_server::StoreError;
use import_server::store::*;

/// The real store, with `finish` refused while `refusals` lasts, and every
/// claim recorded with the attempts it counted.
struct RefusingStore {
    inner: SqlStore,
    refusals: AtomicU32,
    refusal: fn(&'static str) -> StoreError,
    finishes: AtomicU32,
    claims: Mutex<Vec<(VideoId, i64)>>,
}

impl RefusingStore {
    fn new(
        inner: SqlStore,
        refusals: u32,
        refusal: fn(&'static str) -> StoreError,
    ) -> Arc<RefusingStore> {
        Arc::new(RefusingStore {
            inner,
            refusals: AtomicU32::new(refusals),
            refusal,
            finishes: AtomicU32::new(0),
            claims: Mutex::new(Vec::new()),
        })
    }
}

/// Every concern but the queue is the real store's.
#[async_trait]
impl Store for RefusingStore {
    fn keys(&self) -> &dyn KeyStore {
        &self.inner
    }
    fn folders(&self) -> &dyn FolderStore {
        &self.inner
    }
    fn integrations(&self) -> &dyn IntegrationStore {
        &self.inner
    }
    fn jobs(&self) -> &dyn JobStore {
        &self.inner
    }
    fn queue(&self) -> &dyn QueueStore {
        self
    }
    fn instances(&self) -> &dyn InstanceStore {
        &self.inner
    }
    fn idempotency(&self) -> &dyn IdempotencyStore {
        &self.inner
    }
    async fn ready(&self) -> StoreResult<Result<(), String>> {
        self.inner.ready().await
    }
}

/// The real queue, with `finish_many` refused while `refusals` lasts and
/// every claim recorded.
#[async_trait]
impl QueueStore for RefusingStore {
    async fn claim_many(
        &self,
        worker: &LeaseOwner,
        instance: &InstanceId,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedRow>> {
        let rows = self
            .inner
            .claim_many(worker, instance, now, lease_until, limit)
            .await?;
        let mut claims = self.claims.lock().unwrap();
        claims.extend(rows.iter().map(|row| (row.id.clone(), row.attempts)));
        Ok(rows)
    }
    async fn renew_lease(
        &self,
        id: &VideoId,
        worker: &LeaseOwner,
        lease_until: i64,
    ) -> StoreResult<bool> {
        self.inner.renew_lease(id, worker, lease_until).await
    }
    async fn finish_many(&self, rows: &[FinishedRow], now: i64) -> StoreResult<Vec<bool>> {
        self.finishes.fetch_add(1, Ordering::SeqCst);
        let refuse = self
            .refusals
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refuse {
            return Err((self.refusal)("injected"));
        }
        self.inner.finish_many(rows, now).await
    }
    async fn hand_back(
        &self,
        id: &VideoId,
        worker: &LeaseOwner,
        now: i64,
        free: bool,
    ) -> StoreResult<bool> {
        self.inner.hand_back(id, worker, now, free).await
    }
    async fn set_upload_id(
        &self,
        id: &VideoId,
        worker: &LeaseOwner,
        upload_id: Option<&str>,
    ) -> StoreResult<bool> {
        self.inner.set_upload_id(id, worker, upload_id).await
    }
    async fn release_expired(&self, now: i64, max_attempts: u32) -> StoreResult<Released> {
        self.inner.release_expired(now, max_attempts).await
    }
    async fn leased_among(&self, ids: &[VideoId], now: i64) -> StoreResult<Vec<VideoId>> {
        self.inner.leased_among(ids, now).await
    }
    async fn row_gauges(&self, now: i64) -> StoreResult<RowGauges> {
        self.inner.row_gauges(now).await
    }
}

/// Import one good object on a server whose first `refusals` writes of an
/// outcome fail with `refusal`, rows claimed at most `max_attempts` times
/// under `lease`; answers the store, how long the import took and the row.
async fn import_with(
    refusals: u32,
    refusal: fn(&'static str) -> StoreError,
    max_attempts: u32,
    lease: Duration,
) -> (Arc<RefusingStore>, Duration, serde_json::Value) {
    let holder: Arc<Mutex<Option<Arc<RefusingStore>>>> = Arc::default();
    let keep = holder.clone();
    let env = env_with_store(
        |c| {
            // One worker, and (but where said) a lease far longer than the
            // test: a row that waited for its lease would fail the time
            // bounds below.
            c.max_in_flight = 1;
            c.lease = lease;
            c.max_attempts = max_attempts;
        },
        move |inner| {
            let store = RefusingStore::new(inner, refusals, refusal);
            *keep.lock().unwrap() = Some(store.clone());
            store
        },
    )
    .await;
    let store = holder.lock().unwrap().take().unwrap();
    env.s3
        .put(BUCKET, "cam/front.mp4", &mp4(320, 240, 2_000))
        .unwrap();
    let ci = env.s3_integration(SK, None).await;
    let start = Instant::now();
    let job = env
        .upload_s3_keys(BUCKET, &["cam/front.mp4".to_owned()], &ci)
        .await;
    env.wait_job(&job).await;
    let took = start.elapsed();
    let row = env.rows(&job, 10).await.remove(0);
    env.server.shutdown().await;
    (store, took, row)
}

/// [`import_with`] of refusals as a busy database gives them, one attempt,
/// a long lease; the row must end uploaded.
async fn import_with_refusals(refusals: u32) -> (Arc<RefusingStore>, Duration) {
    let (store, took, row) = import_with(
        refusals,
        StoreError::unavailable,
        1,
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(row["status"], "UPLOADED", "{row}");
    (store, took)
}

#[tokio::test]
async fn a_refused_write_is_retried_at_once_without_a_new_claim() {
    let (store, took) = import_with_refusals(2).await;
    // Two refusals, then the third write lands: one claim, three writes.
    assert_eq!(store.finishes.load(Ordering::SeqCst), 3);
    let claims = store.claims.lock().unwrap().clone();
    assert_eq!(claims.len(), 1, "{claims:?}");
    assert_eq!(claims[0].1, 1);
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[tokio::test]
async fn a_write_refused_every_time_hands_the_row_back_without_spending_its_attempt() {
    // The first write and its four retries are refused: the row is handed
    // back, claimed again at once with the same attempt count (1 with
    // `max_attempts = 1`), and recorded by the second claim's write.
    let (store, took) = import_with_refusals(5).await;
    assert_eq!(store.finishes.load(Ordering::SeqCst), 6);
    let claims = store.claims.lock().unwrap().clone();
    assert_eq!(claims.len(), 2, "{claims:?}");
    assert_eq!(claims[0].0, claims[1].0);
    assert_eq!(claims[0].1, 1);
    assert_eq!(claims[1].1, 1, "the hand-back spent an attempt");
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[tokio::test]
async fn a_value_the_database_refuses_fails_the_row_instead_of_copying_it_again() {
    // The outcome's write and its four retries are refused for their value;
    // the sixth write, the row failed with `record_refused`, lands.
    let (store, took, row) = import_with(5, StoreError::refused, 3, Duration::from_secs(120)).await;
    assert_eq!(row["status"], "UPLOADING_FAILED", "{row}");
    assert_eq!(row["error_code"], "record_refused", "{row}");
    assert_eq!(store.claims.lock().unwrap().len(), 1, "copied again");
    assert_eq!(store.finishes.load(Ordering::SeqCst), 6);
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[tokio::test]
async fn a_row_whose_outcome_never_records_is_handed_back_a_bounded_number_of_times() {
    use import_core::outcome::MAX_FREE_HAND_BACKS;
    // Every write fails. The row is handed back for free MAX_FREE_HAND_BACKS
    // times (same attempt), then with its attempt spent until its attempts
    // are used; its last failure cannot be written either, so its 3 s lease
    // expires and the attempt cap fails it as `interrupted`.
    let (store, took, row) =
        import_with(u32::MAX, StoreError::unavailable, 2, Duration::from_secs(3)).await;
    assert_eq!(row["status"], "UPLOADING_FAILED", "{row}");
    assert_eq!(row["error_code"], "interrupted", "{row}");
    let attempts: Vec<i64> = store
        .claims
        .lock()
        .unwrap()
        .iter()
        .map(|(_, a)| *a)
        .collect();
    let mut want = vec![1; MAX_FREE_HAND_BACKS as usize + 1];
    want.push(2);
    assert_eq!(attempts, want, "claims and the attempts each counted");
    println!(
        "a row whose outcome never recorded was claimed {} times and failed after {:.1} s",
        attempts.len(),
        took.as_secs_f64()
    );
}
