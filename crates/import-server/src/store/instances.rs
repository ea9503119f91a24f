//! The server processes that share a database, by their heartbeats.

use async_trait::async_trait;

use super::{InstanceId, Released, StoreResult};

/// A server process registered in the database (see `instance`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    /// Its id (`in_...`).
    pub id: InstanceId,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: i64,
    /// When it started (ms).
    pub started_at: i64,
    /// Its last heartbeat (ms).
    pub heartbeat_at: i64,
    /// The PostgreSQL advisory lock it holds while it lives.
    pub lock_key: i64,
}

/// The PostgreSQL advisory lock of a live process, held on a connection of
/// its own until dropped ([`Store::hold_instance_lock`]).
pub struct InstanceLock {
    pub(crate) _held: std::sync::Mutex<Box<dyn std::any::Any + Send>>,
}

impl std::fmt::Debug for InstanceLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstanceLock")
    }
}

/// The registry of server processes. Every method is one transaction.
#[async_trait]
pub trait InstanceStore: Send + Sync {
    /// Register a server process.
    async fn register_instance(&self, instance: &InstanceRecord) -> StoreResult<()>;
    /// A process's heartbeat; false when it is no longer registered (it was
    /// thought dead and its rows were queued again).
    async fn beat_instance(&self, id: &InstanceId, now: i64) -> StoreResult<bool>;
    /// Every registered process.
    async fn list_instances(&self) -> StoreResult<Vec<InstanceRecord>>;
    /// Take the advisory lock `lock_key` for the life of this process, on a
    /// connection of its own (PostgreSQL; `None` on SQLite).
    async fn hold_instance_lock(&self, lock_key: i64) -> StoreResult<Option<InstanceLock>>;
    /// Whether nobody holds the advisory lock `lock_key`: its process is
    /// dead (always true on SQLite, which one process serves).
    async fn instance_lock_free(&self, lock_key: i64) -> StoreResult<bool>;
    /// A dead process's rows queued again at once (or, when they used every
    /// attempt, failed as `interrupted`), its unfinished idempotency
    /// reservations and its registration removed.
    async fn release_instance(
        &self,
        id: &InstanceId,
        now: i64,
        max_attempts: u32,
    ) -> StoreResult<Released>;
    /// A stopping process's rows handed back without spending their
    /// attempt, and its registration removed; answers how many.
    async fn hand_back_instance(&self, id: &InstanceId, now: i64) -> StoreResult<u64>;
}
