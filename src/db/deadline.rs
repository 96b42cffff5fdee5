//! One deadline per request for everything it asks of the database (DESIGN §10): however many
//! pool checkouts a request makes, together they wait at most `TOKEND_DATABASE_TIMEOUT_MS`.
//! The HTTP layer sets it around each request; work outside a request (background tasks) gets
//! a fresh timeout per call.

use std::future::Future;
use std::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `work` (a request) with every database call in it bounded by `deadline`.
pub async fn within<F: Future>(deadline: Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// The current request's deadline, if the caller runs inside one.
#[must_use]
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|deadline| *deadline).ok()
}
