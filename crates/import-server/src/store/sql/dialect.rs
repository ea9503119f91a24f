//! The differences between the two dialects, in one place: every statement
//! that is not written the same way for SQLite and PostgreSQL asks [`Dialect`].

use super::rows::ROW_COLUMNS;

/// Schema migrations of each dialect, applied in order; the table
/// `schema_migrations` records which ran.
const SQLITE_MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/sqlite/0001_initial.sql"),
    include_str!("../../../migrations/sqlite/0002_leaner_video_indexes.sql"),
    include_str!("../../../migrations/sqlite/0003_failure_codes_and_cancel.sql"),
    include_str!("../../../migrations/sqlite/0004_verified_checksum.sql"),
    include_str!("../../../migrations/sqlite/0005_instances.sql"),
    include_str!("../../../migrations/sqlite/0006_xet_hash.sql"),
    include_str!("../../../migrations/sqlite/0007_key_management.sql"),
    include_str!("../../../migrations/sqlite/0008_fair_turns.sql"),
    include_str!("../../../migrations/sqlite/0009_hand_backs.sql"),
    include_str!("../../../migrations/sqlite/0010_claim_tokens.sql"),
];
const POSTGRES_MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/postgres/0001_initial.sql"),
    include_str!("../../../migrations/postgres/0002_leaner_video_indexes.sql"),
    include_str!("../../../migrations/postgres/0003_failure_codes_and_cancel.sql"),
    include_str!("../../../migrations/postgres/0004_verified_checksum.sql"),
    include_str!("../../../migrations/postgres/0005_instances.sql"),
    include_str!("../../../migrations/postgres/0006_xet_hash.sql"),
    include_str!("../../../migrations/postgres/0007_key_management.sql"),
    include_str!("../../../migrations/postgres/0008_fair_turns.sql"),
    include_str!("../../../migrations/postgres/0009_hand_backs.sql"),
    include_str!("../../../migrations/postgres/0010_claim_tokens.sql"),
];

/// Which SQL the store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// One SQLite file; one server process.
    Sqlite,
    /// PostgreSQL; any number of server processes.
    Postgres,
}

impl Dialect {
    /// The dialect of a database URL, if it is one this store speaks.
    pub fn of_url(url: &str) -> Option<Dialect> {
        if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Dialect::Postgres)
        } else {
            None
        }
    }

    /// The first query parameter of a PostgreSQL URL that its driver does
    /// not take, if any, by name only: sqlx 0.9 logs an unknown parameter
    /// with its value (a `sslpassword=` would be printed), so the server
    /// refuses such a URL before the driver sees it.
    pub(super) fn unknown_parameter(self, url: &str) -> Option<String> {
        /// The parameters of `sqlx-postgres` 0.9's `PgConnectOptions::parse_from_url`.
        const TAKEN: &[&str] = &[
            "sslmode",
            "ssl-mode",
            "sslrootcert",
            "ssl-root-cert",
            "ssl-ca",
            "sslcert",
            "ssl-cert",
            "sslkey",
            "ssl-key",
            "statement-cache-capacity",
            "host",
            "hostaddr",
            "port",
            "dbname",
            "user",
            "password",
            "application_name",
            "options",
        ];
        if self != Dialect::Postgres {
            return None;
        }
        let parsed = url::Url::parse(url).ok()?;
        parsed
            .query_pairs()
            .map(|(k, _)| k.into_owned())
            .find(|k| !TAKEN.contains(&k.as_str()))
    }

    pub(super) fn migrations(self) -> &'static [&'static str] {
        match self {
            Dialect::Sqlite => SQLITE_MIGRATIONS,
            Dialect::Postgres => POSTGRES_MIGRATIONS,
        }
    }

    /// `IN` the ids `select` picks, the subquery run once: on PostgreSQL
    /// an array built by an init plan (`= ANY(ARRAY(...))`, the usual form
    /// of a `SKIP LOCKED` batch claim); SQLite runs an `IN` list once.
    pub(super) fn picked(self, select: &str) -> String {
        match self {
            Dialect::Sqlite => format!("IN ({select})"),
            Dialect::Postgres => format!("= ANY(ARRAY({select}))"),
        }
    }

    /// Keeps a correlated `EXISTS` a probe per row. PostgreSQL otherwise
    /// may plan it as a hashed subplan, which reads every video once per
    /// claim (it did for the claim's view-set rule: a sequential scan of
    /// `videos` for each batch); a subquery with an `OFFSET` is never turned
    /// into one, so each row probes `videos_set` instead.
    pub(super) fn per_row_subquery(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "OFFSET 0",
        }
    }

    /// Row locking for a claim: replicas skip rows another one is claiming.
    pub(super) fn claim_lock(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }

    /// A page of rows as one JSON array of arrays, in the order of
    /// [`ROW_COLUMNS`]. `duration_s` travels as text with every digit: SQLite
    /// writes a REAL into JSON with 15 significant digits only, which would
    /// change a duration such as 7007/600 on its way out.
    pub(super) fn json_rows(self) -> String {
        let columns = ROW_COLUMNS.replace("duration_s", self.exact_duration());
        match self {
            Dialect::Sqlite => format!("json_group_array(json_array({columns}))"),
            Dialect::Postgres => {
                format!("COALESCE(json_agg(json_build_array({columns}) ORDER BY id), '[]')::text")
            }
        }
    }

    /// The text values of a JSON array parameter (`$N`) as a subquery, for
    /// `IN` (the one way a list of ids reaches a statement).
    pub(super) fn json_list(self, param: &str) -> String {
        match self {
            Dialect::Sqlite => format!("(SELECT value FROM json_each({param}))"),
            Dialect::Postgres => format!("(SELECT json_array_elements_text({param}::json))"),
        }
    }

    /// `INSERT INTO videos` of a chunk of new rows: `$1` the job, `$2` the
    /// status, `$3` the time, then the rows' `id, set_id, role, object,
    /// source_uri` as a list: one JSON array of arrays in `$4`
    /// on SQLite, a text array per column in `$4`..`$8` on PostgreSQL, whose
    /// `unnest` reads them in half the time `json_array_elements` takes;
    /// last the first row's turn (`$5` on SQLite, `$9` on PostgreSQL), the
    /// others following in list order.
    pub(super) fn insert_videos(self) -> String {
        let head = "INSERT INTO videos (id, job_id, set_id, role, object, source_uri, status, updated_at, turn)";
        match self {
            Dialect::Sqlite => format!(
                "{head} SELECT value ->> 0, $1, value ->> 1, value ->> 2, value ->> 3, value ->> 4, $2, $3, $5 + key
                 FROM json_each($4)"
            ),
            Dialect::Postgres => format!(
                "{head} SELECT r.id, $1, r.set_id, r.role, r.object, r.source_uri, $2, $3, $9 + r.ord - 1
                 FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY
                   AS r(id, set_id, role, object, source_uri, ord)"
            ),
        }
    }

    /// `UPDATE videos` of listed rows (`$2`, a JSON array of ids) to
    /// consecutive turns from `$1`, in list order.
    pub(super) fn set_turns(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "UPDATE videos SET turn = $1 + j.key FROM json_each($2) AS j WHERE videos.id = j.value"
            }
            Dialect::Postgres => {
                "UPDATE videos SET turn = $1 + j.ord - 1 FROM json_array_elements_text($2::json) WITH ORDINALITY AS j(id, ord) WHERE videos.id = j.id"
            }
        }
    }

    /// Row locking of an organisation's turn counter.
    pub(super) fn lock_turns(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// `duration_s` as text that parses back to the same `f64` (17
    /// significant digits on SQLite; PostgreSQL's shortest exact form).
    pub(super) fn exact_duration(self) -> &'static str {
        match self {
            Dialect::Sqlite => {
                "CASE WHEN duration_s IS NULL THEN NULL ELSE printf('%!.17g', duration_s) END"
            }
            Dialect::Postgres => "duration_s::text",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A migration as a schema: comments and spacing dropped, and the
    /// dialects' spellings of one type (or of byte-order text keys, which
    /// SQLite's TEXT already is) made one.
    fn schema(sql: &str) -> String {
        let code: String = sql
            .lines()
            .map(|line| line.split("--").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ");
        code.replace("COLLATE \"C\" ", "")
            .replace("BIGINT", "INTEGER")
            .replace("BYTEA", "BLOB")
            .replace("DOUBLE PRECISION", "REAL")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The two sets of migrations define the same schema, step by step: they
    /// differ only in how each dialect spells a type.
    #[test]
    fn both_dialects_migrate_to_the_same_schema() {
        assert_eq!(SQLITE_MIGRATIONS.len(), POSTGRES_MIGRATIONS.len());
        for (i, (sqlite, postgres)) in SQLITE_MIGRATIONS
            .iter()
            .zip(POSTGRES_MIGRATIONS)
            .enumerate()
        {
            assert_eq!(schema(sqlite), schema(postgres), "migration {}", i + 1);
        }
        // The normalisation keeps what matters: a column dropped on one side is seen.
        assert_ne!(
            schema("CREATE TABLE t (a INTEGER, b TEXT);"),
            schema("CREATE TABLE t (a BIGINT);")
        );
    }

    #[test]
    fn a_database_url_names_its_dialect() {
        assert_eq!(Dialect::of_url("sqlite:///x.db"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::of_url("sqlite::memory:"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::of_url("postgres://u@h/d"), Some(Dialect::Postgres));
        assert_eq!(
            Dialect::of_url("postgresql://u@h/d"),
            Some(Dialect::Postgres)
        );
        assert_eq!(Dialect::of_url("mysql://u@h/d"), None);
    }
}
