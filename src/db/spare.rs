//! Spare connections: an idle pooled connection that work holding a connection may borrow
//! for a statement that can run beside its own (a long list's count, while the rest of its
//! page is read). Only a connection that is idle now is taken: nothing waits for one to be
//! opened or freed, so spares never drain a busy pool, and without one the work runs the
//! statement itself, after the others.

use std::sync::Arc;
use std::time::Duration;

use super::breaker::Breaker;
use super::connection::DbConnection;
use super::error::Failure;
use super::pool::{self, ConnectionManager, Pool};

/// Where spare connections come from: the PostgreSQL pool of the work that borrows them, or
/// nowhere (SQLite: see [`super::run_with_spares`]).
pub struct Spares {
    source: Option<(Pool, Arc<Breaker>)>,
}

/// A borrowed idle connection, to run one piece of work on another thread.
pub struct Spare {
    pooled: r2d2::PooledConnection<ConnectionManager>,
    breaker: Arc<Breaker>,
    span: tracing::Span,
}

impl Spares {
    pub(super) fn new(pool: Pool, breaker: Arc<Breaker>) -> Self {
        Self {
            source: Some((pool, breaker)),
        }
    }

    /// No spares: the work runs every statement itself.
    pub(super) fn none() -> Self {
        Self { source: None }
    }

    /// An idle connection, if the pool has one now. When it has none but may grow, it opens
    /// one for a later spare; nothing waits for it.
    #[must_use]
    pub fn take(&self) -> Option<Spare> {
        let (pool, breaker) = self.source.as_ref()?;
        let pooled = pool.get_timeout(Duration::ZERO).ok()?;
        Some(Spare {
            pooled,
            breaker: Arc::clone(breaker),
            span: tracing::Span::current(),
        })
    }
}

impl Spare {
    /// Runs `work` on the connection, in the span of the work that took it (so a failure's
    /// log line keeps the request id), then hands the connection back to the pool.
    pub fn run<T, E, F>(mut self, work: F) -> Result<T, E>
    where
        E: Failure,
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
    {
        let _entered = self.span.enter();
        pool::settle(&mut self.pooled, &self.breaker, work)
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sql_types::BigInt;

    use super::*;
    use crate::db::{BreakerOptions, DatabaseUrl, DbError, PoolOptions};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn one(conn: &mut DbConnection) -> Result<i64, DbError> {
        Ok(diesel::select(1_i64.into_sql::<BigInt>()).get_result(conn)?)
    }

    #[test]
    fn a_spare_is_an_idle_connection_and_nothing_waits_for_one() -> TestResult {
        let dir = tempfile::tempdir()?;
        let url = DatabaseUrl::Sqlite(dir.path().join("spare.db"));
        drop(url.connect(true)?);
        let options = PoolOptions {
            max_size: 2,
            connection_timeout: Duration::from_secs(5),
            breaker: BreakerOptions {
                threshold: 3,
                probe_every: Duration::from_secs(1),
            },
        };
        let breaker = Breaker::new(url.clone(), options.breaker);
        let pool = pool::build_pool(&url, options, &breaker);
        let spares = Spares::new(pool.clone(), breaker);

        let held = pool.get()?;
        assert!(
            spares.take().is_none(),
            "no idle connection: no spare, and no wait for one"
        );
        // That `take` had the pool open its second connection, for a later spare.
        for _ in 0..100 {
            if pool.state().idle_connections == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let spare = spares
            .take()
            .ok_or("the opened connection is not a spare")?;
        assert!(
            spares.take().is_none(),
            "both connections are out: no spare"
        );
        assert_eq!(spare.run(one)?, 1);
        assert!(
            spares.take().is_some(),
            "a used spare goes back to the pool"
        );
        drop(held);
        Ok(())
    }
}
