//! The token-facing hot path: introspection (RFC 7662), `/v1/me`, and revocation by value
//! (RFC 7009).

pub mod cache;
pub mod evaluate;
pub mod handler;
pub mod invalidation;
pub mod loader;
pub mod me;
pub mod request;
pub mod revoke;
pub mod snapshot;
