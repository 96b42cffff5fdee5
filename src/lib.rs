//! tokend: a token-management service. People and programs create, list, rotate and revoke API
//! tokens; other services ask, on every request, whether a presented token is valid and what it
//! may do.

pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod directory;
pub mod error;
pub mod introspection;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod pagination;
pub mod redact;
pub mod routes;
pub mod serde_ext;
pub mod telemetry;
pub mod time;
pub mod tokens;
pub mod usage;
