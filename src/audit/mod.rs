//! Audit events: one row per state change, written in the same transaction as the change,
//! kept for `TOKEND_AUDIT_RETENTION_DAYS` (`retention`).

mod context;
pub mod query;
mod record;
pub mod retention;

pub use context::RequestContext;
pub use record::{Actor, ActorType, Event, record};
