//! The connection enum over SQLite and PostgreSQL, and the URL that picks between them.

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::{Connection, ConnectionResult, PgConnection, SqliteConnection};

use super::error::DbError;

/// One connection type for both backends, so repositories are written once.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL: production, several instances sharing one database.
    Pg(PgConnection),
    /// SQLite: the embedded default.
    Sqlite(SqliteConnection),
}

/// Opens a transaction that, on SQLite, takes the write lock at `BEGIN IMMEDIATE`: a deferred
/// transaction that reads first gets `database is locked` at once, without waiting, when
/// another process (the CLI, a second instance) is writing; an immediate one waits its turn
/// (`busy_timeout`). Both `in_transaction` and the SQLite writer's groups begin here.
pub(super) fn begin(conn: &mut DbConnection) -> Result<(), DbError> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        DbConnection::Sqlite(sqlite) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")
        }
        DbConnection::Pg(_) => {
            <DbConnection as diesel::Connection>::TransactionManager::begin_transaction(conn)
        }
    }
    .map_err(DbError::from)
}

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://PATH`
    Sqlite,
    /// `postgres://…` or `postgresql://…`
    Postgres,
}

/// A validated database URL. The backend comes from the scheme, never from trying to connect.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A libpq connection URL (may contain a password: `Debug` hides it).
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(_) => f.write_str("postgres://<redacted>"),
        }
    }
}

impl DatabaseUrl {
    /// Parses `sqlite://PATH` or `postgres://…`; anything else is refused with a reason.
    pub fn parse(url: &str) -> Result<Self, String> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://./data/tokend.db".into());
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else {
            Err("must start with sqlite:// or postgres://".into())
        }
    }

    /// The backend this URL selects.
    #[must_use]
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Opens one connection of the right kind. `create` lets SQLite create a missing file
    /// (migrations do); pooled connections never do, so a deleted database is an outage, not
    /// a silent new empty file.
    pub fn connect(&self, create: bool) -> ConnectionResult<DbConnection> {
        match self {
            Self::Postgres(url) => {
                // OpenSSL set up first, without the cleanup at exit that libpq's own set-up
                // registers: that cleanup frees what the connections of threads still running
                // use, and the process could end in a SIGSEGV after a clean stop (openssl#6214,
                // r2d2#137). It runs once, whoever connects first.
                openssl_sys::init();
                PgConnection::establish(url).map(DbConnection::Pg)
            }
            Self::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&sqlite_uri(path, create))?;
                conn.batch_execute(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                     PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA temp_store = MEMORY;",
                )
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    /// The SQLite file, if this is SQLite.
    #[must_use]
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Self::Sqlite(path) => Some(path),
            Self::Postgres(_) => None,
        }
    }
}

/// A `file:` URI (diesel opens SQLite with URI names enabled) so that `mode=rw` can forbid
/// creating the file.
fn sqlite_uri(path: &Path, create: bool) -> String {
    let mut uri = String::from("file:");
    for ch in path.to_string_lossy().chars() {
        match ch {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3F"),
            '#' => uri.push_str("%23"),
            _ => uri.push(ch),
        }
    }
    uri.push_str(if create { "?mode=rwc" } else { "?mode=rw" });
    uri
}

/// Checks that the connection answers (`SELECT 1`).
pub fn ping(conn: &mut DbConnection) -> Result<(), DbError> {
    conn.batch_execute("SELECT 1")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(diesel::QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = diesel::sql_types::Text)]
        compile_options: String,
    }

    /// The bundled SQLite is built as `.cargo/config.toml` asks: no connection mutex, a page
    /// cache per connection, no allocation statistics (each a global mutex readers queue on).
    #[test]
    fn sqlite_is_built_without_global_mutexes() -> Result<(), Box<dyn std::error::Error>> {
        use diesel::RunQueryDsl;
        let mut conn = SqliteConnection::establish(":memory:")?;
        let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
            .load::<CompileOption>(&mut conn)?
            .into_iter()
            .map(|o| o.compile_options)
            .collect();
        assert!(options.iter().any(|o| o == "THREADSAFE=2"), "{options:?}");
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "{options:?}"
        );
        Ok(())
    }

    #[test]
    fn scheme_picks_the_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://./data/x.db").map(|u| u.backend()),
            Ok(Backend::Sqlite)
        );
        assert_eq!(
            DatabaseUrl::parse("postgres://u:p@h/db").map(|u| u.backend()),
            Ok(Backend::Postgres)
        );
        assert!(DatabaseUrl::parse("mysql://h/db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn debug_hides_postgres_credentials() {
        let url = DatabaseUrl::parse("postgres://u:secretpw@h/db").map(|u| format!("{u:?}"));
        assert!(url.is_ok_and(|s| !s.contains("secretpw")));
    }

    #[test]
    fn sqlite_uri_escapes_and_forbids_creation() {
        assert_eq!(
            sqlite_uri(Path::new("/a?b#c%"), false),
            "file:/a%3Fb%23c%25?mode=rw"
        );
        assert_eq!(sqlite_uri(Path::new("x.db"), true), "file:x.db?mode=rwc");
    }
}
