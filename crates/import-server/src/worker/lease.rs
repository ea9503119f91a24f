//! Leases: a copy renews its row's lease while it runs, and confirms it (the
//! fence) before it changes the row's media file.

use std::time::Duration;

use import_core::outcome::CopyEnd;
use import_core::{FailureCode, VideoId};

use crate::state::AppState;
use crate::store::{LeaseOwner, StoreResult};

/// Renew `id`'s lease held by `worker` every
/// [`import_core::fields::heartbeat_every`] of the lease, until the row is
/// no longer ours (its job was cancelled, or its lease expired): then return.
pub(super) async fn keep_renewed(state: &AppState, id: &VideoId, worker: &LeaseOwner) {
    let every = import_core::fields::heartbeat_every(state.config.lease);
    loop {
        tokio::time::sleep(every).await;
        match renew(state, id, worker).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => tracing::warn!(error = %e, video = %id, "renewing a lease failed"),
        }
    }
}

/// Extend `id`'s lease held by `worker` for a whole lease period from now;
/// false if the row is no longer ours.
async fn renew(state: &AppState, id: &VideoId, worker: &LeaseOwner) -> StoreResult<bool> {
    let until = state.now_ms() + state.config.lease.as_millis() as i64;
    state.store.queue().renew_lease(id, worker, until).await
}

/// The lease of the row a worker copies, confirmed before the worker changes
/// the row's media file (completes its upload, or deletes what it stored).
pub(super) struct Lease<'a> {
    pub(super) state: &'a AppState,
    pub(super) id: &'a VideoId,
    pub(super) worker: &'a LeaseOwner,
}

/// What a copy must hold before it changes its row's media file: the row's
/// lease ([`Lease`]), confirmed.
pub(super) trait Fence: Sync {
    /// Confirm the row is still this worker's, for at least
    /// [`Fence::safe_for`] from now; else the reason to stop.
    fn confirm(&self) -> futures::future::BoxFuture<'_, Result<(), CopyEnd>>;
    /// How long a media write may take after a confirmation.
    fn safe_for(&self) -> Duration;
    /// Keep the media bucket's upload id with the row (while it is ours).
    fn record_upload<'a>(
        &'a self,
        upload_id: Option<&'a str>,
    ) -> futures::future::BoxFuture<'a, Result<(), CopyEnd>>;
}

impl Fence for Lease<'_> {
    fn confirm(&self) -> futures::future::BoxFuture<'_, Result<(), CopyEnd>> {
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
    ) -> futures::future::BoxFuture<'a, Result<(), CopyEnd>> {
        Box::pin(async move {
            match self
                .state
                .store
                .queue()
                .set_upload_id(self.id, self.worker, upload_id)
                .await
            {
                Ok(true) => Ok(()),
                Ok(false) => Err(CopyEnd::Retry(
                    FailureCode::Interrupted,
                    "the row was taken from this worker before its copy started".into(),
                )),
                Err(e) => Err(CopyEnd::Retry(
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
    async fn renew(&self) -> Result<(), CopyEnd> {
        match renew(self.state, self.id, self.worker).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(CopyEnd::Retry(
                FailureCode::Interrupted,
                "the row was taken from this worker before its copy was stored (its lease expired or its job was cancelled); this copy was dropped".into(),
            )),
            Err(e) => Err(CopyEnd::Retry(
                FailureCode::StorageUnavailable,
                format!("the row's lease could not be confirmed before storing its copy: {e}"),
            )),
        }
    }
}
