//! What every request shares, and the one write path. Low in the house: it imports what it
//! holds (database, cache, loader, recorder, verifier, settings) and nothing that holds it.

use std::sync::Arc;

use crate::auth::session::SessionVerifier;
use crate::changes::Committed;
use crate::config::Settings;
use crate::db::{self, Database, DbConnection};
use crate::error::ApiError;
use crate::introspection::cache::TokenCache;
use crate::introspection::invalidation;
use crate::introspection::loader::Loader;
use crate::limits::Limits;
use crate::usage::Recorder;

/// What every handler shares.
pub struct AppState {
    /// The database.
    pub db: Database,
    /// The validated settings.
    pub settings: Arc<Settings>,
    /// Verifies session JWTs.
    pub sessions: SessionVerifier,
    /// Usage counted since the last flush.
    pub usage: Recorder,
    /// Verified tokens (and unknown digests), shared with the invalidation listener.
    pub cache: Arc<TokenCache>,
    /// Cache misses waiting for the next batch read.
    pub loader: Loader,
    /// tokend's own rate limits.
    pub limits: Limits,
    /// Set on SIGTERM: `/readyz` answers 503 while in-flight requests finish.
    pub draining: std::sync::atomic::AtomicBool,
}

impl AppState {
    /// The state over a (lazily connected) database named by the settings.
    #[must_use]
    pub fn new(settings: Arc<Settings>, sessions: SessionVerifier) -> Self {
        let db = Database::new(&settings.database_url, settings.pool);
        let limits = settings.limits;
        let cache = Arc::new(TokenCache::new(settings.cache));
        let loader = Loader::new(db.clone(), Arc::clone(&cache), Arc::clone(&settings));
        Self {
            db,
            settings,
            sessions,
            usage: Recorder::default(),
            cache,
            loader,
            limits: Limits::new(limits),
            draining: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The one write path: runs `work` in one transaction that also announces the changes it
    /// returned to the other instances and, once it has committed, applies them to this
    /// instance's cache. Nothing else invalidates, so a write cannot forget to.
    pub async fn write<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<Committed<T>, ApiError> + Send + 'static,
    {
        let origin = self.cache.origin().to_owned();
        let Committed { value, changes } = db::transaction(&self.db, move |conn| {
            let committed = work(conn)?;
            invalidation::notify(conn, &origin, &committed.changes)?;
            Ok::<_, ApiError>(committed)
        })
        .await?;
        invalidation::publish(&self.cache, &changes);
        Ok(value)
    }
}
