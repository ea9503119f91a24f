//! The import pipeline: workers claim rows, copy each object from its source into
//! the media store with bounded memory, check and probe it, and mark the row.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use futures::StreamExt;
use import_core::wire::VideoMetadata;
use import_core::{SNIFF_LEN, object_in_prefix, sniff_mp4};
use import_providers::{FailureKind, classify, open_source};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

use crate::clock::now_ms;
use crate::crypto::{hex, new_id};
use crate::integrations::source_config;
use crate::state::AppState;
use crate::store::{ClaimedRow, IntegrationRecord, RowOutcome};

/// Bytes per part written to the media store; memory per copy is a few parts.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts in flight per copy.
const PARTS_IN_FLIGHT: usize = 2;
/// Longest wait between two retries of a row.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// How a copy ended, before it is written to the row.
enum Copy {
    Done(VideoMetadata),
    /// Permanent: the row fails with this reason.
    Fail(String),
    /// Transient: retry later.
    Retry(String),
}

/// Sources opened for integrations, reused across rows.
#[derive(Default)]
pub(crate) struct SourceCache {
    stores: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

/// Start `n` workers and the lease reaper; they stop when `shutdown` turns true.
pub(crate) fn spawn(
    state: Arc<AppState>,
    n: usize,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let cache = Arc::new(SourceCache::default());
    let mut handles: Vec<JoinHandle<()>> = (0..n)
        .map(|_| {
            let worker = new_id("wk_", now_ms() as u64);
            tokio::spawn(work(state.clone(), cache.clone(), worker, shutdown.clone()))
        })
        .collect();
    handles.push(tokio::spawn(reap(state, shutdown)));
    handles
}

async fn reap(state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let every = (state.config.lease / 3).max(Duration::from_millis(200));
    loop {
        let now = now_ms();
        match state.store.release_expired(now).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(rows = n, "leases expired; rows queued again");
                state.wake.notify_waiters();
            }
            Err(e) => tracing::warn!(error = %e, "releasing expired leases failed"),
        }
        if let Err(e) = state.store.idem_prune(now - 24 * 3600 * 1000).await {
            tracing::warn!(error = %e, "pruning idempotency keys failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn work(
    state: Arc<AppState>,
    cache: Arc<SourceCache>,
    worker: String,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let now = now_ms();
        let lease = state.config.lease.as_millis() as i64;
        let claimed = state.store.claim(&worker, now, now + lease).await;
        match claimed {
            Ok(Some(row)) => process(&state, &cache, &worker, row).await,
            Ok(None) => {
                tokio::select! {
                    _ = state.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => return,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "claiming a row failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn process(state: &AppState, cache: &SourceCache, worker: &str, row: ClaimedRow) {
    let started = std::time::Instant::now();
    let heartbeat = async {
        let every = (state.config.lease / 3).max(Duration::from_millis(100));
        loop {
            tokio::time::sleep(every).await;
            let until = now_ms() + state.config.lease.as_millis() as i64;
            match state.store.renew_lease(&row.id, worker, until).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => tracing::warn!(error = %e, video = %row.id, "renewing a lease failed"),
            }
        }
    };
    let copy = tokio::select! {
        copy = import(state, cache, &row) => copy,
        () = heartbeat => {
            tracing::warn!(video = %row.id, "lease lost while copying; another worker has the row");
            return;
        }
    };
    let now = now_ms();
    let outcome = match copy {
        Copy::Done(meta) => RowOutcome::Uploaded(meta),
        Copy::Fail(reason) => RowOutcome::Failed(reason),
        Copy::Retry(reason) if row.attempts >= i64::from(state.config.max_attempts) => {
            RowOutcome::Failed(format!(
                "the source kept failing after {} attempts: {reason}",
                row.attempts
            ))
        }
        Copy::Retry(reason) => {
            let exp = u32::try_from(row.attempts.saturating_sub(1))
                .unwrap_or(16)
                .min(16);
            let wait = state
                .config
                .retry_base
                .saturating_mul(1 << exp)
                .min(MAX_BACKOFF);
            RowOutcome::RetryLater {
                not_before: now + wait.as_millis() as i64,
                error: reason,
            }
        }
    };
    let label = match &outcome {
        RowOutcome::Uploaded(_) => "UPLOADED",
        RowOutcome::Failed(_) => "UPLOADING_FAILED",
        RowOutcome::RetryLater { .. } => "retry",
    };
    if let RowOutcome::Failed(reason) | RowOutcome::RetryLater { error: reason, .. } = &outcome {
        tracing::info!(video = %row.id, outcome = label, reason = %reason, "row finished");
    } else {
        tracing::info!(video = %row.id, outcome = label, elapsed_ms = started.elapsed().as_millis() as u64, "row finished");
    }
    match state.store.finish(&row.id, worker, outcome, now).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(video = %row.id, "the row's lease was lost before it was marked; another worker will redo it")
        }
        Err(e) => {
            tracing::warn!(video = %row.id, error = %e, "marking a row failed; its lease will expire and it will be redone")
        }
    }
}

fn media_path(video_id: &str) -> StorePath {
    StorePath::from(format!("videos/{video_id}.mp4"))
}

/// The source of a job and the integration it reads with.
struct Source {
    store: Arc<dyn ObjectStore>,
    integration: Option<IntegrationRecord>,
}

async fn open_cached(
    state: &AppState,
    cache: &SourceCache,
    job_integration: Option<&str>,
    provider: import_core::Provider,
    bucket: &str,
) -> Result<Source, Copy> {
    let integration = match job_integration {
        Some(id) => match state.store.integration_by_id(id).await {
            Ok(Some(rec)) => Some(rec),
            Ok(None) => {
                return Err(Copy::Fail(
                    "the job's integration was deleted; save the integration again and import these objects anew".into(),
                ));
            }
            Err(e) => return Err(Copy::Retry(e.to_string())),
        },
        None => None,
    };
    let config = source_config(provider, bucket, integration.as_ref(), &state.secrets)
        .map_err(|e| Copy::Fail(e.to_string()))?;
    let refused = |e: import_providers::ProviderError| match e {
        import_providers::ProviderError::Unresolvable { .. } => Copy::Retry(e.to_string()),
        _ => Copy::Fail(e.to_string()),
    };
    let key = match &integration {
        Some(rec) => rec.id.clone(),
        None => format!("public:{}:{bucket}", provider.wire_name()),
    };
    let cached = cache.stores.lock().await.get(&key).cloned();
    let store = match cached {
        Some(store) => {
            // Checked at every use, not only when saved: DNS may have changed.
            import_providers::check_source(&config, &state.policy)
                .await
                .map_err(refused)?;
            store
        }
        None => {
            // `open_source` runs the same check before it builds the store.
            let store = open_source(&config, &state.policy, &state.config.hf_endpoint)
                .await
                .map_err(refused)?;
            cache.stores.lock().await.insert(key, store.clone());
            store
        }
    };
    Ok(Source { store, integration })
}

fn source_failure(err: &object_store::Error) -> Copy {
    let failure = classify(err);
    if failure.kind == FailureKind::Transient {
        Copy::Retry(failure.message)
    } else {
        Copy::Fail(failure.message)
    }
}

async fn import(state: &AppState, cache: &SourceCache, row: &ClaimedRow) -> Copy {
    let job = match state.store.job_by_id(&row.job_id).await {
        Ok(Some(job)) => job,
        Ok(None) => return Copy::Fail("the import job no longer exists".into()),
        Err(e) => return Copy::Retry(e.to_string()),
    };
    let Source {
        store: source,
        integration,
    } = match open_cached(
        state,
        cache,
        job.integration_id.as_deref(),
        job.source,
        &job.bucket,
    )
    .await
    {
        Ok(s) => s,
        Err(c) => return c,
    };
    if let Some(rec) = &integration
        && !object_in_prefix(&row.object, rec.prefix.as_deref())
    {
        return Copy::Fail(format!(
            "`{}` is outside the integration's prefix `{}`; import objects under that prefix, or use an integration that covers this path",
            row.object,
            rec.prefix.as_deref().unwrap_or_default()
        ));
    }
    let path = match import_providers::object_path(&row.object) {
        Ok(p) => p,
        Err(e) => return Copy::Fail(e.to_string()),
    };
    let head = match source.head(&path).await {
        Ok(h) => h,
        Err(e) => return source_failure(&e),
    };
    if head.size == 0 {
        return Copy::Fail(import_core::NotMp4::Empty.to_string());
    }
    let got = match source.get(&path).await {
        Ok(g) => g,
        Err(e) => return source_failure(&e),
    };
    let mut stream = got.into_stream();
    let dest = media_path(&row.id);
    let upload = match state.media.put_multipart(&dest).await {
        Ok(u) => u,
        Err(e) => return Copy::Retry(format!("the media store refused the upload: {e}")),
    };
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    let mut hasher = digest::Context::new(&digest::SHA256);
    let mut head_bytes: Vec<u8> = Vec::with_capacity(SNIFF_LEN);
    let mut copied: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = writer.abort().await;
                return source_failure(&e);
            }
        };
        if head_bytes.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - head_bytes.len()).min(chunk.len());
            head_bytes.extend_from_slice(&chunk[..take]);
            if head_bytes.len() == SNIFF_LEN
                && let Err(not_mp4) = sniff_mp4(&head_bytes)
            {
                let _ = writer.abort().await;
                return Copy::Fail(not_mp4.to_string());
            }
        }
        hasher.update(&chunk);
        copied += chunk.len() as u64;
        if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
            return Copy::Retry(format!("writing to the media store failed: {e}"));
        }
        writer.put(chunk);
    }
    if head_bytes.len() < SNIFF_LEN
        && let Err(not_mp4) = sniff_mp4(&head_bytes)
    {
        let _ = writer.abort().await;
        return Copy::Fail(not_mp4.to_string());
    }
    if copied != head.size {
        let _ = writer.abort().await;
        return Copy::Retry(format!(
            "the object changed while it was copied: {copied} bytes read, {} expected",
            head.size
        ));
    }
    if let Err(e) = writer.finish().await {
        return Copy::Retry(format!(
            "finishing the upload to the media store failed: {e}"
        ));
    }
    let sha256 = hex(hasher.finish().as_ref());
    match import_providers::mp4::probe(state.media.as_ref(), &dest, copied).await {
        Ok(probe) => Copy::Done(VideoMetadata {
            size_bytes: Some(copied),
            sha256: Some(sha256),
            duration_s: probe.duration_s,
            width: probe.width,
            height: probe.height,
            codec: probe.codec,
        }),
        Err(import_providers::mp4::ProbeError::Invalid(reason)) => {
            let _ = state.media.delete(&dest).await;
            Copy::Fail(reason)
        }
        Err(e) => Copy::Retry(format!("reading back the stored video failed: {e}")),
    }
}
