//! tokend: a token-management service. People and programs create, list, rotate and revoke API
//! tokens; other services ask, on every request, whether a presented token is valid and what it
//! may do. `ARCHITECTURE.md` maps the rooms and the rule that keeps their imports acyclic.

pub mod app;
pub mod audit;
pub mod auth;
pub mod changes;
pub mod cli;
pub mod client_ip;
pub mod config;
pub mod db;
pub mod directory;
pub mod error;
pub mod http;
pub mod introspection;
pub mod limits;
pub mod metrics;
pub mod pagination;
pub mod redact;
pub mod serde_ext;
pub mod state;
pub mod telemetry;
pub mod time;
pub mod tokens;
pub mod usage;
