//! Tokens: their kinds and values, how they are stored, and how service tokens are minted.

pub mod cascade;
pub mod dto;
pub mod handlers;
pub mod issue;
pub mod kind;
pub mod lifecycle;
pub mod list;
pub mod model;
pub mod repo;
pub mod rules;
pub mod scopes;
pub mod secret;
pub mod service;
pub mod view;
