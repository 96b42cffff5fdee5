//! Who is calling: the bearer credential, session JWTs, service permissions, and the one
//! place a presented credential becomes a caller of a scheme (`session`, `service`, `token`).
//! No HTTP here: the extractors live in `http::extract`.

pub mod bearer;
pub mod callers;
pub mod lookup;
pub mod permission;
pub mod session;

pub use permission::Permission;
