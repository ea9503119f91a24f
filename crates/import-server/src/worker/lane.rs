//! The slow lane: copies whose source is slower than the rate floor step
//! aside, so that a few slow or stalled sources never keep the queue waiting.

use std::sync::Arc;
use std::time::Duration;

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
    pub(super) place: Option<tokio::sync::OwnedSemaphorePermit>,
    pub(super) permits: Arc<tokio::sync::Semaphore>,
    /// Held while the copy is in the slow lane.
    pub(super) permit: Option<tokio::sync::OwnedSemaphorePermit>,
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
