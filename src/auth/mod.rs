//! Who is calling: the bearer credential, service tokens and their permissions.

pub mod bearer;
pub mod permission;
pub mod service;

pub use permission::Permission;
pub use service::{ServiceCaller, ServiceIdentity};
