//! The circuit breaker (DESIGN §10): after a few consecutive connection failures, anything that
//! needs the database fails at once instead of waiting for a pool connection that will not
//! come. While it is open, one probe every interval (a fresh connection and `SELECT 1`, on a
//! thread of its own) finds out whether the database is back, and closes it.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::connection::{DatabaseUrl, ping};

/// When the breaker opens and how often it probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerOptions {
    /// Consecutive connection failures that open it.
    pub threshold: u32,
    /// Time between two probes while it is open.
    pub probe_every: Duration,
}

/// The breaker's state, shared by every pool of a database and the pools' connection
/// managers (which report failed connects).
#[derive(Debug)]
pub struct Breaker {
    options: BreakerOptions,
    url: DatabaseUrl,
    failures: AtomicU32,
    open: AtomicBool,
    /// When the current run of failures began (the outage's start, for stale-if-error).
    down_since: Mutex<Option<Instant>>,
}

impl Breaker {
    /// A closed breaker for the database at `url`.
    #[must_use]
    pub fn new(url: DatabaseUrl, options: BreakerOptions) -> Arc<Self> {
        Arc::new(Self {
            options,
            url,
            failures: AtomicU32::new(0),
            open: AtomicBool::new(false),
            down_since: Mutex::new(None),
        })
    }

    /// Whether it is open (the database counts as down; nothing waits for it).
    #[must_use]
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// How long the database has been failing, if it is.
    #[must_use]
    pub fn down_for(&self) -> Option<Duration> {
        self.down_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map(|since| since.elapsed())
    }

    /// The database answered: the failure count starts again and an open breaker closes.
    pub fn succeeded(&self) {
        if self.failures.load(Ordering::Acquire) == 0 && !self.is_open() {
            return;
        }
        self.failures.store(0, Ordering::Release);
        *self
            .down_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        if self.open.swap(false, Ordering::AcqRel) {
            tracing::info!("database reachable again; circuit breaker closed");
        }
    }

    /// A connection could not be made or was lost; the threshold-th in a row opens the breaker
    /// and starts the probe.
    pub fn failed(self: &Arc<Self>) {
        self.down_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(Instant::now);
        let failures = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if failures >= self.options.threshold && !self.open.swap(true, Ordering::AcqRel) {
            tracing::warn!(failures, "database unreachable; circuit breaker open");
            metrics::counter!("tokend_database_breaker_opened_total").increment(1);
            self.spawn_probe();
        }
    }

    /// Probes until the database answers, then closes the breaker.
    fn spawn_probe(self: &Arc<Self>) {
        let breaker = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("tokend-db-probe".into())
            .spawn(move || {
                while breaker.is_open() {
                    std::thread::sleep(breaker.options.probe_every);
                    let answered = breaker
                        .url
                        .connect(false)
                        .map_err(|error| error.to_string())
                        .and_then(|mut conn| ping(&mut conn).map_err(|e| e.to_string()));
                    match answered {
                        Ok(()) => breaker.succeeded(),
                        Err(error) => tracing::debug!(%error, "database probe failed"),
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::error!(%error, "could not start the database probe; closing the breaker");
            self.open.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(url: DatabaseUrl) -> Arc<Breaker> {
        Breaker::new(
            url,
            BreakerOptions {
                threshold: 3,
                probe_every: Duration::from_millis(20),
            },
        )
    }

    #[test]
    fn the_third_failure_in_a_row_opens_it_and_a_success_resets_the_count() {
        let dir = std::env::temp_dir().join("tokend-breaker-missing-dir/none/db.sqlite");
        let breaker = breaker(DatabaseUrl::Sqlite(dir));
        breaker.failed();
        breaker.failed();
        breaker.succeeded();
        assert_eq!(breaker.down_for(), None);
        breaker.failed();
        breaker.failed();
        assert!(!breaker.is_open());
        assert!(breaker.down_for().is_some());
        breaker.failed();
        assert!(breaker.is_open());
    }

    #[test]
    fn the_probe_closes_it_once_the_database_answers() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let url = DatabaseUrl::Sqlite(dir.path().join("db.sqlite"));
        url.connect(true)?;
        let breaker = breaker(url);
        for _ in 0..3 {
            breaker.failed();
        }
        assert!(breaker.is_open());
        let started = Instant::now();
        while breaker.is_open() && started.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!breaker.is_open(), "the probe did not close it");
        assert_eq!(breaker.down_for(), None);
        Ok(())
    }
}
