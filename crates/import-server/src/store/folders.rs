//! Folders.

use async_trait::async_trait;
use import_core::{FolderId, Scope};

use super::{Principal, StoreResult};

/// A folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderRecord {
    /// Id.
    pub id: FolderId,
    /// Organisation.
    pub org_id: String,
    /// Scope.
    pub scope: Scope,
    /// Owner for `user` folders, empty for `org` folders.
    pub owner_id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Creator.
    pub created_by: String,
    /// Creation time (ms).
    pub created_at: i64,
}

/// Folders, as their callers may see them. Every method is one transaction.
#[async_trait]
pub trait FolderStore: Send + Sync {
    /// Create a folder; `Ok(None)` when the name exists in that scope.
    async fn insert_folder(&self, folder: FolderRecord) -> StoreResult<Option<FolderRecord>>;
    /// A visible folder by name and scope.
    async fn folder_by_name(
        &self,
        who: &Principal,
        name: &str,
        scope: Scope,
    ) -> StoreResult<Option<FolderRecord>>;
    /// A visible folder by id.
    async fn folder_by_id(
        &self,
        who: &Principal,
        id: &FolderId,
    ) -> StoreResult<Option<FolderRecord>>;
}
