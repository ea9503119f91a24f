//! The bytes the copies in flight may buffer together (`--copy-memory`).

use std::sync::Arc;

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
    pub(super) async fn reserve(&self, size: u64) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let need = size
            .min(import_core::fields::COPY_BUFFER_PER_OBJECT)
            .div_ceil(1024)
            .clamp(1, u64::from(self.total_kib)) as u32;
        self.kib.clone().acquire_many_owned(need).await.ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
