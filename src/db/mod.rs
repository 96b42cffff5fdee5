//! Storage: the connection enum over both backends, the pool, embedded migrations, and the
//! helpers (`run`, `transaction`) through which every blocking Diesel call leaves the async
//! executor.

mod connection;
mod migrations;
mod pool;
pub mod schema;

use std::sync::{Arc, Mutex, PoisonError};

pub use connection::{Backend, DatabaseUrl, DbConnection};
pub use migrations::{MigrationError, revert_all, run_pending};
pub use pool::{Pool, PoolOptions};

use crate::error::ApiError;

/// The backend type of [`DbConnection`], for boxed queries.
pub type DbBackend = <DbConnection as diesel::Connection>::Backend;

/// The pool plus what the helpers need to use it well on each backend.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    backend: Backend,
    // SQLite has one writer at a time; taking turns here instead of inside SQLite avoids
    // `database is locked` when two deferred transactions both try to upgrade.
    sqlite_writer: Arc<Mutex<()>>,
}

impl Database {
    /// A database handle over a lazily filled pool (start-up does not wait for the database).
    #[must_use]
    pub fn new(url: &DatabaseUrl, options: PoolOptions) -> Self {
        Self {
            pool: pool::build_pool(url, options),
            backend: url.backend(),
            sqlite_writer: Arc::default(),
        }
    }

    /// Which backend this is.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// Runs `work` on a pooled connection on the blocking thread pool.
///
/// Getting a connection blocks too, so it happens inside the closure. A pool that cannot hand
/// out a connection (database down) becomes 503 `unavailable`.
pub async fn run<T, F>(db: &Database, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
    let pool = db.pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().map_err(|error| {
            tracing::warn!(%error, "no database connection available");
            ApiError::Unavailable
        })?;
        work(&mut conn)
    })
    .await
    .map_err(|error| ApiError::internal(&error))?
}

/// Runs `work` in one transaction: on any error nothing of it remains.
pub async fn transaction<T, F>(db: &Database, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
{
    let writer = (db.backend == Backend::Sqlite).then(|| Arc::clone(&db.sqlite_writer));
    run(db, move |conn| {
        let _turn = writer
            .as_ref()
            .map(|lock| lock.lock().unwrap_or_else(PoisonError::into_inner));
        diesel::Connection::transaction(conn, work)
    })
    .await
}
