//! Fresh PostgreSQL databases for tests and benchmarks (feature `postgres`).
//!
//! The server to create them on is named by `VIMPORT_TEST_POSTGRES_URL`
//! ([`POSTGRES_URL_VAR`]), which `cargo xtask test` sets; without it, the
//! local server with trust authentication ([`DEFAULT_POSTGRES_URL`]).

use sqlx::Connection;

/// The environment variable naming the PostgreSQL server of the tests.
pub const POSTGRES_URL_VAR: &str = "VIMPORT_TEST_POSTGRES_URL";

/// The PostgreSQL server used when [`POSTGRES_URL_VAR`] is not set.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The URL of the database the test databases are created from.
pub fn admin_url() -> String {
    std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// A new empty database called `name` (dropped first if it exists); answers
/// its URL.
///
/// ```no_run
/// # async fn demo() {
/// use import_testkit::postgres::{fresh_database, unique_name};
///
/// let url = fresh_database(&unique_name("vimport_test_")).await;
/// assert!(url.starts_with("postgres://"));
/// # }
/// ```
///
/// # Panics
/// When `name` is not a plain identifier (`a-z`, `0-9`, `_`) or PostgreSQL
/// does not answer.
pub async fn fresh_database(name: &str) -> String {
    assert!(
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "`{name}` is not a plain database name"
    );
    let admin = admin_url();
    let mut conn = sqlx::postgres::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL answers");
    for statement in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut conn)
            .await
            .expect("PostgreSQL creates the database");
    }
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

/// [`fresh_database`] from synchronous code, also inside a tokio runtime:
/// it runs on a thread of its own.
pub fn fresh_database_blocking(name: &str) -> String {
    let name = name.to_owned();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime starts")
            .block_on(fresh_database(&name))
    })
    .join()
    .expect("the database is created")
}

/// A database name that no other test of any run uses: `prefix` and 16 hex digits.
pub fn unique_name(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{prefix}{:016x}", h.finish())
}
