//! The import pipeline: rows are claimed from the queue, each object copied
//! from its source into the media store with bounded memory, checked and
//! probed on the way, and its row marked. The parts, and how they meet:
//!
//! | part | file | its job |
//! | --- | --- | --- |
//! | dispatch | [`dispatch`] | claims rows while places are free and owns a task per copy |
//! | the copy | `copy`, `upload`, `probe`, `source` | source to media store, the checks on the way |
//! | the slow lane | `lane` | slow copies out of the way (what copies buffer together is `crate::budget`) |
//! | leases | `lease` | renewals while a copy runs, the fence before the media file changes |
//! | the recorder | `recorder` | outcomes group-committed, written again or handed back |
//! | maintenance | `maintenance`, `sweep` | heartbeat and dead processes, expired leases, pruning, the staging sweep |
//!
//! What a copy's end means for its row is the core's
//! [`import_core::outcome::OutcomePolicy`].

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::AppState;

mod copy;
mod dispatch;
mod lane;
mod lease;
mod maintenance;
mod probe;
mod recorder;
mod source;
mod sweep;
mod upload;

pub(crate) use source::SourceCache;
pub(crate) use sweep::sweep_staging;

/// Start the dispatcher of up to `max_in_flight` copies (none when 0), the
/// heartbeat and the lease reaper; they stop when `shutdown` turns true.
pub(crate) fn spawn(
    state: Arc<AppState>,
    max_in_flight: usize,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let mut handles = Vec::new();
    if max_in_flight > 0 {
        handles.push(tokio::spawn(dispatch::dispatch(
            state.clone(),
            max_in_flight,
            shutdown.clone(),
        )));
    }
    handles.push(tokio::spawn(maintenance::beat(
        state.clone(),
        shutdown.clone(),
    )));
    handles.push(tokio::spawn(maintenance::reap(state, shutdown)));
    handles
}
