//! Storage's own error: the database could not be reached, or a query failed. Whether a
//! failure means "unavailable" is decided here, next to the pool that acts on it (a connection
//! that failed that way is dropped); the HTTP layer converts it once, at the edge.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Why storage work failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database cannot be reached (no connection within the timeout, a lost connection,
    /// a locked or deleted SQLite file): callers answer 503 and retry later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A statement failed (a constraint, a missing row, a bug).
    #[error(transparent)]
    Query(DieselError),
    /// The blocking task running the work ended without an answer (it panicked).
    #[error("the database task failed: {0}")]
    Task(String),
}

impl DbError {
    /// Whether this failure means the database could not be reached.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<DieselError> for DbError {
    fn from(error: DieselError) -> Self {
        if unavailable(&error) {
            Self::Unavailable(error.to_string())
        } else {
            Self::Query(error)
        }
    }
}

/// A failure that says the database went away rather than that a statement was wrong. Both
/// backends report some of these only in their message (SQLite's busy lock, a PostgreSQL
/// server shutting down), so the message is read here, in one place.
fn unavailable(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        DieselError::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("database is locked")
                || message.contains("terminating connection")
                || message.contains("server closed the connection")
        }
        _ => false,
    }
}

/// The error type of work run on a pooled connection: storage's own error converts into it,
/// and it says whether the database was unavailable (then the connection is dropped).
pub trait Failure: From<DbError> {
    /// Whether this failure means the database could not be reached.
    fn is_unavailable(&self) -> bool;
}

impl Failure for DbError {
    fn is_unavailable(&self) -> bool {
        DbError::is_unavailable(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_connection_is_unavailable_and_a_missing_row_is_not() {
        let closed = DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection,
            Box::new(String::from("server closed the connection unexpectedly")),
        );
        assert!(DbError::from(closed).is_unavailable());
        assert!(!DbError::from(DieselError::NotFound).is_unavailable());
        let locked = DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(String::from("database is locked")),
        );
        assert!(DbError::from(locked).is_unavailable());
    }
}
