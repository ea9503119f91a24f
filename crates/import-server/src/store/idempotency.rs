//! `Idempotency-Key`: a request's reservation and its recorded answer.

use async_trait::async_trait;

use super::{InstanceId, StoreResult};

/// An idempotency key, as its owner scopes it: the same key from two
/// organisations (or two users) names two requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdemKey {
    /// The caller's organisation.
    pub org_id: String,
    /// The caller.
    pub user_id: String,
    /// The `Idempotency-Key` header.
    pub key: String,
}

/// The answer recorded for an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdemAnswer {
    /// Whose key.
    pub key: IdemKey,
    /// The answer's status.
    pub status: u16,
    /// The answer's body.
    pub body: Vec<u8>,
}

/// What the idempotency table says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdemBegin {
    /// First time: serve it, then [`Store::idem_finish`].
    Fresh,
    /// Seen with the same body: answer this again.
    Replay {
        /// The first answer's status.
        status: u16,
        /// The first answer's body.
        body: Vec<u8>,
    },
    /// Seen with another body.
    Conflict,
    /// A request with this key has not answered yet: it is being served by
    /// the process `instance_id`, or that process died (then
    /// [`Store::idem_take_over`]).
    Reserved {
        /// The process serving it.
        instance_id: Option<InstanceId>,
    },
}

/// The idempotency table. Every method is one transaction.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Look up or reserve an idempotency key for the process `instance`.
    async fn idem_begin(
        &self,
        key: &IdemKey,
        fingerprint: &str,
        now: i64,
        instance: &InstanceId,
    ) -> StoreResult<IdemBegin>;
    /// Take over the unfinished reservation of the dead process `from`.
    async fn idem_take_over(
        &self,
        key: &IdemKey,
        from: Option<&InstanceId>,
        instance: &InstanceId,
        now: i64,
    ) -> StoreResult<bool>;
    /// Record the answer of a reserved key.
    async fn idem_finish(&self, key: &IdemKey, status: u16, body: &[u8]) -> StoreResult<()>;
    /// Forget a reserved key (the request failed on our side).
    async fn idem_abort(&self, key: &IdemKey) -> StoreResult<()>;
    /// Forget keys older than `before`.
    async fn idem_prune(&self, before: i64) -> StoreResult<u64>;
}
