//! A token's state at use time: the snapshot one statement loads, the rules that evaluate it,
//! the verified-token cache with its invalidation across instances, the batch loader, and the
//! answers (RFC 7662, `/v1/me`). No handlers: those live in `http::introspection`.

pub mod answer;
pub mod cache;
pub mod evaluate;
pub mod interned;
pub mod invalidation;
pub mod loader;
pub mod me;
pub mod request;
pub mod snapshot;
