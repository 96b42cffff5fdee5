//! Audit retention (`TOKEND_AUDIT_RETENTION_DAYS`): events older than the retention are
//! deleted once a day, a small batch per short transaction, so the writers that record new
//! events never wait long behind the prune.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use tracing::Instrument;

use crate::db::schema::audit_events;
use crate::db::{self, Database, DbConnection, DbError};

/// Events per batch: one indexed read of ids and one delete, short enough that a writer
/// waiting for its turn (SQLite has one at a time) hardly notices.
const BATCH: u32 = 1_000;

/// The first prune waits this long after start-up, so it does not compete with migrations and
/// the first requests.
const FIRST_RUN_DELAY: Duration = Duration::from_secs(60);

/// One prune a day.
const EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// What one prune removed: the events and the transactions it took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Events deleted.
    pub events: usize,
    /// Batches run (each its own transaction), the last one short or empty.
    pub batches: usize,
}

/// The moment before which events are past a retention of `retention_days` at `now`; `None`
/// when nothing is to be pruned (0 keeps events forever, and a retention reaching before the
/// calendar's start keeps them too).
#[must_use]
pub fn cutoff(now: NaiveDateTime, retention_days: u32) -> Option<NaiveDateTime> {
    if retention_days == 0 {
        return None;
    }
    TimeDelta::try_days(i64::from(retention_days)).and_then(|age| now.checked_sub_signed(age))
}

/// Deletes every event created before `cutoff`, oldest first, `batch` at a time: each batch is
/// its own call to the database (its own pooled connection and transaction), so a long prune
/// holds neither a connection nor the write lock for long. Returns what it removed; on an
/// error, the batches already committed stay deleted.
pub async fn prune(db: &Database, cutoff: NaiveDateTime, batch: u32) -> Result<Pruned, DbError> {
    let batch = batch.max(1);
    let full = usize::try_from(batch).unwrap_or(usize::MAX);
    let mut pruned = Pruned::default();
    loop {
        let deleted = db::transaction(db, move |conn| {
            delete_batch(conn, cutoff, batch).map_err(DbError::from)
        })
        .await?;
        pruned.batches += 1;
        pruned.events += deleted;
        crate::metrics::count_audit_events_pruned(u64::try_from(deleted).unwrap_or(u64::MAX));
        // A short batch was the last one (or another instance is pruning the rest).
        if deleted < full {
            return Ok(pruned);
        }
    }
}

/// Deletes the `batch` oldest events created before `cutoff` (in the caller's transaction):
/// their ids are read in the order of the `(created_at, id)` index, then deleted by id.
fn delete_batch(conn: &mut DbConnection, cutoff: NaiveDateTime, batch: u32) -> QueryResult<usize> {
    let ids: Vec<String> = audit_events::table
        .filter(audit_events::created_at.lt(cutoff))
        .order((audit_events::created_at.asc(), audit_events::id.asc()))
        .select(audit_events::id)
        .limit(i64::from(batch))
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(audit_events::table.filter(audit_events::id.eq_any(&ids))).execute(conn)
}

/// Prunes events older than `retention_days` shortly after start-up and then once a day,
/// until `stopped` is set (start-up also aborts it when the server ends). Does nothing when
/// the retention is 0. A failed prune (the database down) is logged and tried again at the
/// next run.
pub async fn run_pruner(db: Database, retention_days: u32, stopped: Arc<AtomicBool>) {
    if retention_days == 0 {
        tracing::debug!("audit retention is 0: events are kept forever");
        return;
    }
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + FIRST_RUN_DELAY, EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if stopped.load(Ordering::Relaxed) {
            return;
        }
        let Some(before) = cutoff(crate::time::now(), retention_days) else {
            continue;
        };
        let span = tracing::info_span!("audit_prune", retention_days);
        match prune(&db, before, BATCH).instrument(span).await {
            Ok(pruned) => tracing::info!(
                events = pruned.events,
                batches = pruned.batches,
                retention_days,
                "audit events past their retention pruned"
            ),
            Err(error) => {
                tracing::warn!(%error, "audit prune failed; it runs again at the next interval");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_the_retention_before_now_and_zero_prunes_nothing() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 123_456_000)
            .map(|at| at.naive_utc())
            .unwrap_or_default();
        assert_eq!(cutoff(now, 0), None);
        assert_eq!(cutoff(now, 1), Some(now - TimeDelta::days(1)));
        assert_eq!(cutoff(now, 400), Some(now - TimeDelta::days(400)));
        // Beyond the calendar's start: nothing can be that old.
        assert_eq!(cutoff(now, u32::MAX), None);
    }
}
