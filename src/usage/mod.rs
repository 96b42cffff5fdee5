//! Usage tracking: counted in memory on the request path, written in batches by a background
//! flusher (and once more on graceful shutdown), read back by `GET /v1/tokens/{id}/usage`.

pub mod query;
mod recorder;
mod store;

pub use recorder::Recorder;
pub use store::{flush, run_flusher};
