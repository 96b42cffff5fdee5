//! The database side: writing batches, one transaction each, tokens in id order.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use super::recorder::Pending;
use crate::app::AppState;
use crate::db::schema::tokens;
use crate::db::{self, DbConnection};
use crate::error::ApiError;

const UPSERT_DAY: &str = "INSERT INTO token_usage_daily (token_id, day, count) VALUES (?, ?, ?) \
     ON CONFLICT (token_id, day) DO UPDATE SET count = token_usage_daily.count + excluded.count";
const UPSERT_IP: &str = "INSERT INTO token_ips (token_id, ip, last_seen_at, count) VALUES (?, ?, ?, ?) \
     ON CONFLICT (token_id, ip) DO UPDATE SET count = token_ips.count + excluded.count, \
     last_seen_at = CASE WHEN excluded.last_seen_at > token_ips.last_seen_at \
     THEN excluded.last_seen_at ELSE token_ips.last_seen_at END";

/// `?` placeholders as PostgreSQL wants them (`$1`, `$2`, …).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

/// Runs an upsert (the same SQL on both backends, but for the placeholders).
macro_rules! upsert {
    ($conn:expr, $sql:expr, |$query:ident| $binds:expr) => {
        match $conn {
            DbConnection::Sqlite(conn) => {
                let $query = diesel::sql_query($sql);
                $binds.execute(conn)
            }
            DbConnection::Pg(conn) => {
                let $query = diesel::sql_query(numbered($sql));
                $binds.execute(conn)
            }
        }
    };
}

/// Writes one batch in one transaction. Tokens deleted meanwhile are skipped.
pub fn write(conn: &mut DbConnection, batch: &[(String, Pending)]) -> QueryResult<()> {
    conn.transaction(|conn| {
        for (token_id, pending) in batch {
            let found = diesel::update(tokens::table.find(token_id))
                .set(tokens::usage_count.eq(tokens::usage_count + pending.count))
                .execute(conn)?;
            if found == 0 {
                continue;
            }
            if let Some(at) = pending.last_used_at {
                diesel::update(
                    tokens::table.find(token_id).filter(
                        tokens::last_used_at
                            .is_null()
                            .or(tokens::last_used_at.le(at)),
                    ),
                )
                .set((
                    tokens::last_used_at.eq(at),
                    tokens::last_used_ip.eq(&pending.last_ip),
                ))
                .execute(conn)?;
            }
            for (day, count) in &pending.days {
                upsert!(&mut *conn, UPSERT_DAY, |q| q
                    .bind::<Text, _>(token_id)
                    .bind::<Text, _>(day)
                    .bind::<BigInt, _>(count))?;
            }
            for (ip, (count, at)) in &pending.ips {
                upsert!(&mut *conn, UPSERT_IP, |q| q
                    .bind::<Text, _>(token_id)
                    .bind::<Text, _>(ip)
                    .bind::<Timestamp, _>(at)
                    .bind::<BigInt, _>(count))?;
            }
        }
        Ok(())
    })
}

/// Writes everything counted so far; on failure the counts go back for the next try.
pub async fn flush(state: &AppState) -> Result<usize, ApiError> {
    let batch = state.usage.take();
    if batch.is_empty() {
        return Ok(0);
    }
    let tokens = batch.len();
    let started = std::time::Instant::now();
    let shared = Arc::new(batch);
    let written = Arc::clone(&shared);
    let result = db::run(&state.db, move |conn| Ok(write(conn, &written)?)).await;
    match result {
        Ok(()) => {
            tracing::debug!(
                tokens,
                elapsed_ms = started.elapsed().as_millis(),
                "usage flushed"
            );
            Ok(tokens)
        }
        Err(error) => {
            let batch = Arc::try_unwrap(shared).unwrap_or_else(|shared| (*shared).clone());
            state.usage.restore(batch);
            Err(error)
        }
    }
}

/// Flushes every `interval` until `stopped` is set.
pub async fn run_flusher(
    state: actix_web::web::Data<AppState>,
    interval: Duration,
    stopped: Arc<AtomicBool>,
) {
    let mut ticker = actix_web::rt::time::interval(interval);
    ticker.tick().await;
    while !stopped.load(Ordering::Relaxed) {
        ticker.tick().await;
        if let Err(error) = flush(&state).await {
            tracing::warn!(%error, "usage flush failed; counts kept for the next try");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(numbered("VALUES (?, ?, ?)"), "VALUES ($1, $2, $3)");
    }
}
