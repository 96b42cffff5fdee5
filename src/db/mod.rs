//! Storage: the connection enum over both backends, the pool, embedded migrations, and the
//! helpers (`run`, `transaction`) through which every blocking Diesel call leaves the async
//! executor.

mod breaker;
mod connection;
pub mod deadline;
mod error;
mod migrations;
mod pool;
pub mod schema;
mod spare;
mod writer;

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::TransactionManager;

use breaker::Breaker;
pub use breaker::BreakerOptions;
pub use connection::{Backend, DatabaseUrl, DbConnection, ping};
pub use error::{DbError, Failure};
pub use migrations::{MigrationError, revert_all, revert_newest, run_pending};
pub use pool::{Pool, PoolOptions};
pub use spare::{Spare, Spares};
use writer::Writer;

/// Makes a hand-written statement type (one lifetime parameter, a `QueryFragment` of its
/// own) runnable with diesel and kept prepared: no static query id, so diesel caches it by its
/// SQL text, once per connection, unlike a `sql_query`, which it prepares on every call.
/// `$rows` is the SQL type of its rows (`Untyped` for `QueryableByName`).
macro_rules! kept_prepared {
    ($statement:ident, $rows:ty) => {
        impl diesel::query_builder::QueryId for $statement<'_> {
            type QueryId = ();
            const HAS_STATIC_QUERY_ID: bool = false;
        }

        impl diesel::query_builder::Query for $statement<'_> {
            type SqlType = $rows;
        }

        impl<Conn> diesel::RunQueryDsl<Conn> for $statement<'_> {}
    };
}
pub(crate) use kept_prepared;

/// The backend type of [`DbConnection`], for boxed queries.
pub type DbBackend = <DbConnection as diesel::Connection>::Backend;

/// The pools plus what the helpers need to use them well on each backend.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    // SQLite: reads (introspection) have their own connections, so writers waiting for their
    // turn never hold up a read. PostgreSQL: the one pool.
    reads: Option<Pool>,
    // SQLite: the writer thread and its one connection, which every transaction runs on
    // (grouped: see `writer`). A connection's page cache is emptied whenever another
    // connection has written since its last use; one writer connection keeps its cache of the
    // pages every write touches.
    writes: Option<Pool>,
    writer: Option<Arc<Writer>>,
    sqlite_file: Option<std::path::PathBuf>,
    backend: Backend,
    breaker: Arc<Breaker>,
    timeout: Duration,
}

impl Database {
    /// A database handle over a lazily filled pool (start-up does not wait for the database).
    #[must_use]
    pub fn new(url: &DatabaseUrl, options: PoolOptions) -> Self {
        let breaker = Breaker::new(url.clone(), options.breaker);
        let sqlite = url.backend() == Backend::Sqlite;
        let reads = sqlite.then(|| pool::build_pool(url, options, &breaker));
        let writes = sqlite.then(|| {
            let one = PoolOptions {
                max_size: 1,
                ..options
            };
            pool::build_pool(url, one, &breaker)
        });
        let group_writer = writes
            .as_ref()
            .map(|pool| Arc::new(Writer::start(pool.clone(), Arc::clone(&breaker))));
        Self {
            pool: pool::build_pool(url, options, &breaker),
            reads,
            writes,
            writer: group_writer,
            sqlite_file: url.sqlite_path().map(std::path::Path::to_path_buf),
            backend: url.backend(),
            breaker,
            timeout: options.connection_timeout,
        }
    }

    /// How long the database has been failing (connections refused or lost), if it is: the
    /// outage's age, which bounds stale-if-error.
    #[must_use]
    pub fn down_for(&self) -> Option<Duration> {
        self.breaker.down_for()
    }

    /// When the database work of the current request must be done by: the request's deadline,
    /// or (outside a request) the timeout from now.
    #[must_use]
    pub fn deadline(&self) -> Instant {
        deadline::current().unwrap_or_else(|| Instant::now() + self.timeout)
    }

    /// Connections in use and idle, over every pool.
    #[must_use]
    pub fn pool_state(&self) -> (u32, u32) {
        let mut in_use = 0;
        let mut idle = 0;
        for pool in self.pools() {
            let state = pool.state();
            in_use += state.connections - state.idle_connections;
            idle += state.idle_connections;
        }
        (in_use, idle)
    }

    /// Every pool: the main one, and SQLite's reads and writes.
    fn pools(&self) -> impl Iterator<Item = &Pool> {
        std::iter::once(&self.pool)
            .chain(self.reads.as_ref())
            .chain(self.writes.as_ref())
    }

    /// Whether the database may be asked at all: not while the breaker is open, and not when
    /// it is a deleted SQLite file.
    fn admit(&self) -> Result<(), DbError> {
        if self.breaker.is_open() {
            return Err(DbError::Unavailable("the circuit breaker is open".into()));
        }
        match &self.sqlite_file {
            Some(path) if !path.exists() => {
                tracing::warn!(path = %path.display(), "the SQLite database file is gone");
                self.breaker.failed();
                Err(DbError::Unavailable(format!(
                    "the SQLite file {} is gone",
                    path.display()
                )))
            }
            _ => Ok(()),
        }
    }

    /// Most connections over every pool: the blocking threads worth having (a read pool beside
    /// the write pool on SQLite).
    #[must_use]
    pub fn max_connections(&self) -> u32 {
        self.pools().map(Pool::max_size).sum()
    }

    /// Which backend this is.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// Runs `work` on a pooled connection on the blocking thread pool, inside the caller's span
/// (so a database error's log line keeps its request id).
///
/// Getting a connection blocks too, so it happens inside the closure, bounded by the request's
/// deadline. A pool that cannot hand out a connection in time, or an open breaker, is
/// [`DbError::Unavailable`]; a connection whose work failed that way is dropped rather than
/// handed out again, and counts as a failure for the breaker.
pub async fn run<T, E, F>(db: &Database, work: F) -> Result<T, E>
where
    T: Send + 'static,
    E: Failure + Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
{
    on_pool(db, &db.pool, work).await
}

/// [`run`], with spare connections from the same pool for a statement that can run beside
/// the work's own ([`Spares`]). On PostgreSQL only: there the statement runs in the server
/// while this process goes on. SQLite runs it in this process, on a connection with a page
/// cache of its own to fill, which measured slower than running it after the others.
pub async fn run_with_spares<T, E, F>(db: &Database, work: F) -> Result<T, E>
where
    T: Send + 'static,
    E: Failure + Send + 'static,
    F: FnOnce(&mut DbConnection, &Spares) -> Result<T, E> + Send + 'static,
{
    let spares = match db.backend {
        Backend::Postgres => Spares::new(db.pool.clone(), Arc::clone(&db.breaker)),
        Backend::Sqlite => Spares::none(),
    };
    on_pool(db, &db.pool, move |conn| work(conn, &spares)).await
}

/// [`run`] for reads on the hot path: on SQLite they use their own connections.
pub async fn read<T, E, F>(db: &Database, work: F) -> Result<T, E>
where
    T: Send + 'static,
    E: Failure + Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
{
    on_pool(db, db.reads.as_ref().unwrap_or(&db.pool), work).await
}

async fn on_pool<T, E, F>(db: &Database, pool: &Pool, work: F) -> Result<T, E>
where
    T: Send + 'static,
    E: Failure + Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
{
    db.admit()?;
    let pool = pool.clone();
    let breaker = Arc::clone(&db.breaker);
    let deadline = db.deadline();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let mut pooled = pool::checkout(&pool, &breaker, deadline)?;
        pool::settle(&mut pooled, &breaker, work)
    })
    .await
    .map_err(|error| DbError::Task(error.to_string()))?
}

/// Runs `work` in one transaction: on any error nothing of it remains.
pub async fn transaction<T, E, F>(db: &Database, work: F) -> Result<T, E>
where
    T: Send + 'static,
    E: Failure + Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
{
    match &db.writer {
        Some(writer) => {
            db.admit()?;
            writer.transaction(db.deadline(), work).await
        }
        None => on_pool(db, &db.pool, move |conn| in_transaction(conn, work)).await,
    }
}

/// `work` in a transaction (begun by `connection::begin`: on SQLite `BEGIN IMMEDIATE`). The
/// command line writes through it on its own connection.
pub fn in_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    E: Failure,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    type Manager = <DbConnection as diesel::Connection>::TransactionManager;
    connection::begin(conn)?;
    match work(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn).map_err(DbError::from)?;
            Ok(value)
        }
        Err(error) => {
            Manager::rollback_transaction(conn).map_err(DbError::from)?;
            Err(error)
        }
    }
}
