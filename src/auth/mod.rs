//! Who is calling: the bearer credential, and one extractor per scheme (`session`, `service`,
//! `token`).

pub mod bearer;
pub mod lookup;
pub mod permission;
pub mod service;
pub mod session;
pub mod session_caller;
pub mod token_caller;

pub use permission::Permission;
pub use service::{ServiceCaller, ServiceIdentity};
pub use session_caller::Session;
pub use token_caller::TokenCaller;
