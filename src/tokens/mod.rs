//! Tokens: their kinds and values, the rules and use cases of managing them, how they are
//! stored, listed and shown. No HTTP here.

pub mod access;
pub mod dto;
pub mod events;
pub mod issue;
pub mod kind;
pub mod list;
pub mod manage;
pub mod model;
pub mod repo;
pub mod rules;
pub mod scopes;
pub mod secret;
pub mod service;
pub mod view;
