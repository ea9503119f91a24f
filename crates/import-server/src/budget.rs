//! Memory budgets: the bytes that request bodies being read (`--body-memory`)
//! and copies in flight (`--copy-memory`) may hold together. Each is a
//! semaphore counted in KiB; a reservation is released when dropped.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A number of bytes that reservations share, counted in KiB. A reservation
/// larger than the whole budget takes all of it (so it still goes through,
/// alone); waiting reservations are served in order.
pub(crate) struct MemoryBudget {
    kib: Arc<Semaphore>,
    total_kib: u32,
}

/// A part of a [`MemoryBudget`], given back when dropped.
#[derive(Debug, Default)]
pub(crate) struct Reservation {
    permits: Option<OwnedSemaphorePermit>,
}

impl Reservation {
    /// The bytes held (a multiple of 1 KiB).
    pub(crate) fn bytes(&self) -> u64 {
        self.permits
            .as_ref()
            .map_or(0, |p| p.num_permits() as u64 * 1024)
    }

    /// Hold `more` as well; released together.
    pub(crate) fn merge(&mut self, more: Reservation) {
        match (&mut self.permits, more.permits) {
            (Some(mine), Some(more)) => mine.merge(more),
            (mine @ None, more) => *mine = more,
            (Some(_), None) => {}
        }
    }
}

impl MemoryBudget {
    /// A budget of `bytes` (at least 1 KiB).
    pub(crate) fn new(bytes: u64) -> MemoryBudget {
        let most = Semaphore::MAX_PERMITS.min(u32::MAX as usize) as u64;
        let total_kib = (bytes / 1024).clamp(1, most) as u32;
        MemoryBudget {
            kib: Arc::new(Semaphore::new(total_kib as usize)),
            total_kib,
        }
    }

    /// The KiB a reservation of `bytes` takes: rounded up, at most the whole
    /// budget; nothing for nothing.
    fn kib_of(&self, bytes: u64) -> u32 {
        bytes.div_ceil(1024).min(u64::from(self.total_kib)) as u32
    }

    /// Reserve `bytes`, waiting while others hold the budget.
    pub(crate) async fn reserve(&self, bytes: u64) -> Reservation {
        let need = self.kib_of(bytes);
        if need == 0 {
            return Reservation::default();
        }
        Reservation {
            permits: self.kib.clone().acquire_many_owned(need).await.ok(),
        }
    }

    /// Reserve `bytes` if the budget gives them within `wait`; `None` if not.
    pub(crate) async fn reserve_within(&self, bytes: u64, wait: Duration) -> Option<Reservation> {
        tokio::time::timeout(wait, self.reserve(bytes)).await.ok()
    }

    /// The bytes of the whole budget.
    pub(crate) fn total(&self) -> u64 {
        u64::from(self.total_kib) * 1024
    }

    /// The bytes not reserved now.
    #[cfg(test)]
    fn available(&self) -> u64 {
        self.kib.available_permits() as u64 * 1024
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[tokio::test]
    async fn a_spent_budget_makes_reservations_wait_and_big_ones_take_it_all() {
        let budget = MemoryBudget::new(48 * MIB);
        let a = budget.reserve(24 * MIB).await;
        let b = budget.reserve(24 * MIB).await;
        assert_eq!(budget.available(), 0);
        let third = budget.reserve(MIB);
        tokio::pin!(third);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut third)
                .await
                .is_err(),
            "a third reservation waits while the budget is spent"
        );
        assert!(
            budget
                .reserve_within(MIB, Duration::from_millis(20))
                .await
                .is_none(),
            "a bounded wait gives up"
        );
        drop(a);
        let small = tokio::time::timeout(Duration::from_secs(1), third)
            .await
            .expect("a reservation goes on once memory is given back");
        assert_eq!(small.bytes(), MIB);
        drop((b, small));
        // Bytes round up to whole KiB; nothing reserves nothing.
        assert_eq!(budget.reserve(1).await.bytes(), 1024);
        assert_eq!(budget.reserve(0).await.bytes(), 0);
        // More than the whole budget takes all of it, once free.
        let tiny = MemoryBudget::new(MIB);
        let all = tiny.reserve(2048 * MIB).await;
        assert_eq!(all.bytes(), MIB);
        assert_eq!(tiny.total(), MIB);
        drop(all);
        // Merged reservations are given back together.
        let mut held = tiny.reserve(512 * 1024).await;
        held.merge(tiny.reserve(256 * 1024).await);
        assert_eq!(held.bytes(), 768 * 1024);
        assert_eq!(tiny.available(), 256 * 1024);
        drop(held);
        assert_eq!(tiny.available(), MIB);
    }
}
