//! The schema's migrations, applied in order at open; `schema_migrations`
//! records which ran.

use sqlx::AssertSqlSafe;

use super::{Dialect, SqlStore};
use crate::error::StartupError;

impl SqlStore {
    pub(super) async fn migrate(&self) -> Result<(), StartupError> {
        let db = |e: sqlx::Error| StartupError::Database(format!("migrating: {e}"));
        let mut tx = self.pool.begin().await.map_err(db)?;
        if self.dialect == Dialect::Postgres {
            // Replicas starting together migrate one at a time.
            sqlx::query("SELECT pg_advisory_xact_lock(7461636)")
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let version: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
        let migrations = self.dialect.migrations();
        if version as usize > migrations.len() {
            return Err(StartupError::Database(format!(
                "the database is at schema version {version}, newer than this server knows ({}); run a newer vimport",
                migrations.len()
            )));
        }
        for (i, sql) in migrations.iter().enumerate().skip(version as usize) {
            sqlx::raw_sql(AssertSqlSafe(*sql))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(i as i64 + 1)
                .bind(crate::clock::now_ms())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }
}
