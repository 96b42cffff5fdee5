//! Telling every instance that answers changed: synchronously on this instance, and through
//! PostgreSQL `LISTEN/NOTIFY` (sent inside the committing transaction, so it is delivered
//! exactly when the change commits) to the others, whose listener drops the same entries. A
//! lost listener connection marks every entry unconfirmed (read again on its next use, served
//! stale only while the database is unavailable) and reconnects.

use std::sync::Weak;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::cache::TokenCache;
use crate::changes::Change;
use crate::db::{DatabaseUrl, DbConnection, DbError};

/// The notification channel.
pub const CHANNEL: &str = "tokend_invalidate";

/// How often the listener looks for notifications.
const POLL: Duration = Duration::from_millis(50);

/// The notification payload: the sending instance's origin, a space, the change. An instance
/// skips its own notifications (it applied them before sending): a late echo would bump the
/// cache generation and keep concurrent loads from being cached.
fn payload(origin: &str, change: &Change) -> String {
    format!("{origin} {}", change.encode())
}

/// The change a notification names, unless the instance `own` sent it.
fn received(own: &str, payload: &str) -> Option<Change> {
    match payload.split_once(' ') {
        Some((origin, _)) if origin == own => None,
        Some((_, change)) => Some(Change::decode(change)),
        None => Some(Change::Everything),
    }
}

/// Applies committed `changes` to this instance's cache. Called by
/// [`AppState::write`](crate::state::AppState::write) after the commit whose transaction
/// announced them ([`notify`]), and nowhere else.
pub fn publish(cache: &TokenCache, changes: &[Change]) {
    if !changes.is_empty() {
        cache.apply(changes);
    }
}

/// Announces `changes` to every listening instance as `origin` (PostgreSQL `NOTIFY`; nothing
/// to do on SQLite, which has one instance). Called inside the transaction that makes them,
/// so the announcement is delivered when, and only if, it commits. The command line uses it
/// for its own writes, so that a running server drops what it cached.
pub fn notify(conn: &mut DbConnection, origin: &str, changes: &[Change]) -> Result<(), DbError> {
    if let DbConnection::Pg(pg) = conn {
        for change in changes {
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(CHANNEL)
                .bind::<Text, _>(payload(origin, change))
                .execute(pg)?;
        }
        metrics::counter!("tokend_invalidations_sent_total").increment(changes.len() as u64);
    }
    Ok(())
}

/// Listens for other instances' changes on a dedicated connection until the cache is dropped.
pub fn spawn_listener(url: DatabaseUrl, cache: Weak<TokenCache>) {
    let spawned = std::thread::Builder::new()
        .name("tokend-invalidation".into())
        .spawn(move || listen(&url, &cache));
    if let Err(error) = spawned {
        tracing::error!(%error, "could not start the invalidation listener");
    }
}

fn listen(url: &DatabaseUrl, cache: &Weak<TokenCache>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(live) = cache.upgrade() else { return };
        match url.connect(false) {
            Ok(DbConnection::Pg(mut conn)) => {
                if let Err(error) = conn.batch_execute(&format!("LISTEN {CHANNEL}")) {
                    tracing::warn!(%error, "LISTEN failed");
                } else {
                    // Anything may have changed while we were not listening.
                    live.unconfirm();
                    backoff = Duration::from_millis(100);
                    drop(live);
                    if !drain(&mut conn, cache) {
                        return;
                    }
                    tracing::warn!(
                        "invalidation listener lost its connection; cache unconfirmed, reconnecting"
                    );
                    if let Some(live) = cache.upgrade() {
                        live.unconfirm();
                    }
                    continue;
                }
            }
            Ok(DbConnection::Sqlite(_)) => return,
            Err(error) => tracing::warn!(%error, "invalidation listener cannot connect"),
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// Applies notifications until the connection fails (returns true) or the cache is gone
/// (returns false).
fn drain(conn: &mut diesel::PgConnection, cache: &Weak<TokenCache>) -> bool {
    loop {
        let Some(live) = cache.upgrade() else {
            return false;
        };
        for notification in conn.notifications_iter() {
            match notification {
                Ok(notification) => {
                    if let Some(change) = received(live.origin(), &notification.payload) {
                        metrics::counter!("tokend_invalidations_received_total").increment(1);
                        live.apply(std::slice::from_ref(&change));
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "invalidation listener error");
                    return true;
                }
            }
        }
        drop(live);
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_skips_its_own_notifications() {
        let change = Change::Token("01a2".into());
        assert_eq!(received("a", &payload("a", &change)), None);
        assert_eq!(received("b", &payload("a", &change)), Some(change));
        assert_eq!(received("b", "garbage"), Some(Change::Everything));
    }
}
