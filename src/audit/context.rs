//! The request facts every audit event carries: request id and client address.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload};
use tracing_actix_web::RequestId;

/// Where a change came from.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The id the request log lines carry too (`x-request-id` response header).
    pub request_id: String,
    /// The peer address.
    pub client_ip: Option<String>,
}

impl RequestContext {
    /// The context of a command-line invocation.
    #[must_use]
    pub fn cli() -> Self {
        Self {
            request_id: format!("cli-{}", uuid::Uuid::now_v7()),
            client_ip: None,
        }
    }
}

impl FromRequest for RequestContext {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map_or_else(|| uuid::Uuid::now_v7().to_string(), ToString::to_string);
        ready(Ok(Self {
            request_id,
            client_ip: req.peer_addr().map(|addr| addr.ip().to_string()),
        }))
    }
}
