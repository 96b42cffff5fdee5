//! Integration tests: the real server over HTTP, every test on SQLite and on PostgreSQL.

mod fixtures;
mod helpers;

mod binary;
mod directory;
mod errors;
mod introspection;
mod migrations;
mod openapi;
mod secrets;
mod sessions;
mod tokens;
