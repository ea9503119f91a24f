//! What the command line does to a server's data folder or database without
//! a running server: API keys (create, list, revoke), and opening the store
//! (which migrates it).

use std::sync::Arc;

use crate::clock::now_ms;
use crate::config::ServerConfig;
use crate::crypto::{hash_api_key, new_api_key};
use crate::error::StartupError;
use crate::store::{NewApiKey, Principal, SqlStore, Store};

/// Open the store a configuration names.
pub(crate) async fn open_store(config: &ServerConfig) -> Result<Arc<dyn Store>, StartupError> {
    Ok(Arc::new(SqlStore::open(&config.database_url()).await?))
}

/// Create an API key for a user of an organisation; answers the key, which is
/// stored only as a hash.
pub async fn create_api_key(
    config: &ServerConfig,
    user_id: &str,
    org_id: &str,
    display_name: Option<&str>,
) -> Result<String, StartupError> {
    create_api_key_expiring(config, user_id, org_id, display_name, None).await
}

/// [`create_api_key`] with an expiry: the key is refused (`401`, naming the
/// time) once `expires_in` has passed.
pub async fn create_api_key_expiring(
    config: &ServerConfig,
    user_id: &str,
    org_id: &str,
    display_name: Option<&str>,
    expires_in: Option<std::time::Duration>,
) -> Result<String, StartupError> {
    ensure_data_dir(config)?;
    let store = open_store(config).await?;
    insert_key(store.as_ref(), user_id, org_id, display_name, expires_in).await
}

/// Every API key of the server's store, oldest first (never a key or its
/// hash): what `vimport keys list` shows.
pub async fn list_api_keys(
    config: &ServerConfig,
) -> Result<Vec<crate::store::ApiKeyRecord>, StartupError> {
    ensure_data_dir(config)?;
    let store = open_store(config).await?;
    store
        .keys()
        .list_api_keys()
        .await
        .map_err(|e| StartupError::Database(e.to_string()))
}

/// What revoking a key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// It is revoked now: every replica refuses it from its next request.
    Now,
    /// It was revoked before.
    Already,
    /// No key has that id.
    Unknown,
}

/// Revoke the API key `id` (as `vimport keys list` shows it). Every replica
/// reads keys from the database on each request, so the key is refused at
/// once everywhere.
pub async fn revoke_api_key(config: &ServerConfig, id: &str) -> Result<Revoked, StartupError> {
    ensure_data_dir(config)?;
    let store = open_store(config).await?;
    let db = |e: crate::StoreError| StartupError::Database(e.to_string());
    if store
        .keys()
        .revoke_api_key(id.trim(), now_ms())
        .await
        .map_err(db)?
    {
        return Ok(Revoked::Now);
    }
    let known = store
        .keys()
        .list_api_keys()
        .await
        .map_err(db)?
        .iter()
        .any(|k| k.id == id.trim());
    Ok(if known {
        Revoked::Already
    } else {
        Revoked::Unknown
    })
}

pub(crate) async fn insert_key(
    store: &dyn Store,
    user_id: &str,
    org_id: &str,
    display_name: Option<&str>,
    expires_in: Option<std::time::Duration>,
) -> Result<String, StartupError> {
    for (what, value) in [("user", user_id), ("org", org_id)] {
        if value.trim().is_empty() || value.len() > 128 || value.chars().any(char::is_control) {
            return Err(StartupError::Config {
                what: format!("{what} id `{value}`"),
                fix: "use 1 to 128 characters without control characters".into(),
            });
        }
    }
    let display_name = import_core::fields::optional_text(
        "name",
        display_name,
        import_core::fields::MAX_NAME_CHARS,
        import_core::fields::Measure::Chars,
    )
    .map_err(|e| StartupError::Config {
        what: "--name".into(),
        fix: e.to_string(),
    })?;
    let key = new_api_key();
    let key_hash = hash_api_key(&key);
    let created_at = now_ms();
    store
        .keys()
        .create_api_key(NewApiKey {
            id: format!("ak_{}", &key_hash[..16]),
            expires_at: expires_in.map(|d| {
                created_at.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            }),
            key_hash,
            key_prefix: key[..11].to_owned(),
            principal: Principal {
                user_id: user_id.trim().to_owned(),
                org_id: org_id.trim().to_owned(),
                display_name: display_name.map(str::to_owned),
            },
            created_at,
        })
        .await
        .map_err(|e| StartupError::Database(e.to_string()))?;
    Ok(key)
}

pub(crate) fn ensure_data_dir(config: &ServerConfig) -> Result<(), StartupError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| StartupError::Io {
        what: format!("creating the data folder {}", config.data_dir.display()),
        source: e,
    })?;
    create_private(config.sqlite_file())
}

/// Create a database file readable by its owner only (0600) before the
/// driver opens it (SQLite gives its `-wal` and `-shm` files the same mode);
/// an existing file is left as it is.
fn create_private(file: Option<std::path::PathBuf>) -> Result<(), StartupError> {
    let Some(file) = file else { return Ok(()) };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // A folder that does not exist yet is the driver's to report.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StartupError::Io {
            what: format!("creating the database file {}", file.display()),
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_new_database_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let config = ServerConfig::new(dir.path());
        ensure_data_dir(&config).unwrap();
        let mode = std::fs::metadata(dir.path().join("vimport.db"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
