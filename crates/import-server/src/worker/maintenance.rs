//! Maintenance: this process's heartbeat and the release of dead processes'
//! rows, expired leases, the pruning of idempotency keys past their
//! retention, and the staging sweep.

use std::sync::Arc;
use std::time::Duration;

use import_core::fields::IDEMPOTENCY_RETENTION;
use tokio::sync::watch;

use crate::state::AppState;

/// This process's heartbeat, and the release of dead processes' rows, every
/// [`crate::instance::beat_every`].
pub(super) async fn beat(state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
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

/// Release expired leases, prune idempotency keys, sweep staging files:
/// every third of a lease (at least every 200 ms).
pub(super) async fn reap(state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let every = (state.config.lease / 3).max(Duration::from_millis(200));
    let mut last_sweep: Option<std::time::Instant> = None;
    loop {
        let now = state.now_ms();
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
            .idem_prune(now - IDEMPOTENCY_RETENTION.as_millis() as i64)
            .await
        {
            tracing::warn!(error = %e, "pruning idempotency keys failed");
        }
        if last_sweep.is_none_or(|at| at.elapsed() >= state.config.staging_sweep) {
            super::sweep::sweep_staging(&state).await;
            last_sweep = Some(std::time::Instant::now());
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}
