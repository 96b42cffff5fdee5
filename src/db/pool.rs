//! The r2d2 pools: a manager that knows its backend from the URL, and pooled connections that
//! are dropped once a query found them dead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::breaker::{Breaker, BreakerOptions};
use super::connection::{DatabaseUrl, DbConnection};
use super::error::{DbError, Failure};

/// A pool of connections.
pub type Pool = r2d2::Pool<ConnectionManager>;

/// Pool sizing and timeouts.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// Most connections open at once.
    pub max_size: u32,
    /// How long a request waits for the database, over all its checkouts, before it counts as
    /// unavailable.
    pub connection_timeout: Duration,
    /// When the circuit breaker opens and how often it probes.
    pub breaker: BreakerOptions,
}

/// A pooled connection and whether it failed in a way that means it is dead.
pub struct Pooled {
    /// The connection.
    pub conn: DbConnection,
    /// Set when a query on it failed as if the database were gone: the pool drops it.
    pub broken: bool,
}

/// Opens connections of the backend the URL names (never by trial), and tells the breaker
/// whether that worked. Connections are not pinged on checkout (that would be a second
/// statement per request); a connection that fails is marked broken and replaced.
#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    breaker: Arc<Breaker>,
}

/// Why a pooled connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// Connecting failed.
    #[error("could not connect: {0}")]
    Connect(#[from] diesel::ConnectionError),
    /// The connection no longer answers.
    #[error("connection check failed: {0}")]
    Check(#[from] diesel::result::Error),
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = Pooled;
    type Error = ManagerError;

    fn connect(&self) -> Result<Pooled, ManagerError> {
        match self.url.connect(false) {
            Ok(conn) => {
                self.breaker.succeeded();
                Ok(Pooled {
                    conn,
                    broken: false,
                })
            }
            Err(error) => {
                self.breaker.failed();
                Err(error.into())
            }
        }
    }

    fn is_valid(&self, pooled: &mut Pooled) -> Result<(), ManagerError> {
        diesel::connection::SimpleConnection::batch_execute(&mut pooled.conn, "SELECT 1")?;
        Ok(())
    }

    fn has_broken(&self, pooled: &mut Pooled) -> bool {
        pooled.broken || diesel::r2d2::R2D2Connection::is_broken(&mut pooled.conn)
    }
}

/// r2d2 retries a failed connect with a backoff of up to half this; checkouts name their own
/// timeout (the request's deadline), so this only keeps reconnection quick once the database
/// is back (within 500 ms).
const RECONNECT_BACKOFF: Duration = Duration::from_secs(1);

/// Builds a pool without waiting for connections, so a service whose database is down still
/// starts and answers `/readyz` with 503.
#[must_use]
pub(super) fn build_pool(url: &DatabaseUrl, options: PoolOptions, breaker: &Arc<Breaker>) -> Pool {
    r2d2::Pool::builder()
        .max_size(options.max_size)
        .min_idle(Some(0))
        .test_on_check_out(false)
        .connection_timeout(RECONNECT_BACKOFF)
        .build_unchecked(ConnectionManager {
            url: url.clone(),
            breaker: Arc::clone(breaker),
        })
}

/// How long one wait for a pool connection lasts before the breaker and the deadline are
/// looked at again: a request waiting when the breaker opens fails then, not at its deadline.
const CHECKOUT_SLICE: Duration = Duration::from_millis(25);

/// A pooled connection by `deadline`, unless the breaker opens first.
pub(super) fn checkout(
    pool: &Pool,
    breaker: &Breaker,
    deadline: Instant,
) -> Result<r2d2::PooledConnection<ConnectionManager>, DbError> {
    loop {
        if breaker.is_open() {
            return Err(DbError::Unavailable("the circuit breaker is open".into()));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            tracing::warn!("no database connection available in time");
            return Err(DbError::Unavailable(
                "no database connection within the timeout".into(),
            ));
        }
        if let Ok(pooled) = pool.get_timeout(left.min(CHECKOUT_SLICE)) {
            return Ok(pooled);
        }
    }
}

/// Runs `work` on a checked-out connection and settles its outcome: a connection whose work
/// failed as if the database were gone is dropped rather than handed out again (and, on
/// PostgreSQL, counts as a failure for the breaker); any other outcome is a success.
pub(super) fn settle<T, E, F>(
    pooled: &mut r2d2::PooledConnection<ConnectionManager>,
    breaker: &Arc<Breaker>,
    work: F,
) -> Result<T, E>
where
    E: Failure,
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
{
    // A lost PostgreSQL connection is a connection failure; SQLite's "unavailable" is a busy
    // lock, which says nothing about reaching the file.
    let lost_counts = matches!(pooled.conn, DbConnection::Pg(_));
    let result = work(&mut pooled.conn);
    if result.as_ref().is_err_and(Failure::is_unavailable) {
        pooled.broken = true;
        if lost_counts {
            breaker.failed();
        }
    } else {
        breaker.succeeded();
    }
    result
}
