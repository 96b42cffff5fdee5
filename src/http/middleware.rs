//! Middlewares every route passes through: the request span (with token-shaped text masked),
//! request metrics and the `x-request-id` echo.

use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};

use super::extract::client_ip;
use crate::db::deadline;
use crate::error::ApiError;
use crate::redact;
use crate::state::AppState;

/// Refuses a request whose path or query holds a percent-encoded NUL (400): PostgreSQL cannot
/// store one, and both backends must answer alike.
pub async fn refuse_nul(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let target = req.uri().path_and_query().map_or("", |p| p.as_str());
    if target
        .as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
    {
        return Err(ApiError::BadRequest(
            "the path and query must not contain NUL characters".into(),
        )
        .into());
    }
    next.call(req).await
}

/// Counts every request and its latency by route pattern, method and status, and gives the
/// request one deadline for all its database work (`TOKEND_DATABASE_TIMEOUT_MS` from now). The
/// pattern is read once routing has matched it (before, actix would walk the whole route map
/// for it).
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let timeout = req
        .app_data::<web::Data<AppState>>()
        .map_or(Duration::ZERO, |state| {
            state.settings.pool.connection_timeout
        });
    let response = deadline::within(started + timeout, next.call(req)).await?;
    let route = route_of(&response);
    let status = response.status().as_u16();
    crate::metrics::record_request(route, method, status, started.elapsed().as_secs_f64());
    Ok(response)
}

/// The route pattern a routed request matched, or `unmatched`.
fn route_of<B>(response: &ServiceResponse<B>) -> String {
    response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned())
}

/// A method label without allocating for the usual methods.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Returns the request id (also in every log line of the request) as `x-request-id`.
pub async fn echo_request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req.extensions().get::<RequestId>().copied();
    let mut response = next.call(req).await?;
    if let Some(id) = id {
        let mut text = uuid::Uuid::encode_buffer();
        if let Ok(value) = HeaderValue::from_str(id.hyphenated().encode_lower(&mut text)) {
            response
                .headers_mut()
                .insert(HeaderName::from_static("x-request-id"), value);
        }
    }
    Ok(response)
}

/// The request span: method, target with token-shaped values masked, client, request id, and
/// (at the end, once routing has matched it) route, status and error.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        // Nothing to build when request logs are off (the hot path pays nothing for them).
        if !tracing::enabled!(tracing::Level::INFO) {
            return Span::none();
        }
        let target = request.uri().path_and_query().map_or("", |p| p.as_str());
        let target = redact::configured(target);
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = tracing::field::Empty,
            http.target = %target,
            http.client_ip = %client_ip(request.request())
                .map(|ip| ip.to_string())
                .unwrap_or_default(),
            request_id = %request_id,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
        )
    }

    /// Records the status and, for errors, their masked message (never a `Debug` dump, which
    /// could hold request input verbatim).
    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let (status, error) = match outcome {
            Ok(response) => {
                span.record("http.route", route_of(response));
                (response.status(), response.response().error())
            }
            Err(error) => (error.as_response_error().status_code(), Some(error)),
        };
        span.record("http.status_code", status.as_u16());
        span.record(
            "otel.status_code",
            if status.is_server_error() {
                "ERROR"
            } else {
                "OK"
            },
        );
        if let Some(error) = error {
            span.record(
                "exception.message",
                tracing::field::display(redact::configured(&error.to_string())),
            );
        }
    }
}
