//! Folders, by name and scope or by id, as their caller may see them.

use async_trait::async_trait;
use import_core::{FolderId, Scope};

use super::SqlStore;
use super::rows::folder_from;
use crate::store::{FolderRecord, FolderStore, Principal, StoreResult};

#[async_trait]
impl FolderStore for SqlStore {
    async fn insert_folder(&self, f: FolderRecord) -> StoreResult<Option<FolderRecord>> {
        let done = sqlx::query(
            "INSERT INTO folders (id, org_id, scope, owner_id, name, description, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(f.id.as_str())
        .bind(&f.org_id)
        .bind(f.scope.as_str())
        .bind(&f.owner_id)
        .bind(&f.name)
        .bind(&f.description)
        .bind(&f.created_by)
        .bind(f.created_at)
        .execute(&self.pool)
        .await?;
        Ok((done.rows_affected() == 1).then_some(f))
    }

    async fn folder_by_name(
        &self,
        who: &Principal,
        name: &str,
        scope: Scope,
    ) -> StoreResult<Option<FolderRecord>> {
        let owner = if scope == Scope::User {
            who.user_id.as_str()
        } else {
            ""
        };
        let row = sqlx::query("SELECT * FROM folders WHERE org_id = $1 AND scope = $2 AND owner_id = $3 AND name = $4")
            .bind(&who.org_id)
            .bind(scope.as_str())
            .bind(owner)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(folder_from).transpose()
    }

    async fn folder_by_id(
        &self,
        who: &Principal,
        id: &FolderId,
    ) -> StoreResult<Option<FolderRecord>> {
        let row = sqlx::query(
            "SELECT * FROM folders WHERE id = $1 AND org_id = $2 AND (scope = $3 OR owner_id = $4)",
        )
        .bind(id.as_str())
        .bind(&who.org_id)
        .bind(Scope::Org.as_str())
        .bind(&who.user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(folder_from).transpose()
    }
}
