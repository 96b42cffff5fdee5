//! Coalesced cache misses: lookups of values the cache does not know wait for the next batch
//! read instead of each running its own. Under load one statement, and one hand-off to a
//! blocking thread, serves many misses; an isolated miss is a batch of one.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use super::cache::{Key, TokenCache};
use super::snapshot::{self, Snapshot};
use crate::config::Settings;
use crate::db::{self, Database};
use crate::tokens::secret::Candidates;

/// Most distinct values one statement reads.
const MAX_BATCH: usize = 32;

/// A snapshot, `None` when no token has the digests, or why the read failed.
pub type Answer = Result<Option<Arc<Snapshot>>, LoadError>;

/// Why a batch read failed, as every waiter of the batch sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The database could not be reached.
    #[error("the database is unavailable")]
    Unavailable,
    /// The read failed otherwise (the cause is logged where it happened).
    #[error("the token could not be read")]
    Failed,
}

/// A miss: its cache key (the current pepper's digest), every digest of the value, and where
/// its answer goes.
type Waiting = (Key, Candidates, oneshot::Sender<Answer>);

/// Misses waiting for the next batch, whether a batch reader is running, and what it reads
/// with.
#[derive(Clone)]
pub struct Loader {
    shared: Arc<Shared>,
}

struct Shared {
    queue: Mutex<Queue>,
    db: Database,
    cache: Arc<TokenCache>,
    settings: Arc<Settings>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    running: bool,
}

impl Loader {
    /// A loader reading from `db` into `cache`, digesting with the settings' peppers.
    #[must_use]
    pub fn new(db: Database, cache: Arc<TokenCache>, settings: Arc<Settings>) -> Self {
        Self {
            shared: Arc::new(Shared {
                queue: Mutex::default(),
                db,
                cache,
                settings,
            }),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.shared
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The snapshot of the token with these digests (`key` being the first), read in the next
    /// batch and cached under `key`; `None` when no token has them.
    pub async fn load(&self, key: Key, candidates: Candidates) -> Answer {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.queue();
            queue.waiting.push((key, candidates, reply));
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            tokio::task::spawn_local(run(self.clone()));
        }
        let deadline = tokio::time::Instant::from_std(self.shared.db.deadline());
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) | Err(_) => Err(LoadError::Unavailable),
        }
    }
}

/// Ends a run however it ends. If the run is cancelled (the runtime shutting down), the misses
/// still queued are dropped, which answers them with an error instead of leaving them waiting.
struct Running {
    loader: Loader,
    finished: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.finished {
            let mut queue = self.loader.queue();
            queue.running = false;
            queue.waiting.clear();
        }
    }
}

/// Reads batches until no miss is waiting.
async fn run(loader: Loader) {
    let mut running = Running {
        loader,
        finished: false,
    };
    loop {
        let batch: Vec<_> = {
            let mut queue = running.loader.queue();
            if queue.waiting.is_empty() {
                queue.running = false;
                running.finished = true;
                return;
            }
            let n = queue.waiting.len().min(MAX_BATCH);
            queue.waiting.drain(..n).collect()
        };
        read(&running.loader.shared, batch).await;
    }
}

/// One statement for the batch (one entry per distinct value), then every waiter's answer.
async fn read(shared: &Shared, batch: Vec<Waiting>) {
    let peppers = &shared.settings.peppers;
    let mut keys: Vec<Key> = Vec::new();
    let mut presented = Vec::new();
    let mut replies = Vec::with_capacity(batch.len());
    for (key, candidates, reply) in batch {
        let index = keys
            .iter()
            .position(|known| *known == key)
            .unwrap_or_else(|| {
                keys.push(key);
                presented.push(peppers.labelled(&candidates));
                keys.len() - 1
            });
        replies.push((index, reply));
    }
    let seen = shared.cache.generation();
    let current = peppers.current_id().to_owned();
    let result = db::read(&shared.db, move |conn| {
        snapshot::load_many(conn, &presented, &current)
    })
    .await;
    match result {
        Ok(found) => {
            let found: Vec<Option<Arc<Snapshot>>> = found
                .into_iter()
                .map(|loaded| loaded.map(Arc::new))
                .collect();
            for (key, loaded) in keys.iter().zip(&found) {
                shared.cache.insert(*key, loaded.clone(), seen);
            }
            for (index, reply) in replies {
                let _ = reply.send(Ok(found.get(index).cloned().flatten()));
            }
        }
        Err(error) => {
            let shared_error = if error.is_unavailable() {
                LoadError::Unavailable
            } else {
                tracing::error!(%error, "token snapshot read failed");
                LoadError::Failed
            };
            for (_, reply) in replies {
                let _ = reply.send(Err(shared_error));
            }
        }
    }
}
