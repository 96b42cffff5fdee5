//! Integration tests: the real server over HTTP, every test on SQLite and on PostgreSQL.
#![allow(
    clippy::too_many_lines,
    reason = "scenario tests read top to bottom; splitting them hides the story"
)]

mod fixtures;
mod helpers;

mod audit;
mod binary;
mod cache;
mod console;
mod crash;
mod deployment;
mod directory;
mod drain;
mod errors;
mod forward_auth;
mod hostile;
mod introspection;
mod lifecycle;
mod limits;
mod listing;
mod migrations;
mod nginx;
mod openapi;
mod ops;
mod outage;
mod paging;
mod secrets;
mod service_tokens;
mod sessions;
mod timeouts;
mod tokens;
mod usage;
mod writes;
