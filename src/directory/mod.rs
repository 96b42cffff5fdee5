//! Directory sync: organizations, users, memberships and projects pushed by the platform's
//! directory service. Idempotent `PUT`s, `GET`s to check what was synced, `DELETE`s.

pub mod handlers;
pub mod model;
pub mod repo;
pub mod role;
mod validate;

pub use role::{Role, Roles};
