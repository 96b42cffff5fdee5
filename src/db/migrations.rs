//! Migrations embedded in the binary, one folder per backend with identical names.

use diesel::migration::MigrationVersion;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::connection::{DatabaseUrl, DbConnection};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The database could not be reached.
    #[error("could not connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(String),
    /// The SQLite directory could not be created.
    #[error("could not create the database directory: {0}")]
    Io(#[from] std::io::Error),
}

/// Applies every pending migration on a dedicated connection (creating the SQLite file and its
/// directory when missing) and returns the versions applied.
pub fn run_pending(url: &DatabaseUrl) -> Result<Vec<String>, MigrationError> {
    if let Some(dir) = url.sqlite_path().and_then(std::path::Path::parent)
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let applied = match url.connect(true)? {
        DbConnection::Sqlite(mut conn) => versions(conn.run_pending_migrations(SQLITE))?,
        DbConnection::Pg(mut conn) => versions(conn.run_pending_migrations(POSTGRES))?,
    };
    Ok(applied)
}

/// Reverts every applied migration (used by the migration round-trip tests and by operators
/// tearing a database down).
pub fn revert_all(url: &DatabaseUrl) -> Result<Vec<String>, MigrationError> {
    let reverted = match url.connect(false)? {
        DbConnection::Sqlite(mut conn) => versions(conn.revert_all_migrations(SQLITE))?,
        DbConnection::Pg(mut conn) => versions(conn.revert_all_migrations(POSTGRES))?,
    };
    Ok(reverted)
}

/// Reverts the newest applied migration and returns its version (the data-carrying round-trip
/// tests; operators stepping back one release).
pub fn revert_newest(url: &DatabaseUrl) -> Result<String, MigrationError> {
    let reverted = match url.connect(false)? {
        DbConnection::Sqlite(mut conn) => conn.revert_last_migration(SQLITE).map(|v| v.to_string()),
        DbConnection::Pg(mut conn) => conn.revert_last_migration(POSTGRES).map(|v| v.to_string()),
    };
    reverted.map_err(|error| MigrationError::Migrate(error.to_string()))
}

fn versions(
    result: diesel::migration::Result<Vec<MigrationVersion<'_>>>,
) -> Result<Vec<String>, MigrationError> {
    result
        .map(|list| list.iter().map(ToString::to_string).collect())
        .map_err(|error| MigrationError::Migrate(error.to_string()))
}
