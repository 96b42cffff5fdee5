//! The request facts every audit event carries: request id and client address.

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
