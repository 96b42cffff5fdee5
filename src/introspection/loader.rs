//! Coalesced cache misses: lookups of values the cache does not know wait for the next batch
//! read instead of each running its own. Under load one statement, and one hand-off to a
//! blocking thread, serves many misses; an isolated miss is a batch of one.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use actix_web::web;
use tokio::sync::oneshot;

use super::cache::Key;
use super::snapshot::{self, Snapshot};
use crate::app::AppState;
use crate::auth::lookup::{Candidates, labelled};
use crate::db;
use crate::error::ApiError;

/// Most distinct values one statement reads.
const MAX_BATCH: usize = 32;

type Answer = Result<Option<Arc<Snapshot>>, ApiError>;

/// A miss: its cache key (the current pepper's digest), every digest of the value, and where
/// its answer goes.
type Waiting = (Key, Candidates, oneshot::Sender<Answer>);

/// Misses waiting for the next batch, and whether a batch reader is running.
#[derive(Default)]
pub struct Loader {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    running: bool,
}

impl Loader {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The snapshot of the token with these digests (`key` being the first), read in the next
/// batch and cached under `key`; `None` when no token has them.
pub async fn load(state: &web::Data<AppState>, key: Key, candidates: Candidates) -> Answer {
    let (reply, answer) = oneshot::channel();
    let start = {
        let mut queue = state.loader.queue();
        queue.waiting.push((key, candidates, reply));
        !std::mem::replace(&mut queue.running, true)
    };
    if start {
        actix_web::rt::spawn(run(state.clone()));
    }
    answer.await.map_err(|_| ApiError::Unavailable)?
}

/// Ends a run however it ends. If the run is cancelled (the runtime shutting down), the misses
/// still queued are dropped, which answers them with an error instead of leaving them waiting.
struct Running {
    state: web::Data<AppState>,
    finished: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.finished {
            let mut queue = self.state.loader.queue();
            queue.running = false;
            queue.waiting.clear();
        }
    }
}

/// Reads batches until no miss is waiting.
async fn run(state: web::Data<AppState>) {
    let mut running = Running {
        state,
        finished: false,
    };
    loop {
        let batch: Vec<_> = {
            let mut queue = running.state.loader.queue();
            if queue.waiting.is_empty() {
                queue.running = false;
                running.finished = true;
                return;
            }
            let n = queue.waiting.len().min(MAX_BATCH);
            queue.waiting.drain(..n).collect()
        };
        read(&running.state, batch).await;
    }
}

/// One statement for the batch (one entry per distinct value), then every waiter's answer.
async fn read(state: &AppState, batch: Vec<Waiting>) {
    let mut keys: Vec<Key> = Vec::new();
    let mut presented = Vec::new();
    let mut replies = Vec::with_capacity(batch.len());
    for (key, candidates, reply) in batch {
        let index = keys
            .iter()
            .position(|known| *known == key)
            .unwrap_or_else(|| {
                keys.push(key);
                presented.push(labelled(state, &candidates));
                keys.len() - 1
            });
        replies.push((index, reply));
    }
    let seen = state.cache.generation();
    let current = state.settings.peppers.current_id().to_owned();
    let result = db::read(&state.db, move |conn| {
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
                state.cache.insert(*key, loaded.clone(), seen);
            }
            for (index, reply) in replies {
                let _ = reply.send(Ok(found.get(index).cloned().flatten()));
            }
        }
        Err(error) => {
            for (_, reply) in replies {
                let _ = reply.send(Err(shared(&error)));
            }
        }
    }
}

/// The error every waiter of a failed batch gets: unavailable stays unavailable, anything else
/// is internal (the cause is logged where it happened).
fn shared(error: &ApiError) -> ApiError {
    match error {
        ApiError::Unavailable => ApiError::Unavailable,
        _ => ApiError::Internal,
    }
}
