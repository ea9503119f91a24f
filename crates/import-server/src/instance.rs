//! Processes that know who is alive.
//!
//! Each server process registers itself in the database (id, host, pid,
//! start, heartbeat) and beats every [`beat_every`]; a claimed row names its
//! process (`videos.instance_id`), and so does an idempotency reservation. A
//! process is dead when its heartbeat is older than `--instance-timeout`, or,
//! on PostgreSQL, at once when the advisory lock it holds on a connection of
//! its own is free (the connection closed with the process, however it
//! died). A live process then queues the dead one's rows again (an
//! interrupted attempt, counted against the attempt cap), drops its
//! unfinished idempotency reservations (their jobs were never committed: a
//! job commits with its answer) and its registration.
//!
//! On SQLite the same holds with a lock file instead of the advisory lock:
//! each process holds `<database>-instances/<id>.lock` (which names its
//! pid, host and start) while it lives, and a process whose file is no longer
//! locked is dead. So a second `vimport serve` on the same SQLite database is
//! safe: it leaves the first one's rows alone while the first lives, and
//! takes them over at once when it dies.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::clock::now_ms;
use crate::config::ServerConfig;
use crate::crypto::random_bytes;
use crate::error::{StartupError, StoreError};
use crate::ids::new_instance_id;
use crate::store::InstanceId;
use crate::store::{InstanceLock, InstanceRecord, Store};

/// This process, registered.
pub(crate) struct Instance {
    /// Its id.
    pub(crate) id: InstanceId,
    record: InstanceRecord,
    /// The PostgreSQL advisory lock held while this process lives.
    lock: std::sync::Mutex<Option<InstanceLock>>,
    /// On SQLite: the folder of the processes' lock files, and this
    /// process's file, held locked until shutdown.
    files: Option<(PathBuf, std::sync::Mutex<Option<std::fs::File>>)>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").field("id", &self.id).finish()
    }
}

/// How often a process beats and looks for dead ones:
/// [`import_core::fields::heartbeat_every`] of `--instance-timeout`.
pub(crate) fn beat_every(config: &ServerConfig) -> Duration {
    import_core::fields::heartbeat_every(config.instance_timeout)
}

impl Instance {
    /// Register this process: its lock file on SQLite, its advisory lock on
    /// PostgreSQL, then its row.
    pub(crate) async fn register(
        config: &ServerConfig,
        store: &dyn Store,
        sqlite: bool,
    ) -> Result<Instance, StartupError> {
        let now = now_ms();
        let id = InstanceId::from(new_instance_id(now as u64));
        let host = host_name();
        let pid = i64::from(std::process::id());
        let files = if sqlite {
            let dir = lock_folder(config);
            let file = lock_file(&dir, id.as_str(), &host, pid, now)?;
            Some((dir, std::sync::Mutex::new(Some(file))))
        } else {
            None
        };
        let lock_key = i64::from_be_bytes(random_bytes::<8>());
        let db = |e: StoreError| StartupError::Database(e.to_string());
        let lock = store
            .instances()
            .hold_instance_lock(lock_key)
            .await
            .map_err(db)?;
        let record = InstanceRecord {
            id: id.clone(),
            host,
            pid,
            started_at: now,
            heartbeat_at: now,
            lock_key,
        };
        store
            .instances()
            .register_instance(&record)
            .await
            .map_err(db)?;
        Ok(Instance {
            id,
            record,
            lock: std::sync::Mutex::new(lock),
            files,
        })
    }

    /// Beat; when this process was thought dead (its registration is gone,
    /// its rows were queued again), register it again.
    pub(crate) async fn beat(&self, store: &dyn Store) -> Result<(), StoreError> {
        if store.instances().beat_instance(&self.id, now_ms()).await? {
            return Ok(());
        }
        tracing::warn!(instance = %self.id, "this process was thought dead (no heartbeat within --instance-timeout, or its database connection broke); its rows were queued again; it registers again");
        let lock = store
            .instances()
            .hold_instance_lock(self.record.lock_key)
            .await?;
        if let Ok(mut held) = self.lock.lock() {
            *held = lock;
        }
        let record = InstanceRecord {
            heartbeat_at: now_ms(),
            ..self.record.clone()
        };
        store.instances().register_instance(&record).await
    }

    /// Release the processes that are dead; answers how many.
    pub(crate) async fn reap_dead(
        &self,
        store: &dyn Store,
        timeout: Duration,
        max_attempts: u32,
    ) -> Result<usize, StoreError> {
        let mut reaped = 0;
        for other in store.instances().list_instances().await? {
            if other.id == self.id || !self.is_dead(store, &other, timeout).await? {
                continue;
            }
            let released = store
                .instances()
                .release_instance(&other.id, now_ms(), max_attempts)
                .await?;
            if let Some((dir, _)) = &self.files {
                let _ = std::fs::remove_file(dir.join(format!("{}.lock", other.id)));
            }
            reaped += 1;
            tracing::warn!(
                instance = %other.id,
                host = %other.host,
                pid = other.pid,
                requeued = released.requeued,
                failed = released.failed,
                "a server process died; its rows are queued again (those interrupted on every attempt failed as `interrupted`)"
            );
        }
        Ok(reaped)
    }

    async fn is_dead(
        &self,
        store: &dyn Store,
        other: &InstanceRecord,
        timeout: Duration,
    ) -> Result<bool, StoreError> {
        if now_ms() - other.heartbeat_at > timeout.as_millis() as i64 {
            return Ok(true);
        }
        match &self.files {
            Some((dir, _)) => Ok(file_lock_free(&dir.join(format!("{}.lock", other.id)))),
            None => store.instances().instance_lock_free(other.lock_key).await,
        }
    }

    /// Whether the process `id` still serves: `Some(wait)` with how long
    /// until it would be declared dead (at least a second) if it is alive,
    /// `None` if it is dead or unknown.
    pub(crate) async fn serving(
        &self,
        store: &dyn Store,
        id: Option<&InstanceId>,
        timeout: Duration,
    ) -> Result<Option<Duration>, StoreError> {
        let Some(id) = id else { return Ok(None) };
        if *id == self.id {
            return Ok(Some(Duration::from_secs(1)));
        }
        let Some(other) = store
            .instances()
            .list_instances()
            .await?
            .into_iter()
            .find(|i| i.id == *id)
        else {
            return Ok(None);
        };
        if self.is_dead(store, &other, timeout).await? {
            return Ok(None);
        }
        let left = other.heartbeat_at + timeout.as_millis() as i64 - now_ms();
        Ok(Some(Duration::from_millis(left.max(1000) as u64)))
    }

    /// Whether another live process may share the database: on SQLite, any
    /// other registered process whose lock file is held.
    pub(crate) async fn alone(
        &self,
        store: &dyn Store,
        timeout: Duration,
    ) -> Result<bool, StoreError> {
        for other in store.instances().list_instances().await? {
            if other.id != self.id && !self.is_dead(store, &other, timeout).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Let go of this process's locks (at shutdown, after its rows were
    /// handed back and its row removed).
    pub(crate) fn release_locks(&self) {
        if let Some((dir, file)) = &self.files {
            if let Ok(mut file) = file.lock() {
                file.take();
            }
            let _ = std::fs::remove_file(dir.join(format!("{}.lock", self.id)));
        }
        if let Ok(mut lock) = self.lock.lock() {
            lock.take();
        }
    }
}

/// The machine's name, for the registry and the lock file.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The folder of the processes' lock files of a SQLite database: beside
/// the database file (`vimport.db-instances`), or in the data folder.
fn lock_folder(config: &ServerConfig) -> PathBuf {
    match config.sqlite_file() {
        Some(file) => {
            let mut folder = file.into_os_string();
            folder.push("-instances");
            PathBuf::from(folder)
        }
        None => config.data_dir.join("instances"),
    }
}

/// Create and lock this process's lock file, naming it inside.
fn lock_file(
    dir: &Path,
    id: &str,
    host: &str,
    pid: i64,
    now: i64,
) -> Result<std::fs::File, StartupError> {
    let path = dir.join(format!("{id}.lock"));
    let io = |what: &str, e: std::io::Error| StartupError::Io {
        what: format!("{what} {}", path.display()),
        source: e,
    };
    std::fs::create_dir_all(dir).map_err(|e| io("creating the folder of", e))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(|e| io("opening", e))?;
    file.try_lock().map_err(|e| {
        io(
            "locking",
            match e {
                std::fs::TryLockError::Error(e) => e,
                std::fs::TryLockError::WouldBlock => {
                    std::io::Error::other("held by another process")
                }
            },
        )
    })?;
    let started = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + Duration::from_millis(now.max(0) as u64),
    );
    write!(
        file,
        "pid {pid} on {host}, started {started}, instance {id}"
    )
    .map_err(|e| io("writing", e))?;
    Ok(file)
}

/// Whether nobody holds the lock file at `path` (missing counts as free):
/// its process is dead.
fn file_lock_free(path: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new().write(true).open(path) else {
        return true;
    };
    // Dropping the file lets the lock go again.
    matches!(file.try_lock(), Ok(()))
}
