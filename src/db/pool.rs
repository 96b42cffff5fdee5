//! The r2d2 pool: a manager that knows its backend from the URL and checks connections.

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;

use super::connection::{DatabaseUrl, DbConnection};

/// The shared connection pool.
pub type Pool = r2d2::Pool<ConnectionManager>;

/// Pool sizing and timeouts.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// Most connections open at once.
    pub max_size: u32,
    /// How long a request waits for a connection before the database counts as unavailable.
    pub connection_timeout: Duration,
}

/// Opens connections of the backend the URL names (never by trial) and validates them on
/// checkout.
#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    sqlite_file: Option<PathBuf>,
}

/// Why a pooled connection could not be made or is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// Connecting failed.
    #[error("could not connect: {0}")]
    Connect(#[from] diesel::ConnectionError),
    /// The connection no longer answers.
    #[error("connection check failed: {0}")]
    Check(#[from] diesel::result::Error),
    /// The SQLite file was removed while connections to it were open.
    #[error("the SQLite database file is gone")]
    FileGone,
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ManagerError;

    fn connect(&self) -> Result<DbConnection, ManagerError> {
        Ok(self.url.connect(false)?)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ManagerError> {
        // A connection to an unlinked SQLite file still answers, but writes to it are lost.
        if self.sqlite_file.as_ref().is_some_and(|path| !path.exists()) {
            return Err(ManagerError::FileGone);
        }
        conn.batch_execute("SELECT 1")?;
        Ok(())
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// Builds the pool without waiting for connections, so a service whose database is down still
/// starts and answers `/readyz` with 503.
#[must_use]
pub(super) fn build_pool(url: &DatabaseUrl, options: PoolOptions) -> Pool {
    let manager = ConnectionManager {
        url: url.clone(),
        sqlite_file: url.sqlite_path().map(std::path::Path::to_path_buf),
    };
    r2d2::Pool::builder()
        .max_size(options.max_size)
        .min_idle(Some(0))
        .connection_timeout(options.connection_timeout)
        .build_unchecked(manager)
}
