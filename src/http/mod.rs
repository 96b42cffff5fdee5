//! Everything that knows actix-web: the route list (router and OpenAPI document from one
//! list), the extractors, the middlewares, and one file of handlers per area. A handler
//! parses, authorizes (its extractors), makes one domain call and answers.

pub mod audit;
pub mod console;
pub mod directory;
pub mod extract;
pub mod fallback;
pub mod forward_auth;
pub mod introspection;
pub mod middleware;
pub mod openapi;
pub mod ops;
pub mod params;
pub mod responses;
pub mod routes;
pub mod service_tokens;
pub mod token_lifecycle;
pub mod tokens;
