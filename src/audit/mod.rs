//! Audit events: one row per state change, written in the same transaction as the change.

mod context;
pub mod query;
mod record;

pub use context::RequestContext;
pub use record::{Actor, ActorType, Event, record};
