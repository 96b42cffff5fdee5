//! Tokens: their kinds and values, how they are stored, and how service tokens are minted.

pub mod kind;
pub mod model;
pub mod repo;
pub mod secret;
pub mod service;
