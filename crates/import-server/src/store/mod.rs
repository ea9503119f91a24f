//! The store: one trait per concern, the way River's driver interface is one
//! contract that every database implements, and one implementation of them
//! all over SQL ([`SqlStore`]: SQLite by default, PostgreSQL for several
//! replicas). Every method is one transaction. Records carry the core's ids
//! and statuses.
//!
//! | concern | trait | records |
//! | --- | --- | --- |
//! | API keys | [`KeyStore`] | [`NewApiKey`], [`ApiKeyRecord`], [`Principal`] |
//! | folders | [`FolderStore`] | [`FolderRecord`] |
//! | integrations | [`IntegrationStore`] | [`IntegrationRecord`] |
//! | jobs and their rows | [`JobStore`] | [`JobRecord`], [`JobQuery`], [`NewVideo`], [`RowRecord`] |
//! | the queue | [`QueueStore`] | [`ClaimedRow`], [`FinishedRow`], [`RowOutcome`], [`Released`], [`RowGauges`] |
//! | server processes | [`InstanceStore`] | [`InstanceRecord`], [`InstanceLock`] |
//! | idempotency | [`IdempotencyStore`] | [`IdemKey`], [`IdemAnswer`], [`IdemBegin`] |
//!
//! A [`Store`] hands out each concern; a wrapper (a test's fault injector)
//! implements only the concern it changes and passes the others through.

use async_trait::async_trait;

use crate::error::StoreError;

mod folders;
mod idempotency;
mod instances;
mod integrations;
mod jobs;
mod keys;
mod queue;
mod sql;

pub use folders::{FolderRecord, FolderStore};
pub use idempotency::{IdemAnswer, IdemBegin, IdemKey, IdempotencyStore};
pub use instances::{InstanceLock, InstanceRecord, InstanceStore};
pub use integrations::{IntegrationRecord, IntegrationStore};
pub use jobs::{JobQuery, JobRecord, JobStore, NewVideo, RowRecord};
pub use keys::{ApiKeyRecord, KeyStore, NewApiKey, Principal};
pub use queue::{
    CLAIM_BATCH, CLAIMABLE_COUNT_CAP, ClaimedRow, FinishedRow, INTERRUPTED_REASON, QueueStore,
    Released, RowGauges, RowOutcome,
};
pub use sql::{Dialect, SqlStore};

/// A string newtype of the store: an id this server makes, typed so that
/// one kind cannot stand for another.
macro_rules! store_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_owned())
            }
        }
    };
}

store_id!(
    /// The owner of one claim's lease (`wk_...`): every claim has its own, so
    /// a copy whose row was taken over can never finish a later claim's row.
    LeaseOwner
);

store_id!(
    /// A server process as the registry knows it (`in_...`).
    InstanceId
);

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// The persistence of the server: each concern's interface, and whether the
/// database is ready.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// API keys.
    fn keys(&self) -> &dyn KeyStore;
    /// Folders.
    fn folders(&self) -> &dyn FolderStore;
    /// Saved integrations.
    fn integrations(&self) -> &dyn IntegrationStore;
    /// Jobs and their rows.
    fn jobs(&self) -> &dyn JobStore;
    /// The queue of rows to import.
    fn queue(&self) -> &dyn QueueStore;
    /// The registry of server processes.
    fn instances(&self) -> &dyn InstanceStore;
    /// The idempotency table.
    fn idempotency(&self) -> &dyn IdempotencyStore;
    /// Whether the database answers and its schema is the one this server
    /// writes; the reason when not.
    async fn ready(&self) -> StoreResult<Result<(), String>>;
}
