//! Usage tracking: counted in memory on the request path, written in batches by a background
//! flusher (and once more on graceful shutdown), read back by `GET /v1/tokens/{id}/usage`.

mod journal;
pub mod query;
mod recorder;
mod sql;
mod store;

pub use recorder::Recorder;
pub use store::{FOLD_EVERY, Flushed, JOURNAL_FROM, flush, flush_interval, fold, run_flusher};
