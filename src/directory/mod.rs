//! Directory sync: organizations, users, memberships and projects pushed by the platform's
//! directory service. Idempotent `PUT`s, `GET`s to check what was synced, `DELETE`s.

pub mod model;
pub mod profile;
pub mod repo;
pub mod role;
pub mod sync;
mod validate;

pub use role::{Role, Roles};
