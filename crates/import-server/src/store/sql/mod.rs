//! The SQL store: one implementation over `sqlx`'s `Any` driver, for SQLite
//! (the default: one file, WAL mode, nothing to install) and PostgreSQL (several
//! replicas sharing the work). The few statements that differ are chosen by
//! [`Dialect`].

use std::time::Duration;

use async_trait::async_trait;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

use crate::error::StartupError;
use crate::store::{
    FolderStore, IdempotencyStore, InstanceStore, IntegrationStore, JobStore, KeyStore, QueueStore,
    Store, StoreResult,
};
use statements::Statements;

use sqlx::Executor;

mod dialect;
mod folders;
mod idempotency;
mod instances;
mod integrations;
mod jobs;
mod keys;
mod migrate;
mod queue;
mod rows;
mod statements;
mod tally;

pub use dialect::Dialect;

/// Items per statement that takes a list (rows to insert, ids to look up):
/// the list travels as one JSON parameter ([`Dialect::json_list`]), or for
/// new rows on PostgreSQL one text array per column
/// ([`Dialect::insert_videos`]), about 2 MB for 10,000 rows. One parameter
/// instead of one per value: SQLite looks a parameter up by a linear scan of
/// the statement's parameters, so thousands of them cost time quadratic in
/// their number (a 1,000,000-row job took 59 s with 500 rows of 8 parameters
/// per statement).
pub(super) const LIST_CHUNK: usize = 10_000;

/// A job with at least this many rows refreshes PostgreSQL's statistics of
/// `videos` once it is written (see `create_job`).
pub(super) const ANALYZE_AFTER_ROWS: usize = 10_000;

/// How long the first connection to the database may take at start.
const DATABASE_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The SQL implementation of [`Store`].
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    sql: std::sync::Arc<Statements>,
}

fn startup(url: &str) -> impl Fn(sqlx::Error) -> StartupError + '_ {
    move |e| {
        StartupError::Database(format!(
            "opening {}: {}",
            crate::config::redact_url(url),
            crate::config::scrub(&e.to_string(), url)
        ))
    }
}

impl SqlStore {
    /// Open (creating a SQLite file if missing) and migrate the database at
    /// `url`: `sqlite:///path/to/file.db`, `sqlite::memory:`, or
    /// `postgres://user@host:port/database`.
    pub async fn open(url: &str) -> Result<SqlStore, StartupError> {
        Self::open_with_connections(url, None).await
    }

    /// [`SqlStore::open`] with at most `max_connections` pooled connections
    /// instead of the default (8 for a SQLite file, 1 for `:memory:`, 16 for
    /// PostgreSQL). A pool of one makes every statement run on the same
    /// connection, which tests of prepared-statement reuse need.
    pub async fn open_with_connections(
        url: &str,
        max_connections: Option<u32>,
    ) -> Result<SqlStore, StartupError> {
        let Some(dialect) = Dialect::of_url(url) else {
            return Err(StartupError::Config {
                what: format!("database URL `{}`", crate::config::redact_url(url)),
                fix: "use sqlite:///path/to/vimport.db, or postgres://user@host:5432/database for several replicas".into(),
            });
        };
        if let Some(name) = dialect.unknown_parameter(url) {
            return Err(StartupError::Config {
                what: format!("database URL `{}`", crate::config::redact_url(url)),
                fix: format!(
                    "its parameter `{name}` is not one the PostgreSQL driver takes (sslmode, sslrootcert, sslcert, sslkey, host, hostaddr, port, dbname, user, password, application_name, options): remove it; give a password as the URL's password or `password=`, preferably in --database-url-file"
                ),
            });
        }
        if dialect == Dialect::Postgres && url::Url::parse(url).is_err() {
            return Err(StartupError::Config {
                what: format!("database URL `{}`", crate::config::redact_url(url)),
                fix: "it cannot be parsed as a URL: write postgres://user:password@host:5432/database, percent-encoding any `@`, `:` or `/` in the password".into(),
            });
        }
        sqlx::any::install_default_drivers();
        let (connect_url, max) = match dialect {
            Dialect::Sqlite if url.contains(":memory:") => (url.to_owned(), 1),
            Dialect::Sqlite if url.contains('?') => (url.to_owned(), 8),
            Dialect::Sqlite => (format!("{url}?mode=rwc"), 8),
            Dialect::Postgres => (url.to_owned(), 16),
        };
        // One connection first, so that a database that refuses or is not
        // there is reported as it is, at once, instead of as the pool's
        // "timed out" after its acquire timeout.
        match tokio::time::timeout(
            DATABASE_CONNECT_TIMEOUT,
            <sqlx::AnyConnection as sqlx::Connection>::connect(&connect_url),
        )
        .await
        {
            Ok(Ok(conn)) => {
                let _ = sqlx::Connection::close(conn).await;
            }
            Ok(Err(e)) => return Err(startup(url)(e)),
            Err(_) => {
                return Err(StartupError::Database(format!(
                    "opening {}: no answer within {} s: check the host and port, and that the database is running",
                    crate::config::redact_url(url),
                    DATABASE_CONNECT_TIMEOUT.as_secs()
                )));
            }
        }
        let max = max_connections.unwrap_or(max).max(1);
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 15000; PRAGMA foreign_keys = OFF;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect(&connect_url)
            .await
            .map_err(startup(url))?;
        let store = SqlStore {
            pool,
            dialect,
            sql: std::sync::Arc::new(Statements::new(dialect)),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The dialect in use.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }
}

#[async_trait]
impl Store for SqlStore {
    fn keys(&self) -> &dyn KeyStore {
        self
    }
    fn folders(&self) -> &dyn FolderStore {
        self
    }
    fn integrations(&self) -> &dyn IntegrationStore {
        self
    }
    fn jobs(&self) -> &dyn JobStore {
        self
    }
    fn queue(&self) -> &dyn QueueStore {
        self
    }
    fn instances(&self) -> &dyn InstanceStore {
        self
    }
    fn idempotency(&self) -> &dyn IdempotencyStore {
        self
    }

    async fn ready(&self) -> StoreResult<Result<(), String>> {
        let version: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                .fetch_one(&self.pool)
                .await?;
        let expected = self.dialect.migrations().len() as i64;
        Ok(if version == expected {
            Ok(())
        } else {
            Err(format!(
                "the database schema is at version {version}, this server needs {expected}; restart it to migrate, or run the server version that matches"
            ))
        })
    }
}
